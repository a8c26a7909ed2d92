"""Emoji files at /emoji/{pack}/{filename}: type from the bytes, ETag, 304, Range."""

from __future__ import annotations

import hashlib
import os

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from emojid.errors import EmojidError, NotFound
from emojid.images import sniff_type
from emojid.web.common import ctx

CACHE_CONTROL = "public, max-age=1209600"


def _locate(store, pack: str, filename: str) -> tuple[str, os.stat_result, str]:
    try:
        path = store.file_path(pack, filename)
    except EmojidError:
        path = None
    if path is None:
        raise NotFound("Not found")
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            head = fh.read(16)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise NotFound("Not found") from None
    if not os.path.isfile(path):
        raise NotFound("Not found")
    return str(path), st, sniff_type(head) or "application/octet-stream"


async def emoji_file(request: Request) -> Response:
    store = ctx(request).store
    path, st, media_type = await anyio.to_thread.run_sync(
        _locate, store, request.path_params["pack"], request.path_params["filename"]
    )
    etag = '"' + hashlib.md5(f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}".encode()).hexdigest() + '"'
    headers = {"etag": etag, "cache-control": CACHE_CONTROL, "x-content-type-options": "nosniff"}
    if_none_match = request.headers.get("if-none-match")
    # Weak comparison (RFC 9110): a proxy may hand back our tag as W/"...".
    if if_none_match and (if_none_match.strip() == "*" or etag in [t.strip().removeprefix("W/")
                                                                  for t in if_none_match.split(",")]):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=media_type, stat_result=st, headers=headers)


routes = [Route("/emoji/{pack}/{filename:path}", emoji_file, methods=["GET", "HEAD"])]
