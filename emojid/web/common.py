"""What every handler shares: parameters from any body type, JSON answers, errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from emojid.errors import BadRequest, EmojidError, PayloadTooLarge
from emojid.packs import Upload

log = logging.getLogger("emojid.web")


class JSON(Response):
    """A JSON answer, always `application/json` (errors and empty answers too)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content  # a body serialised ahead of time
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def ctx(request: Request):
    return request.app.state.ctx


def _set_nested(params: dict, key: str, value: Any) -> None:
    """`metadata[license]=x` as form field means {"metadata": {"license": "x"}}, as in Plug."""
    if "[" in key and key.endswith("]"):
        outer, _, inner = key[:-1].partition("[")
        if outer and inner and "[" not in inner:
            if isinstance(value, UploadFile):
                # No parameter takes a file inside an object; stored as JSON, it could not be encoded.
                raise BadRequest(f"{key} cannot be a file upload")
            slot = params.setdefault(outer, {})
            if isinstance(slot, dict):
                slot[inner] = value
                return
    params[key] = value


async def read_params(request: Request) -> dict[str, Any]:
    """Query string merged with the body: JSON, urlencoded or multipart alike."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        _set_nested(params, key, value)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in ("GET", "HEAD"):
        return params
    limit = ctx(request).config.remote.max_download_bytes + (1 << 20)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=1000, max_fields=1000)
        except (HTTPException, ValueError, KeyError, AssertionError) as exc:
            raise BadRequest(f"Malformed form body: {getattr(exc, 'detail', exc)}") from None
        request.state.form = form
        for key, value in form.multi_items():
            _set_nested(params, key, value)
        return params
    body = await request.body()
    if not body.strip():
        return params
    if content_type in ("application/json", "") or content_type.endswith("+json"):
        params.update(json_object(body))
        return params
    raise BadRequest(f"Unsupported request body type: {content_type}")


def json_object(text: bytes | str, name: str | None = None) -> dict[str, Any]:
    """A JSON object sent as text: the request body, or the form field `name` carrying one."""
    malformed = f"{name} must be a JSON object" if name else "Malformed JSON body"
    try:
        # RecursionError: nesting deeper than the parser's stack (`[[[[...`).
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(malformed) from None
    if not isinstance(data, dict):
        raise BadRequest(malformed if name else "The JSON body must be an object")
    # "\ud800" is valid JSON but no Unicode text: nothing (SQLite, file names,
    # our own error messages) could encode it later. Refused here, once.
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest(f"{malformed}: a string has an unpaired surrogate") from None
    return data


def json_data(value: Any, name: str) -> Any:
    """`value` when it is plain data that can be stored as JSON: no file upload anywhere in it."""
    if isinstance(value, UploadFile):
        raise BadRequest(f"{name} cannot be a file upload")
    if isinstance(value, dict):
        for key, item in value.items():
            json_data(item, f"{name}[{key}]")
    elif isinstance(value, list):
        for item in value:
            json_data(item, name)
    return value


def text_param(params: dict, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, (dict, list, UploadFile)):
        raise BadRequest(f"{name} must be a string")
    return str(value)


def int_param(params: dict, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value):
        number = int(value)  # ASCII digits only: int() would also take " 2 " and "٢"
    else:
        raise BadRequest(f"{name} must be an integer")
    if number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise BadRequest(f"{name} must be at most {maximum}")
    return number


def bool_param(params: dict, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "on", "yes") if value is not None else False


def required(params: dict, name: str) -> str:
    value = text_param(params, name)
    if value is None:
        raise BadRequest(f"Missing field: {name}.")
    return value


@contextlib.asynccontextmanager
async def spooled(request: Request, file: UploadFile, limit: int) -> AsyncIterator[Upload]:
    """The uploaded part as a temp file of ours (at most `limit` bytes), removed afterwards."""
    tmp_dir = ctx(request).config.cache_dir / "tmp"

    def copy() -> Upload:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
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


async def emojid_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EmojidError)
    return JSON({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 304 or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else "Error"
    return JSON({"error": detail}, status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSON({"error": "Internal server error"}, status_code=500)


class FileAnswer(FileResponse):
    """A file from disk. The Range refusals Starlette sends by itself (400 for a malformed
    header, 416 for one past the end, both text/plain) go out as JSON errors like every other."""

    async def __call__(self, scope, receive, send) -> None:
        refusal: dict | None = None

        async def json_refusals(message) -> None:
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


class IgnoreTrailingSlash:
    """ASGI middleware: `/api/v1/instance/` is `/api/v1/instance`, as Pleroma's router
    (Phoenix) sees it. The routers themselves never redirect (`redirect_slashes=False`):
    Starlette's bodyless 307 to the other spelling would not be JSON, and could loop here."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
            scope = dict(scope, path=scope["path"].rstrip("/") or "/")
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class CloseForms:
    """ASGI middleware: closes a parsed multipart form (its spooled temp files) after each request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            form = scope.get("state", {}).get("form") if scope["type"] == "http" else None
            if form is not None:
                await form.close()
