"""Backups: POST/GET /api/v1/pleroma/backups, and the built zips at /backups/{file_name}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.errors import NotFound
from emojid.http.responses import JSON, FileAnswer
from emojid.social.backups import CONTENT_TYPE, Backups
from emojid.social.web.account_common import run


def _backups(request: Request) -> Backups:
    return ctx(request).social.backups


async def list_backups(request: Request) -> Response:
    actor = await require(request, "read:backups")
    backups = _backups(request)
    rows = await run(backups.list, actor.account)
    if any(not row.processed and row.state != "failed" for row in rows):
        ctx(request).social.backup_worker.kick()  # picks up what a restart interrupted
    return JSON([backups.render(row) for row in rows])


async def create_backup(request: Request) -> Response:
    # Pleroma asks for read:backups here too: a backup only reads the account.
    actor = await require(request, "read:backups")
    backups = _backups(request)
    await run(backups.request, actor.account)
    ctx(request).social.backup_worker.kick()
    return JSON([backups.render(row) for row in await run(backups.list, actor.account)])


async def download(request: Request) -> Response:
    path = await run(_backups(request).path_of, request.path_params["file_name"])
    if path is None:
        raise NotFound("Not found")
    return FileAnswer(path, media_type=CONTENT_TYPE, headers={"x-content-type-options": "nosniff"})
