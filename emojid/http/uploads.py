"""Uploaded files: spooled to a temp file of ours; image parameters as clients send them
(a multipart file, a data URL, or "" to clear)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request

from emojid.context import ctx
from emojid.errors import BadRequest, PayloadTooLarge
from emojid.files import left_by_dead_process, pid_prefix

DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*);base64,(?P<data>.*)$", re.S)
CLEAR = object()  # what "" asks for


@dataclass(frozen=True)
class Upload:
    """A file received from a client, already spooled to disk."""

    path: Path
    filename: str
    content_type: str | None
    size: int


def sweep_uploads(cache_dir: Path, older_than: float = 3600) -> int:
    """Remove request temp files a crash left in cache_dir/tmp, at start-up: those of a
    process that is gone (their names carry its pid) whatever their age, others only
    when old (another emojid process may be receiving an upload now)."""
    cutoff = time.time() - older_than
    removed = 0
    for path in (cache_dir / "tmp").glob("*"):
        prefix = next((p for p in ("upload-", "dataurl-") if path.name.startswith(p)), None)
        if prefix is not None:
            with contextlib.suppress(OSError):
                if left_by_dead_process(path, prefix) or path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
    return removed


@contextlib.asynccontextmanager
async def spooled(request: Request, file: UploadFile, limit: int) -> AsyncIterator[Upload]:
    """The uploaded part as a temp file of ours (at most `limit` bytes), removed afterwards."""
    tmp_dir = ctx(request).config.cache_dir / "tmp"

    def copy() -> Upload:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=pid_prefix("upload-"))
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                file.file.seek(0)
                while chunk := file.file.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"{file.filename or 'upload'} is larger than {limit} bytes")
                    out.write(chunk)
        except BaseException:
            os.unlink(name)
            raise
        return Upload(Path(name), os.path.basename(file.filename or ""), file.content_type, size)

    upload = await anyio.to_thread.run_sync(copy)
    try:
        yield upload
    finally:
        with contextlib.suppress(OSError):
            os.unlink(upload.path)


def _decode_data_url(request: Request, value: str, name: str, limit: int) -> Path:
    match = DATA_URL.match(value)
    if match is None:
        raise BadRequest(f"{name} must be an image upload, a base64 data URL, or empty to clear")
    data = match.group("data").strip()
    if len(data) * 3 // 4 > limit:
        raise PayloadTooLarge("File is too large")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{name}: the data URL is not valid base64") from None
    tmp_dir = ctx(request).config.cache_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=tmp_dir, prefix=pid_prefix("dataurl-"))
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    return Path(path)


@contextlib.asynccontextmanager
async def image_param(request: Request, params: dict[str, Any], name: str, limit: int) -> AsyncIterator[object]:
    """Yields None (absent), CLEAR ("" given) or the Path of a temp copy of the image."""
    value = params.get(name)
    if value is None:
        yield None
    elif isinstance(value, UploadFile):
        async with contextlib.AsyncExitStack() as stack:
            try:
                upload = await stack.enter_async_context(spooled(request, value, limit))
            except PayloadTooLarge:
                raise PayloadTooLarge("File is too large") from None
            yield upload.path
    elif isinstance(value, str) and value.strip() == "":
        yield CLEAR
    elif isinstance(value, str):
        path = await anyio.to_thread.run_sync(_decode_data_url, request, value.strip(), name, limit)
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
    else:
        raise BadRequest(f"{name} must be an image upload, a base64 data URL, or empty to clear")
