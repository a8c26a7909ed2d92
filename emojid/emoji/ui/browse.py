"""The read-only pages, public as the pack API is: the packs with search, one pack."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emojid.context import ctx
from emojid.emoji.index.packs import PackRow
from emojid.emoji.kept import Kept
from emojid.emoji.names import check_pack_name
from emojid.emoji.packs import PackService
from emojid.emoji.ui import queries
from emojid.emoji.ui.render import (
    STATIC_FILES,
    STATIC_VERSION,
    TEMPLATES,
    error_response,
    headers,
    is_htmx,
    render,
    viewer,
)
from emojid.errors import NotFound
from emojid.http.responses import not_modified

PACKS_PER_PAGE = 24
EMOJI_PER_PAGE = 120  # a grid of 2, 3, 4, 5, 6, 8, 10 or 12 columns fills evenly
SEARCH_RESULTS = 60
# Texts for ?notice=... after a redirect; only these, never text from the URL.
NOTICES = {
    "created": "Pack created. Add emoji below.",
    "saved": "Pack saved.",
    "renamed": "Emoji renamed.",
    "deleted": "Emoji deleted.",
    "pack-deleted": "Pack deleted.",
    "downloaded": "Pack downloaded.",
    "logged-out": "You are logged out.",
    "synced": "Sync finished; see its state below.",
    "tags-saved": "Tags saved.",
}
# Stands for the viewer's CSRF token in a kept grid: random, so no shortcode can hold it.
GRID_CSRF = "csrf-" + secrets.token_hex(16)


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return min(int(raw), 10**6) if raw.isdigit() and int(raw) > 0 else 1


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


@dataclass
class Caches:
    """What the pages keep between requests: sizes on disk by pack version; lint findings,
    rendered grids (one page of a pack's tiles) and pages of pack cards by index generation."""

    facts: queries.DiskFactsCache
    findings: Kept[list[queries.Finding]] = field(default_factory=lambda: Kept(256))
    grids: Kept[str] = field(default_factory=lambda: Kept(32))
    cards: Kept[tuple[list[queries.PackCard], int]] = field(default_factory=lambda: Kept(16))


def caches(request: Request) -> Caches:
    state = request.app.state
    found: Caches | None = getattr(state, "ui_caches", None)
    if found is None:
        found = state.ui_caches = Caches(queries.DiskFactsCache(ctx(request).packs.store))
    return found


def facts_cache(request: Request) -> queries.DiskFactsCache:
    return caches(request).facts


@dataclass(frozen=True)
class GridViewer:
    """The viewer a kept grid is rendered for: only whether they edit, and a stand-in token."""

    is_admin: bool
    csrf: str = GRID_CSRF


def pager(page: int, total: int, per_page: int) -> dict[str, int]:
    return {"page": page, "pages": max(1, math.ceil(total / per_page)) if per_page else 1, "total": total}


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=303)


async def packs_page(request: Request) -> Response:
    index = ctx(request).packs.index
    kept = caches(request)
    page = page_number(request)
    query = (request.query_params.get("q") or "").strip()[:200]

    def read() -> tuple[list[queries.PackCard], int, list[queries.Emoji] | None]:
        generation = index.pack_generation()
        found = kept.cards.get(generation, page)
        if found is None:
            rows = index.list_packs((page - 1) * PACKS_PER_PAGE, PACKS_PER_PAGE)
            found = kept.cards.put(generation, page, (queries.pack_cards(index, kept.facts, rows),
                                                      index.count_packs()))
        return found[0], found[1], queries.search(index, query, SEARCH_RESULTS) if query else None

    cards, count, results = await anyio.to_thread.run_sync(read)
    return render(request, "packs.html", {
        "title": f"Search: {query}" if query else "Packs", "nav": "packs", "cards": cards, "query": query,
        "results": results, "pager": pager(page, count, PACKS_PER_PAGE), "notice": notice(request),
    })


async def new_pack_form(request: Request) -> Response:
    template = "_new_pack.html" if is_htmx(request) else "new_pack.html"
    if not viewer(request).is_admin:
        return error_response(request, 403, "Only admins can create packs.")
    return render(request, template, {"title": "New pack", "nav": "packs"})


