"""Static frames: the first frame of every animated emoji (GIF, APNG, animated WebP) as a
PNG of the same size, for clients that "reduce motion" (`static_url`).

Built once per file version, named by the SHA-256 of the file's bytes, into
`cache_dir/static/`: in the background after a pack is indexed (as archives are), or
on the first request for one not built yet. A file replaced by hand has new bytes, so
a new frame; the superseded one is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import anyio.to_thread
from PIL import Image

from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.files import FileFacts
from emojid.emoji.store import PackStore
from emojid.errors import EmojidError, NotFound
from emojid.files import make_temp_file, open_regular
from emojid.images import MAX_PIXELS

log = logging.getLogger("emojid.static_frames")


def first_frame_png(data: bytes) -> bytes:
    """The first frame of an image as PNG bytes, at the image's size; ValueError when the
    bytes are no image or too many pixels to decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise ValueError(f"{width}x{height} pixels is too many to decode")
                im.seek(0)
                frame = im.convert("RGBA")
    except ValueError:
        raise
    except Exception as exc:  # hostile bytes make Pillow raise all sorts
        raise ValueError(f"not a readable image ({exc.__class__.__name__}: {exc})") from None
    out = io.BytesIO()
    frame.save(out, "PNG")
    return out.getvalue()


def etag_of(sha256: str) -> str:
    return f'"s{sha256[:32]}"'


class StaticFrames:
    def __init__(self, directory: Path, index: EmojiIndex, store: PackStore) -> None:
        self.directory = directory
        self.index = index
        self.store = store
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._pending: asyncio.Queue[FileFacts] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def path_for(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.png"

    # -- serving ----------------------------------------------------------------------

    def locate(self, pack: str, filename: str) -> tuple[Path, str]:
        """(PNG path, ETag) of the static frame of an animated emoji, built if needed;
        NotFound for anything else."""
        facts = self.index.file_fact(pack, filename)
        if facts is None or not facts.animated:
            raise NotFound("Not found")
        path = self.path_for(facts.sha256)
        if path.is_file():
            return path, etag_of(facts.sha256)
        return self.build(facts)

    def build(self, facts: FileFacts) -> tuple[Path, str]:
        """Build the frame of the file as it is on disk now (it may be newer than `facts`)."""
        source = self.store.file_path(facts.pack, facts.filename)
        if source is None:
            raise NotFound("Not found")
        try:
            with open_regular(source) as fh:  # a FIFO put there since it was indexed would block
                data = fh.read()
        except OSError:
            raise NotFound("Not found") from None
        sha = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha)
        with self._lock(sha):
            if not target.is_file():
                try:
                    png = first_frame_png(data)
                except ValueError as exc:
                    log.warning("no static frame for %s/%s: %s", facts.pack, facts.filename, exc)
                    raise NotFound("Not found") from None
                self._write(target, png)
        return target, etag_of(sha)

    def _lock(self, sha: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 1024:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(sha, threading.Lock())

    def _write(self, target: Path, png: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp_file(dir=target.parent, prefix=".tmp-", suffix=".png")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(png)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- keeping up with the index -------------------------------------------------------

    def changed(self, old: Iterable[FileFacts], new: Iterable[FileFacts]) -> None:
        """A pack's files changed (called from the indexing thread): queue the new animated
        versions, remove the frames of versions no file has any more."""
        new = list(new)
        new_shas = {f.sha256 for f in new if f.animated}
        for facts in new:
            if facts.animated and not self.path_for(facts.sha256).is_file():
                self._queue(facts)
        for facts in old:
            if facts.animated and facts.sha256 not in new_shas and not self.index.animated_sha_in_use(facts.sha256):
                with contextlib.suppress(OSError):
                    self.path_for(facts.sha256).unlink()

    def _queue(self, facts: FileFacts) -> None:
        queue, loop = self._pending, self._loop
        if queue is not None and loop is not None:
            loop.call_soon_threadsafe(queue.put_nowait, facts)

    def _missing(self, older_than: float = 60) -> list[FileFacts]:
        """At start: the animated files without a frame; frames of versions gone meanwhile go."""
        animated = self.index.animated_files()
        wanted = {f.sha256 for f in animated}
        cutoff = time.time() - older_than
        for path in self.directory.glob("*/*.png"):
            if path.stem not in wanted:
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
        for path in self.directory.glob("*/.tmp-*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
        return [f for f in animated if not self.path_for(f.sha256).is_file()]

    async def build_forever(self) -> None:
        """Background task: build the frame of every animated emoji before anyone asks."""
        self._loop = asyncio.get_running_loop()
        self._pending = asyncio.Queue()
        for facts in await anyio.to_thread.run_sync(self._missing):
            self._pending.put_nowait(facts)
        while True:
            facts = await self._pending.get()
            try:
                if not await anyio.to_thread.run_sync(self.path_for(facts.sha256).is_file):
                    await anyio.to_thread.run_sync(self.build, facts)
            except EmojidError:
                pass  # changed or gone meanwhile; indexing the change queues it again
            except Exception:
                log.exception("building the static frame of %s/%s failed", facts.pack, facts.filename)
