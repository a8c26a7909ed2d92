"""SQL of backups: the archive rows, and what an archive lists that no other index gives."""

from __future__ import annotations

from dataclasses import dataclass

from emojid.db import Tables


@dataclass(frozen=True)
class BackupRow:
    id: str
    account_id: str
    file_name: str
    content_type: str
    file_size: int
    processed: bool
    state: str
    inserted_at: str


_BACKUP = "id, account_id, file_name, content_type, file_size, processed, state, inserted_at"


def _backup(row: tuple) -> BackupRow:
    return BackupRow(*row[:5], bool(row[5]), *row[6:])


class BackupsIndex(Tables):
    def insert_backup(self, row: BackupRow) -> None:
        self.transaction(lambda: self.db.conn.execute(
            f"INSERT INTO backups ({_BACKUP}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.account_id, row.file_name, row.content_type, row.file_size, int(row.processed),
             row.state, row.inserted_at)))

    def backups(self, account_id: str) -> list[BackupRow]:
        rows = self.execute(f"SELECT {_BACKUP} FROM backups WHERE account_id = ? ORDER BY CAST(id AS INTEGER) DESC",
                            (account_id,))
        return [_backup(r) for r in rows]

    def backup(self, backup_id: str) -> BackupRow | None:
        rows = self.execute(f"SELECT {_BACKUP} FROM backups WHERE id = ?", (backup_id,))
        return _backup(rows[0]) if rows else None

    def backup_by_file(self, file_name: str) -> BackupRow | None:
        rows = self.execute(f"SELECT {_BACKUP} FROM backups WHERE file_name = ?", (file_name,))
        return _backup(rows[0]) if rows else None

    def unfinished_backups(self) -> list[BackupRow]:
        rows = self.execute(f"SELECT {_BACKUP} FROM backups WHERE state IN ('pending', 'running') "
                            "ORDER BY CAST(id AS INTEGER)")
        return [_backup(r) for r in rows]

    def set_backup_state(self, backup_id: str, state: str, file_size: int | None = None) -> None:
        processed = int(state == "complete")
        self.transaction(lambda: self.db.conn.execute(
            "UPDATE backups SET state = ?, processed = ?, file_size = coalesce(?, file_size) WHERE id = ?",
            (state, processed, file_size, backup_id)))

    def account_media_files(self, account_id: str) -> list[str]:
        """File names of every media row of an account, oldest first (for backups)."""
        return [r[0] for r in self.execute("SELECT filename FROM media WHERE account_id = ? ORDER BY created_at, id",
                                           (account_id,))]

    def delete_backup(self, backup_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM backups WHERE id = ?", (backup_id,)).rowcount))
