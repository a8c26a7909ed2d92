"""Bookmark folders: GET/POST /api/v1/pleroma/bookmark_folders, PATCH/DELETE .../{id}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.http.params import read_params, text_param
from emojid.http.responses import JSON
from emojid.social.bookmark_folders import BookmarkFolders
from emojid.social.web.account_common import run


def _folders(request: Request) -> BookmarkFolders:
    return ctx(request).social.bookmark_folders


async def list_folders(request: Request) -> Response:
    actor = await require(request, "read:bookmarks")
    folders = _folders(request)
    return JSON(await run(lambda: [folders.render(f) for f in folders.list(actor.account)]))


async def create_folder(request: Request) -> Response:
    actor = await require(request, "write:bookmarks")
    params = await read_params(request)
    name, emoji = text_param(params, "name"), text_param(params, "emoji")
    folders = _folders(request)
    return JSON(await run(lambda: folders.render(folders.create(actor.account, name, emoji))))


async def update_folder(request: Request) -> Response:
    actor = await require(request, "write:bookmarks")
    params = await read_params(request)
    name, emoji = text_param(params, "name"), text_param(params, "emoji")
    folders = _folders(request)
    folder_id = request.path_params["id"]
    return JSON(await run(lambda: folders.render(
        folders.update(actor.account, folder_id, name, emoji, "emoji" in params))))


async def delete_folder(request: Request) -> Response:
    actor = await require(request, "write:bookmarks")
    folders = _folders(request)
    folder_id = request.path_params["id"]
    return JSON(await run(lambda: folders.render(folders.delete(actor.account, folder_id))))
