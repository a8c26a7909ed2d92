"""Watches packs_dir and sends every hand edit through the same write path as the API.

Only the packs named by an event are re-read: no full rescan.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import watchfiles

from emojid.emoji.packs import PackService

log = logging.getLogger("emojid.watcher")


class Watcher:
    def __init__(self, service: PackService, debounce_ms: int = 50) -> None:
        self.service = service
        self.root = service.config.packs_dir
        self.debounce_ms = debounce_ms
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

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
        self.root.mkdir(parents=True, exist_ok=True)
        self.ready.set()
        async for changes in watchfiles.awatch(
            self.root,
            stop_event=self.stop_event,
            debounce=self.debounce_ms,
            step=10,
            recursive=True,
            # Our own atomic writes go through ".tmp-" files: only the result matters.
            watch_filter=lambda _change, path: not Path(path).name.startswith(".tmp-"),
        ):
            names = {name for _change, path in changes if (name := self.pack_of(path)) is not None}
            for name in sorted(names):
                try:
                    if await self.service.refresh(name):
                        log.info("pack %s changed on disk", name)
                except Exception:
                    log.exception("re-reading pack %s failed", name)

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
