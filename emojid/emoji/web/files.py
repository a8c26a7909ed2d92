"""Emoji file endpoints: add (image or zip upload), rename/move, delete."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.emoji.web.packs import pack_name
from emojid.errors import BadRequest
from emojid.http.params import bool_param, read_params, text_param
from emojid.http.responses import JSON
from emojid.http.uploads import spooled


async def add_file_from(request: Request, params: dict[str, Any], name: str) -> dict[str, str]:
    file = params.get("file")
    if file is None or file == "":
        raise BadRequest("Missing field: file.")
    service = ctx(request).packs
    # Absent means "from the uploaded name"; present but empty is Pleroma's 422.
    shortcode, filename = text_param(params, "shortcode"), text_param(params, "filename")
    if isinstance(file, str):
        # `file` may be a link to a remote image, fetched through the guarded remote client.
        upload = await ctx(request).remote_packs.fetch_file(file)
        try:
            return await service.add_file(name, upload, shortcode, filename)
        finally:
            await anyio.to_thread.run_sync(upload.path.unlink, True)
    if not isinstance(file, UploadFile):
        raise BadRequest("file must be an uploaded file or a URL")
    limit = max(service.config.emoji.max_file_bytes, service.config.remote.max_download_bytes)
    async with spooled(request, file, limit) as upload:
        return await service.add_file(name, upload, shortcode, filename)


async def add_file(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    return JSON(await add_file_from(request, params, pack_name(params)))


async def update_file_in(request: Request, params: dict[str, Any], name: str) -> dict[str, str]:
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
