"""SQL of events, scrobbles, bookmark folders and backups."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from emojid.db import Tables
from emojid.errors import Unprocessable
from emojid.social.paging import Page


@dataclass(frozen=True)
class FolderRow:
    id: str
    account_id: str
    name: str
    emoji: str | None


@dataclass(frozen=True)
class ScrobbleRow:
    id: str
    account_id: str
    title: str
    artist: str | None
    album: str | None
    external_link: str | None
    length: int | None
    visibility: str
    created_at: str


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


@dataclass(frozen=True)
class EventRow:
    status_id: str
    name: str
    start_time: str
    end_time: str | None
    join_mode: str
    location: dict | None = None


@dataclass(frozen=True)
class EventEdit:
    """What an event edit changes in its status: new text (with its HTML and tags), new media."""

    text: str | None = None
    content: str = ""
    tags: tuple[str, ...] = ()
    media_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ParticipationRow:
    id: str
    status_id: str
    account_id: str
    state: str
    message: str | None
    created_at: str


_FOLDER = "id, account_id, name, emoji"
_SCROBBLE = "id, account_id, title, artist, album, external_link, length, visibility, created_at"
_BACKUP = "id, account_id, file_name, content_type, file_size, processed, state, inserted_at"


_EVENT = "status_id, name, start_time, end_time, join_mode, location, updated_at"
_PARTICIPATION = "id, status_id, account_id, state, message, created_at"


def _event(row: tuple) -> EventRow:
    return EventRow(str(row[0]), row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else None)


def _event_values(event: EventRow, when: str | None) -> tuple:
    location = json.dumps(event.location, ensure_ascii=False) if event.location is not None else None
    return (int(event.status_id), event.name, event.start_time, event.end_time, event.join_mode, location, when)


def _participation(row: tuple) -> ParticipationRow:
    return ParticipationRow(str(row[0]), str(row[1]), *row[2:])


def _scrobble(row: tuple) -> ScrobbleRow:
    return ScrobbleRow(str(row[0]), *row[1:])


def _backup(row: tuple) -> BackupRow:
    return BackupRow(*row[:5], bool(row[5]), *row[6:])


class EventsIndex(Tables):
    # -- bookmark folders ------------------------------------------------------------

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

    # -- scrobbles -------------------------------------------------------------------

    def insert_scrobble(self, row: ScrobbleRow) -> None:
        self.transaction(lambda: self.db.conn.execute(
            f"INSERT INTO scrobbles ({_SCROBBLE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (int(row.id), row.account_id, row.title, row.artist, row.album, row.external_link, row.length,
             row.visibility, row.created_at)))

    def scrobbles(self, account_id: str, visibilities: tuple[str, ...], page: Page) -> list[ScrobbleRow]:
        """Newest first, paged by id."""
        marks = ",".join("?" * len(visibilities))
        paging, params, order = page.sql("id")
        rows = self.execute(
            f"SELECT {_SCROBBLE} FROM scrobbles WHERE account_id = ? AND visibility IN ({marks}){paging}{order}",
            (account_id, *visibilities, *params))
        return page.arrange([_scrobble(r) for r in rows])

    # -- backups ---------------------------------------------------------------------

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

    # -- events ----------------------------------------------------------------------

    def insert_event(self, event: EventRow, organizer_id: str, participation_id: int, when: str) -> None:
        """The event's facts and its organizer as first (accepted) participant, together."""

        def write() -> None:
            conn = self.db.conn
            conn.execute(f"INSERT INTO events ({_EVENT}) VALUES (?, ?, ?, ?, ?, ?, ?)", _event_values(event, None))
            conn.execute("INSERT INTO event_participations VALUES (?, ?, ?, 'accept', NULL, ?)",
                         (participation_id, int(event.status_id), organizer_id, when))

        self.transaction(write)

    def event(self, status_id: int | str) -> EventRow | None:
        rows = self.execute(f"SELECT {_EVENT} FROM events WHERE status_id = ?", (int(status_id),))
        return _event(rows[0]) if rows else None

    def update_event_row(self, event: EventRow, edit: EventEdit | None, when: str) -> None:
        """New event facts and, when the description or banner changed, the status's text, tags and media."""

        def write() -> None:
            conn = self.db.conn
            sid, *values, _ = _event_values(event, when)
            conn.execute("UPDATE events SET name = ?, start_time = ?, end_time = ?, join_mode = ?, location = ?,"
                         " updated_at = ? WHERE status_id = ?", (*values, when, sid))
            if edit is None:
                return
            if edit.text is not None:
                conn.execute("UPDATE statuses SET text = ?, content = ? WHERE id = ?", (edit.text, edit.content, sid))
                conn.execute("DELETE FROM status_tags WHERE status_id = ?", (sid,))
                conn.executemany("INSERT OR IGNORE INTO status_tags VALUES (?, ?)", [(sid, t) for t in edit.tags])
            if edit.media_ids is not None:
                conn.execute("DELETE FROM status_media WHERE status_id = ?", (sid,))
                conn.executemany("INSERT INTO status_media VALUES (?, ?, ?)",
                                 [(sid, m, i) for i, m in enumerate(edit.media_ids)])

        self.transaction(write)

    def event_participation(self, status_id: int | str, account_id: str) -> ParticipationRow | None:
        rows = self.execute(f"SELECT {_PARTICIPATION} FROM event_participations WHERE status_id = ? AND account_id = ?",
                            (int(status_id), account_id))
        return _participation(rows[0]) if rows else None

    def add_event_participation(self, row: ParticipationRow) -> ParticipationRow:
        """A new participation; one that exists stays as it is (joining twice is no change). The stored row."""

        def write() -> ParticipationRow:
            conn = self.db.conn
            conn.execute("INSERT OR IGNORE INTO event_participations VALUES (?, ?, ?, ?, ?, ?)",
                         (int(row.id), int(row.status_id), row.account_id, row.state, row.message, row.created_at))
            found = conn.execute(f"SELECT {_PARTICIPATION} FROM event_participations"
                                 " WHERE status_id = ? AND account_id = ?",
                                 (int(row.status_id), row.account_id)).fetchone()
            return _participation(found)

        return self.transaction(write)

    def set_event_participation_state(self, status_id: int | str, account_id: str, state: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "UPDATE event_participations SET state = ? WHERE status_id = ? AND account_id = ?",
            (state, int(status_id), account_id)).rowcount))

    def delete_event_participation(self, status_id: int | str, account_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM event_participations WHERE status_id = ? AND account_id = ?",
            (int(status_id), account_id)).rowcount))

    def event_participant_ids(self, status_id: int | str, state: str = "accept") -> list[str]:
        """Accounts in `state`, the latest to join first (as rebased lists them)."""
        return [r[0] for r in self.execute(
            "SELECT account_id FROM event_participations WHERE status_id = ? AND state = ? ORDER BY id DESC",
            (int(status_id), state))]

    def event_participation_page(self, status_id: int | str, state: str, page: Page) -> list[ParticipationRow]:
        paging, params, order = page.sql("id")
        rows = self.execute(f"SELECT {_PARTICIPATION} FROM event_participations WHERE status_id = ? AND state = ?"
                            f"{paging}{order}", (int(status_id), state, *params))
        return page.arrange([_participation(r) for r in rows])

    def event_participation_counts(self, status_id: int | str) -> tuple[int, int]:
        """(accepted participants, pending requests) of an event."""
        row = self.execute("SELECT coalesce(sum(state = 'accept'), 0), coalesce(sum(state = 'pending'), 0)"
                           " FROM event_participations WHERE status_id = ?", (int(status_id),))[0]
        return int(row[0]), int(row[1])
