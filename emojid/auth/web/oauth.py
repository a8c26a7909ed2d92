"""OAuth 2 as Mastodon and Pleroma clients use it: apps, the login and consent page,
the token endpoint (password, authorization_code with PKCE, client_credentials,
refresh_token), revocation, and an account's list of tokens (/api/oauth_tokens).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emojid.auth.accounts import parse_scopes, scope_covers, token_digest
from emojid.auth.callers import client_address
from emojid.auth.index.accounts import Account, App, Token
from emojid.auth.login import OOB_REDIRECT_URI, SESSION_LIFETIME, OAuth, csrf_token, pkce_request, scope_list
from emojid.auth.web.pages import HEADERS, authorize_page, error_page, mfa_page, oob_page
from emojid.context import ctx
from emojid.errors import BadRequest, EmojidError, NotFound, Unauthorized, Unprocessable
from emojid.http.params import bool_param, read_params, text_param
from emojid.http.responses import JSON

SESSION_COOKIE = "_pleroma_key"
# Pleroma's words on the login page.
BAD_LOGIN = "Invalid Username/Password"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"
WEB_LOGIN_NAME = "Web login"       # how a login-page session shows in /api/oauth_tokens
NO_APP_NAME = "command line"       # tokens minted by `emojid token create`


def oauth(request: Request) -> OAuth:
    return ctx(request).auth.oauth


async def create_app(request: Request) -> Response:
    params = await read_params(request)
    name = text_param(params, "client_name")
    raw_uris = params.get("redirect_uris")
    redirect_uris: str | None
    if isinstance(raw_uris, list) and all(isinstance(u, str) for u in raw_uris):
        redirect_uris = "\n".join(u.strip() for u in raw_uris if u.strip())  # Mastodon takes an array too
    else:
        redirect_uris = text_param(params, "redirect_uris")
    if not name:
        raise Unprocessable("Missing field: client_name.")
    if not redirect_uris:
        raise Unprocessable("Missing field: redirect_uris.")
    raw_scopes = params.get("scopes")
    if isinstance(raw_scopes, list) and not all(isinstance(s, str) for s in raw_scopes):
        raise BadRequest("scopes must be a string or a list of strings")
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


def client_credentials(request: Request, params: dict[str, Any]) -> tuple[str | None, str | None]:
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


async def authenticated_app(request: Request, params: dict[str, Any]) -> App | None:
    return await anyio.to_thread.run_sync(ctx(request).accounts.app_for_client, *client_credentials(request, params))


def _requested_scopes(params: dict[str, Any]) -> str | list[str] | None:
    """Pleroma reads `scope`, else `scopes` (a string, or a list in JSON bodies)."""
    for name in ("scope", "scopes"):
        value = params.get(name)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if value not in (None, ""):
            return text_param(params, name)
    return None


def _grant_scopes(requested: str | list[str] | None, allowed: str, is_admin: bool) -> str:
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


class TokenAnswer(TypedDict):
    """The token endpoint's answer (RFC 6749 5.1, plus Mastodon's `created_at` and Pleroma's `me`)."""

    id: str
    access_token: str
    token_type: str
    scope: str
    created_at: int
    expires_in: NotRequired[int]
    refresh_token: NotRequired[str]
    me: NotRequired[str]


def token_answer(access: str, refresh: str | None, token: Token, account: Account | None) -> TokenAnswer:
    answer: TokenAnswer = {
        "id": token.id,
        "access_token": access,
        "token_type": "Bearer",
        "scope": token.scopes,
        "created_at": int(time.time()),
    }
    if token.valid_until:
        until = datetime.fromisoformat(token.valid_until)
        answer["expires_in"] = max(0, int((until - datetime.now(UTC)).total_seconds()))
    if refresh:
        answer["refresh_token"] = refresh
    if account is not None:
        answer["me"] = account.id
    return answer


def token_response(answer: TokenAnswer) -> Response:
    return JSON(answer, headers={"Cache-Control": "no-store"})  # RFC 6749 5.1


