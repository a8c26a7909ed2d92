"""GET /emoji/sync: what each mirror job did last (admin only)."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emojid.auth import require
from emojid.web.common import JSON, ctx


async def sync_status(request: Request) -> Response:
    await require(request, "admin:read")
    statuses = await anyio.to_thread.run_sync(ctx(request).syncer.statuses)
    return JSON({"jobs": [s.as_json() for s in statuses]})


routes = [Route("/emoji/sync", sync_status, methods=["GET"])]
