"""Where a pack's emoji came from: each mirror download and each import, newest first.

Not derived from the store (like mirrors): `emojid reindex` keeps it. A whole install
(a download, an import that makes the pack) starts the pack's history again; an
import into an existing pack adds to it; deleting the pack ends it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from emojid.db import Tables


@dataclass(frozen=True)
class Origin:
    pack: str
    kind: str  # mirror | import
    source: str  # the URL or the file name
    remote_name: str | None
    format: str  # pleroma | mastodon | misskey
    sha256: str  # uppercase hex of the archive
    emoji: int  # how many emoji it brought
    recorded_at: str

    def document(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["pack"]
        if doc["remote_name"] is None:
            del doc["remote_name"]
        return doc


class OriginsIndex(Tables):
    def record_origin(self, origin: Origin, fresh: bool) -> None:
        """`fresh`: the pack was installed whole, so what came before no longer applies."""
        def write() -> None:
            conn = self.db.conn
            if fresh:
                conn.execute("DELETE FROM pack_origins WHERE pack = ?", (origin.pack,))
            conn.execute(
                "INSERT INTO pack_origins (pack, kind, source, remote_name, format, sha256, emoji, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (origin.pack, origin.kind, origin.source, origin.remote_name, origin.format, origin.sha256,
                 origin.emoji, origin.recorded_at),
            )

        self.transaction(write)

    def origins(self, pack: str) -> list[Origin]:
        rows = self.execute(
            "SELECT pack, kind, source, remote_name, format, sha256, emoji, recorded_at FROM pack_origins "
            "WHERE pack = ? ORDER BY id DESC", (pack,))
        return [Origin(*row) for row in rows]

    def forget_origins(self, pack: str) -> None:
        self.transaction(lambda: self.db.conn.execute("DELETE FROM pack_origins WHERE pack = ?", (pack,)))

    def move_origins(self, pack: str, new_name: str) -> None:
        def write() -> None:
            self.db.conn.execute("DELETE FROM pack_origins WHERE pack = ?", (new_name,))
            self.db.conn.execute("UPDATE pack_origins SET pack = ? WHERE pack = ?", (new_name, pack))

        self.transaction(write)
