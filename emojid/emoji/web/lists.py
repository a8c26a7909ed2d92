"""The global emoji lists: Mastodon's /api/v1/custom_emojis and Pleroma's /emoji; and
the cache of the pack answers (listing and show pages).

With 100k emoji the bodies are megabytes. Each is written once per index
generation, entry by entry, to a file in cache_dir (hashed on the way for
its ETag) and served from there: memory stays flat however many emoji
there are, and an unchanged list answers 304. Pack pages are small: kept
in memory as bytes (`AnswerCache`), a bounded number of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable, Hashable, Iterator, Set
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid.context import ctx
from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.packs import EmojiEntry
from emojid.emoji.kept import Kept
from emojid.emoji.urls import emoji_path, static_url
from emojid.files import make_temp_file
from emojid.http.responses import JSON, FileAnswer, not_modified

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# Cached answers may be kept by clients and proxies, but must be checked again (ETag) each time.
REVALIDATE = "public, max-age=0, must-revalidate"


def etag_of_digest(sha256_hex: str) -> str:
    """The ETag of a body by its SHA256: the lists' and the pack answers' alike."""
    return '"' + sha256_hex[:32] + '"'


def custom_emoji_chunks(rows: Iterator[EmojiEntry], base_url: str,
                        animated: Set[tuple[str, str]] = frozenset()) -> Iterator[str]:
    """Mastodon's list: every emoji, category = its pack; `animated` (pack, filename) pairs
    get their static frame as static_url."""
    yield "["
    first = True
    for shortcode, pack, filename, tags in rows:
        url = base_url + emoji_path(pack, filename)
        still = static_url(base_url, pack, filename, (pack, filename) in animated)
        entry = {"shortcode": shortcode, "url": url, "static_url": still, "visible_in_picker": True,
                 "tags": [f"pack:{pack}", *tags], "category": pack}
        yield _encode(entry) if first else "," + _encode(entry)
        first = False
    yield "]"


def pleroma_emoji_chunks(rows: Iterator[EmojiEntry], base_url: str,
                         animated: Set[tuple[str, str]] = frozenset()) -> Iterator[str]:
    """Pleroma's map: shortcode -> {image_url, tags}; a shortcode in two packs: the first pack's."""
    yield "{"
    seen: set[str] = set()
    for shortcode, pack, filename, tags in rows:
        if shortcode in seen:
            continue
        entry = _encode(shortcode) + ":" + _encode({"image_url": emoji_path(pack, filename),
                                                     "tags": [f"pack:{pack}", *tags]})
        yield entry if not seen else "," + entry
        seen.add(shortcode)
    yield "}"


KINDS: dict[str, Callable[[Iterator[EmojiEntry], str, Set[tuple[str, str]]], Iterator[str]]] = {
    "mastodon": custom_emoji_chunks,
    "pleroma": pleroma_emoji_chunks,
}


@dataclass(frozen=True)
class ListFile:
    generation: int
    etag: str
    path: Path


class EmojiListCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, ListFile] = {}
        self._locks = {kind: threading.Lock() for kind in KINDS}

    def get(self, kind: str, index: EmojiIndex, base_url: str) -> ListFile:
        generation = index.generation()
        cached = self._files.get(kind)
        if cached and cached.generation == generation and cached.path.exists():
            return cached
        with self._locks[kind]:  # one build per kind at a time; the others wait for it
            cached = self._files.get(kind)
            if cached and cached.generation == index.generation() and cached.path.exists():
                return cached
            cached = self._files[kind] = self._build(kind, index, base_url)
            return cached

    def _build(self, kind: str, index: EmojiIndex, base_url: str) -> ListFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp_file(dir=self.directory, prefix=f".{kind}-")
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, index.emoji_snapshot() as (generation, rows):
                # File facts, read after the snapshot began: never older than it (a newer state has
                # a newer generation, so this list is built again). Bytes that are no image, or not
                # of their extension, are not served as emoji (lint reports them).
                facts = index.list_facts()
                servable = (row for row in rows if (row[1], row[2]) not in facts.bad)
                for chunk in KINDS[kind](servable, base_url, facts.animated):
                    data = chunk.encode()
                    digest.update(data)
                    out.write(data)
            target = self.directory / f"{kind}-{generation}.json"
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        for old in self.directory.glob(f"{kind}-*.json"):
            if old != target:
                with contextlib.suppress(OSError):
                    old.unlink()
        return ListFile(generation, etag_of_digest(digest.hexdigest()), target)


@dataclass(frozen=True)
class Answer:
    body: bytes
    etag: str


class AnswerCache:
    """JSON answers built from the index (pack listing and pack show pages), kept as bytes
    with their ETag while the index stays as it was: an unchanged page is neither read
    from SQLite nor encoded again. Keyed on (generation, what was asked). Bounded: least
    recently used out beyond `entries` answers or `max_bytes`; a body over an eighth of
    `max_bytes` (a page_size of thousands) is answered but not kept."""

    def __init__(self, entries: int = 256, max_bytes: int = 32 << 20) -> None:
        self._kept: Kept[Answer] = Kept(entries, max_bytes, lambda answer: len(answer.body))

    def get(self, generation: tuple[int, ...], key: Hashable) -> Answer | None:
        return self._kept.get(generation, key)

    def put(self, generation: tuple[int, ...], key: Hashable, body: bytes) -> Answer:
        return self._kept.put(generation, key, Answer(body, etag_of_digest(hashlib.sha256(body).hexdigest())))

    def __len__(self) -> int:
        return len(self._kept)


def cached_answer(request: Request, answer: Answer) -> Response:
    """The answer, or 304 when If-None-Match names its ETag."""
    headers = {"etag": answer.etag, "cache-control": REVALIDATE}
    if not_modified(request, answer.etag):
        return Response(status_code=304, headers=headers)
    return JSON(answer.body, headers=headers)


async def _serve(request: Request, kind: str) -> Response:
    c = ctx(request)
    listed = await anyio.to_thread.run_sync(c.emoji_lists.get, kind, c.packs.index, c.config.public_url)
    headers = {"etag": listed.etag, "cache-control": REVALIDATE}
    if not_modified(request, listed.etag):
        return Response(status_code=304, headers=headers)
    return FileAnswer(listed.path, media_type="application/json", headers=headers)


async def custom_emojis(request: Request) -> Response:
    return await _serve(request, "mastodon")


async def pleroma_emoji(request: Request) -> Response:
    return await _serve(request, "pleroma")


# Mounted under both Pleroma prefixes.
