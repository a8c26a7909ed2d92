"""File facts: size, SHA-256, dimensions, frames, format and problem of every file of every
pack (and folder without pack.json). Read from disk by `emojid.emoji.facts` when a pack is
indexed; lint, the static frames and the emoji lists read them here."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from emojid.db import Tables

# Why bytes are not served as an emoji (INTERFACE.md's lint codes).
NOT_AN_IMAGE = "not_an_image"
WRONG_EXTENSION = "wrong_extension"


@dataclass(frozen=True)
class FileFacts:
    pack: str
    filename: str
    size: int
    mtime_ns: int
    sha256: str
    width: int | None
    height: int | None
    frames: int | None
    format: str | None
    problem: str | None

    @property
    def animated(self) -> bool:
        return self.problem is None and (self.frames or 1) > 1


@dataclass(frozen=True)
class LintRow:
    """One emoji as lint sees it: its listing and its file's facts (None: no such file)."""

    pack: str
    shortcode: str
    filename: str
    loose: bool  # a folder without pack.json
    facts: FileFacts | None


@dataclass(frozen=True)
class ListFacts:
    """What the global lists need: files not to serve, and animated ones (static_url)."""

    bad: frozenset[tuple[str, str]]
    animated: frozenset[tuple[str, str]]


_COLUMNS = "pack, filename, size, mtime_ns, sha256, width, height, frames, format, problem"
_F_COLUMNS = ", ".join(f"f.{c.strip()}" for c in _COLUMNS.split(","))
# Both listings, packs and folders without pack.json, as one (pack, shortcode, filename, loose).
_LISTED = ("SELECT pack, shortcode, filename, 0 AS loose FROM emoji "
           "UNION ALL SELECT folder, shortcode, filename, 1 FROM loose_emoji")


def _facts(row: tuple[Any, ...]) -> FileFacts:
    return FileFacts(*row)


def _in(column: str, names: Collection[str] | None) -> tuple[str, list[str]]:
    """`column IN (...)` for a chosen set of packs; always true without one."""
    if names is None:
        return "1", []
    return f"{column} IN ({','.join('?' * len(names))})", list(names)


