"""Shortcodes as the other software takes them, and names for what it would refuse.

Mastodon: `^[a-zA-Z0-9_]{2,}$` (app/models/custom_emoji.rb, SHORTCODE_RE_FRAGMENT), and
`tootctl emoji import` looks shortcodes up case-insensitively (`LOWER(shortcode) = ?`),
so two that differ only in case would be one. Misskey: `^[a-zA-Z0-9_]+$` (its emoji
export skips other names; its import refuses them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    allowed: re.Pattern[str]  # one character
    min_length: int
    max_length: int
    case_insensitive: bool

    def accepts(self, name: str) -> bool:
        return self.min_length <= len(name) <= self.max_length and all(self.allowed.fullmatch(c) for c in name)


# 95: a tar name (ustar) holds 100 bytes, with room for the extension.
MASTODON = Rule(re.compile(r"[A-Za-z0-9_]"), 2, 95, case_insensitive=True)
MISSKEY = Rule(re.compile(r"[A-Za-z0-9_]"), 1, 128, case_insensitive=False)


def target_names(shortcodes: Iterable[str], rule: Rule) -> dict[str, str]:
    """Shortcode -> the name it gets over there, for every shortcode. Names the rule
    accepts stay (the first, alphabetically, of those equal but for case); the others
    become their accepted characters with `_` for the rest, padded to the minimum
    length, and `_2`, `_3`, ... where that is taken."""
    codes = sorted(set(shortcodes))

    def key(name: str) -> str:
        return name.lower() if rule.case_insensitive else name

    names: dict[str, str] = {}
    taken: set[str] = set()
    for code in codes:
        if rule.accepts(code) and key(code) not in taken:
            names[code] = code
            taken.add(key(code))
    for code in codes:
        if code in names:
            continue
        base = "".join(c if rule.allowed.fullmatch(c) else "_" for c in code)
        base = base.ljust(rule.min_length, "_")[: rule.max_length]
        name, n = base, 1
        while key(name) in taken:
            n += 1
            suffix = f"_{n}"
            name = base[: rule.max_length - len(suffix)] + suffix
        names[code] = name
        taken.add(key(name))
    return names
