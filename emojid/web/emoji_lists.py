"""The global emoji lists: Mastodon's /api/v1/custom_emojis and Pleroma's /emoji.

With 100k emoji the bodies are megabytes: each is built once per index
generation, kept serialised, and answered with an ETag (304 when unchanged).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emojid.index import Index
from emojid.web.common import JSON, ctx


def emoji_path(pack: str, filename: str) -> str:
    return f"/emoji/{quote(pack)}/{quote(filename)}"


def build_custom_emojis(index: Index, base_url: str) -> list[dict]:
    return [
        {
            "shortcode": shortcode,
            "url": base_url + emoji_path(pack, filename),
            "static_url": base_url + emoji_path(pack, filename),
            "visible_in_picker": True,
            "tags": [f"pack:{pack}", *tags],
            "category": pack,
        }
        for shortcode, pack, filename, tags in index.all_emoji()
    ]


def build_pleroma_emoji(index: Index, base_url: str) -> dict:
    return {
        shortcode: {"image_url": emoji_path(pack, filename), "tags": [f"pack:{pack}", *tags]}
        for shortcode, pack, filename, tags in index.all_emoji()
    }


@dataclass
class _Cached:
    generation: int
    etag: str
    body: bytes


class EmojiListCache:
    def __init__(self) -> None:
        self._cached: dict[str, _Cached] = {}

    def get(self, kind: str, index: Index, base_url: str) -> _Cached:
        generation = index.generation()
        cached = self._cached.get(kind)
        if cached is None or cached.generation != generation:
            build = build_custom_emojis if kind == "mastodon" else build_pleroma_emoji
            body = json.dumps(build(index, base_url), ensure_ascii=False, separators=(",", ":")).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            cached = self._cached[kind] = _Cached(generation, etag, body)
        return cached


async def _serve(request: Request, kind: str) -> Response:
    c = ctx(request)
    cached = await anyio.to_thread.run_sync(c.emoji_lists.get, kind, c.index, c.config.public_url)
    headers = {"etag": cached.etag, "cache-control": "public, max-age=0, must-revalidate"}
    if cached.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return JSON(cached.body, headers=headers)


async def custom_emojis(request: Request) -> Response:
    return await _serve(request, "mastodon")


async def pleroma_emoji(request: Request) -> Response:
    return await _serve(request, "pleroma")


# Mounted under both Pleroma prefixes.
pleroma_routes = [Route("/emoji", pleroma_emoji, methods=["GET"])]
routes = [Route("/api/v1/custom_emojis", custom_emojis, methods=["GET"])]
