"""Pack, emoji and archive rows. Derived from the store; `emojid reindex` rebuilds them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emojid.db import Tables

if TYPE_CHECKING:
    from emojid.emoji.store import LooseFolder, Pack


@dataclass(frozen=True)
class PackRow:
    name: str
    meta: dict[str, Any]
    files_json: str
    files_count: int
    fingerprint: str
    shareable: bool
    archive_sha256: str | None  # only when built from the current fingerprint


@dataclass(frozen=True)
class ArchiveRow:
    fingerprint: str
    sha256: str
    path: str
    size: int


# One emoji as the lists show it: shortcode, pack, filename, tags.
EmojiEntry = tuple[str, str, str, list[str]]


_PACK_COLUMNS = """p.name, p.meta, p.files, p.files_count, p.fingerprint, p.shareable,
    CASE WHEN a.fingerprint = p.fingerprint THEN a.sha256 END"""


# Pages far past the end are just empty: keep offsets and limits within SQLite's integers.
_SQL_MAX = 2**63 - 1


def _page(offset: int, limit: int) -> tuple[int, int]:
    return min(limit, _SQL_MAX), min(offset, _SQL_MAX)


def _pack_row(row: tuple[Any, ...]) -> PackRow:
    return PackRow(row[0], json.loads(row[1]), row[2], row[3], row[4], bool(row[5]), row[6])


class PacksIndex(Tables):
    def _bump(self) -> None:
        self.db.conn.execute("UPDATE state SET value = value + 1 WHERE key = 'emoji_generation'")

    @staticmethod
    def _rows_of(pack: Pack) -> tuple[tuple[Any, ...], list[tuple[str, str, str, str, str]]]:
        """The packs row of `pack` and its emoji rows (by shortcode), as the tables hold them."""
        files = pack.sorted_files()
        row = (pack.name, json.dumps(pack.meta, ensure_ascii=False), json.dumps(files, ensure_ascii=False),
               len(files), pack.fingerprint, int(pack.shareable), json.dumps(pack.problems))
        tags, extra = pack.tags, pack.emoji_meta
        # Most emoji have neither tags nor metadata: their JSON is known (json.dumps twice
        # per emoji is most of reindexing 100k of them).
        emoji = [(pack.name, shortcode, filename,
                  json.dumps(tags[shortcode]) if shortcode in tags else "[]",
                  json.dumps({k: v for k, v in extra[shortcode].items() if k != "tags"}, ensure_ascii=False)
                  if shortcode in extra else "{}")
                 for shortcode, filename in files.items()]
        return row, emoji

    def _put_pack(self, pack: Pack) -> None:
        conn = self.db.conn
        row, emoji = self._rows_of(pack)
        conn.execute("DELETE FROM pack_errors WHERE name = ?", (pack.name,))
        conn.execute("DELETE FROM loose_folders WHERE name = ?", (pack.name,))
        conn.execute("DELETE FROM loose_emoji WHERE folder = ?", (pack.name,))
        conn.execute("INSERT OR REPLACE INTO packs VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        conn.execute("DELETE FROM emoji WHERE pack = ?", (pack.name,))
        conn.executemany("INSERT INTO emoji (pack, shortcode, filename, tags, meta) VALUES (?, ?, ?, ?, ?)", emoji)

    def upsert_pack(self, pack: Pack) -> bool:
        """Record `pack` as read from disk; False when the index already had this version."""
        def write() -> bool:
            conn = self.db.conn
            row = conn.execute("SELECT fingerprint FROM packs WHERE name = ?", (pack.name,)).fetchone()
            if row and row[0] == pack.fingerprint:
                # Mended back to the very bytes of its last good state: only the error goes.
                return bool(conn.execute("DELETE FROM pack_errors WHERE name = ?", (pack.name,)).rowcount)
            self._put_pack(pack)
            self._bump()
            return True

        return self.transaction(write)

    def remove_pack(self, name: str) -> bool:
        def write() -> bool:
            self.db.conn.execute("DELETE FROM pack_errors WHERE name = ?", (name,))
            gone = self.db.conn.execute("DELETE FROM packs WHERE name = ?", (name,)).rowcount
            if gone:
                self.db.conn.execute("DELETE FROM emoji WHERE pack = ?", (name,))
                self._bump()
            return bool(gone)

        return self.transaction(write)

    def record_pack_error(self, name: str, error: str) -> bool:
        """An unreadable pack.json. A pack indexed before keeps its last good rows
        (listed and served as they were); one never seen valid stays out of the
        lists. Either way the error is kept until the file is mended.
        True when the error is new or changed."""
        def write() -> bool:
            conn = self.db.conn
            if conn.execute("DELETE FROM loose_folders WHERE name = ?", (name,)).rowcount:
                conn.execute("DELETE FROM loose_emoji WHERE folder = ?", (name,))
                self._bump()
            old = conn.execute("SELECT error FROM pack_errors WHERE name = ?", (name,)).fetchone()
            if old and old[0] == error:
                return False
            conn.execute("INSERT OR REPLACE INTO pack_errors VALUES (?, ?)", (name, error))
            return True

        return self.transaction(write)

    def reindex_packs(self, packs: Iterable[Pack]) -> None:
        """Reindex, a batch of packs as read: their rows in place of the ones they had, in
        one transaction (`finish_reindex` then drops the rest). The rows are _put_pack's.

        The emoji go in through a temp table and one INSERT ... SELECT: the search triggers
        then run inside one statement, and FTS5 writes its segment once rather than once per
        row (100k emoji: 0.8 s rather than 8)."""
        def write() -> None:
            conn = self.db.conn
            read = {pack.name: self._rows_of(pack) for pack in packs}
            names = list(read)
            recorded: dict[str, tuple[Any, list[Any]]] = {name: (None, []) for name in names}
            for start in range(0, len(names), 500):  # SQLite's bound parameters
                part = names[start:start + 500]
                marks = ",".join("?" * len(part))
                for row in conn.execute(f"SELECT * FROM packs WHERE name IN ({marks})", part):
                    recorded[row[0]] = (row, recorded[row[0]][1])
                for row in conn.execute(f"SELECT pack, shortcode, filename, tags, meta FROM emoji "
                                        f"WHERE pack IN ({marks}) ORDER BY pack, shortcode", part):
                    recorded[row[0]][1].append(row)
            # Rows already as read stay: a second reindex rewrites only what changed.
            changed = [name for name in names if recorded[name] != read[name]]
            if not changed:
                return
            conn.executemany("DELETE FROM emoji WHERE pack = ?", [(name,) for name in changed])
            conn.executemany("INSERT OR REPLACE INTO packs VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [read[name][0] for name in changed])
            conn.execute("DROP TABLE IF EXISTS temp.reindex_emoji")
            conn.execute("CREATE TEMP TABLE reindex_emoji (pack, shortcode, filename, tags, meta)")
            conn.executemany("INSERT INTO temp.reindex_emoji VALUES (?, ?, ?, ?, ?)",
                             [emoji for name in changed for emoji in read[name][1]])
            conn.execute("INSERT INTO emoji (pack, shortcode, filename, tags, meta) "
                         "SELECT pack, shortcode, filename, tags, meta FROM temp.reindex_emoji ORDER BY rowid")
            conn.execute("DROP TABLE temp.reindex_emoji")
            self._bump()

        self.transaction(write)

    def finish_reindex(self, packs: Collection[str], errors: dict[str, str], loose: Iterable[LooseFolder] = ()) -> int:
        """Reindex, once every pack was read (`reindex_packs`): the rows of any other pack
        go, except those of a pack whose pack.json is broken (it keeps its last good state,
        if any); the errors and the folders without pack.json are the ones read. Returns
        the number of packs."""
        def write() -> int:
            conn = self.db.conn
            conn.execute("DROP TABLE IF EXISTS temp.reindex_kept")
            conn.execute("CREATE TEMP TABLE reindex_kept (name TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO temp.reindex_kept VALUES (?)",
                             [(name,) for name in (*packs, *errors)])
            conn.execute("DELETE FROM emoji WHERE pack NOT IN (SELECT name FROM temp.reindex_kept)")
            conn.execute("DELETE FROM packs WHERE name NOT IN (SELECT name FROM temp.reindex_kept)")
            conn.execute("DROP TABLE temp.reindex_kept")
            conn.execute("DELETE FROM pack_errors")
            conn.executemany("INSERT INTO pack_errors VALUES (?, ?)", errors.items())
            conn.execute("DELETE FROM loose_emoji")
            conn.execute("DELETE FROM loose_folders")
            for folder in loose:
                self._put_loose(folder)
            self._bump()
            return len(packs)

        return self.transaction(write)

    # -- folders without pack.json ----------------------------------------

    @staticmethod
    def _loose_fingerprint(folder: LooseFolder) -> str:
        doc = json.dumps([sorted(folder.files.items()), sorted(folder.tags.items())], ensure_ascii=False)
        return hashlib.sha256(doc.encode()).hexdigest()

    def _put_loose(self, folder: LooseFolder) -> None:
        conn = self.db.conn
        conn.execute("DELETE FROM loose_emoji WHERE folder = ?", (folder.name,))
        conn.execute("INSERT OR REPLACE INTO loose_folders VALUES (?, ?, ?)",
                     (folder.name, self._loose_fingerprint(folder), len(folder.files)))
        conn.executemany(
            "INSERT INTO loose_emoji VALUES (?, ?, ?, ?)",
            [
                (folder.name, shortcode, filename, json.dumps(folder.tags.get(shortcode, [])))
                for shortcode, filename in sorted(folder.files.items())
            ],
        )

    def upsert_loose(self, folder: LooseFolder) -> bool:
        """Record a folder without pack.json as read from disk; False when unchanged."""
        def write() -> bool:
            row = self.db.conn.execute("SELECT fingerprint FROM loose_folders WHERE name = ?",
                                       (folder.name,)).fetchone()
            if row and row[0] == self._loose_fingerprint(folder):
                return False
            self._put_loose(folder)
            self._bump()
            return True

        return self.transaction(write)

    def remove_loose(self, name: str) -> bool:
        def write() -> bool:
            gone = self.db.conn.execute("DELETE FROM loose_folders WHERE name = ?", (name,)).rowcount
            if gone:
                self.db.conn.execute("DELETE FROM loose_emoji WHERE folder = ?", (name,))
                self._bump()
            return bool(gone)

        return self.transaction(write)

    def loose_folders(self) -> list[tuple[str, int]]:
        """(folder, emoji count) of every folder without pack.json, by name."""
        return [(r[0], int(r[1])) for r in self.execute("SELECT name, emoji_count FROM loose_folders ORDER BY name")]

    def pack_errors(self) -> dict[str, str]:
        return dict(self.execute("SELECT name, error FROM pack_errors ORDER BY name"))

    def pack_error(self, name: str) -> str | None:
        rows = self.execute("SELECT error FROM pack_errors WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def generation(self) -> int:
        return int(self.execute("SELECT value FROM state WHERE key = 'emoji_generation'")[0][0])

    def pack_generation(self) -> tuple[int, int]:
        """What the pack listing and pack show answers are built from, as one value that
        grows with every change: (emoji generation: any pack, emoji or file write; archive
        generation: an archive recorded, whose SHA256 they show as download-sha256)."""
        rows = dict(self.execute("SELECT key, value FROM state WHERE key IN ('emoji_generation', "
                                 "'archive_generation')"))
        return int(rows["emoji_generation"]), int(rows.get("archive_generation", 0))

    def pack_names(self) -> list[str]:
        return [r[0] for r in self.execute("SELECT name FROM packs ORDER BY name")]

    def count_packs(self) -> int:
        return int(self.execute("SELECT count(*) FROM packs")[0][0])

    def list_packs(self, offset: int, limit: int) -> list[PackRow]:
        rows = self.execute(
            f"SELECT {_PACK_COLUMNS} FROM packs p LEFT JOIN archives a ON a.pack = p.name "
            "ORDER BY p.name LIMIT ? OFFSET ?",
            _page(offset, limit),
        )
        return [_pack_row(r) for r in rows]

    def get_pack(self, name: str) -> PackRow | None:
        rows = self.execute(
            f"SELECT {_PACK_COLUMNS} FROM packs p LEFT JOIN archives a ON a.pack = p.name WHERE p.name = ?",
            (name,),
        )
        return _pack_row(rows[0]) if rows else None

    def pack_files(self, name: str, offset: int, limit: int) -> dict[str, str]:
        rows = self.execute(
            "SELECT shortcode, filename FROM emoji WHERE pack = ? ORDER BY shortcode LIMIT ? OFFSET ?",
            (name, *_page(offset, limit)),
        )
        return dict(rows)

    def shortcode_owner(self, shortcode: str) -> str | None:
        rows = self.execute("SELECT pack FROM emoji WHERE shortcode = ? ORDER BY pack LIMIT 1", (shortcode,))
        return rows[0][0] if rows else None

    @contextlib.contextmanager
    def emoji_snapshot(self, batch: int = 2000) -> Iterator[tuple[int, Iterator[EmojiEntry]]]:
        """(generation, rows) of one consistent snapshot, rows streamed in batches.

        A separate read-only connection: WAL lets it read while writers
        carry on, and the shared connection's lock is not held meanwhile.
        """
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            conn.execute("BEGIN")
            generation = conn.execute("SELECT value FROM state WHERE key = 'emoji_generation'").fetchone()[0]
            # Folders without pack.json join in as Pleroma's loader has them, but a
            # shortcode a real pack holds is the pack's. One merge of two index walks.
            cursor = conn.execute(
                "SELECT shortcode, pack, filename, tags FROM emoji "
                "UNION ALL "
                "SELECT l.shortcode, l.folder, l.filename, l.tags FROM loose_emoji l "
                "WHERE NOT EXISTS (SELECT 1 FROM emoji e WHERE e.shortcode = l.shortcode) "
                "ORDER BY 2, 1"
            )

            def rows() -> Iterator[EmojiEntry]:
                while chunk := cursor.fetchmany(batch):
                    for shortcode, pack, filename, tags in chunk:
                        yield shortcode, pack, filename, json.loads(tags)

            yield generation, rows()
        finally:
            conn.close()

    def get_archive(self, name: str) -> ArchiveRow | None:
        rows = self.execute("SELECT fingerprint, sha256, path, size FROM archives WHERE pack = ?", (name,))
        return ArchiveRow(*rows[0]) if rows else None

    def set_archive(self, name: str, archive: ArchiveRow) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute(
                "INSERT OR REPLACE INTO archives VALUES (?, ?, ?, ?, ?)",
                (name, archive.fingerprint, archive.sha256, archive.path, archive.size),
            )
            # A counter of its own, not emoji_generation: an archive built does not change
            # the emoji lists (megabytes to write again), only the pack answers.
            conn.execute("INSERT INTO state VALUES ('archive_generation', 1) "
                         "ON CONFLICT(key) DO UPDATE SET value = value + 1")

        self.transaction(write)