def _invalid_credentials() -> BadRequest:
    return BadRequest("Invalid credentials")  # Pleroma's one answer for any failed grant


async def token(request: Request) -> Response:
    params = await read_params(request)
    accounts = ctx(request).accounts
    grant = text_param(params, "grant_type")
    app = await authenticated_app(request, params)
    if app is None:
        raise Unauthorized("Invalid client")
    if grant == "password":
        return await _password_grant(request, params, app)
    if grant == "authorization_code":
        code = text_param(params, "code")
        if not code:
            raise _invalid_credentials()
        found = await anyio.to_thread.run_sync(
            oauth(request).exchange_code, app, code, text_param(params, "redirect_uri"),
            text_param(params, "code_verifier"),
        )
        if found is None:
            raise _invalid_credentials()
        access, refresh, row, account = found
        return token_response(token_answer(access, refresh, row, account))
    if grant == "client_credentials":
        scopes = _grant_scopes(_requested_scopes(params), app.scopes, False)
        access, _refresh, row = await anyio.to_thread.run_sync(accounts.issue_token, None, app, scopes)
        return token_response(token_answer(access, None, row, None))
    if grant == "refresh_token":
        old = await anyio.to_thread.run_sync(
            accounts.index.token_by_refresh_hash, token_digest(text_param(params, "refresh_token") or "")
        )
        if old is None or old.app_id != app.id:
            raise _invalid_credentials()
        owner = await anyio.to_thread.run_sync(accounts.index.account_by_id, old.account_id) if old.account_id else None
        if old.account_id and (owner is None or owner.disabled):
            raise _invalid_credentials()
        if not await anyio.to_thread.run_sync(accounts.index.delete_token, old.id):
            raise _invalid_credentials()  # a concurrent refresh rotated it first
        access, refresh, row = await anyio.to_thread.run_sync(accounts.issue_token, owner, app, old.scopes)
        return token_response(token_answer(access, refresh, row, owner))
    if grant is None:
        raise BadRequest("Missing field: grant_type.")
    raise BadRequest(f"Unsupported grant_type: {grant}")


async def _password_grant(request: Request, params: dict[str, Any], app: App) -> Response:
    service = oauth(request)
    name = text_param(params, "username") or text_param(params, "name")  # Pleroma takes `name` too
    account = await service.login(name, text_param(params, "password"), client_address(request))
    if account is None:
        raise _invalid_credentials()
    refusal = await anyio.to_thread.run_sync(service.refusal, account)
    if refusal:
        return JSON({"error": refusal[0], "identifier": refusal[1]}, status_code=403)
    scopes = _grant_scopes(_requested_scopes(params), app.scopes, account.is_admin)
    if await anyio.to_thread.run_sync(service.mfa.required, account.id):
        mfa_token = await anyio.to_thread.run_sync(service.create_mfa_token, account, app.id, scopes)
        return JSON({
            "error": "mfa_required",
            "mfa_token": mfa_token,
            "supported_challenge_types": await anyio.to_thread.run_sync(
                service.mfa.supported_challenge_types, account.id),
        }, status_code=403)
    access, refresh, row = await anyio.to_thread.run_sync(ctx(request).accounts.issue_token, account, app, scopes)
    return token_response(token_answer(access, refresh, row, account))


async def revoke(request: Request) -> Response:
    params = await read_params(request)
    access = text_param(params, "token")
    if not access:
        raise BadRequest("Missing field: token.")
    await anyio.to_thread.run_sync(ctx(request).accounts.revoke, access)
    return JSON({})


# -- the login and consent page: GET and POST /oauth/authorize ------------------------


class PageError(Exception):
    """A request the page cannot serve: shown to the person, never redirected (RFC 6749 4.1.2.1)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AuthorizeRequest:
    app: App
    redirect_uri: str
    state: str | None
    requested: list[str] | None       # None: the app's scopes
    code_challenge: str | None
    code_challenge_method: str | None
    response_type: str | None

    def fields(self) -> dict[str, str | None]:
        """Pleroma's hidden form fields (plus PKCE), carried from the page to its POST."""
        return {
            "client_id": self.app.client_id,
            "response_type": self.response_type,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
        }


