"""The 2019 pack routes (/api/pleroma/emoji/packs/:name/...), aliases onto the current code."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.emoji.names import check_pack_name
from emojid.emoji.web.files import add_file_from, update_file_in
from emojid.errors import BadRequest
from emojid.http.params import read_params, text_param
from emojid.http.responses import JSON


def _name(request: Request) -> str:
    return check_pack_name(request.path_params["name"])


async def create(request: Request) -> Response:
    await require(request, "admin:write")
    await ctx(request).packs.create(_name(request))
    return JSON("ok")


async def delete(request: Request) -> Response:
    await require(request, "admin:write")
    await ctx(request).packs.delete(_name(request))
    return JSON("ok")


async def update_file(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    name = _name(request)
    action = text_param(params, "action")
    if action == "add":
        return JSON(await add_file_from(request, params, name))
    if action == "update":
        return JSON(await update_file_in(request, params, name))
    if action == "remove":
        return JSON(await ctx(request).packs.remove_file(name, text_param(params, "shortcode")))
    raise BadRequest(f"Unknown action: {action}" if action else "Missing field: action.")


async def update_metadata(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    if "new_data" not in params:
        raise BadRequest("Missing field: new_data.")
    return JSON(await ctx(request).packs.update_metadata(_name(request), params["new_data"]))
