"""Conversations: Mastodon's /api/v1/conversations and Pleroma's /conversations/:id routes.

Another account's conversation is "Unknown conversation id" (404), as Pleroma answers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.errors import BadRequest
from emojid.http.params import read_params
from emojid.http.responses import JSON
from emojid.social.conversations import Conversations
from emojid.social.paging import Page, link_header
from emojid.social.statuses import list_param
from emojid.social.web.account_common import run
from emojid.social.web.status_common import collect_lists, timeline


def _service(request: Request) -> Conversations:
    return ctx(request).social.conversations


async def index(request: Request) -> Response:
    """GET /api/v1/conversations (`recipients[]`: only those with exactly these participants)."""
    actor = await require(request, "read:statuses")
    params = collect_lists(request, dict(request.query_params), "recipients")
    page = Page.parse(params)
    recipients = list_param(params, "recipients") or None
    service = _service(request)

    def build() -> tuple[list, list]:
        found = service.page(actor.account, page, recipients)
        return [k for k, _p, _s in found], [service.render(p, actor.account, last) for _k, p, last in found]

    keys, rendered = await run(build)
    return JSON(rendered, headers=link_header(request, keys))


async def show(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    service = _service(request)
    return JSON(await run(lambda: service.render(service.get(actor.account, request.path_params["id"]),
                                                 actor.account)))


async def statuses(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    service = _service(request)
    participation = await run(service.get, actor.account, request.path_params["id"])
    return await timeline(request, actor.account,
                          lambda page, p: service.statuses(actor.account, participation, page))


async def update(request: Request) -> Response:
    """PATCH: replace the recipients (the owner always stays)."""
    actor = await require(request, "write:conversations")
    params = collect_lists(request, await read_params(request), "recipients")
    if "recipients" not in params:
        raise BadRequest("Missing field: recipients.")
    recipients = list_param(params, "recipients")
    service = _service(request)

    def build() -> dict:
        participation = service.get(actor.account, request.path_params["id"])
        return service.render(service.set_recipients(actor.account, participation, recipients), actor.account)

    return JSON(await run(build))


async def read_all(request: Request) -> Response:
    """POST /conversations/read: mark every conversation read; those that were unread."""
    actor = await require(request, "write:conversations")
    service = _service(request)

    def build() -> list:
        return [service.render(p, actor.account) for p in service.mark_all_read(actor.account)]

    return JSON(await run(build))


async def read_one(request: Request) -> Response:
    actor = await require(request, "write:conversations")
    service = _service(request)

    def build() -> dict:
        participation = service.get(actor.account, request.path_params["id"])
        return service.render(service.mark_read(actor.account, participation), actor.account)

    return JSON(await run(build))


async def delete(request: Request) -> Response:
    actor = await require(request, "write:conversations")
    service = _service(request)

    def build() -> None:
        service.delete(actor.account, service.get(actor.account, request.path_params["id"]))

    await run(build)
    return JSON({})
