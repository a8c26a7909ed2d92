"""SQL of sign-ups: new accounts with their profile, captchas, invites, email confirmations."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from emojid.auth.index.accounts import _ACCOUNT, _APP, Account, App
from emojid.db import Tables
from emojid.errors import Conflict


@dataclass(frozen=True)
class CaptchaRow:
    token: str
    answer: str
    answer_data: str
    created: float
    used: bool


@dataclass(frozen=True)
class Invite:
    token: str
    max_use: int | None
    uses: int
    expires_at: str | None
    used: bool
    created_at: str


class RegistrationIndex(Tables):
    def register_account(self, account: Account, confirmed: bool, approved: bool, reason: str | None,
                         display_name: str | None, note: str, invite: str | None,
                         confirmation_hash: str | None) -> None:
        """The account, its profile, invite use and confirmation token: all or nothing."""

        def write() -> None:
            conn = self.db.conn
            if invite is not None:
                changed = conn.execute(
                    "UPDATE invites SET uses = uses + 1,"
                    " used = CASE WHEN max_use IS NOT NULL AND uses + 1 >= max_use THEN 1 ELSE used END"
                    " WHERE token = ? AND used = 0 AND (max_use IS NULL OR uses < max_use)", (invite,)).rowcount
                if not changed:
                    raise Conflict("Expired token")
            conn.execute(
                f"INSERT INTO accounts ({_ACCOUNT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (account.id, account.nickname, account.email, account.password_hash,
                 int(account.is_admin), int(account.disabled), account.created_at))
            conn.execute(
                "INSERT INTO profiles (account_id, display_name, note, is_confirmed, is_approved,"
                " registration_reason) VALUES (?, ?, ?, ?, ?, ?)",
                (account.id, display_name, note, int(confirmed), int(approved), reason))
            if confirmation_hash is not None:
                conn.execute("INSERT INTO email_confirmations (account_id, token_hash) VALUES (?, ?)",
                             (account.id, confirmation_hash))

        try:
            self.transaction(write)
        except sqlite3.IntegrityError as exc:
            taken = "email" if "email" in str(exc) else "nickname"
            raise Conflict(json.dumps({taken: ["has already been taken"]})) from None

    # -- captchas -------------------------------------------------------------

    def insert_captcha(self, row: CaptchaRow, expired_before: float) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM captchas WHERE created < ?", (expired_before,))
            conn.execute("INSERT INTO captchas VALUES (?, ?, ?, ?, ?)",
                         (row.token, row.answer, row.answer_data, row.created, int(row.used)))

        self.transaction(write)

    def take_captcha(self, token: str) -> CaptchaRow | None:
        """The captcha as it was, marking it used: each one is checked once."""

        def write() -> CaptchaRow | None:
            conn = self.db.conn
            row = conn.execute("SELECT token, answer, answer_data, created, used FROM captchas WHERE token = ?",
                               (token,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE captchas SET used = 1 WHERE token = ?", (token,))
            return CaptchaRow(row[0], row[1], row[2], row[3], bool(row[4]))

        return self.transaction(write)

    def captcha_answer(self, token: str) -> str | None:
        rows = self.execute("SELECT answer FROM captchas WHERE token = ?", (token,))
        return rows[0][0] if rows else None

    # -- invites ----------------------------------------------------------------

    def insert_invite(self, invite: Invite) -> None:
        self.transaction(lambda: self.db.conn.execute(
            "INSERT INTO invites VALUES (?, ?, ?, ?, ?, ?)",
            (invite.token, invite.max_use, invite.uses, invite.expires_at, int(invite.used), invite.created_at)))

    def invite(self, token: str) -> Invite | None:
        rows = self.execute("SELECT token, max_use, uses, expires_at, used, created_at FROM invites WHERE token = ?",
                            (token,))
        return Invite(*rows[0][:4], bool(rows[0][4]), rows[0][5]) if rows else None

    # -- email confirmation -----------------------------------------------------------

    def set_confirmation(self, account_id: str, token_hash: str, sent: list[float]) -> None:
        self.transaction(lambda: self.db.conn.execute(
            "INSERT INTO email_confirmations VALUES (?, ?, ?) ON CONFLICT (account_id)"
            " DO UPDATE SET token_hash = excluded.token_hash, sent = excluded.sent",
            (account_id, token_hash, json.dumps(sent))))

    def confirmation(self, account_id: str) -> tuple[str, list[float]] | None:
        rows = self.execute("SELECT token_hash, sent FROM email_confirmations WHERE account_id = ?", (account_id,))
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    def confirm_email(self, account_id: str) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM email_confirmations WHERE account_id = ?", (account_id,))
            conn.execute("INSERT OR IGNORE INTO profiles (account_id) VALUES (?)", (account_id,))
            conn.execute("UPDATE profiles SET is_confirmed = 1 WHERE account_id = ?", (account_id,))

        self.transaction(write)

    def app_by_id(self, app_id: str) -> App | None:
        rows = self.execute(f"SELECT {_APP} FROM apps WHERE id = ?", (app_id,))
        return App(*rows[0]) if rows else None

    def pending_reason(self, account_id: str) -> str | None:
        """Why a local account may not log in yet: "confirmation", "approval", or None."""
        rows = self.execute("SELECT is_confirmed, is_approved FROM profiles WHERE account_id = ?", (account_id,))
        if not rows:
            return None
        return "confirmation" if not rows[0][0] else "approval" if not rows[0][1] else None
