"""Emoji files at /emoji/{pack}/{filename}: type from the bytes, ETag, 304, Range."""

from __future__ import annotations

import hashlib
import os
import stat as stat_mode
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

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


@dataclass(frozen=True)
class Hot:
    found: Located
    etag: str
    raw_headers: list[tuple[bytes, bytes]]  # the whole 200 answer's headers, encoded once


class HotFiles:
    """The small emoji served lately, kept as bytes: a hit costs three lstat/stat calls on
    the event loop (no worker-thread trip, no read), checked against the file's inode,
    mtime and size so a changed or replaced file is never served stale. Bounded in bytes."""

    def __init__(self, max_bytes: int = 16 << 20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[tuple[int, int, int], Hot]] = OrderedDict()

    def get(self, store: PackStore, pack: str, filename: str) -> Hot | None:
        try:
            # The same checks as _locate's, minus the open: no symlinked pack folder or
            # file on the way, a regular file with the same identity as when it was read.
            path = store.file_path(pack, filename)
            if path is None:
                return None
            key = str(path)
            entry = self._entries.get(key)
            if entry is None:
                return None
            st = os.stat(key)
        except (OSError, EmojidError):
            return None
        stamp, hot = entry
        if not stat_mode.S_ISREG(st.st_mode) or (st.st_ino, st.st_mtime_ns, st.st_size) != stamp:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return hot

    def put(self, found: Located, etag: str) -> None:
        if found.body is None or len(found.body) > self.max_bytes // 64:
            return
        self._drop(found.path)
        st = found.stat
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in _whole_headers(found, etag).items()]
        raw.append((b"content-length", str(len(found.body)).encode()))
        self._entries[found.path] = ((st.st_ino, st.st_mtime_ns, st.st_size), Hot(found, etag, raw))
        self.bytes += len(found.body)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry[1].found.body is not None:
            self.bytes -= len(entry[1].found.body)


HOT = HotFiles()  # one per process, keyed by absolute path: any number of servers can share it

# A request with one of these is answered by emoji_file (304, 206, the nginx offload).
_NOT_PLAIN = frozenset({b"range", b"if-range", b"if-none-match", b"x-sendfile-type"})


class HotEmoji:
    """The outermost ASGI layer: a plain GET of an emoji in HOT is answered here, before
    Starlette's middleware and routing (half of a hit's time); everything else goes on
    to the route (emoji_file), which answers the same bytes and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/emoji/"):
            hot = self._hit(scope)
            if hot is not None and hot.found.body is not None:
                await send({"type": "http.response.start", "status": 200, "headers": hot.raw_headers})
                await send({"type": "http.response.body", "body": hot.found.body})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _hit(scope: Scope) -> Hot | None:
        if any(name in _NOT_PLAIN for name, _value in scope["headers"]):
            return None
        pack, _, filename = scope["path"][len("/emoji/"):].partition("/")
        state = getattr(scope.get("app"), "state", None)
        context = getattr(state, "ctx", None)
        if not pack or not filename or context is None:
            return None
        return HOT.get(context.packs.store, pack, filename)


def _whole_headers(found: Located, etag: str) -> dict[str, str]:
    """The headers of a 200 with the whole file (content-length aside)."""
    return {"content-type": found.media_type, "etag": etag, "cache-control": CACHE_CONTROL,
            "x-content-type-options": "nosniff", "last-modified": formatdate(found.stat.st_mtime, usegmt=True),
            "accept-ranges": "bytes"}


def _etag(st: os.stat_result) -> str:
    return '"' + hashlib.md5(f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}".encode()).hexdigest() + '"'


async def emoji_file(request: Request) -> Response:
    offload = wants_offload(request.headers)  # nginx sends the bytes (emojid.http.offload)
    whole = request.method == "GET" and "range" not in request.headers and not offload
    pack, filename = request.path_params["pack"], request.path_params["filename"]
    store = ctx(request).packs.store
    hot = HOT.get(store, pack, filename) if whole else None
    if hot is not None:
        found, etag = hot.found, hot.etag
    else:
        found = await anyio.to_thread.run_sync(_locate, store, pack, filename, whole)
        etag = _etag(found.stat)
        if whole:
            HOT.put(found, etag)
    st = found.stat
    headers = {"etag": etag, "cache-control": CACHE_CONTROL, "x-content-type-options": "nosniff"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    if offload and (target := await anyio.to_thread.run_sync(redirect_target, request.headers, found.path)):
        return offloaded(target, found.media_type, headers)
    if found.body is not None:
        return Response(found.body, headers=_whole_headers(found, etag))
    return FileAnswer(found.path, media_type=found.media_type, stat_result=st, headers=headers)
