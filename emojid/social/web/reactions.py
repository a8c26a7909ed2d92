"""Pleroma's emoji reactions: PUT/DELETE/GET /statuses/:id/reactions[/:emoji].

The emoji path segment may be percent-encoded or not (`:blobcat:` or
`%3Ablobcat%3A`, `⚠` or `%E2%9A%A0`); the server decodes it before routing.
Errors are Pleroma's: 400 "Could not add reaction emoji" for what is not an
emoji, 404 for a status the caller cannot see.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.http.params import bool_param
from emojid.http.responses import JSON
from emojid.social.reactions import Reactions
from emojid.social.web.account_common import optional_account, run
from emojid.social.web.status_common import status_view, statuses


def _reactions(request: Request) -> Reactions:
    return ctx(request).social.reactions


def change_reaction(adding: bool):
    async def handler(request: Request) -> Response:
        actor = await require(request, "write:statuses")
        renderer = status_view(request)
        reactions = _reactions(request)

        def build() -> dict:
            status = statuses(request).get_visible(actor.account, request.path_params["id"])
            change = reactions.react if adding else reactions.unreact
            change(actor.account, status, request.path_params["emoji"])
            return renderer.render(status, actor.account)

        return JSON(await run(build))

    return handler


async def index(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    with_muted = bool_param(dict(request.query_params), "with_muted")
    only = request.path_params.get("emoji")
    renderer = status_view(request)

    def build() -> list:
        status = statuses(request).get_visible(viewer, request.path_params["id"])
        return renderer.reaction_entities(status, viewer, with_muted, only)

    return JSON(await run(build))
