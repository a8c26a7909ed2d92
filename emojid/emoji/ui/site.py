"""The web UI's routes, and `WebUI`: the one entry emojid's route table holds for them.

The UI answers `/`, `/ui` and everything under `/ui/` with HTML, errors included,
so it is a router of its own rather than routes among the JSON API's (whose
sweep, tests/test_surface.py, holds every listed route to JSON errors).
tests/ui/test_ui_sweep.py sweeps these routes instead.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, Route, Router, request_response
from starlette.types import Receive, Scope, Send

from emojid.emoji.ui import browse, curate, login, remote
from emojid.emoji.ui.render import action, page

ROUTES: list[BaseRoute] = [
    Route("/", page(browse.home), methods=["GET"]),
    Route("/ui", page(browse.packs_page), methods=["GET"]),
    Route("/ui/static/{name}", browse.static_file, methods=["GET"]),  # no visitor to look up
    Route("/ui/login", page(login.login_page), methods=["GET"]),
    Route("/ui/login", action(login.login, admin=False), methods=["POST"]),
    Route("/ui/login/code", action(login.second_factor, admin=False), methods=["POST"]),
    Route("/ui/logout", action(login.logout, admin=False), methods=["POST"]),
    Route("/ui/new-pack", page(browse.new_pack_form), methods=["GET"]),
    Route("/ui/packs", action(curate.create_pack), methods=["POST"]),
    Route("/ui/packs/{name}", page(browse.pack_page), methods=["GET"]),
    Route("/ui/packs/{name}/delete", action(curate.delete_pack), methods=["POST"]),
    Route("/ui/packs/{name}/meta", action(curate.save_metadata), methods=["POST"]),
    Route("/ui/packs/{name}/files", action(curate.upload), methods=["POST"]),
    Route("/ui/packs/{name}/emoji/tile", page(curate.tile), methods=["GET"]),
    Route("/ui/packs/{name}/emoji/rename", page(curate.rename_form), methods=["GET"]),
    Route("/ui/packs/{name}/emoji/rename", action(curate.rename_emoji), methods=["POST"]),
    Route("/ui/packs/{name}/emoji/tags", page(curate.tags_form), methods=["GET"]),
    Route("/ui/packs/{name}/emoji/tags", action(curate.save_tags), methods=["POST"]),
    Route("/ui/packs/{name}/emoji/delete", action(curate.delete_emoji), methods=["POST"]),
    Route("/ui/remote", page(remote.remote_page), methods=["GET"]),
    Route("/ui/remote/download", action(remote.download), methods=["POST"]),
    Route("/ui/remote/downloads/{id}", page(remote.download_status), methods=["GET"]),
    Route("/ui/sync", page(remote.sync_page), methods=["GET"]),
    Route("/ui/sync/run", action(remote.sync_now), methods=["POST"]),
]


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class WebUI(BaseRoute):
    """`/`, `/ui` and `/ui/...`, answered by the UI's own router (HTML 404s included)."""

    def __init__(self) -> None:
        self.router = Router(ROUTES, redirect_slashes=False, default=request_response(page(browse.not_found)))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path = _route_path(scope)
            if path in ("/", "/ui") or path.startswith("/ui/"):
                return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.router.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router(scope, receive, send)

