"""What the pages read beyond PackService: search, one page of a pack with tags,
previews, sizes on disk, mirrors and a pack's problems.

Blocking (SQLite, stat): call from a worker thread. The SQL here is read-only
and small; each query is a stand-in for an index method the UI would rather call
(see the module's functions for which).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.packs import PackRow
from emojid.emoji.store import PackStore
from emojid.emoji.urls import emoji_path
from emojid.errors import EmojidError

PREVIEWS = 6


@dataclass(frozen=True)
class Emoji:
    shortcode: str
    pack: str
    filename: str
    tags: list[str]

    @property
    def src(self) -> str:
        return emoji_path(self.pack, self.filename)


@dataclass(frozen=True)
class DiskFacts:
    """What a pack's files add up to on disk, and which listed ones are missing."""

    size: int
    missing: list[tuple[str, str]]


@dataclass(frozen=True)
class PackCard:
    row: PackRow
    size: int
    previews: list[Emoji]

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def license(self) -> str:
        value = self.row.meta.get("license")
        return value if isinstance(value, str) else ""

    @property
    def description(self) -> str:
        value = self.row.meta.get("description")
        return value if isinstance(value, str) else ""

    @property
    def share_state(self) -> str:
        return share_state(self.row)


@dataclass(frozen=True)
class Finding:
    """One problem of a pack, shaped like a lint finding (codes as INTERFACE.md fixes them)."""

    code: str
    severity: str
    message: str
    shortcode: str | None = None


@dataclass(frozen=True)
class MirrorEntry:
    pack: str
    source_url: str
    remote_name: str
    installed_at: str


def share_state(row: PackRow) -> str:
    if row.shareable:
        return "shared"
    if row.meta.get("share-files") is True:
        return "shared, files missing"
    return "not shared"


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(index: EmojiIndex, query: str, limit: int = 60) -> list[Emoji]:
    """Emoji whose shortcode contains `query` or that carry it as a tag: exact
    matches first, then prefixes, then shorter shortcodes.

    Stands in for the search index INTERFACE.md promises (/api/v1/emojid/search).
    """
    query = query.strip()
    if not query:
        return []
    like = _like(query)
    rows = index.execute(
        "SELECT shortcode, pack, filename, tags FROM emoji"
        " WHERE shortcode LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\'"
        " ORDER BY lower(shortcode) = lower(?) DESC, shortcode LIKE ? ESCAPE '\\' DESC,"
        " length(shortcode), shortcode, pack LIMIT ?",
        (f"%{like}%", f'%"{_like(json.dumps(query)[1:-1])}"%', query, f"{like}%", limit),
    )
    return [_emoji(row) for row in rows]


def _emoji(row: tuple[Any, ...]) -> Emoji:
    shortcode, pack, filename, tags = row
    try:
        parsed = json.loads(tags)
    except ValueError:
        parsed = []
    return Emoji(shortcode, pack, filename, [t for t in parsed if isinstance(t, str)] if isinstance(parsed, list) else [])


def page_of_pack(index: EmojiIndex, pack: str, offset: int, limit: int) -> list[Emoji]:
    """One page of a pack's emoji, sorted as the API sorts them, with their tags
    (PacksIndex.pack_files without the tags)."""
    rows = index.execute(
        "SELECT shortcode, pack, filename, tags FROM emoji WHERE pack = ? ORDER BY shortcode LIMIT ? OFFSET ?",
        (pack, min(limit, 2**62), min(offset, 2**62)),
    )
    return [_emoji(row) for row in rows]


def emoji_in_pack(index: EmojiIndex, pack: str, shortcode: str) -> Emoji | None:
    rows = index.execute("SELECT shortcode, pack, filename, tags FROM emoji WHERE pack = ? AND shortcode = ?",
                         (pack, shortcode))
    return _emoji(rows[0]) if rows else None


def shortcodes(index: EmojiIndex, pack: str) -> list[str]:
    return [row[0] for row in index.execute("SELECT shortcode FROM emoji WHERE pack = ?", (pack,))]


def previews(index: EmojiIndex, pack: str) -> list[Emoji]:
    return page_of_pack(index, pack, 0, PREVIEWS)


def pack_error(index: EmojiIndex, name: str) -> str | None:
    return index.pack_errors().get(name)


def pack_problems(index: EmojiIndex, name: str) -> list[str]:
    """What reading pack.json set aside (unsafe paths): the packs.problems column, no reader yet."""
    rows = index.execute("SELECT problems FROM packs WHERE name = ?", (name,))
    if not rows:
        return []
    try:
        problems = json.loads(rows[0][0])
    except ValueError:
        return []
    return [p for p in problems if isinstance(p, str)] if isinstance(problems, list) else []


def mirrors(index: EmojiIndex) -> list[MirrorEntry]:
    """Every mirrored pack and where it came from (MirrorsIndex has only a per-pack read)."""
    rows = index.execute("SELECT pack, source_url, remote_name, installed_at FROM mirrors ORDER BY pack")
    return [MirrorEntry(*row) for row in rows]


class DiskFactsCache:
    """Sizes and missing files by pack fingerprint: a pack is stat'ed once per version."""

    def __init__(self, store: PackStore, capacity: int = 4096) -> None:
        self.store = store
        self.capacity = capacity
        self._facts: dict[tuple[str, str], DiskFacts] = {}
        self._lock = threading.Lock()

    def get(self, row: PackRow) -> DiskFacts:
        key = (row.name, row.fingerprint)
        with self._lock:
            known = self._facts.get(key)
        if known is not None:
            return known
        facts = self._measure(row)
        with self._lock:
            if len(self._facts) >= self.capacity:
                self._facts.clear()
            self._facts[key] = facts
        return facts

    def _measure(self, row: PackRow) -> DiskFacts:
        try:
            files = json.loads(row.files_json)
        except ValueError:
            files = {}
        size, missing = 0, []
        for shortcode, filename in sorted(files.items()):
            try:
                path = self.store.file_path(row.name, filename)
                size += os.stat(path).st_size if path is not None else 0
            except (OSError, EmojidError):
                missing.append((shortcode, filename))
        return DiskFacts(size, missing)


def pack_cards(index: EmojiIndex, facts: DiskFactsCache, rows: list[PackRow]) -> list[PackCard]:
    return [PackCard(row, facts.get(row).size, previews(index, row.name)) for row in rows]


def findings(index: EmojiIndex, facts: DiskFactsCache, name: str, row: PackRow | None) -> list[Finding]:
    """The pack's problems, as its page lists them under "Problems".

    The hook for the lint issue: once a lint service exists, return its findings
    for `name` here (same fields: code, severity, shortcode, message). Until then:
    the recorded pack.json error, entries set aside while reading, missing files.
    """
    found: list[Finding] = []
    error = pack_error(index, name)
    if error:
        found.append(Finding("bad_pack_json", "error", error))
    for problem in pack_problems(index, name):
        shortcode, _, message = problem.partition(": ")
        found.append(Finding("bad_pack_json", "warning", message or problem, shortcode if message else None))
    if row is not None:
        for shortcode, filename in facts.get(row).missing:
            found.append(Finding("missing_file", "error", f"{filename} is listed but not in the pack folder", shortcode))
    return found
