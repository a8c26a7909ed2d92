"""Who is calling: bearer token, HTTP Basic, or the `_pleroma_key` cookie.

`require(request, "admin:write")` is the one check admin routes make:
401 without credentials, 403 for a non-admin or a token without the scope.

A login session (the cookie) holds the scopes its login granted, and a browser
sends it along with any site's request: a state change made with it (any method
but GET, HEAD and OPTIONS, or a route that changes state on GET: `changes_state=True`)
needs the session's CSRF token too, in the `X-CSRF-Token` header or as the
`_csrf_token` parameter (query string or form field); 403 without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass, field

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request

from emojid.auth.accounts import TOP_SCOPES, Accounts, scope_covers
from emojid.auth.index.accounts import Account
from emojid.auth.login import OAuth, csrf_token
from emojid.context import ctx
from emojid.errors import Forbidden, Unauthorized

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_FIELD = "_csrf_token"
CSRF_REFUSED = "Invalid or missing CSRF token."
# argon2 is deliberately slow; a Basic-auth client sends the password on every
# request, so a verified pair is remembered briefly (by digest, never in clear).
_BASIC_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Actor:
    account: Account | None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def has_scope(self, wanted: str) -> bool:
        return scope_covers(set(self.scopes), wanted)


@dataclass(frozen=True)
class AccountActor(Actor):
    """An actor with an account, as `require` hands it back."""

    account: Account


class Authenticator:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.oauth = OAuth(accounts)
        self._basic_cache: dict[str, tuple[float, Account]] = {}

    async def actor(self, request: Request, changes_state: bool | None = None) -> Actor | None:
        """Who sends `request`; None if no one says. `changes_state` (default: from the
        method) asks a login session for its CSRF token as well."""
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
            session = await anyio.to_thread.run_sync(self.oauth.session, cookie)
            if session is not None:
                if changes_state is None:
                    changes_state = request.method not in SAFE_METHODS
                if changes_state and not await _csrf_ok(request, cookie):
                    raise Forbidden(CSRF_REFUSED)
                return Actor(*session)
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
        if account is None or account.disabled:
            raise Unauthorized("Invalid credentials")
        if await anyio.to_thread.run_sync(self.accounts.pending_reason, account.id):
            raise Unauthorized("Invalid credentials")
        return Actor(account, password_scopes(account))


async def _csrf_ok(request: Request, session_key: str) -> bool:
    """The request carries the session's CSRF token (header, query string or form field)."""
    given = request.headers.get("x-csrf-token") or request.query_params.get(CSRF_FIELD)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not given and content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            # Parsed once: read_params gets this same form (and CloseForms closes it).
            form = await request.form(max_files=1000, max_fields=1000)
        except (HTTPException, ValueError, KeyError, AssertionError):
            return False
        request.state.form = form
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), csrf_token(session_key).encode())


def password_scopes(account: Account) -> frozenset[str]:
    """Password holders (HTTP Basic) have every scope their account may have. (A login
    session has only what its login granted: `OAuth.session`.)"""
    return frozenset(TOP_SCOPES if account.is_admin else TOP_SCOPES[:-1])


def client_address(request: Request) -> str | None:
    """The caller's address (uvicorn puts the X-Forwarded-For one here behind a trusted proxy)."""
    return request.client.host if request.client else None


async def require(request: Request, scope: str, changes_state: bool | None = None) -> AccountActor:
    """The caller, if it may use `scope`. `changes_state=True` marks a route that changes
    state on GET (a login session must send its CSRF token there too); by default any
    method but GET, HEAD and OPTIONS changes state."""
    actor = await ctx(request).auth.actor(request, changes_state)
    if actor is None or actor.account is None:
        raise Unauthorized("Invalid credentials")
    if scope.startswith("admin") and not actor.account.is_admin:
        raise Forbidden("User is not an admin.")
    if not actor.has_scope(scope):
        raise Forbidden(f"Insufficient permissions: {scope}.")
    return AccountActor(actor.account, actor.scopes)
