"""Pleroma's account utilities: password-guarded changes, aliases and moves, imports,
settings, mascot, profile images, endorsements, subscriptions, remote interaction.

Answers are Pleroma's UtilController and PleromaAPI ones: a wrong password is
`{"error": "Invalid password."}` with status 200, success `{"status": "success"}`.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emojid import webfinger
from emojid.auth import require
from emojid.credentials import INVALID_PASSWORD, Credentials
from emojid.errors import BadRequest, EmojidError, PayloadTooLarge
from emojid.imports import Importer, parse_list
from emojid.index.relationships import ENDORSEMENT
from emojid.media import LIMITS
from emojid.moves import Moves
from emojid.profiles import Profiles
from emojid.relationships import Relationships
from emojid.web import registration
from emojid.web.account_common import account_by_id, optional_account, password_ok, require_any, run, view
from emojid.web.common import JSON, ctx, json_data, read_params, required, text_param
from emojid.web.uploads import CLEAR, image_param

SUCCESS = {"status": "success"}
MAX_LIST_BYTES = 8 << 20


def _profiles(request: Request) -> Profiles:
    return Profiles(ctx(request).index, ctx(request).config)


def _moves(request: Request) -> Moves:
    return Moves(ctx(request).index, ctx(request).config, ctx(request).remote_packs.remote)


def _result(error: str | None) -> Response:
    return JSON({"error": error} if error else SUCCESS)


# -- what needs the current password -------------------------------------------------------


async def change_password(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    password, new = required(params, "password"), required(params, "new_password")
    confirmation = required(params, "new_password_confirmation")
    if not await password_ok(request, actor.account, password):
        return _result(INVALID_PASSWORD)
    credentials = Credentials(ctx(request).index, ctx(request).config)
    return _result(await run(credentials.change_password, actor.account, new, confirmation))


async def change_email(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    email, password = required(params, "email"), required(params, "password")
    if not await password_ok(request, actor.account, password):
        return _result(INVALID_PASSWORD)
    credentials = Credentials(ctx(request).index, ctx(request).config)
    return _result(await run(credentials.change_email, actor.account, email))


async def delete_account(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)  # the password may come in the query (older clients) or the body
    if not await password_ok(request, actor.account, text_param(params, "password") or ""):
        return _result(INVALID_PASSWORD)
    await run(Credentials(ctx(request).index, ctx(request).config).delete, actor.account)
    return _result(None)


async def disable_account(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    if not await password_ok(request, actor.account, text_param(params, "password") or ""):
        return _result(INVALID_PASSWORD)
    await run(Credentials(ctx(request).index, ctx(request).config).disable, actor.account)
    return _result(None)


async def move_account(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    password, target = required(params, "password"), required(params, "target_account")
    if not await password_ok(request, actor.account, password):
        return _result(INVALID_PASSWORD)
    return _result(await _moves(request).move(actor.account, target))


# -- aliases ----------------------------------------------------------------------------


async def list_aliases(request: Request) -> Response:
    actor = await require(request, "read:accounts")
    return JSON({"aliases": await run(_moves(request).aliases, actor.account)})


async def add_alias(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    await _moves(request).add_alias(actor.account, required(params, "alias"))
    return _result(None)


async def delete_alias(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    if not await run(_moves(request).delete_alias, actor.account, required(params, "alias")):
        return JSON({"error": "Account has no such alias."}, status_code=404)
    return _result(None)


# -- settings ------------------------------------------------------------------------------


async def notification_settings(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    await run(_profiles(request).update_notification_settings, actor.account, params)
    return _result(None)


def _app_name(request: Request) -> str:
    app = request.path_params["app"]
    if not 0 < len(app) <= 255:
        raise BadRequest("Invalid app name")
    return app


async def show_settings(request: Request) -> Response:
    actor = await require(request, "read:accounts")
    return JSON(await run(_profiles(request).settings, actor.account, _app_name(request)))


async def update_settings(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    app = _app_name(request)
    params = json_data(await read_params(request), "settings")
    return JSON(await run(_profiles(request).merge_settings, actor.account, app, params))


# -- mascot and profile images ------------------------------------------------------------------


async def show_mascot(request: Request) -> Response:
    actor = await require(request, "read:accounts")
    return JSON(await run(_profiles(request).mascot, actor.account))


async def update_mascot(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    file = params.get("file")
    if file is None:
        raise BadRequest("Missing field: file.")
    if not isinstance(file, UploadFile):
        raise BadRequest("file must be a multipart file upload")
    async with image_param(request, params, "file", LIMITS["mascot"]) as path:
        return JSON(await run(_profiles(request).set_mascot, actor.account, path, file.content_type))


def _image_route(slot: str, field: str):
    async def handler(request: Request) -> Response:
        actor = await require(request, "write:accounts")
        params = await read_params(request)
        if field not in params:
            raise BadRequest(f"Missing field: {field}.")
        async with image_param(request, params, field, LIMITS[slot]) as value:
            path = None if value is CLEAR else value
            url = await run(_profiles(request).set_image, actor.account, slot, path)
        return JSON({"url": url})

    return handler


# -- imports ---------------------------------------------------------------------------------


async def _list_param(params: dict) -> list[str]:
    value = params.get("list")
    if value is None:
        raise BadRequest("Missing field: list.")
    if isinstance(value, UploadFile):
        raw = await value.read(MAX_LIST_BYTES + 1)
        if len(raw) > MAX_LIST_BYTES:
            raise PayloadTooLarge(f"The list is larger than {MAX_LIST_BYTES} bytes")
        try:
            value = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("The list must be UTF-8 text") from None
    if not isinstance(value, str):
        raise BadRequest("list must be a string or a file")
    return parse_list(value)


def _import_route(kind: str, scopes: tuple[str, ...]):
    async def handler(request: Request) -> Response:
        me = await require_any(request, *scopes)
        names = await _list_param(await read_params(request))
        await run(Importer(ctx(request).index, ctx(request).config).run, me, kind, names)
        return JSON("jobs started")

    return handler


# -- other accounts: endorsements, subscriptions -------------------------------------------------


async def endorsements(request: Request) -> Response:
    viewer = await optional_account(request, "read:accounts")
    account = await account_by_id(request)
    rel = Relationships(ctx(request).index, ctx(request).config)
    accounts = view(request)
    return JSON(await run(lambda: accounts.accounts(rel.related(ENDORSEMENT, account), viewer)))


def _subscription(subscribe: bool):
    async def handler(request: Request) -> Response:
        me = await require_any(request, "follow", "write:follows")
        other = await account_by_id(request)
        rel = Relationships(ctx(request).index, ctx(request).config)
        await run(rel.subscribe if subscribe else rel.unsubscribe, me, other)
        return JSON(await run(view(request).relationship, me, other))

    return handler


# -- remote interaction --------------------------------------------------------------------------


async def remote_interaction(request: Request) -> Response:
    params = await read_params(request)
    ap_id, profile = required(params, "ap_id"), required(params, "profile")
    config = ctx(request).config
    try:
        document = await webfinger.finger(ctx(request).remote_packs.remote, profile,
                                          allow_http=config.remote.allow_private_addresses)
    except EmojidError:
        document = {}
    template = webfinger.subscribe_template(document)
    if template is None:
        return JSON({"error": "Couldn't find user"})
    return JSON({"url": template.replace("{uri}", ap_id)})


routes = [*registration.legacy_routes]
pleroma_routes = [
    *registration.pleroma_routes,
    Route("/change_password", change_password, methods=["POST"]),
    Route("/change_email", change_email, methods=["POST"]),
    Route("/delete_account", delete_account, methods=["POST"]),
    Route("/disable_account", disable_account, methods=["POST"]),
    Route("/move_account", move_account, methods=["POST"]),
    Route("/aliases", list_aliases, methods=["GET"]),
    Route("/aliases", add_alias, methods=["PUT"]),
    Route("/aliases", delete_alias, methods=["DELETE"]),
    Route("/notification_settings", notification_settings, methods=["PUT"]),
    Route("/settings/{app}", show_settings, methods=["GET"]),
    Route("/settings/{app}", update_settings, methods=["PATCH"]),
    Route("/mascot", show_mascot, methods=["GET"]),
    Route("/mascot", update_mascot, methods=["PUT"]),
    Route("/accounts/update_avatar", _image_route("avatar", "img"), methods=["PATCH"]),
    Route("/accounts/update_banner", _image_route("header", "banner"), methods=["PATCH"]),
    Route("/accounts/update_background", _image_route("background", "img"), methods=["PATCH"]),
    Route("/follow_import", _import_route("follow", ("follow", "write:follows")), methods=["POST"]),
    Route("/blocks_import", _import_route("block", ("follow", "write:blocks")), methods=["POST"]),
    Route("/mutes_import", _import_route("mute", ("follow", "write:mutes")), methods=["POST"]),
    Route("/accounts/{id}/endorsements", endorsements, methods=["GET"]),
    Route("/accounts/{id}/subscribe", _subscription(True), methods=["POST"]),
    Route("/accounts/{id}/unsubscribe", _subscription(False), methods=["POST"]),
    Route("/remote_interaction", remote_interaction, methods=["POST"]),
]
