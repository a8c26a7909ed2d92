"""Static frames at /emoji-static/{pack}/{filename}.png: the first frame of an animated emoji
as PNG (emojid.emoji.static_frames), with ETag, 304 and the emoji files' Cache-Control."""

from __future__ import annotations

from collections.abc import Mapping

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.context import ctx
from emojid.emoji.static_frames import StaticFrames
from emojid.emoji.web.serve import CACHE_CONTROL
from emojid.errors import NotFound
from emojid.http.offload import offloaded, redirect_target, wants_offload
from emojid.http.responses import not_modified


async def static_frame(request: Request) -> Response:
    requested: str = request.path_params["filename"]
    if not requested.endswith(".png"):
        raise NotFound("Not found")
    frames = ctx(request).packs.static_frames
    if wants_offload(request.headers):  # nginx sends the bytes (emojid.http.offload)
        etag, target = await anyio.to_thread.run_sync(
            _offload_target, request.headers, frames, request.path_params["pack"], requested[:-4])
        if target and not not_modified(request, etag):
            return offloaded(target, "image/png",
                             {"etag": etag, "cache-control": CACHE_CONTROL, "x-content-type-options": "nosniff"})
    etag, body = await anyio.to_thread.run_sync(_read, frames, request.path_params["pack"], requested[:-4])
    headers = {"etag": etag, "cache-control": CACHE_CONTROL, "x-content-type-options": "nosniff"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/png", headers=headers)


def _offload_target(headers: Mapping[str, str], frames: StaticFrames, pack: str, filename: str
                    ) -> tuple[str, str | None]:
    path, etag = frames.locate(pack, filename)
    return etag, redirect_target(headers, path)


def _read(frames: StaticFrames, pack: str, filename: str) -> tuple[str, bytes]:
    """The frame's ETag and bytes. Frames are small: read whole, in one trip, so a newer
    version replacing this one meanwhile cannot cut the answer short."""
    for _attempt in range(3):
        path, etag = frames.locate(pack, filename)
        try:
            return etag, path.read_bytes()
        except FileNotFoundError:
            continue  # superseded meanwhile: locate the current one
    raise NotFound("Not found")
