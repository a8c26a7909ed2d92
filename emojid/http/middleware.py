"""ASGI middleware: trailing slashes, and closing parsed forms."""

from __future__ import annotations


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
