"""Local accounts, OAuth apps and bearer tokens (the part admin routes need).

Passwords are hashed with argon2; tokens are random and stored only as
SHA256 digests, so a leaked database holds no usable credential.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from emojid.auth.index import AuthIndex
from emojid.auth.index.accounts import Account, App, Credential, Token
from emojid.errors import BadRequest, Conflict, NotFound
from emojid.ids import new_id, now_iso

NICKNAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
TOKEN_LIFETIME = timedelta(days=60)
# OWASP's argon2id minimum (19 MiB, 2 passes) rather than argon2-cffi's 64 MiB
# default: a small instance must stay under its memory budget while hashing.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Every argon2 computation runs on these two threads, whichever thread asks: at
# most two hashes at once, and only two threads' malloc arenas ever hold argon2's
# 19 MiB blocks (spread over every worker thread, a burst of logins kept hundreds
# of MiB resident). Callers wait on the queue; threads start on first use.
_argon2 = ThreadPoolExecutor(max_workers=2, thread_name_prefix="emojid-argon2")


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps unknown nicknames as slow as wrong passwords."""
    return _hasher.hash(secrets.token_hex(8))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def hash_password(password: str) -> str:
    return _argon2.submit(_hasher.hash, password).result()


def verify_password(password_hash: str | None, password: str) -> bool:
    return _argon2.submit(_verify, password_hash, password).result()

# Mastodon's scope tree; a parent scope covers all of its children.
TOP_SCOPES = ("read", "write", "follow", "push", "admin")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scope_covers(granted: set[str], wanted: str) -> bool:
    """`admin` covers `admin:write`, which covers `admin:write:accounts`."""
    parts = wanted.split(":")
    return any(":".join(parts[:i]) in granted for i in range(1, len(parts) + 1))


def parse_scopes(raw: str | list[str] | None, default: str = "read") -> str:
    if raw is None or raw == "" or raw == []:
        return default
    words = raw if isinstance(raw, list) else re.split(r"[\s,+]+", str(raw))
    words = [w for w in words if w]
    for w in words:
        if w.split(":")[0] not in TOP_SCOPES:
            raise BadRequest(f"Unknown scope: {w}")
    return " ".join(dict.fromkeys(words))


def never_pending(account_id: str) -> str | None:
    return None


class Accounts:
    def __init__(self, index: AuthIndex, pending_reason: Callable[[str], str | None] = never_pending) -> None:
        """`pending_reason(account_id)` says why an account may not log in yet
        ("confirmation", "approval") or None; registration (social) provides it."""
        self.index = index
        self.pending_reason = pending_reason

    def create_user(self, nickname: str, password: str, email: str | None = None, admin: bool = False) -> Account:
        if not NICKNAME.match(nickname or ""):
            raise BadRequest(f"Invalid nickname: {nickname!r} (letters, digits and _ only)")
        if not password:
            raise BadRequest("Password cannot be empty")
        if self.index.account_by_nickname(nickname):
            raise Conflict(f"Nickname {nickname} has already been taken")
        if email and self.index.account_by_email(email):
            raise Conflict(f"Email {email} has already been taken")
        account = Account(new_id(), nickname, email or None, hash_password(password), admin, False, now_iso())
        self.index.insert_account(account)
        return account

    def create_app(self, name: str, redirect_uris: str, scopes: str, website: str | None) -> App:
        app = App(new_id(), secrets.token_urlsafe(32), secrets.token_urlsafe(32), name, redirect_uris,
                  scopes, website, now_iso())
        self.index.insert_app(app)
        return app

    def app_for_client(self, client_id: str | None, client_secret: str | None) -> App | None:
        app = self.index.app_by_client_id(client_id or "")
        if app is None or not hmac.compare_digest(app.client_secret, client_secret or ""):
            return None
        return app

    def issue_token(self, account: Account | None, app: App | None, scopes: str) -> tuple[str, str, Token]:
        """A new (access token, refresh token, row); only their digests are stored."""
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        valid_until = (datetime.now(UTC) + TOKEN_LIFETIME).isoformat(timespec="seconds")
        token = Token(new_id(), account.id if account else None, app.id if app else None, scopes,
                      now_iso(), valid_until)
        self.index.insert_token(token, token_digest(access), token_digest(refresh))
        return access, refresh, token

    def token_for_cli(self, nickname: str, scopes: str) -> str:
        account = self.index.account_by_nickname(nickname)
        if account is None:
            raise NotFound(f"No account named {nickname}")
        if account.disabled:
            raise BadRequest(f"{nickname} is disabled or deleted: a token for it would not work")
        if "admin" in " ".join(parse_scopes(scopes).split()) and not account.is_admin:
            raise BadRequest(f"{nickname} is not an admin: it cannot hold admin scopes")
        access, _refresh, _token = self.issue_token(account, None, parse_scopes(scopes))
        return access

    def lookup_token(self, access: str) -> tuple[Token, Account | None] | None:
        token = self.index.token_by_hash(token_digest(access))
        if token is None:
            return None
        if token.valid_until and token.valid_until < datetime.now(UTC).isoformat(timespec="seconds"):
            return None
        account = self.index.account_by_id(token.account_id) if token.account_id else None
        if token.account_id and (account is None or account.disabled):
            return None
        if account is not None and self.pending_reason(account.id):
            return None  # email not confirmed or not approved yet: no token works
        return token, account

    def revoke(self, access: str) -> bool:
        token = self.index.token_by_hash(token_digest(access))
        return bool(token and self.index.delete_token(token.id))

    # -- for operators (`emojid user ...`, `emojid token ...`) ------------------------

    def named(self, nickname: str) -> Account:
        account = self.index.account_by_nickname(nickname)
        if account is None:
            raise NotFound(f"No account named {nickname}")
        return account

    def list_accounts(self) -> list[Account]:
        return self.index.all_accounts()

    def credentials(self, nickname: str) -> list[Credential]:
        """The unexpired tokens and browser sessions of an account, newest first."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return self.index.credentials_of(self.named(nickname).id, now)

    def revoke_id(self, entry_id: str) -> None:
        """End a token or browser session by its id (as `credentials` lists it)."""
        if not self.index.delete_credential(entry_id):
            raise NotFound(f"No token or session with id {entry_id}")
