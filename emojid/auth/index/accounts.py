"""Accounts, OAuth apps and tokens. Tokens are stored as SHA256 digests only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emojid.db import Tables


@dataclass(frozen=True)
class Account:
    id: str
    nickname: str
    email: str | None
    password_hash: str
    is_admin: bool
    disabled: bool
    created_at: str


@dataclass(frozen=True)
class App:
    id: str
    client_id: str
    client_secret: str
    name: str
    redirect_uris: str
    scopes: str
    website: str | None
    created_at: str


@dataclass(frozen=True)
class Token:
    id: str
    account_id: str | None
    app_id: str | None
    scopes: str
    created_at: str
    valid_until: str | None


@dataclass(frozen=True)
class Credential:
    """What an account is logged in with: an OAuth token, or a browser session (no scopes stored)."""

    id: str
    kind: str  # "token" or "session"
    app_name: str | None
    scopes: str
    created_at: str
    valid_until: str | None


_ACCOUNT = "id, nickname, email, password_hash, is_admin, disabled, created_at"
_APP = "id, client_id, client_secret, name, redirect_uris, scopes, website, created_at"
_TOKEN = "id, account_id, app_id, scopes, created_at, valid_until"


def _account(row: tuple[Any, ...]) -> Account:
    return Account(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6])


class AccountsIndex(Tables):
    def insert_account(self, account: Account) -> None:
        self.transaction(
            lambda: self.db.conn.execute(
                f"INSERT INTO accounts ({_ACCOUNT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (account.id, account.nickname, account.email, account.password_hash,
                 int(account.is_admin), int(account.disabled), account.created_at),
            )
        )

    def account_by_nickname(self, nickname: str) -> Account | None:
        rows = self.execute(f"SELECT {_ACCOUNT} FROM accounts WHERE nickname = ?", (nickname,))
        return _account(rows[0]) if rows else None

    def active_account_count(self) -> int:
        return int(self.execute("SELECT count(*) FROM accounts WHERE disabled = 0")[0][0])

    def account_by_id(self, account_id: str) -> Account | None:
        rows = self.execute(f"SELECT {_ACCOUNT} FROM accounts WHERE id = ?", (account_id,))
        return _account(rows[0]) if rows else None

    def all_accounts(self) -> list[Account]:
        """Every account, deleted ones too (their rows stay), by nickname."""
        return [_account(r) for r in self.execute(f"SELECT {_ACCOUNT} FROM accounts ORDER BY nickname")]

    def account_by_email(self, email: str) -> Account | None:
        rows = self.execute(f"SELECT {_ACCOUNT} FROM accounts WHERE email = ?", (email,))
        return _account(rows[0]) if rows else None

    def insert_app(self, app: App) -> None:
        self.transaction(
            lambda: self.db.conn.execute(
                f"INSERT INTO apps ({_APP}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (app.id, app.client_id, app.client_secret, app.name, app.redirect_uris,
                 app.scopes, app.website, app.created_at),
            )
        )

    def app_by_client_id(self, client_id: str) -> App | None:
        rows = self.execute(f"SELECT {_APP} FROM apps WHERE client_id = ?", (client_id,))
        return App(*rows[0]) if rows else None

    def insert_token(self, token: Token, token_hash: str, refresh_hash: str | None) -> None:
        self.transaction(
            lambda: self.db.conn.execute(
                "INSERT INTO tokens (id, token_hash, refresh_hash, account_id, app_id, scopes, created_at, valid_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (token.id, token_hash, refresh_hash, token.account_id, token.app_id,
                 token.scopes, token.created_at, token.valid_until),
            )
        )

    def token_by_hash(self, token_hash: str) -> Token | None:
        rows = self.execute(f"SELECT {_TOKEN} FROM tokens WHERE token_hash = ?", (token_hash,))
        return Token(*rows[0]) if rows else None

    def token_by_refresh_hash(self, refresh_hash: str) -> Token | None:
        rows = self.execute(f"SELECT {_TOKEN} FROM tokens WHERE refresh_hash = ?", (refresh_hash,))
        return Token(*rows[0]) if rows else None

    def delete_token(self, token_id: str) -> bool:
        return bool(self.transaction(
            lambda: self.db.conn.execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount
        ))

    def credentials_of(self, account_id: str, now: str) -> list[Credential]:
        """The account's unexpired tokens and browser sessions, newest first."""
        rows = self.execute(
            """
            SELECT t.id, 'token', a.name, t.scopes, t.created_at, t.valid_until
              FROM tokens t LEFT JOIN apps a ON a.id = t.app_id
             WHERE t.account_id = ? AND (t.valid_until IS NULL OR t.valid_until >= ?)
            UNION ALL
            SELECT s.id, 'session', NULL, '', s.created_at, s.valid_until
              FROM sessions s WHERE s.account_id = ? AND s.valid_until >= ?
            ORDER BY 5 DESC, 1 DESC
            """,
            (account_id, now, account_id, now),
        )
        return [Credential(*row) for row in rows]

    def delete_credential(self, entry_id: str) -> bool:
        """Ends the token or browser session with this id, whoever holds it; False if none has it."""
        def write() -> int:
            conn = self.db.conn
            gone: int = conn.execute("DELETE FROM tokens WHERE id = ?", (entry_id,)).rowcount
            return gone + conn.execute("DELETE FROM sessions WHERE id = ?", (entry_id,)).rowcount

        return bool(self.transaction(write))
