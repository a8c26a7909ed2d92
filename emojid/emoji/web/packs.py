"""Pack endpoints: list, show, create, update metadata, delete, import, archive."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict
from urllib.parse import quote

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.emoji.index.packs import PackRow
from emojid.emoji.web.lists import cached_answer
from emojid.errors import BadRequest
from emojid.http.offload import offloaded, redirect_target, wants_offload
from emojid.http.params import int_param, json_object, read_params, text_param
from emojid.http.responses import JSON, file_chunks, not_modified

log = logging.getLogger("emojid.packs")


class PackDocument(TypedDict):
    files: dict[str, str]
    files_count: int
    pack: dict[str, Any]


def pack_meta(row: PackRow) -> dict[str, Any]:
    """The "pack" object as listings show it: can-download, and download-sha256 when shareable."""
    meta = {k: v for k, v in row.meta.items() if k not in ("can-download", "download-sha256")}
    meta["can-download"] = row.shareable
    if row.shareable and row.archive_sha256:
        meta["download-sha256"] = row.archive_sha256
    return meta


def show_document(row: PackRow, files: dict[str, str]) -> PackDocument:
    """What GET /emoji/pack answers (and `emojid pack show` prints)."""
    return {"files": files, "files_count": row.files_count, "pack": pack_meta(row)}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def pack_name(params: dict[str, Any]) -> str:
    name = text_param(params, "name")
    if name is None or not name.strip():
        raise BadRequest("pack name cannot be empty")
    return name.strip()


async def _cached(request: Request, key: tuple[object, ...], build: Callable[[], Awaitable[bytes]]) -> Response:
    """The answer to `key` (route and its parameters, normalised) as kept for the index as
    it is now, else built and kept; ETag and 304 as the emoji lists. The answers are the
    same for every caller (nothing in them depends on who asks), so the caller is no part
    of the key. The generation is read before the index is: an answer is never older than
    the generation it is kept under."""
    c = ctx(request)
    generation = await anyio.to_thread.run_sync(c.packs.index.pack_generation)
    answer = c.pack_answers.get(generation, key)
    if answer is None:
        answer = c.pack_answers.put(generation, key, await build())
    return cached_answer(request, answer)


async def list_packs(request: Request) -> Response:
    params = await read_params(request)
    page = int_param(params, "page", 1, minimum=1)
    page_size = int_param(params, "page_size", 50, minimum=0)

    async def build() -> bytes:
        rows, count = await ctx(request).packs.list_page(page, page_size)
        # Each pack's files are stored as ready JSON: splice them in, do not re-encode.
        entries = ",".join(
            f'{_dumps(r.name)}:{{"files":{r.files_json},"pack":{_dumps(pack_meta(r))},"files_count":{r.files_count}}}'
            for r in rows
        )
        return f'{{"packs":{{{entries}}},"count":{count}}}'.encode()

    return await _cached(request, ("packs", page, page_size), build)


async def show_pack(request: Request) -> Response:
    params = await read_params(request)
    name = pack_name(params)
    page = int_param(params, "page", 1, minimum=1)
    page_size = int_param(params, "page_size", 30, minimum=0)

    async def build() -> bytes:
        row, files = await ctx(request).packs.show(name, page, page_size)
        return bytes(JSON(show_document(row, files)).body)  # encoded as every JSON answer is

    return await _cached(request, ("pack", name, page, page_size), build)


async def create_pack(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    await ctx(request).packs.create(pack_name(params))
    return JSON("ok")


async def update_pack(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    name = pack_name(params)
    if "metadata" not in params:
        raise BadRequest("Missing field: metadata.")
    metadata = params["metadata"]
    if isinstance(metadata, str):
        metadata = json_object(metadata, "metadata")  # a form field may carry the object as JSON text
    return JSON(await ctx(request).packs.update_metadata(name, metadata))


async def delete_pack(request: Request) -> Response:
    await require(request, "admin:write")
    params = await read_params(request)
    await ctx(request).packs.delete(pack_name(params))
    return JSON("ok")


async def import_packs(request: Request) -> Response:
    await require(request, "admin:write", changes_state=True)  # a GET that writes
    imported, skipped = await ctx(request).packs.import_packs()
    # Pleroma's answer is the list of names only: what was left out goes to the log.
    for skip in skipped:
        log.warning("import: pack %s: skipped %s: %s", skip.pack, skip.file, skip.reason)
    return JSON(imported)


async def archive(request: Request) -> Response:
    params = await read_params(request)
    name = (request.path_params.get("name") or pack_name(params)).strip()
    # Streamed from a file opened up front: a newer build may unlink it at any moment.
    row, fh = await ctx(request).packs.open_archive(name)
    quoted = quote(f"{name}.zip")
    headers = {
        "content-length": str(os.fstat(fh.fileno()).st_size),
        "content-disposition": f'attachment; filename="{name}.zip"' if quoted == f"{name}.zip"
        else f"attachment; filename*=utf-8''{quoted}",
        "x-download-sha256": row.sha256,
        "etag": f'"{row.sha256.lower()}"',
        "cache-control": "public, max-age=0, must-revalidate",  # same name, new bytes once the pack changes
    }
    if not_modified(request, headers["etag"]):
        fh.close()
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "content-length"})
    if request.method == "HEAD":
        fh.close()
        return Response(media_type="application/zip", headers=headers)
    if wants_offload(request.headers):  # nginx sends the bytes (emojid.http.offload)
        target = await anyio.to_thread.run_sync(redirect_target, request.headers, row.path)
        if target:
            fh.close()
            return offloaded(target, "application/zip", headers)
    return StreamingResponse(file_chunks(fh), media_type="application/zip", headers=headers,
                             background=BackgroundTask(fh.close))
