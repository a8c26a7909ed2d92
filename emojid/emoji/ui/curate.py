"""The admin's edits: packs, emoji files, metadata. Every write goes through
PackService, the API's one write path, so the rules and the errors are the API's.

Each form works without JavaScript (a POST answered by a page or a 303); with
htmx the answer is the fragment that replaces what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from emojid.context import ctx
from emojid.emoji.names import check_pack_name, extension, stem
from emojid.emoji.packs import PackService
from emojid.emoji.remote_packs import COMPUTED_KEYS
from emojid.emoji.ui import queries
from emojid.emoji.ui.browse import pack_context, pack_row, page_number
from emojid.emoji.ui.render import domid, error_response, is_htmx, pack_url, redirect, render, viewer
from emojid.emoji.zips import ZipLimits, checked_entries, is_litter, looks_like_zip, open_zip
from emojid.errors import BadRequest, EmojidError, NotFound
from emojid.http.params import text_param
from emojid.http.uploads import Upload, spooled

# The metadata fields the pack form edits; every other key of pack.json's "pack" is kept.
META_FIELDS = ("description", "license", "homepage")


@dataclass(frozen=True)
class UploadResult:
    """One file of an upload (or one entry of an uploaded zip): added, or skipped and why."""

    file: str
    shortcode: str | None
    added: bool
    reason: str = ""


def _name(request: Request) -> str:
    return check_pack_name(request.path_params["name"])


def _shortcode(params: dict[str, Any]) -> str:
    shortcode = text_param(params, "shortcode", max_length=512)
    if not shortcode:
        raise BadRequest("Missing field: shortcode.")
    return shortcode


def _confirmed(params: dict[str, Any]) -> bool:
    return text_param(params, "confirmed") == "1"


# -- packs ------------------------------------------------------------------------------


async def create_pack(request: Request, params: dict[str, Any]) -> Response:
    name = (text_param(params, "name", max_length=256) or "").strip()
    try:
        await ctx(request).packs.create(name)
    except EmojidError as exc:
        template = "_new_pack.html" if is_htmx(request) else "new_pack.html"
        return render(request, template, {"title": "New pack", "nav": "packs", "error": exc.message,
                                          "value": name}, exc.status)
    return redirect(request, pack_url(name, notice="created"))


async def delete_pack(request: Request, params: dict[str, Any]) -> Response:
    name = _name(request)
    if not _confirmed(params):
        return render(request, "confirm.html", {
            "title": f"Delete {name}", "nav": "packs", "question": f"Delete the pack {name} and all its files?",
            "action": pack_url(name, "/delete"), "fields": {}, "back": pack_url(name),
            "button": f"Delete {name}"})
    await ctx(request).packs.delete(name)
    return redirect(request, "/ui/?notice=pack-deleted")


async def save_metadata(request: Request, params: dict[str, Any]) -> Response:
    name = _name(request)
    service = ctx(request).packs
    row, _files = await service.show(name, 1, 0)
    meta = {k: v for k, v in row.meta.items() if k not in COMPUTED_KEYS}
    for field in META_FIELDS:
        value = (text_param(params, field, max_length=10_000) or "").strip()
        if value:
            meta[field] = value
        else:
            meta.pop(field, None)
    meta["share-files"] = params.get("share_files") not in (None, "", "off", "false")
    error = None
    try:
        await service.update_metadata(name, meta)
    except EmojidError as exc:
        error = exc
    context = await pack_context(request, name)
    if error is not None:
        context["meta"] = meta  # show what was typed, with why it was refused
        context["meta_error"] = error.message
    else:
        context["meta_saved"] = True
    status = error.status if error else 200
    if is_htmx(request):
        return render(request, "_settings_answer.html", context, status)
    if error is None:
        return redirect(request, pack_url(name, notice="saved"))
    return render(request, "pack.html", context, status)


# -- emoji ------------------------------------------------------------------------------


async def rename_form(request: Request) -> Response:
    """The "Rename :S:" button: the tile as a form (htmx), or a page with the form."""
    name = _name(request)
    shortcode = request.query_params.get("shortcode") or ""
    if not viewer(request).is_admin:
        return error_response(request, 403, "Only admins can change packs.")
    emoji = await _find_emoji(request, name, shortcode)
    return _rename_answer(request, name, emoji, None, 200)


async def tile(request: Request) -> Response:
    """One emoji's tile, as the grid shows it (the rename form's Cancel)."""
    name = _name(request)
    emoji = await _find_emoji(request, name, request.query_params.get("shortcode") or "")
    return render(request, "_tile.html", {"name": name, "e": emoji, "page": page_number(request)})


def _rename_answer(request: Request, name: str, emoji: queries.Emoji, error: str | None, status: int,
                   value: str | None = None) -> Response:
    context = {"name": name, "e": emoji, "error": error, "value": value if value is not None else emoji.shortcode,
               "title": f"Rename :{emoji.shortcode}:", "nav": "packs"}
    return render(request, "_tile_rename.html" if is_htmx(request) else "rename.html", context, status)


async def _find_emoji(request: Request, name: str, shortcode: str) -> queries.Emoji:
    found = await anyio.to_thread.run_sync(queries.emoji_in_pack, ctx(request).packs.index, name, shortcode)
    if found is None:
        raise NotFound(f"Pack {name} has no emoji :{shortcode}:")
    return found


async def rename_emoji(request: Request, params: dict[str, Any]) -> Response:
    name = _name(request)
    shortcode = _shortcode(params)
    new_shortcode = (text_param(params, "new_shortcode", max_length=512) or "").strip()
    emoji = await _find_emoji(request, name, shortcode)
    try:
        await ctx(request).packs.update_file(name, shortcode, new_shortcode, emoji.filename, False)
    except EmojidError as exc:
        return _rename_answer(request, name, emoji, exc.message, exc.status, new_shortcode)
    if is_htmx(request):
        renamed = await _find_emoji(request, name, new_shortcode)
        return render(request, "_tile.html", {"name": name, "e": renamed})
    return redirect(request, pack_url(name, notice="renamed"))


# -- per-emoji metadata (tags) -------------------------------------------------------------


async def tags_form(request: Request) -> Response:
    """The "Tags :S:" button: the tile as a form (htmx), or a page with the form."""
    name = _name(request)
    if not viewer(request).is_admin:
        return error_response(request, 403, "Only admins can change packs.")
    emoji = await _find_emoji(request, name, request.query_params.get("shortcode") or "")
    return _tags_answer(request, name, emoji, None, 200, page_number(request))


def _tags_answer(request: Request, name: str, emoji: queries.Emoji, error: str | None, status: int, page: int,
                 value: str | None = None) -> Response:
    context = {"name": name, "e": emoji, "error": error, "page": page,
               "value": value if value is not None else ", ".join(emoji.tags),
               "title": f"Tags of :{emoji.shortcode}:", "nav": "packs"}
    return render(request, "_tile_tags.html" if is_htmx(request) else "tags.html", context, status)


async def save_tags(request: Request, params: dict[str, Any]) -> Response:
    """Sets the emoji's tags (comma-separated; empty clears them) as the API's PATCH does."""
    name = _name(request)
    shortcode = _shortcode(params)
    value = text_param(params, "tags", max_length=10_000) or ""
    page = page_number_from(params, request)
    emoji = await _find_emoji(request, name, shortcode)
    try:
        await ctx(request).packs.update_emoji_meta(name, shortcode, {"tags": value})
    except EmojidError as exc:
        return _tags_answer(request, name, emoji, exc.message, exc.status, page, value)
    if is_htmx(request):
        saved = await _find_emoji(request, name, shortcode)
        return render(request, "_tile.html", {"name": name, "e": saved, "page": page})
    return redirect(request, pack_url(name, notice="tags-saved", page=page if page > 1 else None) + "#"
                    + domid(shortcode))


async def delete_emoji(request: Request, params: dict[str, Any]) -> Response:
    name = _name(request)
    shortcode = _shortcode(params)
    if not _confirmed(params):
        return render(request, "confirm.html", {
            "title": f"Delete :{shortcode}:", "nav": "packs",
            "question": f"Delete :{shortcode}: from {name}? Its file is removed from the pack folder.",
            "action": pack_url(name, "/emoji/delete"), "fields": {"shortcode": shortcode},
            "back": pack_url(name), "button": f"Delete :{shortcode}:"})
    await ctx(request).packs.remove_file(name, shortcode)
    if is_htmx(request):
        row = await pack_row(request, name)
        return render(request, "_deleted.html", {"name": name, "shortcode": shortcode,
                                                 "count": row.files_count if row else 0})
    return redirect(request, pack_url(name, notice="deleted"))


async def upload(request: Request, params: dict[str, Any]) -> Response:
    """"Add emoji": several images, or zips of them, in one form; a result per file."""
    name = _name(request)
    service = ctx(request).packs
    form = getattr(request.state, "form", None)
    files = [f for f in (form.getlist("file") if form is not None else []) if isinstance(f, UploadFile)]
    files = [f for f in files if f.filename or f.size]
    results: list[UploadResult] = []
    limit = max(service.config.emoji.max_file_bytes, service.config.remote.max_download_bytes)
    for file in files:
        label = file.filename or "upload"
        try:
            async with spooled(request, file, limit) as spooled_file:
                if await anyio.to_thread.run_sync(looks_like_zip, spooled_file.path, spooled_file.content_type):
                    results += await _add_zip(service, name, spooled_file)
                else:
                    await service.add_file(name, spooled_file, None, None)
                    results.append(UploadResult(label, stem(label), True))
        except EmojidError as exc:
            if isinstance(exc, NotFound) and not await anyio.to_thread.run_sync(service.store.exists, name):
                raise
            results.append(UploadResult(label, stem(label) if not label.endswith(".zip") else None, False,
                                        exc.message))
    if not files:
        results.append(UploadResult("", None, False, "No file was chosen."))
    page = page_number_from(params, request)
    context = await pack_context(request, name, page)
    context["upload_results"] = results
    template = "_upload_answer.html" if is_htmx(request) else "pack.html"
    return render(request, template, context)


def page_number_from(params: dict[str, Any], request: Request) -> int:
    raw = params.get("page")
    return min(int(raw), 10**6) if isinstance(raw, str) and raw.isdigit() and int(raw) > 0 else page_number(request)


async def _add_zip(service: PackService, name: str, upload: Upload) -> list[UploadResult]:
    """Adds a zip through PackService (which keeps what it can and skips the rest), then
    tells entry by entry what happened, judged as PackService judges."""
    before = set(await anyio.to_thread.run_sync(queries.shortcodes, service.index, name))
    after = await service.add_file(name, upload, None, None)
    config = service.config
    limits = ZipLimits(max_total_bytes=config.remote.max_download_bytes, max_entry_bytes=config.emoji.max_file_bytes)

    def report() -> list[UploadResult]:
        label = upload.filename or "the uploaded zip"
        with open_zip(upload.path, label) as zf:
            entries = checked_entries(zf, limits, label)
        results, seen = [], set()
        for rel, info in sorted(entries.items()):
            if is_litter(rel):
                continue
            shortcode = stem(rel)
            if shortcode not in before and after.get(shortcode) == rel:
                results.append(UploadResult(rel, shortcode, True))
                seen.add(shortcode)
                continue
            if extension(rel) not in config.emoji.allowed_extensions:
                reason = f"not an emoji file type ({', '.join(config.emoji.allowed_extensions)})"
            elif not re.fullmatch(config.emoji.shortcode_pattern, shortcode):
                reason = f"the shortcode {shortcode!r} does not match {config.emoji.shortcode_pattern}"
            elif shortcode in seen:
                reason = "another file in the zip has the same shortcode"
            elif info.file_size > config.emoji.max_file_bytes:
                reason = f"larger than {config.emoji.max_file_bytes} bytes"
            elif shortcode in before:
                reason = f":{shortcode}: is already in this pack"
            elif (owner := service.index.shortcode_owner(shortcode)) is not None and owner != name:
                reason = f":{shortcode}: already exists in the pack {owner}"
            else:
                reason = "not a readable image, or its file name is taken"
            seen.add(shortcode)
            results.append(UploadResult(rel, shortcode, False, reason))
        return results or [UploadResult(label, None, False, "the zip holds no files")]

    return await anyio.to_thread.run_sync(report)

