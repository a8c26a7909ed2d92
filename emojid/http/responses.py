"""Answers: JSON bodies, files from disk, and the error handlers that make every error JSON."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Message, Receive, Scope, Send

from emojid.errors import EmojidError, no_space, out_of_space

log = logging.getLogger("emojid.web")


class JSON(Response):
    """A JSON answer, always `application/json` (errors and empty answers too)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content  # a body serialised ahead of time
        # allow_nan=False: NaN or Infinity would make the answer invalid JSON (refused on input).
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


async def emojid_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EmojidError)
    if exc.status == 500 and out_of_space(exc) is not None:
        return _no_space(request, exc)  # "could not store ...": the disk is full, say so
    if exc.status == 507:
        log.error("%s %s: %s", request.method, request.url.path, exc.message)  # for the admin to act on
    return JSON({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 304 or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else "Error"
    return JSON({"error": detail}, status_code=exc.status_code, headers=exc.headers)


async def os_error(request: Request, exc: Exception) -> Response:
    """An OSError no write path turned into an EmojidError (a request body being spooled, a
    zip being unpacked): a full disk is 507, answered here as any EmojidError is; any other
    goes on to server_error (500)."""
    assert isinstance(exc, OSError)
    if out_of_space(exc) is None:
        raise exc
    return _no_space(request, exc)


def _no_space(request: Request, exc: BaseException) -> Response:
    """507 naming what ran out, never a bare 500 (`exc` is or comes from a full disk)."""
    full = out_of_space(exc)
    assert full is not None
    error = no_space(full, _disk_of(request, full.filename))
    log.error("%s %s: %s", request.method, request.url.path, error.message)
    return JSON({"error": error.message}, status_code=error.status)


async def server_error(request: Request, exc: Exception) -> Response:
    if out_of_space(exc) is not None:
        return _no_space(request, exc)  # e.g. from worker threads, in an exception group
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSON({"error": "Internal server error"}, status_code=500)


def _disk_of(request: Request, filename: Any) -> str:
    """Which configured folder ran out of space: the one `filename` (the OSError's) lies
    in, else (a write to an open file names none) the one whose disk has no room left."""
    config = getattr(getattr(request.app.state, "ctx", None), "config", None)
    if config is None:
        return "the server's disk"
    folders = {"cache_dir": config.cache_dir, "packs_dir": config.packs_dir}
    if isinstance(filename, str | bytes):
        path = os.fsdecode(filename)
        return next((key for key, folder in folders.items() if path.startswith(str(folder) + os.sep)),
                    "the server's disk")
    full = []
    for key, folder in folders.items():
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        if st.f_bavail * st.f_frsize < 1 << 16:  # less than a write's worth
            full.append(key)
    return " and ".join(full) or "the server's disk"


def not_modified(request: Request, etag: str) -> bool:
    """If-None-Match names `etag` (or is `*`): the client's copy is current, answer 304.
    Weak comparison (RFC 9110): a proxy may hand back our tag as W/"..."."""
    if_none_match = request.headers.get("if-none-match")
    if not if_none_match:
        return False
    return if_none_match.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]


async def file_chunks(fh: BinaryIO) -> AsyncIterator[bytes]:
    """An open file as a streamed body, read off the event loop; closed at the end."""
    try:
        while chunk := await anyio.to_thread.run_sync(fh.read, 1 << 20):
            yield chunk
    finally:
        fh.close()


class FileAnswer(FileResponse):
    """A file from disk. The Range refusals Starlette sends by itself (400 for a malformed
    header, 416 for one past the end, both text/plain) go out as JSON errors like every other."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal: Message | None = None

        async def json_refusals(message: Message) -> None:
            nonlocal refusal
            if message["type"] == "http.response.start" and message["status"] >= 400:
                refusal = message  # its body follows in one message
            elif refusal is None:
                await send(message)
            else:
                text = message.get("body", b"").decode("utf-8", "replace") or "Range Not Satisfiable"
                kept = {k.decode("latin-1"): v.decode("latin-1") for k, v in refusal["headers"]
                        if k.lower() == b"content-range"}
                await JSON({"error": text}, status_code=refusal["status"], headers=kept)(scope, receive, send)

        await super().__call__(scope, receive, json_refusals)
