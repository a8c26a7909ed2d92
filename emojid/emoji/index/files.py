"""File facts: size, SHA-256, dimensions, frames, format and problem of every file of every
pack (and folder without pack.json). Read from disk by `emojid.emoji.facts` when a pack is
indexed; lint, the static frames and the emoji lists read them here."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

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
class ListFacts:
    """What the global lists need: files not to serve, and animated ones (static_url)."""

    bad: frozenset[tuple[str, str]]
    animated: frozenset[tuple[str, str]]


class PackContents(NamedTuple):
    """A pack (or folder without pack.json) as lint reads it."""

    name: str
    loose: bool
    # (shortcode, filename, size, width, height, frames, format, problem, sha256), by shortcode;
    # the facts are None for a file that is not there.
    emoji: list[tuple[Any, ...]]
    unlisted: list[str]  # files of the folder no emoji uses


class LintRow(NamedTuple):
    """One listed emoji as lint sees it, with the facts of its file (size None: no such file)."""

    pack: str
    shortcode: str
    filename: str
    loose: bool  # a folder without pack.json
    size: int | None
    width: int | None
    height: int | None
    frames: int | None
    format: str | None
    problem: str | None


# One file's facts as a row: FileFacts' fields in order (the columns below); what reindex's
# worker processes send back, lighter than FileFacts to pickle.
FactsRow = tuple[str, str, int, int, str, int | None, int | None, int | None, str | None, str | None]

_COLUMNS = "pack, filename, size, mtime_ns, sha256, width, height, frames, format, problem"
# Both listings, packs and folders without pack.json, as one (pack, shortcode, filename, loose).
_LISTED = ("SELECT pack, shortcode, filename, 0 AS loose FROM emoji "
           "UNION ALL SELECT folder, shortcode, filename, 1 FROM loose_emoji")
_BUMP = "UPDATE state SET value = value + 1 WHERE key = 'emoji_generation'"


def _facts(row: tuple[Any, ...]) -> FileFacts:
    return FileFacts(*row)


def _moves(row: FactsRow) -> bool:
    """FileFacts.animated of a row."""
    return row[9] is None and (row[7] or 1) > 1


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

    def file_stamps(self, pack: str) -> dict[str, tuple[int, int]]:
        """filename -> (size, mtime_ns) as recorded: enough to tell whether anything changed."""
        rows = self.execute("SELECT filename, size, mtime_ns FROM emoji_files WHERE pack = ?", (pack,))
        return {filename: (size, mtime_ns) for filename, size, mtime_ns in rows}

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
            conn.execute(_BUMP)
            return True

        return self.transaction(write)

    def all_file_stamps(self) -> dict[str, dict[str, tuple[int, int]]]:
        """file_stamps of every pack at once (reindex)."""
        stamps: dict[str, dict[str, tuple[int, int]]] = {}
        for pack, filename, size, mtime_ns in self.execute("SELECT pack, filename, size, mtime_ns FROM emoji_files"):
            stamps.setdefault(pack, {})[filename] = (size, mtime_ns)
        return stamps

    def put_folders_facts(self, folders: Iterable[tuple[str, list[FactsRow], Collection[str]]]
                          ) -> list[tuple[list[FileFacts], list[FileFacts]]]:
        """put_file_facts of several packs in one transaction (reindex): each (pack, the rows
        of the files read, the files whose recorded facts hold). Rows are compared with what
        is recorded when the transaction runs; only differences are written. Returns the facts
        of the animated files (what the static frames follow), old and new, of each pack
        that changed."""
        folders = list(folders)

        def write() -> list[tuple[list[FileFacts], list[FileFacts]]]:
            conn = self.db.conn
            recorded: dict[str, dict[str, FactsRow]] = {}
            for start in range(0, len(folders), 500):  # SQLite's bound parameters
                names = [pack for pack, _rows, _kept in folders[start:start + 500]]
                for row in conn.execute(f"SELECT {_COLUMNS} FROM emoji_files WHERE pack IN "
                                        f"({','.join('?' * len(names))})", names):
                    recorded.setdefault(row[0], {})[row[1]] = row
            gone: list[tuple[str, str]] = []
            put: list[FactsRow] = []
            changed = []
            for pack, rows, kept in folders:
                old = recorded.get(pack, {})
                fresh = [row for row in rows if old.get(row[1]) != row]
                now = {row[1] for row in rows}.union(kept)
                lost = [(pack, filename) for filename in old if filename not in now]
                if not fresh and not lost:
                    continue
                put += fresh
                gone += lost
                new = rows + [old[f] for f in kept if f in old]
                changed.append(([_facts(r) for r in old.values() if _moves(r)], [_facts(r) for r in new if _moves(r)]))
            if not changed:
                return changed
            conn.executemany("DELETE FROM emoji_files WHERE pack = ? AND filename = ?", gone)
            conn.executemany(f"INSERT OR REPLACE INTO emoji_files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             put)
            conn.execute(_BUMP)
            return changed

        return self.transaction(write)

    def forget_file_facts(self, pack: str) -> bool:
        def write() -> bool:
            gone = self.db.conn.execute("DELETE FROM emoji_files WHERE pack = ?", (pack,)).rowcount
            if gone:
                self.db.conn.execute(_BUMP)
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

    def animated_sha_in_use(self, sha256: str) -> bool:
        """Whether some animated file still has these bytes (its static frame is shared)."""
        return bool(self.execute("SELECT 1 FROM emoji_files WHERE sha256 = ? AND frames > 1 AND problem IS NULL "
                                 "LIMIT 1", (sha256,)))

    @contextlib.contextmanager
    def lint_snapshot(self) -> Iterator[LintSnapshot]:
        """What lint reads, from one consistent snapshot of the index, streamed: a separate
        read-only connection (WAL lets writers carry on; the shared one stays free)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            conn.execute("BEGIN")
            yield LintSnapshot(conn)
        finally:
            conn.close()


