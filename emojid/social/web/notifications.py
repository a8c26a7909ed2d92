"""Notification routes: Mastodon's list/show/dismiss/clear and Pleroma's notifications/read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.errors import BadRequest, NotFound
from emojid.http.params import bool_param, read_params
from emojid.http.responses import JSON
from emojid.social.notifications import Notifications
from emojid.social.paging import Page, id_param, link_header, parse_id
from emojid.social.statuses import list_param
from emojid.social.web.account_common import run
from emojid.social.web.status_common import collect_lists


def _service(request: Request) -> Notifications:
    return ctx(request).social.notifications


async def index(request: Request) -> Response:
    actor = await require(request, "read:notifications")
    params = collect_lists(request, dict(request.query_params), "types", "exclude_types", "include_types")
    page = Page.parse(params)
    types = list_param(params, "types") or list_param(params, "include_types") or None
    exclude = list_param(params, "exclude_types")
    with_muted = bool_param(params, "with_muted")
    service = _service(request)
    index_ = ctx(request).social.index

    def build() -> tuple[list, list]:
        actor_account = None
        if params.get("account_id"):
            number = parse_id(str(params["account_id"]))
            actor_account = index_.account_by_id(str(number)) if number is not None else None
            if actor_account is None:
                raise NotFound("Account is not found")
        found = service.page(actor.account, page, types=types, exclude_types=exclude, actor=actor_account,
                             with_muted=with_muted)
        return [n.id for n in found], service.render_many(found, actor.account)

    keys, rendered = await run(build)
    return JSON(rendered, headers=link_header(request, keys))


async def show(request: Request) -> Response:
    actor = await require(request, "read:notifications")
    service = _service(request)

    def build() -> dict:
        found = service.get(actor.account, parse_id(request.path_params["id"]))
        rendered = service.render(found, actor.account)
        if rendered is None:
            raise NotFound("Cannot get notification")
        return rendered

    return JSON(await run(build))


async def dismiss(request: Request) -> Response:
    actor = await require(request, "write:notifications")
    raw = request.path_params.get("id")
    if raw is None:  # POST /api/v1/notifications/dismiss with the id in the body
        raw = str((await read_params(request)).get("id") or "")
    await run(_service(request).dismiss, actor.account, parse_id(raw))
    return JSON({})


async def clear(request: Request) -> Response:
    actor = await require(request, "write:notifications")
    await run(_service(request).clear, actor.account)
    return JSON({})


async def mark_read(request: Request) -> Response:
    """`id`: that notification, read (its entity); `max_id`: all up to it (the first 80 read, a list)."""
    actor = await require(request, "write:notifications")
    params = await read_params(request)
    one, up_to = id_param(params.get("id"), "id"), id_param(params.get("max_id"), "max_id")
    if one is None and up_to is None:
        raise BadRequest("Missing field: id or max_id.")
    if one is not None and up_to is not None:
        raise BadRequest("id and max_id are mutually exclusive")
    service = _service(request)

    def build():
        if one is not None:
            if service.render(service.get(actor.account, one), actor.account) is None:
                raise NotFound("Cannot get notification")
            return service.render(service.read_one(actor.account, one), actor.account)
        return service.render_many(service.read_up_to(actor.account, up_to), actor.account)

    return JSON(await run(build))
