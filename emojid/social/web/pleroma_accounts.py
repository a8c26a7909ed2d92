"""Pleroma's account utilities: password-guarded changes, aliases and moves, imports,
settings, mascot, profile images, endorsements, subscriptions, remote interaction.

Answers are Pleroma's UtilController and PleromaAPI ones: a wrong password is
`{"error": "Invalid password."}` with status 200, success `{"status": "success"}`.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.errors import BadRequest, EmojidError, PayloadTooLarge
from emojid.http.params import json_data, read_params, required, text_param
from emojid.http.responses import JSON
from emojid.http.uploads import CLEAR, image_param
from emojid.social import webfinger
from emojid.social.credentials import INVALID_PASSWORD
from emojid.social.imports import parse_list
from emojid.social.index.relationships import ENDORSEMENT
from emojid.social.media import LIMITS
from emojid.social.moves import Moves
from emojid.social.profiles import Profiles
from emojid.social.web.account_common import account_by_id, optional_account, password_ok, require_any, run, view

SUCCESS = {"status": "success"}
MAX_LIST_BYTES = 8 << 20


def _profiles(request: Request) -> Profiles:
    return ctx(request).social.profiles


def _moves(request: Request) -> Moves:
    return ctx(request).social.moves


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
    credentials = ctx(request).social.credentials
    return _result(await run(credentials.change_password, actor.account, new, confirmation))


async def change_email(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    email, password = required(params, "email"), required(params, "password")
    if not await password_ok(request, actor.account, password):
        return _result(INVALID_PASSWORD)
    credentials = ctx(request).social.credentials
    return _result(await run(credentials.change_email, actor.account, email))


async def delete_account(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)  # the password may come in the query (older clients) or the body
    if not await password_ok(request, actor.account, text_param(params, "password") or ""):
        return _result(INVALID_PASSWORD)
    await run(ctx(request).social.credentials.delete, actor.account)
    return _result(None)


async def disable_account(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    if not await password_ok(request, actor.account, text_param(params, "password") or ""):
        return _result(INVALID_PASSWORD)
    await run(ctx(request).social.credentials.disable, actor.account)
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


def image_route(slot: str, field: str):
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


def import_route(kind: str, scopes: tuple[str, ...]):
    async def handler(request: Request) -> Response:
        me = await require_any(request, *scopes)
        names = await _list_param(await read_params(request))
        await run(ctx(request).social.importer.run, me, kind, names)
        return JSON("jobs started")

    return handler


# -- other accounts: endorsements, subscriptions -------------------------------------------------


async def endorsements(request: Request) -> Response:
    viewer = await optional_account(request, "read:accounts")
    account = await account_by_id(request)
    rel = ctx(request).social.relationships
    accounts = view(request)
    return JSON(await run(lambda: accounts.accounts(rel.related(ENDORSEMENT, account), viewer)))


def subscription(subscribe: bool):
    async def handler(request: Request) -> Response:
        me = await require_any(request, "follow", "write:follows")
        other = await account_by_id(request)
        rel = ctx(request).social.relationships
        await run(rel.subscribe if subscribe else rel.unsubscribe, me, other)
        return JSON(await run(view(request).relationship, me, other))

    return handler


# -- remote interaction --------------------------------------------------------------------------


async def remote_interaction(request: Request) -> Response:
    params = await read_params(request)
    ap_id, profile = required(params, "ap_id"), required(params, "profile")
    config = ctx(request).config
    try:
        document = await webfinger.finger(ctx(request).remote, profile,
                                          allow_http=config.remote.allow_private_addresses)
    except EmojidError:
        document = {}
    template = webfinger.subscribe_template(document)
    if template is None:
        return JSON({"error": "Couldn't find user"})
    return JSON({"url": template.replace("{uri}", ap_id)})
