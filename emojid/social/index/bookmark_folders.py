"""SQL of bookmark folders (a bookmark itself is a row of the statuses' tables)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from emojid.db import Tables
from emojid.errors import Unprocessable


@dataclass(frozen=True)
class FolderRow:
    id: str
    account_id: str
    name: str
    emoji: str | None


_FOLDER = "id, account_id, name, emoji"


class BookmarkFoldersIndex(Tables):
    def bookmark_folders(self, account_id: str) -> list[FolderRow]:
        rows = self.execute(f"SELECT {_FOLDER} FROM bookmark_folders WHERE account_id = ? "
                            "ORDER BY created_at, CAST(id AS INTEGER)", (account_id,))
        return [FolderRow(*r) for r in rows]

    def bookmark_folder_owner(self, folder_id: str) -> str | None:
        """The account a folder belongs to (what bookmarking into a folder checks)."""
        rows = self.execute("SELECT account_id FROM bookmark_folders WHERE id = ?", (folder_id,))
        return rows[0][0] if rows else None

    def bookmark_folder(self, folder_id: str) -> FolderRow | None:
        rows = self.execute(f"SELECT {_FOLDER} FROM bookmark_folders WHERE id = ?", (folder_id,))
        return FolderRow(*rows[0]) if rows else None

    def insert_bookmark_folder(self, folder: FolderRow, when: str) -> None:
        def write() -> None:
            try:
                self.db.conn.execute("INSERT INTO bookmark_folders VALUES (?, ?, ?, ?, ?, ?)",
                                     (folder.id, folder.account_id, folder.name, folder.emoji, when, when))
            except sqlite3.IntegrityError:
                raise Unprocessable("has already been taken") from None

        self.transaction(write)

    def update_bookmark_folder(self, folder: FolderRow, when: str) -> None:
        def write() -> None:
            try:
                self.db.conn.execute("UPDATE bookmark_folders SET name = ?, emoji = ?, updated_at = ? WHERE id = ?",
                                     (folder.name, folder.emoji, when, folder.id))
            except sqlite3.IntegrityError:
                raise Unprocessable("has already been taken") from None

        self.transaction(write)

    def delete_bookmark_folder(self, folder_id: str) -> bool:
        """The folder goes; its bookmarks stay, outside any folder (Pleroma's nilify_all)."""

        def write() -> bool:
            conn = self.db.conn
            conn.execute("UPDATE bookmarks SET folder_id = NULL WHERE folder_id = ?", (folder_id,))
            return bool(conn.execute("DELETE FROM bookmark_folders WHERE id = ?", (folder_id,)).rowcount)

        return self.transaction(write)
