"""Who is looking at a page: the `_pleroma_key` login session (the store the OAuth
login page uses), and the CSRF token every form carries.

Logged in, a form's token is the session's own (`emojid.auth.login.csrf_token`,
sent as `_csrf_token`, the field the API checks too); before that, one derived
from a random `emojid_csrf` cookie, so even the login form cannot be posted from
another site. Cookies are HttpOnly and SameSite=Lax, Secure when the instance is
served over https. A UI login opens a session with the scopes a password login
has (`password_scopes`): admins may edit, as with the API.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.accounts import scope_covers, token_digest
from emojid.auth.callers import password_scopes
from emojid.auth.index.accounts import Account
from emojid.auth.login import SESSION_LIFETIME, OAuth, csrf_token
from emojid.auth.web.oauth import SESSION_COOKIE
from emojid.context import ctx

CSRF_COOKIE = "emojid_csrf"
CSRF_HEADER = "x-csrf-token"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_.-]{32,512}$")
MFA_STEP_SECONDS = 300


@dataclass(frozen=True)
class Viewer:
    account: Account | None
    session_key: str | None
    csrf: str
    scopes: frozenset[str] = frozenset()
    # A fresh pre-login secret that the answer must set as a cookie.
    new_csrf_cookie: str | None = None

    @property
    def is_admin(self) -> bool:
        """May edit packs: what the API's `require(request, "admin:write")` asks of a session."""
        return self.account is not None and self.account.is_admin and scope_covers(set(self.scopes), "admin:write")

    @property
    def nickname(self) -> str | None:
        return self.account.nickname if self.account else None


def _token(kind: str, secret: str) -> str:
    return hashlib.sha256(f"emojid-ui-{kind}:{secret}".encode()).hexdigest()


def oauth(request: Request) -> OAuth:
    return ctx(request).auth.oauth


async def viewer_of(request: Request) -> Viewer:
    key = request.cookies.get(SESSION_COOKIE)
    if key and _COOKIE_VALUE.match(key):
        session = await anyio.to_thread.run_sync(oauth(request).session, key)
        if session is not None:
            return Viewer(session[0], key, csrf_token(key), session[1])
    secret = request.cookies.get(CSRF_COOKIE)
    if secret and _COOKIE_VALUE.match(secret):
        return Viewer(None, None, _token("anonymous", secret))
    secret = secrets.token_urlsafe(32)
    return Viewer(None, None, _token("anonymous", secret), new_csrf_cookie=secret)


def csrf_ok(viewer: Viewer, sent: str | None) -> bool:
    # A secret the request did not bring (new_csrf_cookie) cannot have signed its form.
    return bool(sent) and viewer.new_csrf_cookie is None and hmac.compare_digest(sent or "", viewer.csrf)


def secure_cookies(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return (ctx(request).config.public_url.startswith("https://") or request.url.scheme == "https"
            or forwarded == "https")


def set_csrf_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(CSRF_COOKIE, secret, path="/ui", httponly=True, samesite="lax",
                        secure=secure_cookies(request))


async def start_session(request: Request, response: Response, account: Account) -> None:
    scopes = " ".join(password_scopes(account))
    key = await anyio.to_thread.run_sync(
        oauth(request).create_session, account, scopes, request.cookies.get(SESSION_COOKIE))
    response.set_cookie(SESSION_COOKIE, key, max_age=int(SESSION_LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="lax", secure=secure_cookies(request))


async def end_session(request: Request, response: Response, viewer: Viewer) -> None:
    if viewer.session_key:
        index = oauth(request).index
        session = await anyio.to_thread.run_sync(index.session_by_hash, token_digest(viewer.session_key))
        if session is not None:
            await anyio.to_thread.run_sync(index.delete_session, session.id)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request))


class PendingLogins:
    """Logins that passed the password and wait for their second factor, in memory
    (as the login throttle is): the random key is all the browser holds."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._pending: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def start(self, account_id: str) -> str:
        key = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if v[1] > now}
            if len(self._pending) >= self.capacity:
                self._pending.pop(next(iter(self._pending)))
            self._pending[key] = (account_id, now + MFA_STEP_SECONDS)
        return key

    def account_id(self, key: str | None) -> str | None:
        with self._lock:
            found = self._pending.get(key or "")
        return found[0] if found and found[1] > time.monotonic() else None

    def finish(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)


PENDING = PendingLogins()


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a page of the UI, never another site."""
    if value and value.startswith("/ui") and not value.startswith("//") and "\\" not in value \
            and all(c.isprintable() for c in value):
        return value
    return "/ui/"