async def authorization_params(request: Request) -> dict[str, Any]:
    """Fields given plainly (`client_id=`) or Pleroma's way (`authorization[client_id]=`)."""
    params = await read_params(request)
    wrapped = params.pop("authorization", None)
    flat = {key: value for key, value in params.items() if "[" not in key}
    if isinstance(wrapped, dict):
        flat.update(wrapped)
    # The consent form's checkboxes: authorization[scope][]=read&authorization[scope][]=write
    listed = request.query_params.getlist("authorization[scope][]")
    form = getattr(request.state, "form", None)
    if form is not None:
        listed += [v for v in form.getlist("authorization[scope][]") if isinstance(v, str)]
    if listed:
        flat["scope"] = listed
    return flat


async def _authorize_request(request: Request, params: dict[str, Any]) -> AuthorizeRequest:
    client_id = text_param(params, "client_id")
    app = await anyio.to_thread.run_sync(ctx(request).accounts.index.app_by_client_id, client_id) if client_id else None
    if app is None:
        raise PageError("Unknown client_id.")
    response_type = text_param(params, "response_type") or None
    if response_type not in (None, "code"):
        raise PageError(f"Unsupported response_type: {response_type} (only code).")
    listed = app.redirect_uris.split()
    redirect_uri = text_param(params, "redirect_uri") or (listed[0] if len(listed) == 1 else None)
    if redirect_uri is None:
        raise PageError("Missing redirect_uri.")
    if redirect_uri not in listed:
        raise PageError("Unlisted redirect_uri.")
    try:
        challenge, method = pkce_request(text_param(params, "code_challenge"),
                                         text_param(params, "code_challenge_method"))
    except EmojidError as exc:
        raise PageError(exc.message) from None
    name = "scope" if params.get("scope") is not None else "scopes"  # Pleroma reads both
    raw = params.get(name)
    if not isinstance(raw, list):
        raw = text_param(params, name)
    return AuthorizeRequest(app, redirect_uri, text_param(params, "state"), scope_list(raw), challenge, method,
                            response_type)


def authorize_scopes(requested: list[str] | None, app: App, is_admin: bool) -> str | None:
    """What the page grants: the app's scopes unless a subset was asked for; None if
    nothing or something beyond the app's scopes was asked for (Pleroma answers 401)."""
    allowed = set(app.scopes.split())
    chosen = app.scopes.split() if requested is None else requested
    if not chosen or not all(scope_covers(allowed, scope) for scope in chosen):
        return None
    if not is_admin:
        chosen = [scope for scope in chosen if not scope.startswith("admin")]
    return " ".join(dict.fromkeys(chosen)) or None


def _login_page(req: AuthorizeRequest, session: tuple[Account, str] | None = None, error: str | None = None,
                status: int = 200) -> Response:
    app_scopes = req.app.scopes.split()
    shown = list(dict.fromkeys([*(req.requested or []), *app_scopes]))
    checked = set(app_scopes if req.requested is None else req.requested)
    force_login_url = None
    if session is not None:
        query = {k: v for k, v in req.fields().items() if v}
        query.update({"scope": " ".join(sorted(checked, key=shown.index)), "force_login": "true"})
        force_login_url = "/oauth/authorize?" + urlencode(query)
    return authorize_page(
        app_name=req.app.name, scopes=shown, checked=checked, fields=req.fields(),
        nickname=session[0].nickname if session else None, csrf=csrf_token(session[1]) if session else None,
        error=error, status=status, force_login_url=force_login_url,
    )


async def _session(request: Request) -> tuple[Account, str] | None:
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    account = await anyio.to_thread.run_sync(oauth(request).session_account, key)
    return (account, key) if account else None


async def authorize(request: Request) -> Response:
    params = await authorization_params(request)
    try:
        req = await _authorize_request(request, params)
    except PageError as exc:
        return error_page("Authorization failed", exc.message, exc.status)
    # A logged-in person only approves; force_login asks for the password again.
    session = None if bool_param(params, "force_login") else await _session(request)
    return _login_page(req, session)


