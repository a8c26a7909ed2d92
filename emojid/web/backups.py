"""Backups: POST/GET /api/v1/pleroma/backups, and the built zips at /backups/{file_name}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emojid import backups as backup_worker
from emojid.auth import require
from emojid.backups import CONTENT_TYPE, Backups
from emojid.errors import NotFound
from emojid.web.account_common import run
from emojid.web.common import JSON, FileAnswer, ctx


def _backups(request: Request) -> Backups:
    return Backups(ctx(request).index, ctx(request).config)


async def list_backups(request: Request) -> Response:
    actor = await require(request, "read:backups")
    backups = _backups(request)
    rows = await run(backups.list, actor.account)
    if any(not row.processed and row.state != "failed" for row in rows):
        backup_worker.kick(ctx(request))  # picks up what a restart interrupted
    return JSON([backups.render(row) for row in rows])


async def create_backup(request: Request) -> Response:
    # Pleroma asks for read:backups here too: a backup only reads the account.
    actor = await require(request, "read:backups")
    backups = _backups(request)
    await run(backups.request, actor.account)
    backup_worker.kick(ctx(request))
    return JSON([backups.render(row) for row in await run(backups.list, actor.account)])


async def download(request: Request) -> Response:
    path = await run(_backups(request).path_of, request.path_params["file_name"])
    if path is None:
        raise NotFound("Not found")
    return FileAnswer(path, media_type=CONTENT_TYPE, headers={"x-content-type-options": "nosniff"})


routes: list[BaseRoute] = [
    Route("/backups/{file_name}", download, methods=["GET", "HEAD"]),
]
pleroma_routes: list[BaseRoute] = [
    Route("/backups", list_backups, methods=["GET"]),
    Route("/backups", create_backup, methods=["POST"]),
]
