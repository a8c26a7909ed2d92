"""Emoji files at /emoji/{pack}/{filename}: type from the bytes, ETag, 304, Range."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from email.utils import formatdate

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.context import ctx
from emojid.emoji.store import PackStore
from emojid.errors import EmojidError, NotFound
from emojid.files import open_regular
from emojid.http.offload import offloaded, redirect_target, wants_offload
from emojid.http.responses import FileAnswer, not_modified
from emojid.images import sniff_type

CACHE_CONTROL = "public, max-age=1209600"


# Emoji up to this size are read whole in the same worker-thread trip that
# finds them: one hop off the event loop per request instead of four.
INLINE_BYTES = 2 << 20


@dataclass(frozen=True)
class Located:
    path: str
    stat: os.stat_result
    media_type: str
    body: bytes | None  # the whole file when small and wanted whole


def _locate(store: PackStore, pack: str, filename: str, whole: bool) -> Located:
    try:
        path = store.file_path(pack, filename)
    except EmojidError:
        path = None
    if path is None:
        raise NotFound("Not found")
    try:
        # Opened non-blocking and fstat'ed before a byte is read: a FIFO named x.png
        # would hold this worker thread until a writer comes.
        with open_regular(path) as fh:
            st = os.fstat(fh.fileno())
            body = fh.read() if whole and st.st_size <= INLINE_BYTES else None
            head = body[:16] if body is not None else fh.read(16)
    except OSError:  # missing, not a regular file, a name too long, a symlink loop...
        raise NotFound("Not found") from None
    return Located(str(path), st, sniff_type(head) or "application/octet-stream", body)


async def emoji_file(request: Request) -> Response:
    offload = wants_offload(request.headers)  # nginx sends the bytes (emojid.http.offload)
    whole = request.method == "GET" and "range" not in request.headers and not offload
    found = await anyio.to_thread.run_sync(
        _locate, ctx(request).packs.store, request.path_params["pack"], request.path_params["filename"], whole
    )
    st = found.stat
    etag = '"' + hashlib.md5(f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}".encode()).hexdigest() + '"'
    headers = {"etag": etag, "cache-control": CACHE_CONTROL, "x-content-type-options": "nosniff"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    if offload and (target := await anyio.to_thread.run_sync(redirect_target, request.headers, found.path)):
        return offloaded(target, found.media_type, headers)
    if found.body is not None:
        headers.update({"last-modified": formatdate(st.st_mtime, usegmt=True), "accept-ranges": "bytes"})
        return Response(found.body, media_type=found.media_type, headers=headers)
    return FileAnswer(found.path, media_type=found.media_type, stat_result=st, headers=headers)
