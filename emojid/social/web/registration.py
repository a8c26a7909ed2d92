"""Sign-up routes: POST /api/v1/accounts, the 2019 /api/account/register, captcha, confirmation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import client_address
from emojid.auth.web.oauth import token_answer
from emojid.context import ctx
from emojid.errors import BadRequest, Forbidden
from emojid.http.params import bool_value, read_params, text_param
from emojid.http.responses import JSON
from emojid.social.entities.twitter_users import TwitterUserView
from emojid.social.registration import Registration, SignUp
from emojid.social.web.account_common import run

PENDING = {
    "confirmation": {"message": "You have been registered. Please check your email for further instructions.",
                     "identifier": "missing_confirmed_email"},
    "approval": {"message": "You have been registered. You'll be able to log in once your account is approved.",
                 "identifier": "awaiting_approval"},
}


def _registration(request: Request) -> Registration:
    return ctx(request).social.registration


async def _calling_app(request: Request):
    """The OAuth app behind the request's token (Pleroma registers only through an app)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    found = await run(ctx(request).accounts.lookup_token, value.strip()) if scheme.lower() == "bearer" else None
    app = await run(ctx(request).social.index.app_by_id, found[0].app_id) if found and found[0].app_id else None
    if app is None:
        raise Forbidden("Invalid credentials")
    return app


async def _answer(request: Request, registered, app) -> Response:
    if registered.pending:
        return JSON(PENDING[registered.pending])
    scopes = " ".join(s for s in app.scopes.split() if not s.startswith("admin"))
    access, refresh, token = await run(ctx(request).accounts.issue_token, registered.account, app, scopes or "read")
    return JSON(token_answer(access, refresh, token, registered.account))


async def create_account(request: Request) -> Response:
    """POST /api/v1/accounts: Mastodon's registration, with an app token."""
    app = await _calling_app(request)
    ctx(request).social.signups.hit(client_address(request) or "unknown")
    params = await read_params(request)
    for name in ("username", "password", "agreement"):
        if params.get(name) is None:
            raise BadRequest(f"Missing field: {name}.")
    bool_value(params["agreement"], "agreement")
    if params.get("email") is None and ctx(request).config.instance.account_activation_required:
        raise BadRequest("Missing parameter: email")
    signup = SignUp(
        nickname=text_param(params, "username"),
        password=text_param(params, "password"),
        email=text_param(params, "email"),
        fullname=text_param(params, "fullname"),
        bio=text_param(params, "bio") or "",
        reason=text_param(params, "reason"),
        invite=text_param(params, "token"),
    )
    registered = await run(_registration(request).register, signup, params)
    return await _answer(request, registered, app)


async def register_2019(request: Request) -> Response:
    """POST /api/account/register: the 2019 TwitterAPI form (nickname, confirm, ...), no app needed;
    answers the TwitterAPI user."""
    ctx(request).social.signups.hit(client_address(request) or "unknown")
    params = await read_params(request)
    signup = SignUp(
        nickname=text_param(params, "nickname"),
        password=text_param(params, "password"),
        email=text_param(params, "email"),
        fullname=text_param(params, "fullname"),
        bio=text_param(params, "bio") or "",
        invite=text_param(params, "token"),
        confirm=text_param(params, "confirm"),
    )
    registered = await run(_registration(request).register, signup, params)
    if registered.pending:
        return JSON(PENDING[registered.pending])
    # Pleroma's TwitterAPI answered the new user (UserView "show.json"), and issued no token.
    view = TwitterUserView(ctx(request).social.index, ctx(request).config)
    return JSON(await run(view.user, registered.account))


async def captcha(request: Request) -> Response:
    return JSON(await run(ctx(request).social.captchas.new))


async def confirmation_resend(request: Request) -> Response:
    params = await read_params(request)
    who = text_param(params, "email") or text_param(params, "nickname")
    if not who:
        raise BadRequest("Missing field: email.")
    await run(_registration(request).resend, who.strip())
    return Response(status_code=204, media_type="application/json")


async def confirm_email(request: Request) -> Response:
    """GET /api/account/confirm_email/:id/:token, the link in the confirmation mail."""
    ok = await run(_registration(request).confirm, request.path_params["id"], request.path_params["token"])
    if not ok:
        raise BadRequest("Invalid token")
    return JSON({"status": "success"})