async def pack_row(request: Request, name: str) -> PackRow | None:
    """The pack's row; None for a pack that is only known by its pack.json error."""
    service = ctx(request).packs
    name = check_pack_name(name)
    try:
        row, _files = await service.show(name, 1, 0)
    except NotFound:
        if await anyio.to_thread.run_sync(queries.pack_error, service.index, name) is None:
            raise
        return None
    return row


async def pack_context(request: Request, name: str, page: int | None = None) -> dict[str, Any]:
    """Everything the pack page shows, read in one worker thread: the pack, its problems,
    and its grid (kept, rendered, per index generation; the viewer's CSRF token put in)."""
    page = page if page is not None else page_number(request)
    name = check_pack_name(name)
    seen = viewer(request)
    service, kept = ctx(request).packs, caches(request)
    config = ctx(request).config
    key = (name, page, seen.is_admin)

    def read() -> tuple[queries.PackView, str]:
        view = queries.pack_view(service.index, kept.facts, kept.findings, config, name, seen.is_admin)
        grid = kept.grids.get(view.generation, key)
        if grid is None:
            grid = kept.grids.put(view.generation, key, render_grid(name, page, view, seen.is_admin, service))
        return view, grid

    view, grid = await anyio.to_thread.run_sync(read)
    if view.row is None and view.error is None:
        # The watcher may not have seen a pack written a moment ago by another process.
        await service.refresh(name)
        view, grid = await anyio.to_thread.run_sync(read)
        if view.row is None and view.error is None:
            raise NotFound(f"Pack {name} does not exist")
    row = view.row
    return {
        "title": name, "nav": "packs", "name": name, "row": row, "meta": row.meta if row else {},
        "grid": Markup(grid.replace(GRID_CSRF, seen.csrf)), "facts": view.facts, "findings": view.findings,
        "mirror": view.mirror, "share_state": queries.share_state(row) if row else "unreadable",
        "pager": pager(page, row.files_count if row else 0, EMOJI_PER_PAGE), "notice": notice(request),
        "per_page": EMOJI_PER_PAGE, "upload_results": None, "meta_error": None, "meta_saved": False,
    }


def render_grid(name: str, page: int, view: queries.PackView, admin: bool, service: PackService) -> str:
    """One page of the pack's tiles, as HTML to keep (blocking: a worker thread)."""
    emoji = queries.page_of_pack(service.index, name, (page - 1) * EMOJI_PER_PAGE, EMOJI_PER_PAGE) \
        if view.row else []
    return TEMPLATES.env.get_template("_grid.html").render({
        "viewer": GridViewer(admin), "name": name, "row": view.row, "emoji": emoji, "page": page,
        "pager": pager(page, view.row.files_count if view.row else 0, EMOJI_PER_PAGE),
    })


async def pack_page(request: Request) -> Response:
    return render(request, "pack.html", await pack_context(request, request.path_params["name"]))


async def static_file(request: Request) -> Response:
    found = STATIC_FILES.get(request.path_params["name"])
    if found is None:
        return Response("Not found", status_code=404, media_type="text/plain", headers=headers())
    data, media_type = found
    etag = f'"{STATIC_VERSION}"'
    # A versioned URL never changes; an unversioned one (the OAuth pages' stylesheet) revalidates.
    cache = "public, max-age=31536000, immutable" if request.query_params.get("v") == STATIC_VERSION \
        else "public, no-cache"
    answer_headers = {**headers(), "ETag": etag, "Cache-Control": cache}
    del answer_headers["Vary"]
    if not_modified(request, etag):
        return Response(status_code=304, headers=answer_headers)
    return Response(data, media_type=media_type, headers=answer_headers)


async def not_found(request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        # Read what the browser is still sending (within the upload limit), so it gets this answer
        # instead of a connection closed under it.
        limit, read = ctx(request).config.remote.max_download_bytes + (1 << 20), 0
        async for chunk in request.stream():
            read += len(chunk)
            if read > limit:
                break
    return error_response(request, 404, "There is no page here.")
