"""Events (rebased's routes and the documented ones), scrobbles and location search.

Edits are accepted as the documented POST and as rebased's PUT; the
calendar file as the documented POST and as rebased's GET.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.auth.index.accounts import Account
from emojid.context import ctx
from emojid.errors import BadRequest, NotFound, Unauthorized
from emojid.http.params import read_params, text_param
from emojid.http.responses import JSON
from emojid.social import locations
from emojid.social.entities.accounts import AccountView
from emojid.social.events import Events
from emojid.social.index.statuses import Status
from emojid.social.locations import Location
from emojid.social.paging import Page, link_header
from emojid.social.scrobbles import Scrobbles
from emojid.social.web.account_common import optional_account, run


def paged(request: Request, body: object, keys: list) -> Response:
    return JSON(body, headers=link_header(request, keys))


async def account_by_id_or_nickname(request: Request, viewer: Account | None) -> Account:
    index = ctx(request).social.index
    key = request.path_params["id"]
    account = await run(index.account_by_id if key.isdigit() else index.account_by_nickname, key)
    if account is None or not await run(AccountView(index, ctx(request).config).visible, account, viewer):
        raise NotFound("Can't find user")
    return account


# -- scrobbles -----------------------------------------------------------------------------


def _scrobbles(request: Request) -> Scrobbles:
    return ctx(request).social.scrobbles


async def create_scrobble(request: Request) -> Response:
    actor = await require(request, "write")
    params = await read_params(request)
    scrobbles = _scrobbles(request)
    account = actor.account
    return JSON(await run(lambda: scrobbles.render(scrobbles.create(account, params), account, account)))


async def list_scrobbles(request: Request) -> Response:
    viewer = await optional_account(request, "read")
    params = await read_params(request)
    page = Page.parse(params)
    owner = await account_by_id_or_nickname(request, viewer)
    scrobbles = _scrobbles(request)
    rows = await run(scrobbles.list, owner, viewer, page)
    body = await run(lambda: [scrobbles.render(r, owner, viewer) for r in rows])
    return paged(request, body, [r.id for r in rows])


# -- location search -----------------------------------------------------------------------


async def search_location(request: Request) -> Response:
    # Any signed-in caller, whatever its scopes (Pleroma: `scopes: []`).
    actor = await ctx(request).auth.actor(request)
    if actor is None or actor.account is None:
        raise Unauthorized("Invalid credentials")
    params = await read_params(request)
    query = text_param(params, "q")
    if query is None:
        raise BadRequest("Missing field: q.")
    found = await locations.provider(request.app).search(query, text_param(params, "locale"),
                                                         text_param(params, "type"))
    return JSON([location.render() for location in found])


# -- events ---------------------------------------------------------------------------------


def _events(request: Request) -> Events:
    return ctx(request).social.events


async def _location(request: Request, params: dict) -> tuple[Location | None, bool]:
    """(the place `location_id` names, whether one was given); unknown ids name no place, as in rebased."""
    if "location_id" not in params:
        return None, False
    location_id = text_param(params, "location_id")
    if not location_id:
        return None, True
    return await locations.provider(request.app).get_by_id(location_id), True


def _rendered(request: Request, status: Status, viewer: Account | None) -> dict:
    return ctx(request).social.status_view().render(status, viewer)


async def create_event(request: Request) -> Response:
    actor = await require(request, "write:statuses")
    params = await read_params(request)
    location, _given = await _location(request, params)
    events = _events(request)
    account = actor.account
    return JSON(await run(lambda: _rendered(request, events.create(account, params, location), account)))


async def update_event(request: Request) -> Response:
    actor = await require(request, "write:statuses")
    params = await read_params(request)
    location, given = await _location(request, params)
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    return JSON(await run(lambda: _rendered(
        request, events.update(account, status_id, params, location, given), account)))


async def joined_events(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    params = await read_params(request)
    page, state = Page.parse(params), text_param(params, "state")
    events, account = _events(request), actor.account

    def build() -> tuple[list, list]:
        rows = events.joined(account, page, state or None)
        view = ctx(request).social.status_view()
        return view.render_many([s for _k, s in rows], account), [k for k, _s in rows]

    body, keys = await run(build)
    return paged(request, body, keys)


async def participations(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    view = ctx(request).social.account_view()
    return JSON(await run(lambda: view.accounts(events.participants(account, status_id), account)))


async def participation_requests(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    page = Page.parse(await read_params(request))
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    view = ctx(request).social.account_view()

    def build() -> tuple[list, list]:
        found = events.requests(account, status_id, page)
        body = [{"account": view.account(who, account), "participation_message": row.message} for row, who in found]
        return body, [row.id for row, _who in found]

    body, keys = await run(build)
    return paged(request, body, keys)


def answer_participation(accept: bool):
    async def handler(request: Request) -> Response:
        actor = await require(request, "write:statuses")
        events, account = _events(request), actor.account
        status_id, participant_id = request.path_params["id"], request.path_params["participant_id"]
        return JSON(await run(lambda: _rendered(
            request, events.answer(account, status_id, participant_id, accept), account)))

    return handler


async def join_event(request: Request) -> Response:
    actor = await require(request, "write:statuses")
    params = await read_params(request)
    message = text_param(params, "participation_message")
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    return JSON(await run(lambda: _rendered(request, events.join(account, status_id, message), account)))


async def leave_event(request: Request) -> Response:
    actor = await require(request, "write:statuses")
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    return JSON(await run(lambda: _rendered(request, events.leave(account, status_id), account)))


async def event_ics(request: Request) -> Response:
    viewer = await optional_account(request, "read:statuses")
    events, status_id = _events(request), request.path_params["id"]
    text = await run(events.calendar, viewer, status_id)
    return Response(text, media_type="text/calendar; charset=utf-8",
                    headers={"content-disposition": f'inline; filename="event-{status_id}.ics"'})