class LintSnapshot:
    """The index as lint reads it, each query narrowed to `packs` (every one when None);
    rows come in batches, so 100k emoji never sit in memory at once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _rows(self, sql: str, params: list[str]) -> Iterator[tuple[Any, ...]]:
        cursor = self.conn.execute(sql, params)
        while chunk := cursor.fetchmany(2000):
            yield from chunk

    def generation(self) -> int:
        return int(self.conn.execute("SELECT value FROM state WHERE key = 'emoji_generation'").fetchone()[0])

    def known(self) -> set[str]:
        """Every pack, folder without pack.json, and pack.json never read."""
        return {r[0] for r in self._rows("SELECT name FROM packs UNION SELECT name FROM loose_folders "
                                         "UNION SELECT name FROM pack_errors", [])}

    def pack_errors(self, packs: Collection[str] | None) -> Iterator[tuple[str, str]]:
        where, params = _in("name", packs)
        return self._rows(f"SELECT name, error FROM pack_errors WHERE {where} ORDER BY name", params)

    def pack_problems(self, packs: Collection[str] | None) -> Iterator[tuple[str, str]]:
        """(pack, problem) of each entry reading pack.json set aside (unsafe paths)."""
        where, params = _in("name", packs)
        for name, raw in self._rows(f"SELECT name, problems FROM packs WHERE {where} AND problems != '[]'", params):
            try:
                problems = json.loads(raw)
            except ValueError:
                continue
            if isinstance(problems, list):
                yield from ((name, p) for p in problems if isinstance(p, str))

    def contents(self, packs: Collection[str] | None) -> Iterator[PackContents]:
        """Pack by pack (and folder by folder), by name: its emoji with their files' facts
        (by shortcode: the primary key's order), and the files no emoji uses. Short indexed
        queries."""
        where, params = _in("name", packs)
        names = self.conn.execute(f"SELECT name, 0 FROM packs WHERE {where} UNION ALL "
                                  f"SELECT name, 1 FROM loose_folders WHERE {where} ORDER BY 1", params * 2).fetchall()
        for name, loose in names:
            table, column = ("loose_emoji", "folder") if loose else ("emoji", "pack")
            emoji = self.conn.execute(
                "SELECT e.shortcode, e.filename, f.size, f.width, f.height, f.frames, f.format, f.problem, f.sha256 "
                f"FROM {table} e LEFT JOIN emoji_files f ON f.pack = e.{column} AND f.filename = e.filename "
                f"WHERE e.{column} = ? ORDER BY e.shortcode", (name,)).fetchall()
            unlisted = [r[0] for r in self.conn.execute(
                "SELECT filename FROM emoji_files WHERE pack = ? AND filename NOT IN "
                f"(SELECT filename FROM {table} WHERE {column} = ?) ORDER BY filename", (name, name))]
            yield PackContents(name, bool(loose), emoji, unlisted)

    def shared_bytes(self) -> set[str]:
        """The SHA-256 of every content more than one file has."""
        return {r[0] for r in self._rows("SELECT sha256 FROM emoji_files GROUP BY sha256 HAVING count(*) > 1", [])}

    def content_peers(self, packs: Collection[str]) -> Iterator[tuple[str, str, str, str]]:
        """(sha256, pack, filename, shortcode) of every listed, readable emoji whose bytes
        a file of `packs` has, when more than one file has them."""
        where, params = _in("pack", packs)
        files = list(self._rows(
            "SELECT sha256, pack, filename FROM emoji_files WHERE problem IS NULL AND sha256 IN "
            f"(SELECT sha256 FROM emoji_files WHERE {where}) AND sha256 IN "
            "(SELECT sha256 FROM emoji_files GROUP BY sha256 HAVING count(*) > 1)", params))
        wanted = {(pack, filename) for _sha, pack, filename in files}
        involved = sorted({pack for pack, _filename in wanted})
        shortcodes: dict[tuple[str, str], list[str]] = {}
        for start in range(0, len(involved), 400):  # the packs' listings, whole: no index by filename
            chunk = involved[start:start + 400]
            marks = ",".join("?" * len(chunk))
            for pack, shortcode, filename in self._rows(
                    f"SELECT pack, shortcode, filename FROM emoji WHERE pack IN ({marks}) "
                    f"UNION ALL SELECT folder, shortcode, filename FROM loose_emoji WHERE folder IN ({marks})",
                    chunk * 2):
                if (pack, filename) in wanted:
                    shortcodes.setdefault((pack, filename), []).append(shortcode)
        for sha, pack, filename in files:
            for shortcode in shortcodes.get((pack, filename), ()):
                yield sha, pack, filename, shortcode

    def shortcode_holders(self) -> Iterator[tuple[str, str, bool]]:
        """(shortcode, pack, loose) of every shortcode that may be listed more than once:
        those two packs have, and every folder's (few). The caller counts."""
        return self._rows(
            "SELECT shortcode, pack, 0 FROM emoji WHERE shortcode IN "
            "(SELECT shortcode FROM emoji GROUP BY shortcode HAVING count(*) > 1 "
            " UNION SELECT shortcode FROM loose_emoji) "
            "UNION ALL SELECT shortcode, folder, 1 FROM loose_emoji", [])
