"""What the pages read beyond PackService: search, one page of a pack with tags,
previews, sizes on disk, mirrors and a pack's lint findings.

Blocking (SQLite, stat): call from a worker thread. Every read goes through the
index (EmojiIndex) or the lint service; no SQL here. What is costly to work out
(sizes on disk, lint findings) is kept per version of the index.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import TypeVar

from emojid.config import Config
from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.catalog import EmojiRow
from emojid.emoji.index.mirrors import Mirror
from emojid.emoji.index.packs import PackRow
from emojid.emoji.kept import Kept
from emojid.emoji.lint import lint
from emojid.emoji.store import PackStore
from emojid.emoji.urls import emoji_path
from emojid.errors import EmojidError

PREVIEWS = 6
T = TypeVar("T")


@dataclass(frozen=True)
class Emoji:
    shortcode: str
    pack: str
    filename: str
    tags: list[str]
    license: str = ""  # the emoji's own (per-emoji metadata), if set

    @property
    def src(self) -> str:
        return emoji_path(self.pack, self.filename)


def _emoji(row: EmojiRow) -> Emoji:
    value = row.meta.get("license")
    return Emoji(row.shortcode, row.pack, row.filename, row.tags, value if isinstance(value, str) else "")


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


def search(index: EmojiIndex, query: str, limit: int = 60) -> list[Emoji]:
    """Emoji whose shortcode contains `query` or that carry it as a tag, best first
    (the search index behind /api/v1/emojid/search)."""
    query = query.strip()
    if not query:
        return []
    return [Emoji(hit.shortcode, hit.pack, hit.filename, hit.tags) for hit in index.search_emoji(query, limit)]


def page_of_pack(index: EmojiIndex, pack: str, offset: int, limit: int) -> list[Emoji]:
    """One page of a pack's emoji, sorted as the API sorts them, with their tags and licence."""
    return [_emoji(row) for row in index.pack_emoji(pack, offset, limit)]


def emoji_in_pack(index: EmojiIndex, pack: str, shortcode: str) -> Emoji | None:
    row = index.emoji_row(pack, shortcode)
    return _emoji(row) if row is not None else None


def shortcodes(index: EmojiIndex, pack: str) -> list[str]:
    return index.pack_shortcodes(pack)


def previews(index: EmojiIndex, pack: str) -> list[Emoji]:
    return page_of_pack(index, pack, 0, PREVIEWS)


def pack_error(index: EmojiIndex, name: str) -> str | None:
    return index.pack_errors().get(name)


def mirrors(index: EmojiIndex) -> list[MirrorEntry]:
    """Every mirrored pack and where it came from."""
    return [MirrorEntry(m.pack, m.source_url, m.remote_name, m.installed_at) for m in index.all_mirrors()]


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


@dataclass(frozen=True)
class PackView:
    """What a pack page shows beyond its grid, read in one go (one worker thread)."""

    generation: tuple[int, int]
    row: PackRow | None
    error: str | None
    facts: DiskFacts
    findings: list[Finding]
    mirror: Mirror | None


def pack_view(index: EmojiIndex, facts: DiskFactsCache, kept: Kept[list[Finding]], config: Config, name: str,
              admin: bool) -> PackView:
    """The pack's row, its problems (worked out once per version of the index) and where it
    was mirrored from (admins only). The generation is read first: what is kept under it
    is never older than it."""
    generation = index.pack_generation()
    row = index.get_pack(name)
    error = index.pack_error(name)
    key = (name, row.fingerprint if row else None, error)
    found = kept.get(generation, key)
    if found is None:
        found = kept.put(generation, key, findings(index, facts, config, name, row, error))
    return PackView(generation, row, error, facts.get(row) if row else DiskFacts(0, []), found,
                    index.mirror(name) if admin and row else None)


def findings(index: EmojiIndex, facts: DiskFactsCache, config: Config, name: str,
             row: PackRow | None, error: str | None = None) -> list[Finding]:
    """The pack's problems, as its page lists them under "Problems": the recorded pack.json
    error, what reading it set aside, listed files that are missing, then lint's other
    errors under the instance's own rules (its warnings, such as duplicate bytes, are for
    `emojid lint` and the lint route)."""
    found: list[Finding] = []
    error = error if error is not None else pack_error(index, name)
    if error:
        found.append(Finding("bad_pack_json", "error", error))
    for problem in index.pack_problems(name):
        shortcode, _, message = problem.partition(": ")
        found.append(Finding("bad_pack_json", "warning", message or problem, shortcode if message else None))
    if row is not None:
        for shortcode, filename in facts.get(row).missing:
            found.append(Finding("missing_file", "error", f"{filename} is listed but not in the pack folder", shortcode))
    shown = {"bad_pack_json", "missing_file", "bad_shortcode", "unlisted_file"}
    found += [Finding(f.code, f.severity, f.message, f.shortcode) for f in lint(index, config, [name])
              if f.severity == "error" and f.code not in shown]
    return found
