"""Mastodon status routes: post, show, delete, thread, favourite, bookmark, and the timelines.

Scopes are Pleroma's StatusController/TimelineController ones; reads that do
not need an account proceed anonymously (and see only public statuses).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.auth.index.accounts import Account
from emojid.context import ctx
from emojid.errors import Forbidden, NotFound
from emojid.http.params import bool_param, read_params
from emojid.http.responses import JSON
from emojid.social.index.statuses import Status
from emojid.social.paging import Page
from emojid.social.statuses import Statuses, list_param
from emojid.social.web.account_common import account_by_id, optional_account, run, view
from emojid.social.web.status_common import collect_lists, status_view, statuses, timeline

# -- single statuses --------------------------------------------------------------------------


async def create(request: Request) -> Response:
    actor = await require(request, "write:statuses")
    params = collect_lists(request, await read_params(request), "media_ids", "to")
    renderer = status_view(request)

    def build() -> dict:
        status = statuses(request).create(actor.account, params)
        return renderer.render(status, actor.account)

    return JSON(await run(build))


async def show_many(request: Request) -> Response:
    """GET /api/v1/statuses?id[]=...: those the caller may read, at most 100, unknown ids left out."""
    viewer = await optional_account(request, "read:statuses")
    params = collect_lists(request, dict(request.query_params), "id", "ids")
    ids = list_param(params, "id") or list_param(params, "ids")
    with_muted = bool_param(params, "with_muted")
    renderer = status_view(request)

    def build() -> list:
        service = statuses(request)
        found = [service.find_visible(viewer, i) for i in ids[:100]]
        return renderer.render_many([s for s in found if s is not None], viewer, with_muted=with_muted)

    return JSON(await run(build))


async def show(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    with_muted = bool_param(dict(request.query_params), "with_muted")
    renderer = status_view(request)

    def build() -> dict:
        status = statuses(request).get_visible(viewer, request.path_params["id"])
        return renderer.render(status, viewer, with_muted=with_muted)

    return JSON(await run(build))


async def delete(request: Request) -> Response:
    actor = await require(request, "write:statuses")
    renderer = status_view(request)

    def build() -> dict:
        service = statuses(request)
        status = service.deletable(actor.account, request.path_params["id"])
        rendered = renderer.render(status, actor.account, with_source=True)  # before what it shows is gone
        service.delete(actor.account, status.id)
        return rendered

    return JSON(await run(build))


async def context(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    renderer = status_view(request)

    def build() -> dict:
        service = statuses(request)
        ancestors, descendants = service.context(viewer, service.get_visible(viewer, request.path_params["id"]))
        return {"ancestors": renderer.render_many(ancestors, viewer),
                "descendants": renderer.render_many(descendants, viewer)}

    return JSON(await run(build))


async def favourited_by(request: Request) -> Response:
    viewer = await optional_account(request, "read:accounts")
    renderer = status_view(request)

    def build() -> list:
        index = ctx(request).social.index
        status = statuses(request).get_visible(viewer, request.path_params["id"])
        hidden = index.hidden_reactors(viewer.id, with_muted=True) if viewer else set()  # the viewer's blocks
        accounts = [a for a in index.accounts_by_ids(index.favourited_by(status.id))
                    if not a.disabled and a.id not in hidden]
        return [renderer.account_entity(a, viewer) for a in accounts]

    return JSON(await run(build))


def _acting(scope: str, act: Callable[[Statuses, Account, str, dict], Status]):
    """POST /statuses/:id/<verb>: do it, answer the status as it is now."""

    async def handler(request: Request) -> Response:
        actor = await require(request, scope)
        params = await read_params(request)
        renderer = status_view(request)

        def build() -> dict:
            status = act(statuses(request), actor.account, request.path_params["id"], params)
            return renderer.render(status, actor.account)

        return JSON(await run(build))

    return handler


favourite = _acting("write:favourites", lambda s, a, i, p: s.favourite(a, i))
unfavourite = _acting("write:favourites", lambda s, a, i, p: s.unfavourite(a, i))
bookmark = _acting("write:bookmarks", lambda s, a, i, p: s.bookmark(a, i, p.get("folder_id")))
unbookmark = _acting("write:bookmarks", lambda s, a, i, p: s.unbookmark(a, i))

# -- timelines ----------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    service = statuses(request)
    return await timeline(request, actor.account,
                          lambda page, p: service.home(actor.account, page, bool_param(p, "with_muted")))


async def public(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    service = statuses(request)
    return await timeline(request, viewer, lambda page, p: service.public(
        viewer, page, only_media=bool_param(p, "only_media"), with_muted=bool_param(p, "with_muted")))


async def account_statuses(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    author = await account_by_id(request, "Can't find user")
    if not await run(view(request).visible, author, viewer):
        raise NotFound("Can't find user")
    service = statuses(request)

    def fetch(page: Page, p: dict) -> list:
        if bool_param(p, "pinned"):
            return []  # nothing is pinned here
        return service.by_account(viewer, author, page, only_media=bool_param(p, "only_media"),
                                  exclude_replies=bool_param(p, "exclude_replies"), tagged=p.get("tagged"))

    return await timeline(request, viewer, fetch)


async def bookmarks(request: Request) -> Response:
    actor = await require(request, "read:bookmarks")
    service = statuses(request)
    return await timeline(request, actor.account,
                          lambda page, p: service.bookmarks(actor.account, page, p.get("folder_id") or None))


async def favourites(request: Request) -> Response:
    actor = await require(request, "read:favourites")
    service = statuses(request)
    return await timeline(request, actor.account, lambda page, p: service.favourites(actor.account, page))


async def account_favourites(request: Request) -> Response:
    """Pleroma's favourites of any account: 403 while it hides them (the default)."""
    viewer = await optional_account(request, "read:favourites")
    account = await account_by_id(request)
    if not await run(view(request).visible, account, viewer):
        raise NotFound("Record not found")
    if (await run(ctx(request).social.index.profile, account.id)).flag("hide_favorites"):
        raise Forbidden("Can't get favorites")
    service = statuses(request)
    return await timeline(request, viewer, lambda page, p: service.favourited_by_account(viewer, account, page))


async def quotes(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    service = statuses(request)
    status = await run(service.get_visible, viewer, request.path_params["id"])
    return await timeline(request, viewer, lambda page, p: service.quotes(viewer, status, page))
