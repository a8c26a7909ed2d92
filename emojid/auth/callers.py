"""Who is calling: bearer token, HTTP Basic, or the `_pleroma_key` cookie.

`require(request, "admin:write")` is the one check admin routes make:
401 without credentials, 403 for a non-admin or a token without the scope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass, field

import anyio.to_thread
from starlette.requests import Request

from emojid.auth.accounts import TOP_SCOPES, Accounts, scope_covers
from emojid.auth.index.accounts import Account
from emojid.auth.login import OAuth
from emojid.errors import Forbidden, Unauthorized

# argon2 is deliberately slow; a Basic-auth client sends the password on every
# request, so a verified pair is remembered briefly (by digest, never in clear).
_BASIC_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Actor:
    account: Account | None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def has_scope(self, wanted: str) -> bool:
        return scope_covers(set(self.scopes), wanted)


class Authenticator:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.oauth = OAuth(accounts)
        self._basic_cache: dict[str, tuple[float, Account]] = {}

    async def actor(self, request: Request) -> Actor | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return await self._bearer(value.strip())
        if scheme.lower() == "basic" and value.strip():
            return await self._basic(value.strip(), client_address(request))
        if header:
            raise Unauthorized("Invalid credentials")
        cookie = request.cookies.get("_pleroma_key")
        if cookie:
            # A login session from /oauth/authorize; else, as before, a bearer token.
            account = await anyio.to_thread.run_sync(self.oauth.session_account, cookie)
            if account is not None:
                return Actor(account, password_scopes(account))
            return await self._bearer(cookie)
        return None

    async def _bearer(self, access: str) -> Actor:
        found = await anyio.to_thread.run_sync(self.accounts.lookup_token, access)
        if found is None:
            raise Unauthorized("Invalid credentials")
        token, account = found
        return Actor(account, frozenset(token.scopes.split()))

    async def _basic(self, value: str, address: str | None) -> Actor:
        try:
            nickname, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Invalid credentials") from None
        key = hashlib.sha256(f"{nickname}\0{password}".encode()).hexdigest()
        cached = self._basic_cache.get(key)
        if cached and cached[0] > time.monotonic():
            account = await anyio.to_thread.run_sync(self.accounts.index.account_by_id, cached[1].id)
            if account is not None and account.password_hash != cached[1].password_hash:
                self._basic_cache.pop(key, None)  # the password changed (or the account was deleted)
                account = None
        else:
            # Throttled like every password login (429 once too many failed).
            account = await self.oauth.login(nickname, password, address)
            if account is not None and not account.disabled:
                self._basic_cache[key] = (time.monotonic() + _BASIC_CACHE_SECONDS, account)
        if account is None or account.disabled or await anyio.to_thread.run_sync(
                self.accounts.pending_reason, account.id):
            raise Unauthorized("Invalid credentials")
        return Actor(account, password_scopes(account))


def password_scopes(account: Account) -> frozenset[str]:
    """Password holders (Basic, a login session) have every scope their account may have."""
    return frozenset(TOP_SCOPES if account.is_admin else TOP_SCOPES[:-1])


def client_address(request: Request) -> str | None:
    """The caller's address (uvicorn puts the X-Forwarded-For one here behind a trusted proxy)."""
    return request.client.host if request.client else None


async def require(request: Request, scope: str) -> Actor:
    actor = await request.app.state.ctx.auth.actor(request)
    if actor is None or actor.account is None:
        raise Unauthorized("Invalid credentials")
    if scope.startswith("admin") and not actor.account.is_admin:
        raise Forbidden("User is not an admin.")
    if not actor.has_scope(scope):
        raise Forbidden(f"Insufficient permissions: {scope}.")
    return actor
