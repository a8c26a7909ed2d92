"""emojid's own emoji API, under /api/v1/emojid: the per-emoji listing and its metadata,
search, and packs exported to and imported from other fediverse software."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.emoji.index.catalog import EmojiRow
from emojid.emoji.interchange.exporting import export_pack
from emojid.emoji.interchange.importing import ImportOptions, check_options, import_archive
from emojid.emoji.names import check_pack_name
from emojid.emoji.urls import emoji_url, static_url
from emojid.emoji.web.packs import pack_name
from emojid.errors import BadRequest, NotFound, PayloadTooLarge
from emojid.http.params import bool_param, int_param, read_params, required, text_param
from emojid.http.responses import JSON, file_chunks
from emojid.http.uploads import spooled
from emojid.remote import RemoteTooLarge

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
SEARCH_LIMIT, MAX_SEARCH_LIMIT = 40, 200
MAX_QUERY = 256
# Reports in response headers stay small enough for any client's header limits.
MAX_HEADER = 8 << 10


def emoji_entry(row: EmojiRow, base_url: str) -> dict[str, Any]:
    """One emoji as the per-emoji listing shows it (facts null until its file is indexed)."""
    return {
        "shortcode": row.shortcode,
        "filename": row.filename,
        "url": emoji_url(base_url, row.pack, row.filename),
        "static_url": static_url(base_url, row.pack, row.filename, row.animated),
        "sha256": row.sha256,
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "animated": row.animated,
        "tags": row.tags,
        "license": row.meta.get("license"),
        "author": row.meta.get("author"),
        "source": row.meta.get("source"),
    }


async def list_emoji(request: Request) -> Response:
    params = await read_params(request)
    name = pack_name(params)
    page = int_param(params, "page", 1, minimum=1)
    page_size = min(int_param(params, "page_size", PAGE_SIZE, minimum=0), MAX_PAGE_SIZE)
    c = ctx(request)
    name = check_pack_name(name)
    index = c.packs.index
    row = await anyio.to_thread.run_sync(index.get_pack, name)
    if row is None:  # as pack show: a pack written a moment ago by another process is read now
        await c.packs.refresh(name)
        row = await anyio.to_thread.run_sync(index.get_pack, name)
    if row is None:
        error = await anyio.to_thread.run_sync(index.pack_error, name)
        raise NotFound(error or f"Pack {name} does not exist")

    def read() -> tuple[list[EmojiRow], list[dict[str, Any]]]:
        rows = index.pack_emoji(name, (page - 1) * page_size, page_size)
        return rows, [o.document() for o in index.origins(name)]

    rows, provenance = await anyio.to_thread.run_sync(read)
    return JSON({"pack": row.name, "count": row.files_count,
                 "emoji": [emoji_entry(r, c.config.public_url) for r in rows], "provenance": provenance})


async def update_emoji(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    name = check_pack_name(pack_name(params))
    shortcode = required(params, "shortcode")
    c = ctx(request)
    await c.packs.update_emoji_meta(name, shortcode, params)
    row = await anyio.to_thread.run_sync(c.packs.index.emoji_row, name, shortcode)
    if row is None:  # removed by hand this very moment
        raise NotFound(f'Emoji "{shortcode}" does not exist in pack {name}')
    return JSON(emoji_entry(row, c.config.public_url))


async def search(request: Request) -> Response:
    params = await read_params(request)
    query = text_param(params, "q", max_length=MAX_QUERY)
    if query is None:
        raise BadRequest("Missing field: q.")
    limit = min(int_param(params, "limit", SEARCH_LIMIT, minimum=0), MAX_SEARCH_LIMIT)
    c = ctx(request)
    hits = await anyio.to_thread.run_sync(c.packs.index.search_emoji, query, limit)
    base = c.config.public_url
    return JSON([{"shortcode": h.shortcode, "pack": h.pack, "url": emoji_url(base, h.pack, h.filename),
                  "static_url": static_url(base, h.pack, h.filename, h.animated), "tags": h.tags} for h in hits])


# -- export and import ----------------------------------------------------------------------


def _report_header(report: dict[str, str]) -> str:
    """As much of `report` as fits a header, as ASCII JSON."""
    kept: dict[str, str] = {}
    for key, value in report.items():
        if len(json.dumps({**kept, key: value})) > MAX_HEADER:
            break
        kept[key] = value
    return json.dumps(kept, separators=(",", ":"))


def attachment(filename: str) -> str:
    quoted = quote(filename)
    return f'attachment; filename="{filename}"' if quoted == filename else f"attachment; filename*=utf-8''{quoted}"


async def export(request: Request) -> Response:
    params = await read_params(request)
    name = pack_name(params)
    c = ctx(request)
    actor = await c.auth.actor(request)
    admin = bool(actor and actor.account and actor.account.is_admin and actor.has_scope("admin:read"))
    result = await export_pack(c.packs, name, text_param(params, "format") or "", admin)
    headers = {"content-length": str(result.size), "content-disposition": attachment(result.filename)}
    if result.sha256:
        headers["x-download-sha256"] = result.sha256
    for header, report in (("x-emojid-renamed", result.renamed), ("x-emojid-converted", result.converted),
                           ("x-emojid-skipped", result.skipped)):
        if report:
            headers[header] = _report_header(report)
            headers[f"{header}-count"] = str(len(report))
    if request.method == "HEAD":
        result.fh.close()
        return Response(media_type=result.media_type, headers=headers)
    return StreamingResponse(file_chunks(result.fh), media_type=result.media_type, headers=headers,
                             background=BackgroundTask(result.fh.close))


async def import_pack(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    options = check_options(text_param(params, "name"), text_param(params, "format"), bool_param(params, "dry_run"),
                            text_param(params, "on_conflict"))
    file, url = params.get("file"), text_param(params, "url")
    c = ctx(request)
    limit = c.config.remote.max_download_bytes
    if isinstance(file, UploadFile):
        async with spooled(request, file, limit) as upload:
            report = await import_archive(c.packs, upload.path, upload.filename or "the upload", options)
        return JSON(report.document())
    if file is not None and file != "":
        raise BadRequest("file must be an uploaded file (give a link as url)")
    if not url:
        raise BadRequest("Missing field: file (or url).")
    return JSON((await import_from_url(request, url, options)).document())


async def import_from_url(request: Request, url: str, options: ImportOptions) -> Any:
    c = ctx(request)
    try:
        got = await c.remote.download(url, c.config.cache_dir / "downloads")
    except RemoteTooLarge as exc:
        raise PayloadTooLarge(exc.message) from None
    try:
        return await import_archive(c.packs, got.path, url, options)
    finally:
        with contextlib.suppress(OSError):
            await anyio.to_thread.run_sync(Path.unlink, got.path)
