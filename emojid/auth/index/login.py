"""SQL of the authentication area: authorization codes, sessions, MFA.

Secrets arrive here already hashed; the methods that spend one (a code, a
backup code, an MFA token, a TOTP step) do it in one conditional statement,
so two racing requests cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from emojid.db import Tables


def now_utc() -> str:
    """The timestamp format of every valid_until column (as tokens.valid_until)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class AuthCode:
    id: str
    app_id: str
    account_id: str
    scopes: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    created_at: str
    valid_until: str
    used_at: str | None
    token_id: str | None


@dataclass(frozen=True)
class Session:
    id: str
    account_id: str
    created_at: str
    valid_until: str


@dataclass(frozen=True)
class MfaSettings:
    enabled: bool
    totp_secret: str | None
    totp_confirmed: bool
    totp_last_step: int


@dataclass(frozen=True)
class MfaToken:
    id: str
    account_id: str
    app_id: str
    scopes: str
    redirect_uri: str | None
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    created_at: str
    valid_until: str


@dataclass(frozen=True)
class TokenEntry:
    """One line of GET /api/oauth_tokens: a token or a browser session."""

    id: str
    app_name: str | None
    valid_until: str | None


_CODE = ("id, app_id, account_id, scopes, redirect_uri, code_challenge, code_challenge_method,"
         " created_at, valid_until, used_at, token_id")
_MFA_TOKEN = ("id, account_id, app_id, scopes, redirect_uri, state, code_challenge, code_challenge_method,"
              " created_at, valid_until")


