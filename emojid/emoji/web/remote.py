"""Remote packs: list another instance's packs, download one (current and 2019 routes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.http.params import int_param, read_params, required, text_param
from emojid.http.responses import JSON


async def list_remote(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    url = required(params, "url")
    page = int_param(params, "page", 1, minimum=1)
    page_size = int_param(params, "page_size", 50, minimum=0)
    return JSON(await ctx(request).remote_packs.list_remote(url, page, page_size))


async def download(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    await ctx(request).remote_packs.download(
        required(params, "url"), required(params, "name"), text_param(params, "as") or None
    )
    return JSON("ok")


async def list_from(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    return JSON(await ctx(request).remote_packs.list_remote(required(params, "instance_address"), 1, 1 << 20))


async def download_from(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    await ctx(request).remote_packs.download(
        required(params, "instance_address"), required(params, "pack_name"), text_param(params, "as") or None
    )
    return JSON("ok")