async def create_authorization(request: Request) -> Response:
    params = await authorization_params(request)
    try:
        req = await _authorize_request(request, params)
    except PageError as exc:
        return error_page("Authorization failed", exc.message, exc.status)
    service = oauth(request)
    password = text_param(params, "password")
    session = None
    if password is not None:
        account = await service.login(text_param(params, "name"), password, client_address(request))
        if account is None:
            return _login_page(req, error=BAD_LOGIN, status=401)
        refusal = await anyio.to_thread.run_sync(service.refusal, account)
        if refusal:
            return _login_page(req, error=refusal[0], status=403)
    else:
        session = await _session(request)
        if session is None:
            return _login_page(req, error=BAD_LOGIN, status=401)
        # SameSite=Lax already keeps the cookie off cross-site posts; this is the second lock.
        if not hmac.compare_digest(text_param(params, "csrf") or "", csrf_token(session[1])):
            return _login_page(req, session, error="This form has expired, please try again.", status=403)
        account = session[0]
    scopes = authorize_scopes(req.requested, req.app, account.is_admin)
    if scopes is None:
        return _login_page(req, session, error=OUTSIDE_SCOPES, status=401)
    if session is None and await anyio.to_thread.run_sync(service.mfa.required, account.id):
        mfa_token = await anyio.to_thread.run_sync(
            service.create_mfa_token, account, req.app.id, scopes, req.redirect_uri, req.state,
            req.code_challenge, req.code_challenge_method,
        )
        return mfa_page(mfa_token=mfa_token, state=req.state, redirect_uri=req.redirect_uri)
    code = await anyio.to_thread.run_sync(
        service.create_code, account, req.app.id, scopes, req.redirect_uri, req.code_challenge,
        req.code_challenge_method,
    )
    response = code_response(req.redirect_uri, code, req.state)
    if session is None:
        await start_session(request, response, account, scopes)
    return response


def code_response(redirect_uri: str, code: str, state: str | None) -> Response:
    """Back to the app with `code` (and `state`), or, out of band, a page showing the code."""
    if redirect_uri == OOB_REDIRECT_URI:
        return oob_page(code)
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("code", code))
    if state:
        query.append(("state", state))
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    return RedirectResponse(target, status_code=302, headers=HEADERS)


def _came_over_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


async def start_session(request: Request, response: Response, account: Account, scopes: str) -> None:
    """A login on the page also logs the browser in: the `_pleroma_key` cookie, holding the
    scopes this login granted (a login for a read-only app makes a read-only session)."""
    key = await anyio.to_thread.run_sync(
        oauth(request).create_session, account, scopes, request.cookies.get(SESSION_COOKIE))
    response.set_cookie(
        SESSION_COOKIE, key, max_age=int(SESSION_LIFETIME.total_seconds()), path="/", httponly=True,
        samesite="lax", secure=_came_over_https(request),
    )


# -- what an account is logged in with ------------------------------------------------


async def _account(request: Request) -> Account:
    # Pleroma checks no scope here: any credentials of the account will do.
    actor = await ctx(request).auth.actor(request)
    if actor is None or actor.account is None:
        raise Unauthorized("Invalid credentials")
    return actor.account


async def list_tokens(request: Request) -> Response:
    account = await _account(request)
    entries = await anyio.to_thread.run_sync(ctx(request).accounts.index.token_entries, account.id, WEB_LOGIN_NAME)
    return JSON([
        {"id": entry.id, "app_name": entry.app_name or NO_APP_NAME, "valid_until": entry.valid_until}
        for entry in entries
    ])


async def delete_token(request: Request) -> Response:
    account = await _account(request)
    entry_id = request.path_params["id"]
    if not await anyio.to_thread.run_sync(ctx(request).accounts.index.delete_account_token, account.id, entry_id):
        raise NotFound("Not found")  # also for another account's token: nothing to learn here
    return JSON({})
