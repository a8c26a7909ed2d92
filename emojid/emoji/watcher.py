"""Watches packs_dir and sends every hand edit through the same write path as the API.

Only the packs named by an event are re-read: no full rescan.

watchfiles cannot name a path that is not UTF-8: with inotify, any event on one
(even another program reading the file) fails the whole watch. While the store
holds such a name, the watcher polls instead (only a change of that very path
fails a poll) and re-reads the store after every failure; once the names are
gone it watches with inotify again. Nothing on disk stops it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import anyio.to_thread
import watchfiles

from emojid.emoji.packs import PackService

log = logging.getLogger("emojid.watcher")


def _innermost(exc: BaseException) -> BaseException:
    """The error inside the exception groups anyio wraps it in."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class Watcher:
    # While polling: how often packs_dir is walked, and how often we look whether the
    # names that are not UTF-8 are gone (so inotify can watch again).
    POLL_MS = 500
    RECHECK_SECONDS = 30

    def __init__(self, service: PackService, debounce_ms: int = 50) -> None:
        self.service = service
        self.root = service.config.packs_dir
        self.debounce_ms = debounce_ms
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        # True while a name that is not UTF-8 is in packs_dir (see the module docstring).
        self.polling = False
        self._rescan_task: asyncio.Task[None] | None = None
        self._rescan_again = False

    @property
    def state(self) -> str:
        if self.task is None:
            return "stopped"
        return "dead" if self.task.done() else "alive"

    def pack_of(self, path: str) -> str | None:
        """The pack a changed path belongs to; None for our own temp and trash folders."""
        try:
            rel = Path(path).relative_to(self.root)
        except ValueError:
            return None
        if not rel.parts or rel.parts[0].startswith("."):
            return None
        return rel.parts[0]

    async def run(self) -> None:
        """Watch until stopped. When watching fails, it starts again (polling while a name
        that is not UTF-8 is there) and re-reads the whole store: the events lost with it."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.ready.set()
        failures = 0
        loop = asyncio.get_running_loop()
        while not self.stop_event.is_set():
            checked = loop.time()
            try:
                async for changes in watchfiles.awatch(
                    self.root,
                    stop_event=self.stop_event,
                    debounce=self.debounce_ms,
                    step=10,
                    recursive=True,
                    force_polling=self.polling,
                    poll_delay_ms=self.POLL_MS,
                    rust_timeout=self.RECHECK_SECONDS * 1000 if self.polling else None,
                    yield_on_timeout=self.polling,
                    # Our own atomic writes go through ".tmp-" files: only the result matters.
                    watch_filter=lambda _change, path: not Path(path).name.startswith(".tmp-"),
                ):
                    failures = 0
                    await self._changed(changes)
                    if self.polling and loop.time() - checked >= self.RECHECK_SECONDS:
                        checked = loop.time()
                        if not await anyio.to_thread.run_sync(self.service.store.has_undecodable_names):
                            self.polling = False
                            log.info("no file name in %s is invalid UTF-8 any more: watching with inotify again",
                                     self.root)
                            break
            except Exception as exc:
                failures += 1
                reason = _innermost(exc)
                if "decode" in str(reason) and not self.polling:
                    self.polling = True
                    log.warning("%s holds a file name that is not valid UTF-8, which inotify events cannot "
                                "name (%s): polling every %d ms until it is renamed", self.root, reason,
                                self.POLL_MS)
                else:
                    log.warning("watching %s failed (%s); watching again and re-reading every pack",
                                self.root, reason)
                await asyncio.sleep(min(0.05 * 2 ** failures, 10))
                # Runs once the new watch is set up (right after this), catching what was missed.
                self._rescan()
        if self._rescan_task is not None:
            self._rescan_task.cancel()

    async def _changed(self, changes: set[tuple[watchfiles.Change, str]]) -> None:
        names = {name for _change, path in changes if (name := self.pack_of(path)) is not None}
        for name in sorted(names):
            try:
                if await self.service.refresh(name):
                    log.info("pack %s changed on disk", name)
            except Exception:
                log.exception("re-reading pack %s failed", name)

    def _rescan(self) -> None:
        """Re-read the whole store in the background (again, if a re-read is under way)."""
        self._rescan_again = True
        if self._rescan_task is None or self._rescan_task.done():
            self._rescan_task = asyncio.create_task(self._rescanning(), name="emojid-watcher-rescan")

    async def _rescanning(self) -> None:
        while self._rescan_again:
            self._rescan_again = False
            try:
                changed = await anyio.to_thread.run_sync(self.service.reconcile_sync)
            except Exception:
                log.exception("re-reading %s failed", self.root)
            else:
                if changed:
                    log.info("%d packs changed on disk", changed)

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name="emojid-watcher")

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task:
            try:
                await asyncio.wait_for(self.task, 5)
            except (TimeoutError, asyncio.CancelledError):
                self.task.cancel()
            except Exception:
                log.exception("watcher stopped with an error")
