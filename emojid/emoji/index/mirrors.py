"""Where each mirrored pack came from, so sync can tell updates from local edits."""

from __future__ import annotations

from dataclasses import dataclass

from emojid.db import Tables


@dataclass(frozen=True)
class Mirror:
    pack: str
    source_url: str
    remote_name: str
    sha256: str
    fingerprint: str
    installed_at: str


class MirrorsIndex(Tables):
    def record_mirror(self, mirror: Mirror) -> None:
        self.transaction(
            lambda: self.db.conn.execute(
                "INSERT OR REPLACE INTO mirrors VALUES (?, ?, ?, ?, ?, ?)",
                (mirror.pack, mirror.source_url, mirror.remote_name, mirror.sha256,
                 mirror.fingerprint, mirror.installed_at),
            )
        )

    def mirror(self, pack: str) -> Mirror | None:
        rows = self.execute("SELECT * FROM mirrors WHERE pack = ?", (pack,))
        return Mirror(*rows[0]) if rows else None

    def all_mirrors(self) -> list[Mirror]:
        return [Mirror(*r) for r in self.execute("SELECT * FROM mirrors ORDER BY pack")]

    def forget_mirror(self, pack: str) -> None:
        self.transaction(lambda: self.db.conn.execute("DELETE FROM mirrors WHERE pack = ?", (pack,)))