class EmojiFilesIndex(Tables):
    # -- written when a pack is indexed -----------------------------------------

    def file_facts(self, pack: str) -> dict[str, FileFacts]:
        rows = self.execute(f"SELECT {_COLUMNS} FROM emoji_files WHERE pack = ?", (pack,))
        return {row[1]: _facts(row) for row in rows}

    def put_file_facts(self, pack: str, facts: Iterable[FileFacts]) -> bool:
        """The pack's files as they are now; True (and a new emoji generation, so the
        cached lists follow) when anything differs from what was recorded."""
        new = {f.filename: f for f in facts}

        def write() -> bool:
            conn = self.db.conn
            rows = conn.execute(f"SELECT {_COLUMNS} FROM emoji_files WHERE pack = ?", (pack,)).fetchall()
            old = {row[1]: _facts(row) for row in rows}
            if old == new:
                return False
            gone = [(pack, name) for name in old.keys() - new.keys()]
            conn.executemany("DELETE FROM emoji_files WHERE pack = ? AND filename = ?", gone)
            conn.executemany(
                f"INSERT OR REPLACE INTO emoji_files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(f.pack, f.filename, f.size, f.mtime_ns, f.sha256, f.width, f.height, f.frames, f.format,
                  f.problem) for name, f in new.items() if old.get(name) != f],
            )
            conn.execute("UPDATE state SET value = value + 1 WHERE key = 'emoji_generation'")
            return True

        return self.transaction(write)

    def forget_file_facts(self, pack: str) -> bool:
        def write() -> bool:
            gone = self.db.conn.execute("DELETE FROM emoji_files WHERE pack = ?", (pack,)).rowcount
            if gone:
                self.db.conn.execute("UPDATE state SET value = value + 1 WHERE key = 'emoji_generation'")
            return bool(gone)

        return self.transaction(write)

    def prune_file_facts(self, keep: Collection[str]) -> int:
        """Drop the facts of every pack not in `keep` (packs gone while nobody watched)."""
        known = [r[0] for r in self.execute("SELECT DISTINCT pack FROM emoji_files")]
        return sum(self.forget_file_facts(pack) for pack in known if pack not in keep)

    # -- read ------------------------------------------------------------------------

    def file_fact(self, pack: str, filename: str) -> FileFacts | None:
        rows = self.execute(f"SELECT {_COLUMNS} FROM emoji_files WHERE pack = ? AND filename = ?",
                            (pack, filename))
        return _facts(rows[0]) if rows else None

    def list_facts(self) -> ListFacts:
        rows = self.execute("SELECT pack, filename, problem FROM emoji_files WHERE problem IS NOT NULL OR frames > 1")
        return ListFacts(frozenset((p, f) for p, f, problem in rows if problem is not None),
                         frozenset((p, f) for p, f, problem in rows if problem is None))

    def animated_files(self) -> list[FileFacts]:
        """Every animated file that can be served, for the static frames to be built."""
        rows = self.execute(f"SELECT {_COLUMNS} FROM emoji_files WHERE frames > 1 AND problem IS NULL "
                            "ORDER BY pack, filename")
        return [_facts(row) for row in rows]

    def frames_of(self, files: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """(pack, filename) -> frames, for the files that have facts and no problem."""
        wanted = list(dict.fromkeys(files))
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(wanted), 400):
            chunk = wanted[start:start + 400]
            where = " OR ".join("(pack = ? AND filename = ?)" for _ in chunk)
            rows = self.execute(f"SELECT pack, filename, frames FROM emoji_files WHERE problem IS NULL AND ({where})",
                                [v for pair in chunk for v in pair])
            found.update({(p, f): int(n or 1) for p, f, n in rows})
        return found

    # -- what lint reads ---------------------------------------------------------------

    def lint_rows(self, packs: Collection[str] | None = None) -> list[LintRow]:
        """Every listed emoji of `packs` (all without), with its file's facts."""
        where, params = _in("l.pack", packs)
        rows = self.execute(
            f"SELECT l.pack, l.shortcode, l.filename, l.loose, {_F_COLUMNS} FROM ({_LISTED}) l "
            "LEFT JOIN emoji_files f ON f.pack = l.pack AND f.filename = l.filename "
            f"WHERE {where} ORDER BY l.pack, l.shortcode", params)
        return [LintRow(r[0], r[1], r[2], bool(r[3]), _facts(r[4:]) if r[4] is not None else None) for r in rows]

    def files_of(self, packs: Collection[str] | None = None) -> list[FileFacts]:
        """The facts of every file of `packs` (all without), listed or not."""
        where, params = _in("pack", packs)
        return [_facts(r) for r in self.execute(f"SELECT {_COLUMNS} FROM emoji_files WHERE {where}", params)]

    def content_peers(self, packs: Collection[str] | None = None) -> list[tuple[str, str, str, str]]:
        """(sha256, pack, filename, shortcode) of the listed emoji whose bytes some other file
        has too (the candidates for duplicate_content), for the bytes of `packs` (all without)."""
        where, params = _in("pack", packs)
        rows = self.execute(
            f"SELECT f.sha256, l.pack, l.filename, l.shortcode FROM ({_LISTED}) l "
            "JOIN emoji_files f ON f.pack = l.pack AND f.filename = l.filename "
            "WHERE f.problem IS NULL AND f.sha256 IN (SELECT sha256 FROM emoji_files WHERE sha256 IN "
            f"(SELECT sha256 FROM emoji_files WHERE {where}) GROUP BY sha256 HAVING count(*) > 1) "
            "ORDER BY f.sha256, l.pack, l.filename, l.shortcode", params)
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def shortcode_peers(self, packs: Collection[str] | None = None) -> list[tuple[str, str, bool]]:
        """(shortcode, pack, loose) of every shortcode listed more than once, among the
        shortcodes of `packs` (all without)."""
        where, params = _in("pack", packs)
        rows = self.execute(
            f"SELECT shortcode, pack, loose FROM ({_LISTED}) WHERE shortcode IN "
            f"(SELECT shortcode FROM ({_LISTED}) WHERE {where}) AND shortcode IN "
            f"(SELECT shortcode FROM ({_LISTED}) GROUP BY shortcode HAVING count(*) > 1) "
            "ORDER BY shortcode, loose, pack", params)
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def pack_problems(self, packs: Collection[str] | None = None) -> dict[str, list[str]]:
        """Entries reading pack.json set aside (unsafe paths), per pack."""
        where, params = _in("name", packs)
        found: dict[str, list[str]] = {}
        for name, raw in self.execute(f"SELECT name, problems FROM packs WHERE {where} AND problems != '[]'",
                                      params):
            try:
                problems = json.loads(raw)
            except ValueError:
                continue
            if isinstance(problems, list):
                found[name] = [p for p in problems if isinstance(p, str)]
        return found
