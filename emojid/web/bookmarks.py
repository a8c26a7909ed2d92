"""Bookmark folders: GET/POST /api/v1/pleroma/bookmark_folders, PATCH/DELETE .../{id}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emojid.auth import require
from emojid.bookmark_folders import BookmarkFolders
from emojid.web.account_common import run
from emojid.web.common import JSON, ctx, read_params, text_param


def _folders(request: Request) -> BookmarkFolders:
    return BookmarkFolders(ctx(request).index, ctx(request).config)


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


routes: list[BaseRoute] = []
pleroma_routes: list[BaseRoute] = [
    Route("/bookmark_folders", list_folders, methods=["GET"]),
    Route("/bookmark_folders", create_folder, methods=["POST"]),
    Route("/bookmark_folders/{id}", update_folder, methods=["PATCH"]),
    Route("/bookmark_folders/{id}", delete_folder, methods=["DELETE"]),
]