class OAuthIndex(Tables):
    # -- authorization codes --------------------------------------------------------

    def insert_code(self, code: AuthCode, code_hash: str) -> None:
        def write() -> None:
            conn = self.db.conn
            # Spent and expired codes are of no use; keep the table small.
            conn.execute("DELETE FROM oauth_codes WHERE valid_until < ?", (now_utc(),))
            conn.execute(
                f"INSERT INTO oauth_codes (code_hash, {_CODE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code_hash, code.id, code.app_id, code.account_id, code.scopes, code.redirect_uri,
                 code.code_challenge, code.code_challenge_method, code.created_at, code.valid_until,
                 code.used_at, code.token_id),
            )

        self.transaction(write)

    def code_by_hash(self, code_hash: str) -> AuthCode | None:
        rows = self.execute(f"SELECT {_CODE} FROM oauth_codes WHERE code_hash = ?", (code_hash,))
        return AuthCode(*rows[0]) if rows else None

    def spend_code(self, code_id: str, used_at: str) -> bool:
        """Marks a code used; False if it already was (a replay)."""
        return bool(self.transaction(
            lambda: self.db.conn.execute(
                "UPDATE oauth_codes SET used_at = ? WHERE id = ? AND used_at IS NULL", (used_at, code_id)
            ).rowcount
        ))

    def set_code_token(self, code_id: str, token_id: str) -> None:
        self.transaction(
            lambda: self.db.conn.execute("UPDATE oauth_codes SET token_id = ? WHERE id = ?", (token_id, code_id))
        )

    # -- browser sessions -----------------------------------------------------------

    def insert_session(self, session: Session, key_hash: str) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM sessions WHERE valid_until < ?", (now_utc(),))
            conn.execute(
                "INSERT INTO sessions (id, key_hash, account_id, created_at, valid_until) VALUES (?, ?, ?, ?, ?)",
                (session.id, key_hash, session.account_id, session.created_at, session.valid_until),
            )

        self.transaction(write)

    def session_by_hash(self, key_hash: str) -> Session | None:
        rows = self.execute(
            "SELECT id, account_id, created_at, valid_until FROM sessions WHERE key_hash = ?", (key_hash,)
        )
        return Session(*rows[0]) if rows else None

    def delete_session(self, session_id: str) -> bool:
        return bool(self.transaction(
            lambda: self.db.conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount
        ))

    # -- what an account is logged in with (GET/DELETE /api/oauth_tokens) ----------

    def token_entries(self, account_id: str, session_name: str) -> list[TokenEntry]:
        now = now_utc()
        rows = self.execute(
            """
            SELECT t.id, a.name, t.valid_until FROM tokens t LEFT JOIN apps a ON a.id = t.app_id
             WHERE t.account_id = ? AND (t.valid_until IS NULL OR t.valid_until >= ?)
            UNION ALL
            SELECT s.id, ?, s.valid_until FROM sessions s WHERE s.account_id = ? AND s.valid_until >= ?
            ORDER BY 1 DESC
            """,
            (account_id, now, session_name, account_id, now),
        )
        return [TokenEntry(*row) for row in rows]

    def delete_account_token(self, account_id: str, entry_id: str) -> bool:
        """Deletes one token or session of this account; False if it has none by that id."""
        def write() -> int:
            conn = self.db.conn
            gone = conn.execute("DELETE FROM tokens WHERE id = ? AND account_id = ?", (entry_id, account_id)).rowcount
            return gone + conn.execute(
                "DELETE FROM sessions WHERE id = ? AND account_id = ?", (entry_id, account_id)
            ).rowcount

        return bool(self.transaction(write))

    # -- MFA settings and backup codes ----------------------------------------------

    def mfa_settings(self, account_id: str) -> MfaSettings:
        rows = self.execute(
            "SELECT enabled, totp_secret, totp_confirmed, totp_last_step FROM mfa WHERE account_id = ?",
            (account_id,),
        )
        if not rows:
            return MfaSettings(False, None, False, 0)
        enabled, secret, confirmed, last_step = rows[0]
        return MfaSettings(bool(enabled), secret, bool(confirmed), last_step)

    def set_totp_secret(self, account_id: str, secret: str) -> bool:
        """A new, unconfirmed secret; refused (False) while a confirmed one is in use."""
        def write() -> int:
            conn = self.db.conn
            conn.execute("INSERT OR IGNORE INTO mfa (account_id) VALUES (?)", (account_id,))
            return conn.execute(
                "UPDATE mfa SET totp_secret = ?, totp_confirmed = 0, totp_last_step = 0"
                " WHERE account_id = ? AND totp_confirmed = 0",
                (secret, account_id),
            ).rowcount

        return bool(self.transaction(write))

    def confirm_totp(self, account_id: str, secret: str) -> bool:
        """Turns MFA on, if the pending secret is still the one that was checked."""
        return bool(self.transaction(
            lambda: self.db.conn.execute(
                "UPDATE mfa SET totp_confirmed = 1, enabled = 1 WHERE account_id = ? AND totp_secret = ?",
                (account_id, secret),
            ).rowcount
        ))

    def spend_totp_step(self, account_id: str, step: int) -> bool:
        """Records a used TOTP time step; False if it, or a later one, was used already."""
        return bool(self.transaction(
            lambda: self.db.conn.execute(
                "UPDATE mfa SET totp_last_step = ? WHERE account_id = ? AND totp_last_step < ?",
                (step, account_id, step),
            ).rowcount
        ))

    def disable_mfa(self, account_id: str) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM mfa WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM mfa_backup_codes WHERE account_id = ?", (account_id,))

        self.transaction(write)

    def replace_backup_codes(self, account_id: str, code_hashes: list[str]) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM mfa_backup_codes WHERE account_id = ?", (account_id,))
            conn.executemany(
                "INSERT INTO mfa_backup_codes (account_id, code_hash) VALUES (?, ?)",
                [(account_id, h) for h in code_hashes],
            )

        self.transaction(write)

    def backup_code_hashes(self, account_id: str) -> list[str]:
        rows = self.execute("SELECT code_hash FROM mfa_backup_codes WHERE account_id = ?", (account_id,))
        return [row[0] for row in rows]

    def spend_backup_code(self, account_id: str, code_hash: str) -> bool:
        return bool(self.transaction(
            lambda: self.db.conn.execute(
                "DELETE FROM mfa_backup_codes WHERE account_id = ? AND code_hash = ?", (account_id, code_hash)
            ).rowcount
        ))

    # -- MFA tokens: a password login waiting for its second factor -----------------

    def insert_mfa_token(self, token: MfaToken, token_hash: str) -> None:
        def write() -> None:
            conn = self.db.conn
            conn.execute("DELETE FROM mfa_tokens WHERE valid_until < ?", (now_utc(),))
            conn.execute(
                f"INSERT INTO mfa_tokens (token_hash, {_MFA_TOKEN}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token_hash, token.id, token.account_id, token.app_id, token.scopes, token.redirect_uri,
                 token.state, token.code_challenge, token.code_challenge_method, token.created_at,
                 token.valid_until),
            )

        self.transaction(write)

    def mfa_token_by_hash(self, token_hash: str) -> MfaToken | None:
        rows = self.execute(f"SELECT {_MFA_TOKEN} FROM mfa_tokens WHERE token_hash = ?", (token_hash,))
        return MfaToken(*rows[0]) if rows else None

    def spend_mfa_token(self, token_id: str) -> bool:
        return bool(self.transaction(
            lambda: self.db.conn.execute("DELETE FROM mfa_tokens WHERE id = ?", (token_id,)).rowcount
        ))
