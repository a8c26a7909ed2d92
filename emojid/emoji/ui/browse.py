"""The read-only pages, public as the pack API is: the packs with search, one pack."""

from __future__ import annotations

import math
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emojid.context import ctx
from emojid.emoji.index.packs import PackRow
from emojid.emoji.names import check_pack_name
from emojid.emoji.ui import queries
from emojid.emoji.ui.render import STATIC_FILES, STATIC_VERSION, error_response, headers, is_htmx, render, viewer
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
}


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return min(int(raw), 10**6) if raw.isdigit() and int(raw) > 0 else 1


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def facts_cache(request: Request) -> queries.DiskFactsCache:
    state = request.app.state
    cache: queries.DiskFactsCache | None = getattr(state, "ui_disk_facts", None)
    if cache is None:
        cache = state.ui_disk_facts = queries.DiskFactsCache(ctx(request).packs.store)
    return cache


def pager(page: int, total: int, per_page: int) -> dict[str, int]:
    return {"page": page, "pages": max(1, math.ceil(total / per_page)) if per_page else 1, "total": total}


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=303)


async def packs_page(request: Request) -> Response:
    service = ctx(request).packs
    page = page_number(request)
    query = (request.query_params.get("q") or "").strip()[:200]
    rows, count = await service.list_page(page, PACKS_PER_PAGE)
    cards = await anyio.to_thread.run_sync(queries.pack_cards, service.index, facts_cache(request), rows)
    results = await anyio.to_thread.run_sync(queries.search, service.index, query, SEARCH_RESULTS) if query else None
    return render(request, "packs.html", {
        "title": f"Search: {query}" if query else "Packs", "nav": "packs", "cards": cards, "query": query,
        "results": results, "pager": pager(page, count, PACKS_PER_PAGE), "notice": notice(request),
    })


async def new_pack_form(request: Request) -> Response:
    template = "_new_pack.html" if is_htmx(request) else "new_pack.html"
    if not viewer(request).is_admin:
        return error_response(request, 403, "Only admins can create packs.")
    return render(request, template, {"title": "New pack", "nav": "packs"})


async def load_pack(request: Request, name: str, page: int) -> tuple[PackRow | None, list[queries.Emoji]]:
    """The pack's row and one page of its emoji; (None, []) for a pack that is only
    known by its pack.json error."""
    service = ctx(request).packs
    name = check_pack_name(name)
    try:
        row, _files = await service.show(name, 1, 0)
    except NotFound:
        if await anyio.to_thread.run_sync(queries.pack_error, service.index, name) is None:
            raise
        return None, []
    emoji = await anyio.to_thread.run_sync(
        queries.page_of_pack, service.index, name, (page - 1) * EMOJI_PER_PAGE, EMOJI_PER_PAGE)
    return row, emoji


async def pack_context(request: Request, name: str, page: int | None = None) -> dict[str, Any]:
    """Everything the pack page shows."""
    page = page if page is not None else page_number(request)
    row, emoji = await load_pack(request, name, page)
    index = ctx(request).packs.index
    facts = await anyio.to_thread.run_sync(facts_cache(request).get, row) if row else queries.DiskFacts(0, [])
    findings = await anyio.to_thread.run_sync(queries.findings, index, facts_cache(request), ctx(request).config,
                                              name, row)
    mirror = await anyio.to_thread.run_sync(index.mirror, name) if viewer(request).is_admin else None
    return {
        "title": name, "nav": "packs", "name": name, "row": row, "meta": row.meta if row else {},
        "emoji": emoji, "facts": facts, "findings": findings, "mirror": mirror,
        "share_state": queries.share_state(row) if row else "unreadable",
        "pager": pager(page, row.files_count if row else 0, EMOJI_PER_PAGE), "notice": notice(request),
        "per_page": EMOJI_PER_PAGE, "upload_results": None, "meta_error": None, "meta_saved": False,
    }


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
