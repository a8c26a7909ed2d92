"""Events (rebased's routes and the documented ones), scrobbles and location search.

Edits are accepted as the documented POST and as rebased's PUT; the
calendar file as the documented POST and as rebased's GET.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emojid import locations
from emojid.account_view import AccountView
from emojid.auth import require
from emojid.errors import BadRequest, NotFound, Unauthorized
from emojid.events import Events
from emojid.index.accounts import Account
from emojid.index.statuses import Status
from emojid.locations import Location
from emojid.scrobbles import Scrobbles
from emojid.status_view import StatusView
from emojid.timelines import Page, link_header
from emojid.web.account_common import optional_account, run
from emojid.web.common import JSON, ctx, read_params, text_param


def paged(request: Request, body: object, keys: list) -> Response:
    return JSON(body, headers=link_header(request, keys))


async def account_by_id_or_nickname(request: Request, viewer: Account | None) -> Account:
    index = ctx(request).index
    key = request.path_params["id"]
    account = await run(index.account_by_id if key.isdigit() else index.account_by_nickname, key)
    if account is None or not await run(AccountView(index, ctx(request).config).visible, account, viewer):
        raise NotFound("Can't find user")
    return account


# -- scrobbles -----------------------------------------------------------------------------


def _scrobbles(request: Request) -> Scrobbles:
    return Scrobbles(ctx(request).index, ctx(request).config)


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
    return Events(ctx(request).index, ctx(request).config)


async def _location(request: Request, params: dict) -> tuple[Location | None, bool]:
    """(the place `location_id` names, whether one was given); unknown ids name no place, as in rebased."""
    if "location_id" not in params:
        return None, False
    location_id = text_param(params, "location_id")
    if not location_id:
        return None, True
    return await locations.provider(request.app).get_by_id(location_id), True


def _rendered(request: Request, status: Status, viewer: Account | None) -> dict:
    return StatusView(ctx(request).index, ctx(request).config).render(status, viewer)


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
        view = StatusView(ctx(request).index, ctx(request).config)
        return view.render_many([s for _k, s in rows], account), [k for k, _s in rows]

    body, keys = await run(build)
    return paged(request, body, keys)


async def participations(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    view = AccountView(ctx(request).index, ctx(request).config)
    return JSON(await run(lambda: view.accounts(events.participants(account, status_id), account)))


async def participation_requests(request: Request) -> Response:
    actor = await require(request, "read:statuses")
    page = Page.parse(await read_params(request))
    events, account, status_id = _events(request), actor.account, request.path_params["id"]
    view = AccountView(ctx(request).index, ctx(request).config)

    def build() -> tuple[list, list]:
        found = events.requests(account, status_id, page)
        body = [{"account": view.account(who, account), "participation_message": row.message} for row, who in found]
        return body, [row.id for row, _who in found]

    body, keys = await run(build)
    return paged(request, body, keys)


def _answer(accept: bool):
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


routes: list[BaseRoute] = []
pleroma_routes: list[BaseRoute] = [
    Route("/events", create_event, methods=["POST"]),
    Route("/events/joined_events", joined_events, methods=["GET"]),
    Route("/events/{id}", update_event, methods=["POST", "PUT"]),
    Route("/events/{id}/participations", participations, methods=["GET"]),
    Route("/events/{id}/participation_requests", participation_requests, methods=["GET"]),
    Route("/events/{id}/participation_requests/{participant_id}/authorize", _answer(True), methods=["POST"]),
    Route("/events/{id}/participation_requests/{participant_id}/reject", _answer(False), methods=["POST"]),
    Route("/events/{id}/join", join_event, methods=["POST"]),
    Route("/events/{id}/leave", leave_event, methods=["POST"]),
    Route("/events/{id}/ics", event_ics, methods=["GET", "POST"]),
    Route("/scrobble", create_scrobble, methods=["POST"]),
    Route("/accounts/{id}/scrobbles", list_scrobbles, methods=["GET"]),
    Route("/search/location", search_location, methods=["GET"]),
]
