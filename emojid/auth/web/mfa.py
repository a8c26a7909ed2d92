"""MFA as Pleroma has it: the account settings (under both Pleroma prefixes) and
the second step of a login (/oauth/mfa/challenge for apps, /oauth/mfa for the page).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import client_address, require
from emojid.auth.index.accounts import Account
from emojid.auth.mfa import CHALLENGE_TYPES
from emojid.auth.web.oauth import (
    authenticated_app,
    code_response,
    oauth,
    start_session,
    token_answer,
    token_response,
)
from emojid.auth.web.pages import error_page, mfa_page
from emojid.context import ctx
from emojid.errors import BadRequest, Unprocessable
from emojid.http.params import read_params, text_param
from emojid.http.responses import JSON

FAILED = "Two-factor authentication failed."
INVALID_PASSWORD = "Invalid password."


# -- account settings: /api/pleroma/accounts/mfa... -----------------------------------


async def settings(request: Request) -> Response:
    actor = await require(request, "read:security")
    current = await anyio.to_thread.run_sync(oauth(request).mfa.settings, actor.account.id)
    return JSON({"settings": current})


async def setup(request: Request) -> Response:
    actor = await require(request, "write:security", changes_state=True)  # a GET that writes
    if request.path_params["method"] != "totp":
        raise BadRequest("undefined method")
    answer = await anyio.to_thread.run_sync(
        oauth(request).mfa.setup_totp, actor.account, ctx(request).config.instance.name
    )
    return JSON(answer)


async def _confirm_password(request: Request, account: Account, password: str | None) -> None:
    if not await oauth(request).confirm_password(account, password, client_address(request)):
        raise Unprocessable(INVALID_PASSWORD)


async def confirm(request: Request) -> Response:
    actor = await require(request, "write:security")
    params = await read_params(request)
    password, code = text_param(params, "password"), text_param(params, "code")
    if request.path_params["method"] != "totp" or password is None or code is None:
        raise BadRequest("undefined mfa method")
    await _confirm_password(request, actor.account, password)
    await anyio.to_thread.run_sync(oauth(request).mfa.confirm_totp, actor.account.id, code)
    return JSON({})


async def disable(request: Request) -> Response:
    # `totp` turns off the one method there is, and with it MFA; `mfa` forces MFA off.
    actor = await require(request, "write:security")
    if request.path_params["method"] not in ("totp", "mfa"):
        raise BadRequest("undefined mfa method")
    params = await read_params(request)
    await _confirm_password(request, actor.account, text_param(params, "password"))
    await anyio.to_thread.run_sync(oauth(request).mfa.disable, actor.account.id)
    return JSON({})


async def backup_codes(request: Request) -> Response:
    # A GET that replaces the codes: with the session cookie, only with its CSRF token.
    actor = await require(request, "write:security", changes_state=True)
    codes = await anyio.to_thread.run_sync(oauth(request).mfa.new_backup_codes, actor.account.id)
    return JSON({"codes": codes})


# -- the second step of a login ---------------------------------------------------------


async def challenge(request: Request) -> Response:
    """POST /oauth/mfa/challenge: an mfa_token from the password grant plus a code -> a token."""
    params = await read_params(request)
    service = oauth(request)
    address = client_address(request)
    service.limiter.check(None, address)
    app = await authenticated_app(request, params)
    mfa_token = await anyio.to_thread.run_sync(service.mfa_token, text_param(params, "mfa_token"))
    # Pleroma's one answer to every failure here is 400 "Invalid code". Tokens from
    # the login page (with a redirect_uri) only finish there, under its PKCE.
    if app is None or mfa_token is None or mfa_token.app_id != app.id or mfa_token.redirect_uri is not None:
        service.limiter.failed(None, address)
        raise BadRequest("Invalid code")
    challenge_type = text_param(params, "challenge_type")
    if not await service.second_factor(mfa_token.account_id, challenge_type, text_param(params, "code"), address):
        raise BadRequest("Invalid code")
    account = await anyio.to_thread.run_sync(service.index.account_by_id, mfa_token.account_id)
    if account is None or await anyio.to_thread.run_sync(service.refusal, account) is not None or not \
            await anyio.to_thread.run_sync(service.index.spend_mfa_token, mfa_token.id):
        raise BadRequest("Invalid code")
    access, refresh, row = await anyio.to_thread.run_sync(
        ctx(request).accounts.issue_token, account, app, mfa_token.scopes
    )
    return token_response(token_answer(access, refresh, row, account))


def _mfa_fields(params: dict[str, Any]) -> dict[str, Any]:
    wrapped = params.get("mfa")
    return wrapped if isinstance(wrapped, dict) else params


async def show(request: Request) -> Response:
    """GET /oauth/mfa: the code form (challenge_type totp or recovery) of a page login."""
    params = _mfa_fields(await read_params(request))
    raw = text_param(params, "mfa_token")
    mfa_token = await anyio.to_thread.run_sync(oauth(request).mfa_token, raw)
    if mfa_token is None or mfa_token.redirect_uri is None:
        return error_page("Two-factor authentication", "This login has expired, please log in again.", 401)
    challenge_type = text_param(params, "challenge_type")
    return mfa_page(mfa_token=raw or "", state=mfa_token.state, redirect_uri=mfa_token.redirect_uri,
                    challenge_type=challenge_type if challenge_type in CHALLENGE_TYPES else "totp")


async def verify(request: Request) -> Response:
    """POST /oauth/mfa/verify: the code form's answer; on success back to the app with a code."""
    params = _mfa_fields(await read_params(request))
    service = oauth(request)
    address = client_address(request)
    raw = text_param(params, "mfa_token")
    mfa_token = await anyio.to_thread.run_sync(service.mfa_token, raw)
    if mfa_token is None or mfa_token.redirect_uri is None:
        service.limiter.failed(None, address)
        return error_page("Two-factor authentication", "This login has expired, please log in again.", 401)
    challenge_type = text_param(params, "challenge_type") or "totp"
    if challenge_type not in CHALLENGE_TYPES:
        challenge_type = "totp"
    passed = await service.second_factor(mfa_token.account_id, challenge_type, text_param(params, "code"), address)
    account = await anyio.to_thread.run_sync(service.index.account_by_id, mfa_token.account_id)
    if not passed or account is None or await anyio.to_thread.run_sync(service.refusal, account) is not None:
        return mfa_page(mfa_token=raw or "", state=mfa_token.state, redirect_uri=mfa_token.redirect_uri,
                        challenge_type=challenge_type, error=FAILED, status=401)
    if not await anyio.to_thread.run_sync(service.index.spend_mfa_token, mfa_token.id):
        return error_page("Two-factor authentication", "This login has expired, please log in again.", 401)
    code = await anyio.to_thread.run_sync(
        service.create_code, account, mfa_token.app_id, mfa_token.scopes, mfa_token.redirect_uri,
        mfa_token.code_challenge, mfa_token.code_challenge_method,
    )
    response = code_response(mfa_token.redirect_uri, code, mfa_token.state)
    await start_session(request, response, account, mfa_token.scopes)
    return response



# Mounted under /api/pleroma and /api/v1/pleroma.
