"""Other servers: browse one's shared packs and download one; the [[sync]] mirror jobs.

Admins only, as the API's remote and sync routes are: browsing makes this server
fetch a URL (through the SSRF-guarded remote client). Previews load straight
from the remote server: its origin, and only it, is added to that page's img-src.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.context import ctx
from emojid.emoji.remote_packs import origin
from emojid.emoji.sync import remote_sha
from emojid.emoji.ui import queries
from emojid.emoji.ui.browse import notice, page_number, pager
from emojid.emoji.ui.downloads import Downloads
from emojid.emoji.ui.render import error_response, is_htmx, pack_url, redirect, render, viewer
from emojid.errors import EmojidError, NotFound
from emojid.http.params import text_param

REMOTE_PACKS_PER_PAGE = 24
PREVIEWS = 6


@dataclass(frozen=True)
class RemoteCard:
    """A pack as another server lists it; every value came from that server."""

    name: str
    description: str
    license: str
    homepage: str
    files_count: int
    previews: list[tuple[str, str]]  # (shortcode, image URL on the remote)
    downloadable: bool
    local: bool  # a local pack has this name already


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def remote_cards(base: str, answer: Any, local_names: set[str]) -> tuple[list[RemoteCard], int]:
    packs = answer.get("packs") if isinstance(answer, dict) else None
    if not isinstance(packs, dict):
        raise EmojidError(f"{base} sent a malformed pack listing", status=502)
    cards = []
    for name, entry in sorted(packs.items()):
        if not isinstance(name, str) or not isinstance(entry, dict):
            continue
        raw_meta, raw_files = entry.get("pack"), entry.get("files")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        files: dict[str, Any] = raw_files if isinstance(raw_files, dict) else {}
        count = entry.get("files_count")
        previews = [(shortcode, f"{base}/emoji/{quote(name, safe='')}/{quote(filename)}")
                    for shortcode, filename in list(files.items())[:PREVIEWS]
                    if isinstance(shortcode, str) and isinstance(filename, str)]
        cards.append(RemoteCard(
            name, _text(meta.get("description")), _text(meta.get("license")), _text(meta.get("homepage")),
            count if isinstance(count, int) else len(files), previews, remote_sha(meta) is not None,
            name in local_names))
    total = answer.get("count")
    return cards, total if isinstance(total, int) and total >= len(cards) else len(cards)


async def remote_page(request: Request) -> Response:
    url = (request.query_params.get("url") or "").strip()[:2000]
    admin = viewer(request).is_admin
    page = page_number(request)
    index = ctx(request).packs.index
    mirrors = await anyio.to_thread.run_sync(queries.mirrors, index) if admin else []
    context: dict[str, Any] = {"title": "Remote packs", "nav": "remote", "url": url, "cards": None, "base": None,
                               "mirrors": mirrors, "pager": None, "notice": notice(request)}
    status, img_origin = 200, None
    if url and not admin:
        status = 403  # the page says why
    elif url:
        try:
            base = origin(url)
            answer = await ctx(request).remote_packs.list_remote(url, page, REMOTE_PACKS_PER_PAGE)
            local = set(await anyio.to_thread.run_sync(index.pack_names))
            cards, total = remote_cards(base, answer, local)
            context.update(cards=cards, base=base, pager=pager(page, total, REMOTE_PACKS_PER_PAGE))
            img_origin = base
        except EmojidError as exc:
            context["error"] = f"Could not browse {url}: {exc.message}"
            status = exc.status
    return render(request, "remote.html", context, status, img_origin=img_origin)


def downloads(request: Request) -> Downloads:
    state = request.app.state
    found: Downloads | None = getattr(state, "ui_downloads", None)
    if found is None:
        found = state.ui_downloads = Downloads(ctx(request).remote_packs)
    return found


async def download(request: Request, params: dict[str, Any]) -> Response:
    """"Download {name}": the API's download as a task of this server. htmx gets its status
    fragment at once (which polls on until the pack is installed or the download failed);
    a plain form waits for the end and goes to the pack, or to the error."""
    url = text_param(params, "url", max_length=2000) or ""
    name = text_param(params, "name", max_length=256) or ""
    as_name = (text_param(params, "as", max_length=256) or "").strip() or None
    try:
        job = downloads(request).start(url, name, as_name)
    except EmojidError as exc:
        if not is_htmx(request):
            raise
        return render(request, "_download_error.html", {"error": exc.message}, exc.status)
    if is_htmx(request):
        return render(request, "_download_progress.html", {"job": job})
    assert job.task is not None
    await asyncio.shield(job.task)  # a browser that gives up does not stop the download
    if job.phase != "installed":
        raise EmojidError(job.error or "The download failed", status=job.status or 502)
    return redirect(request, pack_url(job.local, notice="downloaded"))


async def download_status(request: Request) -> Response:
    """The status fragment of one download (htmx polls it), or a page with it."""
    if not viewer(request).is_admin:
        return error_response(request, 403, "Only admins can download packs.")
    job = downloads(request).get(request.path_params["id"])
    if job is None:
        raise NotFound("There is no such download (they are kept a quarter of an hour after they end).")
    if is_htmx(request):
        return render(request, "_download_progress.html", {"job": job})
    return render(request, "download.html", {"title": f"Download of {job.name}", "nav": "remote", "job": job})


# -- sync ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobView:
    number: int
    url: str
    packs: list[str]
    interval_seconds: int
    as_prefix: str
    on_conflict: str
    state: str
    last_run: str | None
    next_run: str | None
    error: str | None
    updated: list[str]
    conflicts: list[str]


async def _jobs(request: Request) -> list[JobView]:
    syncer = ctx(request).syncer
    statuses = await anyio.to_thread.run_sync(syncer.statuses)
    return [
        JobView(i, job.url, job.packs, job.interval_seconds, job.as_prefix, job.on_conflict,
                status.result or "never run", status.last_run, status.next_run, status.error, status.updated,
                status.conflicts)
        for i, (job, status) in enumerate(zip(syncer.jobs, statuses, strict=True))
    ]


async def sync_page(request: Request) -> Response:
    jobs = await _jobs(request) if viewer(request).is_admin else []
    return render(request, "sync.html", {"title": "Sync", "nav": "sync", "jobs": jobs,
                                         "notice": notice(request)})


async def sync_now(request: Request, params: dict[str, Any]) -> Response:
    url = text_param(params, "url", max_length=2000) or ""
    job = next((j for j in ctx(request).syncer.jobs if j.url == url), None)
    if job is None:
        raise EmojidError(f"No [[sync]] job has the URL {url}", status=404)
    # One run of a job at a time from here: a double click waits for the first run.
    state = request.app.state
    running: dict[str, asyncio.Lock] | None = getattr(state, "ui_sync_runs", None)
    if running is None:
        running = state.ui_sync_runs = {}
    async with running.setdefault(url, asyncio.Lock()):
        await ctx(request).syncer.run_job(job)
    if is_htmx(request):
        jobs = [j for j in await _jobs(request) if j.url == url]
        return render(request, "_sync_job.html", {"job": jobs[0]})
    return redirect(request, "/ui/sync?notice=synced")
