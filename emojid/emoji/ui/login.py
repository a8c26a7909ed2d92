"""Logging in and out of the web UI with a local account.

The password check is the OAuth login's (argon2, throttled per account and per
address); the session is the `_pleroma_key` one the OAuth login page starts.
An account with two-factor authentication is asked for its code next.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import client_address
from emojid.auth.index.accounts import Account
from emojid.auth.mfa import CHALLENGE_TYPES
from emojid.auth.ratelimit import Throttled
from emojid.emoji.ui.render import redirect, render, viewer
from emojid.emoji.ui.session import PENDING, end_session, oauth, safe_next, start_session
from emojid.http.params import text_param

BAD_LOGIN = "Wrong username or password."
THROTTLED = "Too many failed logins. Wait a few minutes, then try again."


def _form(request: Request, next_url: str, error: str | None = None, status: int = 200,
          name: str = "", pending: str | None = None, challenge: str = "totp") -> Response:
    return render(request, "login.html", {"title": "Log in", "nav": "login", "next": next_url, "error": error,
                                          "name": name, "pending": pending, "challenge": challenge}, status)


async def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if viewer(request).account is not None:
        return redirect(request, next_url)
    return _form(request, next_url)


def _throttled(request: Request, next_url: str, exc: Throttled, name: str = "") -> Response:
    response = _form(request, next_url, THROTTLED, 429, name)
    response.headers.update(exc.headers or {})
    return response


async def _logged_in(request: Request, account: Account, next_url: str) -> Response:
    response = redirect(request, next_url)
    await start_session(request, response, account)
    return response


async def login(request: Request, params: dict[str, Any]) -> Response:
    next_url = safe_next(text_param(params, "next", max_length=2000))
    name = (text_param(params, "username", max_length=256) or "").strip()
    password = text_param(params, "password", max_length=4096) or ""
    service = oauth(request)
    try:
        account = await service.login(name, password, client_address(request))
    except Throttled as exc:
        return _throttled(request, next_url, exc, name)
    if account is None:
        return _form(request, next_url, BAD_LOGIN, 401, name)
    refusal = await anyio.to_thread.run_sync(service.refusal, account)
    if refusal:
        return _form(request, next_url, refusal[0], 403, name)
    if await anyio.to_thread.run_sync(service.mfa.required, account.id):
        return _form(request, next_url, None, 200, name, pending=PENDING.start(account.id))
    return await _logged_in(request, account, next_url)


async def second_factor(request: Request, params: dict[str, Any]) -> Response:
    next_url = safe_next(text_param(params, "next", max_length=2000))
    pending = text_param(params, "pending", max_length=128) or ""
    challenge = text_param(params, "challenge_type") or "totp"
    challenge = challenge if challenge in CHALLENGE_TYPES else "totp"
    account_id = PENDING.account_id(pending)
    if account_id is None:
        return _form(request, next_url, "This login has expired, please log in again.", 401)
    service = oauth(request)
    try:
        passed = await service.second_factor(account_id, challenge, text_param(params, "code", max_length=64),
                                             client_address(request))
    except Throttled as exc:
        return _throttled(request, next_url, exc)
    account = await anyio.to_thread.run_sync(service.index.account_by_id, account_id)
    if not passed or account is None or await anyio.to_thread.run_sync(service.refusal, account) is not None:
        return _form(request, next_url, "That code did not work.", 401, pending=pending, challenge=challenge)
    PENDING.finish(pending)
    return await _logged_in(request, account, next_url)


async def logout(request: Request, params: dict[str, Any]) -> Response:
    response = redirect(request, "/ui/?notice=logged-out")
    await end_session(request, response, viewer(request))
    return response
