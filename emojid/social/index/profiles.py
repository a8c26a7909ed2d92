"""SQL of the accounts area: profiles, aliases, moves, media rows, account state."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from emojid.auth.index.accounts import _ACCOUNT, Account, _account
from emojid.db import Tables
from emojid.errors import Conflict

# Preferences a profile keeps in its `flags` JSON column, with Pleroma's defaults.
FLAG_DEFAULTS: dict[str, bool] = {
    "no_rich_text": False,
    "hide_followers": False,
    "hide_follows": False,
    "hide_followers_count": False,
    "hide_follows_count": False,
    "hide_favorites": True,
    "show_role": True,
    "skip_thread_containment": False,
    "accepts_chat_messages": True,
    "show_birthday": False,
}
NOTIFICATION_DEFAULTS: dict[str, bool] = {"block_from_strangers": False, "hide_notification_contents": False}


@dataclass(frozen=True)
class Profile:
    account_id: str
    display_name: str | None = None
    note: str = ""
    fields: list = field(default_factory=list)
    avatar_id: str | None = None
    header_id: str | None = None
    background_id: str | None = None
    mascot_id: str | None = None
    avatar_description: str = ""
    header_description: str = ""
    locked: bool = False
    discoverable: bool = False
    actor_type: str = "Person"
    default_scope: str = "public"
    flags: dict = field(default_factory=dict)
    allow_following_move: bool | None = None
    birthday: str | None = None
    language: str | None = None
    notification_settings: dict = field(default_factory=dict)
    settings_store: dict = field(default_factory=dict)
    is_confirmed: bool = True
    is_approved: bool = True
    registration_reason: str | None = None
    moved_to: str | None = None
    moved_to_ap_id: str | None = None
    deleted_at: str | None = None

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name, FLAG_DEFAULTS[name]))

    def notification(self, name: str) -> bool:
        return bool(self.notification_settings.get(name, NOTIFICATION_DEFAULTS[name]))


_JSON_COLUMNS = {"fields", "flags", "notification_settings", "settings_store"}
_BOOL_COLUMNS = {"locked", "discoverable", "is_confirmed", "is_approved"}
PROFILE_COLUMNS = [f for f in Profile.__dataclass_fields__ if f != "account_id"]
_PROFILE = ", ".join(["account_id", *PROFILE_COLUMNS])


def _profile(row: tuple) -> Profile:
    values: dict[str, Any] = dict(zip(["account_id", *PROFILE_COLUMNS], row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name])
    for name in _BOOL_COLUMNS:
        values[name] = bool(values[name])
    if values["allow_following_move"] is not None:
        values["allow_following_move"] = bool(values["allow_following_move"])
    return Profile(**values)


def _column_value(name: str, value: Any) -> Any:
    if name in _JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


@dataclass(frozen=True)
class MediaRow:
    id: str
    account_id: str
    filename: str
    mime_type: str
    size: int
    width: int
    height: int
    description: str
    focus: str | None
    created_at: str


_MEDIA = "id, account_id, filename, mime_type, size, width, height, description, focus, created_at"


class ProfilesIndex(Tables):
    # -- accounts, as the accounts area sees them ------------------------------

    def accounts_by_ids(self, ids: list[str]) -> list[Account]:
        """Accounts in the order of `ids`; unknown ids are left out."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.execute(f"SELECT {_ACCOUNT} FROM accounts WHERE id IN ({marks})", list(ids))
        found = {row[0]: _account(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def set_account_disabled(self, account_id: str, disabled: bool) -> None:
        self.transaction(lambda: self.db.conn.execute(
            "UPDATE accounts SET disabled = ? WHERE id = ?", (int(disabled), account_id)))

    def set_account_email(self, account_id: str, email: str | None) -> None:
        try:
            self.transaction(lambda: self.db.conn.execute(
                "UPDATE accounts SET email = ? WHERE id = ?", (email, account_id)))
        except sqlite3.IntegrityError:
            raise Conflict("Email has already been taken.") from None

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        self.transaction(lambda: self.db.conn.execute(
            "UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id)))

    def delete_account_data(self, account_id: str, when: str) -> list[str]:
        """Deactivate and scrub an account, end its tokens and relations; its media filenames."""

        def write() -> list[str]:
            conn = self.db.conn
            files = [r[0] for r in conn.execute("SELECT filename FROM media WHERE account_id = ?", (account_id,))]
            # The row stays (as in Pleroma) so the nickname is never handed out again.
            conn.execute("UPDATE accounts SET disabled = 1, password_hash = '', email = NULL WHERE id = ?",
                         (account_id,))
            # Every credential goes: tokens, login sessions, pending codes, MFA secrets.
            for table in ("tokens", "sessions", "oauth_codes", "mfa_tokens", "mfa", "mfa_backup_codes"):
                conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            for table, column in (("follows", "follower_id"), ("follows", "followed_id"),
                                  ("user_relationships", "source_id"), ("user_relationships", "target_id"),
                                  ("aliases", "account_id"), ("remote_relationships", "account_id"),
                                  ("media", "account_id"), ("email_confirmations", "account_id")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (account_id,))
            conn.execute("DELETE FROM profiles WHERE account_id = ?", (account_id,))
            conn.execute("INSERT INTO profiles (account_id, deleted_at) VALUES (?, ?)", (account_id, when))
            return files

        return self.transaction(write)

    # -- profiles -----------------------------------------------------------

    def profile(self, account_id: str) -> Profile:
        rows = self.execute(f"SELECT {_PROFILE} FROM profiles WHERE account_id = ?", (account_id,))
        return _profile(rows[0]) if rows else Profile(account_id)

    def update_profile(self, account_id: str, **changes: Any) -> Profile:
        unknown = set(changes) - set(PROFILE_COLUMNS)
        if unknown:
            raise ValueError(f"not profile columns: {sorted(unknown)}")

        def write() -> None:
            conn = self.db.conn
            conn.execute("INSERT OR IGNORE INTO profiles (account_id) VALUES (?)", (account_id,))
            if changes:
                assignments = ", ".join(f"{name} = ?" for name in changes)
                conn.execute(f"UPDATE profiles SET {assignments} WHERE account_id = ?",
                             [*(_column_value(n, v) for n, v in changes.items()), account_id])

        self.transaction(write)
        return self.profile(account_id)

    def merge_settings_store(self, account_id: str, app: str, merge) -> dict:
        """Read-modify-write of one app's settings in one transaction; the new settings."""

        def write() -> dict:
            conn = self.db.conn
            conn.execute("INSERT OR IGNORE INTO profiles (account_id) VALUES (?)", (account_id,))
            store = json.loads(conn.execute("SELECT settings_store FROM profiles WHERE account_id = ?",
                                            (account_id,)).fetchone()[0])
            store[app] = merge(store.get(app))
            conn.execute("UPDATE profiles SET settings_store = ? WHERE account_id = ?",
                         (json.dumps(store, ensure_ascii=False), account_id))
            return store[app]

        return self.transaction(write)

    # -- aliases and moves ----------------------------------------------------

    def aliases(self, account_id: str) -> list[tuple[str, str]]:
        """(ap_id, handle) pairs, oldest first."""
        return [(r[0], r[1]) for r in self.execute(
            "SELECT ap_id, handle FROM aliases WHERE account_id = ? ORDER BY created_at, rowid", (account_id,))]

    def add_alias(self, account_id: str, ap_id: str, handle: str, when: str) -> None:
        self.transaction(lambda: self.db.conn.execute(
            "INSERT OR IGNORE INTO aliases (account_id, ap_id, handle, created_at) VALUES (?, ?, ?, ?)",
            (account_id, ap_id, handle, when)))

    def delete_alias(self, account_id: str, ap_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM aliases WHERE account_id = ? AND ap_id = ?", (account_id, ap_id)).rowcount))

    def replace_aliases(self, account_id: str, pairs: list[tuple[str, str]], when: str) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM aliases WHERE account_id = ?", (account_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO aliases (account_id, ap_id, handle, created_at) VALUES (?, ?, ?, ?)",
                [(account_id, ap_id, handle, when) for ap_id, handle in pairs])

        self.transaction(write)

    def record_move(self, move_id: str, account_id: str, handle: str, ap_id: str, target_id: str | None,
                    followers_moved: int, when: str) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("INSERT INTO moves VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (move_id, account_id, handle, ap_id, target_id, followers_moved, when))
            conn.execute("INSERT OR IGNORE INTO profiles (account_id) VALUES (?)", (account_id,))
            conn.execute("UPDATE profiles SET moved_to = ?, moved_to_ap_id = ? WHERE account_id = ?",
                         (handle, ap_id, account_id))

        self.transaction(write)

    # -- media rows -------------------------------------------------------------

    def insert_media(self, row: MediaRow) -> None:
        self.transaction(lambda: self.db.conn.execute(
            f"INSERT INTO media ({_MEDIA}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.account_id, row.filename, row.mime_type, row.size, row.width, row.height,
             row.description, row.focus, row.created_at)))

    def media_by_id(self, media_id: str) -> MediaRow | None:
        rows = self.execute(f"SELECT {_MEDIA} FROM media WHERE id = ?", (media_id,))
        return MediaRow(*rows[0]) if rows else None

    def update_media(self, media_id: str, description: str | None, focus: str | None) -> None:
        def write() -> None:
            if description is not None:
                self.db.conn.execute("UPDATE media SET description = ? WHERE id = ?", (description, media_id))
            if focus is not None:
                self.db.conn.execute("UPDATE media SET focus = ? WHERE id = ?", (focus, media_id))

        self.transaction(write)

    def delete_media(self, media_id: str) -> str | None:
        """Forget a media row; its filename, for the caller to remove."""

        def write() -> str | None:
            row = self.db.conn.execute("SELECT filename FROM media WHERE id = ?", (media_id,)).fetchone()
            if row is None:
                return None
            self.db.conn.execute("DELETE FROM media WHERE id = ?", (media_id,))
            return row[0]

        return self.transaction(write)

    # -- custom emoji in names and bios -------------------------------------------

    def emoji_files(self, shortcodes: list[str]) -> dict[str, tuple[str, str, int]]:
        """shortcode -> (pack, filename, frames); a shortcode in two packs: the first pack's by
        name. frames > 1: animated (its static_url is the static frame); 1 when unknown."""
        if not shortcodes:
            return {}
        marks = ",".join("?" * len(shortcodes))
        rows = self.execute(
            "SELECT e.shortcode, e.pack, e.filename, CASE WHEN f.problem IS NULL THEN f.frames END FROM emoji e "
            "LEFT JOIN emoji_files f ON f.pack = e.pack AND f.filename = e.filename "
            f"WHERE e.shortcode IN ({marks}) ORDER BY e.pack DESC",
            list(shortcodes))
        return {code: (pack, filename, int(frames or 1)) for code, pack, filename, frames in rows}
