"""GET /emoji/sync: what each mirror job did last (admin only)."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.http.responses import JSON


async def sync_status(request: Request) -> Response:
    await require(request, "admin:read")
    statuses = await anyio.to_thread.run_sync(ctx(request).syncer.statuses)
    return JSON({"jobs": [s.as_json() for s in statuses]})
