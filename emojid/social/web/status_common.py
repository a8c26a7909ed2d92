"""What the status-area routes share: the services, flags, list parameters, timeline answers."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.index.accounts import Account
from emojid.context import ctx
from emojid.http.params import bool_param
from emojid.http.responses import JSON
from emojid.social.entities.statuses import StatusView
from emojid.social.index.statuses import Status
from emojid.social.paging import Page, link_header
from emojid.social.statuses import Statuses
from emojid.social.web.account_common import run


def statuses(request: Request) -> Statuses:
    return ctx(request).social.statuses


def status_view(request: Request) -> StatusView:
    return ctx(request).social.status_view()


def collect_lists(request: Request, params: dict, *names: str) -> dict:
    """Repeated `name[]`/`name` fields of the query and a form as lists (read_params keeps only the last)."""
    form = getattr(request.state, "form", None)
    for name in names:
        values: list = []
        for source in (request.query_params, form):
            if source is not None:
                values += [v for key in (f"{name}[]", name) for v in source.getlist(key)]
        if values and not isinstance(params.get(name), list):
            params[name] = values
        params.pop(f"{name}[]", None)
    return params


async def timeline(request: Request, viewer: Account | None,
                   fetch: Callable[[Page, dict], list[tuple[int, Status]]], maximum: int = 40) -> Response:
    params = dict(request.query_params)
    page = Page.parse(params, maximum=maximum)
    with_muted = bool_param(params, "with_muted")
    renderer = status_view(request)

    def build() -> tuple[list, list]:
        rows = fetch(page, params)
        return rows, renderer.render_many([s for _k, s in rows], viewer, with_muted=with_muted)

    rows, rendered = await run(build)
    return JSON(rendered, headers=link_header(request, [key for key, _ in rows]))
