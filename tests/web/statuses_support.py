"""Helpers of the status-area tests: posting and reading through the real API."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.web.accounts_support import Who, make_account

__all__ = ["Who", "client", "make_account", "ok", "post"]


def client(server: Server, who: Who | str | None) -> httpx.AsyncClient:
    token = who.token if isinstance(who, Who) else who
    return server.client(token)


def ok(r: httpx.Response, status: int = 200):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    return r.json()


async def post(server: Server, who: Who | str, status: str = "hello", **fields) -> dict:
    """POST /api/v1/statuses as `who`; the new status entity."""
    async with client(server, who) as c:
        return ok(await c.post("/api/v1/statuses", json={"status": status, **fields}))
