"""OAuth 2 as Mastodon clients use it: apps, the token endpoint, revocation."""

from __future__ import annotations

import base64
import binascii
import time
from urllib.parse import unquote_plus

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emojid.accounts import parse_scopes, token_digest
from emojid.errors import BadRequest, Unauthorized, Unprocessable
from emojid.web.common import JSON, ctx, read_params, text_param


async def create_app(request: Request) -> Response:
    params = await read_params(request)
    name = text_param(params, "client_name")
    raw_uris = params.get("redirect_uris")
    if isinstance(raw_uris, list) and all(isinstance(u, str) for u in raw_uris):
        redirect_uris = "\n".join(u.strip() for u in raw_uris if u.strip())  # Mastodon takes an array too
    else:
        redirect_uris = text_param(params, "redirect_uris")
    if not name:
        raise Unprocessable("Missing field: client_name.")
    if not redirect_uris:
        raise Unprocessable("Missing field: redirect_uris.")
    raw_scopes = params.get("scopes")
    scopes = parse_scopes(raw_scopes if isinstance(raw_scopes, list) else text_param(params, "scopes"))
    app = await anyio.to_thread.run_sync(
        ctx(request).accounts.create_app, name, redirect_uris, scopes, text_param(params, "website")
    )
    return JSON({
        "id": app.id,
        "name": app.name,
        "website": app.website,
        "redirect_uri": app.redirect_uris,
        "redirect_uris": app.redirect_uris.split(),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "scopes": app.scopes.split(),
        "vapid_key": None,
    })


def _client_credentials(request: Request, params: dict) -> tuple[str | None, str | None]:
    """client_id and client_secret: from an HTTP Basic header (RFC 6749 2.3.1), else the body."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Invalid client") from None
        if sep:
            return unquote_plus(client_id), unquote_plus(secret)
    return text_param(params, "client_id"), text_param(params, "client_secret")


def _requested_scopes(params: dict) -> str | list | None:
    """Pleroma reads `scope`, else `scopes` (a string, or a list in JSON bodies)."""
    for name in ("scope", "scopes"):
        value = params.get(name)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if value not in (None, ""):
            return text_param(params, name)
    return None


def _grant_scopes(requested: str | list | None, allowed: str, is_admin: bool) -> str:
    """Requested scopes must lie within the app's; none requested means the app's."""
    allowed_set = set(allowed.split())
    chosen = parse_scopes(requested, default=allowed).split()
    for scope in chosen:
        top = scope.split(":")[0]
        if scope not in allowed_set and top not in allowed_set:
            raise BadRequest(f"Scope {scope} was not granted to this app")
    if not is_admin:
        chosen = [s for s in chosen if not s.startswith("admin")]
    if not chosen:
        raise BadRequest("No scope left to grant")
    return " ".join(chosen)


def _token_answer(access: str, refresh: str | None, scopes: str, account_id: str | None) -> dict:
    answer = {
        "access_token": access,
        "token_type": "Bearer",
        "scope": scopes,
        "created_at": int(time.time()),
        "expires_in": 60 * 60 * 24 * 60,
    }
    if refresh:
        answer["refresh_token"] = refresh
    if account_id:
        answer["me"] = account_id
    return answer


async def token(request: Request) -> Response:
    params = await read_params(request)
    accounts = ctx(request).accounts
    grant = text_param(params, "grant_type")
    app = await anyio.to_thread.run_sync(accounts.app_for_client, *_client_credentials(request, params))
    if app is None:
        raise Unauthorized("Invalid client")
    if grant == "password":
        account = await anyio.to_thread.run_sync(
            accounts.check_password, text_param(params, "username") or "", text_param(params, "password") or ""
        )
        if account is None:
            # Pleroma's answer for a bad login
            raise BadRequest("Invalid credentials")
        scopes = _grant_scopes(_requested_scopes(params), app.scopes, account.is_admin)
        access, refresh, row = await anyio.to_thread.run_sync(accounts.issue_token, account, app, scopes)
        return JSON(_token_answer(access, refresh, scopes, account.id))
    if grant == "client_credentials":
        scopes = _grant_scopes(_requested_scopes(params), app.scopes, False)
        access, _refresh, _row = await anyio.to_thread.run_sync(accounts.issue_token, None, app, scopes)
        return JSON(_token_answer(access, None, scopes, None))
    if grant == "refresh_token":
        old = await anyio.to_thread.run_sync(
            accounts.index.token_by_refresh_hash, token_digest(text_param(params, "refresh_token") or "")
        )
        if old is None or old.app_id != app.id:
            raise BadRequest("Invalid refresh token")
        account = await anyio.to_thread.run_sync(accounts.index.account_by_id, old.account_id) if old.account_id else None
        if old.account_id and (account is None or account.disabled):
            raise BadRequest("Invalid refresh token")
        await anyio.to_thread.run_sync(accounts.index.delete_token, old.id)
        access, refresh, _row = await anyio.to_thread.run_sync(accounts.issue_token, account, app, old.scopes)
        return JSON(_token_answer(access, refresh, old.scopes, account.id if account else None))
    if grant is None:
        raise BadRequest("Missing field: grant_type.")
    raise BadRequest(f"Unsupported grant_type: {grant}")


async def revoke(request: Request) -> Response:
    params = await read_params(request)
    access = text_param(params, "token")
    if not access:
        raise BadRequest("Missing field: token.")
    await anyio.to_thread.run_sync(ctx(request).accounts.revoke, access)
    return JSON({})


routes = [
    Route("/api/v1/apps", create_app, methods=["POST"]),
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
]
