"""Emoji file endpoints: add (image or zip upload), rename/move, delete."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emojid.auth import require
from emojid.errors import BadRequest
from emojid.web.common import JSON, bool_param, ctx, read_params, spooled, text_param
from emojid.web.emoji_packs import pack_name


async def add_file_from(request: Request, params: dict, name: str) -> dict:
    file = params.get("file")
    if file is None or file == "":
        raise BadRequest("Missing field: file.")
    if not isinstance(file, UploadFile):
        raise BadRequest("file must be uploaded as multipart/form-data (uploads by URL need the remote client)")
    service = ctx(request).packs
    limit = max(service.config.emoji.max_file_bytes, service.config.remote.max_download_bytes)
    async with spooled(request, file, limit) as upload:
        return await service.add_file(
            name, upload, text_param(params, "shortcode") or None, text_param(params, "filename") or None
        )


async def add_file(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    return JSON(await add_file_from(request, params, pack_name(params)))


async def update_file_in(request: Request, params: dict, name: str) -> dict:
    return await ctx(request).packs.update_file(
        name,
        text_param(params, "shortcode"),
        text_param(params, "new_shortcode"),
        text_param(params, "new_filename"),
        bool_param(params, "force"),
    )


async def update_file(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    return JSON(await update_file_in(request, params, pack_name(params)))


async def delete_file(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    name = pack_name(params)
    return JSON(await ctx(request).packs.remove_file(name, text_param(params, "shortcode")))


routes = [
    Route("/emoji/packs/files", add_file, methods=["POST"]),
    Route("/emoji/packs/files", update_file, methods=["PATCH"]),
    Route("/emoji/packs/files", delete_file, methods=["DELETE"]),
]
