"""Media uploads (POST /api/v1/media, /api/v2/media), their entities, and serving /media/ files."""

from __future__ import annotations

import re

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.errors import BadRequest, NotFound
from emojid.http.params import read_params, text_param
from emojid.http.responses import JSON, FileAnswer
from emojid.http.uploads import image_param
from emojid.social import placeholders
from emojid.social.index.profiles import MediaRow
from emojid.social.media import LIMITS, TYPES, MediaStore
from emojid.social.web.account_common import run

DESCRIPTION_LIMIT = 5000
FOCUS = re.compile(r"^\s*(-?(?:0|1)(?:\.\d+)?)\s*,\s*(-?(?:0|1)(?:\.\d+)?)\s*$")
# Uploaded files are only ever shown as images, even if a browser is tricked into opening one.
SAFE_HEADERS = {"x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'; sandbox",
                "cache-control": "public, max-age=86400"}


def _store(request: Request) -> MediaStore:
    return ctx(request).social.media


def _description_and_focus(params: dict) -> tuple[str | None, str | None]:
    description = text_param(params, "description")
    if description is not None and len(description) > DESCRIPTION_LIMIT:
        raise BadRequest(f"description is longer than {DESCRIPTION_LIMIT} characters")
    focus = text_param(params, "focus")
    if focus is not None and focus != "":
        match = FOCUS.match(focus)
        if match is None or not all(-1.0 <= float(v) <= 1.0 for v in match.groups()):
            raise BadRequest("focus must be two numbers from -1.0 to 1.0, as \"x,y\"")
        focus = f"{float(match.group(1))},{float(match.group(2))}"
    return description, focus or None


def upload(status: int):
    async def handler(request: Request) -> Response:
        actor = await require(request, "write:media")
        params = await read_params(request)
        if params.get("file") is None:
            raise BadRequest("Missing field: file.")
        if not isinstance(params["file"], UploadFile):
            raise BadRequest("file must be a multipart file upload")
        description, focus = _description_and_focus(params)
        async with image_param(request, params, "file", LIMITS["attachment"]) as path:
            row = await run(_store(request).store, actor.account.id, path, "file", description or "", focus)
        return JSON(_store(request).attachment(row), status_code=status)

    return handler


async def _own_media(request: Request, account_id: str) -> MediaRow:
    media_id = request.path_params["id"]
    row = await run(ctx(request).social.index.media_by_id, media_id) if media_id.isdigit() else None
    if row is None or row.account_id != account_id:
        raise NotFound("Record not found")
    return row


async def show_media(request: Request) -> Response:
    actor = await require(request, "read:media")
    return JSON(_store(request).attachment(await _own_media(request, actor.account.id)))


async def update_media(request: Request) -> Response:
    actor = await require(request, "write:media")
    row = await _own_media(request, actor.account.id)
    description, focus = _description_and_focus(await read_params(request))
    await run(ctx(request).social.index.update_media, row.id, description, focus)
    return JSON(_store(request).attachment(await _own_media(request, actor.account.id)))


async def media_file(request: Request) -> Response:
    filename = request.path_params["filename"]
    path = await run(_store(request).path_of, filename)
    if path is None:
        raise NotFound("Not found")
    return FileAnswer(path, media_type=TYPES["." + filename.rsplit(".", 1)[1]], headers=SAFE_HEADERS)


async def default_image(request: Request) -> Response:
    data = await run(placeholders.image, request.url.path)
    if data is None:
        raise NotFound("Not found")
    return Response(data, media_type="image/png", headers=SAFE_HEADERS)
