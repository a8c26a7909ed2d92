"""ASGI middleware: trailing slashes, request body limits, and closing parsed forms."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emojid.config import Config
from emojid.errors import PayloadTooLarge
from emojid.http.responses import JSON


class IgnoreTrailingSlash:
    """ASGI middleware: `/api/v1/instance/` is `/api/v1/instance`, as Pleroma's router
    (Phoenix) sees it. The routers themselves never redirect (`redirect_slashes=False`):
    Starlette's bodyless 307 to the other spelling would not be JSON, and could loop here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
            scope = dict(scope, path=scope["path"].rstrip("/") or "/")
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class CloseForms:
    """ASGI middleware: closes a parsed multipart form (its spooled temp files) after each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            form = scope.get("state", {}).get("form") if scope["type"] == "http" else None
            if form is not None:
                await form.close()


# Bodies that are not file uploads (JSON, urlencoded, anything but multipart). Room
# for a base64 data-URL avatar or banner (a 4 MiB image is 5.4 MiB as base64), as
# Pleroma's clients send them, and no more.
BODY_LIMIT = 8 << 20
# Multipart bodies: the upload limit plus this much for boundaries, part headers
# and the small fields beside the file.
MULTIPART_OVERHEAD = 1 << 20
# A response sent before the body was read keeps the connection only when at most
# this much of a declared (Content-Length) body is left: the server reads and drops
# that much; more, or an unknown amount (chunked), and the connection is closed.
_DRAIN_AT_MOST = 64 << 10


def upload_body_limit(config: Config) -> int:
    """The largest multipart body: one upload of the largest size any route accepts."""
    return max(config.remote.max_download_bytes, config.emoji.max_file_bytes) + MULTIPART_OVERHEAD


class BodyTooLarge(PayloadTooLarge):
    """Raised from `receive` once a request body passes its limit: answered 413, connection closed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than {limit} bytes")
        self.headers = {"connection": "close"}


class LimitBodies:
    """ASGI middleware: every request body is counted as it arrives, whatever Content-Length
    says (or when it says nothing: chunked), and reading stops at the limit with 413
    `{"error": ...}` and `Connection: close`, so the rest is never read. The limit comes
    from the content type: multipart bodies carry uploads (`upload_limit`), every other
    body gets `body_limit`. A body declared too large is refused before any of it is read."""

    def __init__(self, app: ASGIApp, upload_limit: int, body_limit: int = BODY_LIMIT) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.body_limit = body_limit

    def limit_for(self, scope: Scope) -> int:
        content_type = _header(scope, b"content-type").split(b";")[0].strip().lower()
        return self.upload_limit if content_type == b"multipart/form-data" else self.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _header(scope, b"content-length").strip()
        length = int(declared) if declared.isdigit() else None
        chunked = b"chunked" in _header(scope, b"transfer-encoding").lower()
        if length is not None and length > limit:
            await JSON({"error": BodyTooLarge(limit).message}, status_code=413,
                       headers={"connection": "close"})(scope, receive, send)
            return
        received = 0
        complete = not chunked and not length  # no body at all
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, complete, exceeded
            if exceeded:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
                complete = complete or not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                complete = True
            return message

        async def closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                left = None if length is None else length - received
                if exceeded or not complete and (left is None or left > _DRAIN_AT_MOST):
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                    message = dict(message, headers=[*headers, (b"connection", b"close")])
            await send(message)

        try:
            await self.app(scope, counted, closing)
        except BodyTooLarge as exc:
            if started:
                raise
            await JSON({"error": exc.message}, status_code=413, headers=exc.headers)(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return b""
