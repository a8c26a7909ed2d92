"""build_app(config) -> the Starlette application, with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from emojid.accounts import Accounts
from emojid.auth import Authenticator
from emojid.config import Config
from emojid.errors import EmojidError
from emojid.index import Index
from emojid.packs import PackService
from emojid.remote import RemoteClient
from emojid.remote_packs import RemotePacks
from emojid.sync import Syncer
from emojid.store import PackStore
from emojid.watcher import Watcher
from emojid.web import routes
from starlette.middleware import Middleware

from emojid.web.common import CloseForms, IgnoreTrailingSlash, emojid_error, http_error, server_error
from emojid.web.emoji_lists import EmojiListCache

log = logging.getLogger("emojid.app")


@dataclass
class AppContext:
    """The long-lived objects every handler reaches through request.app.state.ctx."""

    config: Config
    packs: PackService
    accounts: Accounts
    auth: Authenticator
    remote_packs: RemotePacks
    syncer: Syncer
    emoji_lists: EmojiListCache
    watcher: Watcher | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def index(self) -> Index:
        return self.packs.index

    @property
    def store(self) -> PackStore:
        return self.packs.store

    def job_queue_stats(self) -> dict:
        return self.syncer.queue_stats()


def build_app(config: Config) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service = await anyio.to_thread.run_sync(PackService.open, config)
        accounts = Accounts(service.index)
        remote = RemoteClient(config.remote)
        remote_packs = RemotePacks(service, remote)
        service.fallback_checker = remote_packs.fallback_sha256
        syncer = Syncer(service, remote_packs, config.sync)
        context = AppContext(config, service, accounts, Authenticator(accounts), remote_packs, syncer,
                             EmojiListCache(config.cache_dir / "lists"))
        app.state.ctx = context
        swept = await anyio.to_thread.run_sync(service.sweep_leftovers)
        if swept:
            log.info("removed %d leftovers of an earlier crash", swept)
        changed = await anyio.to_thread.run_sync(service.reconcile_sync)
        log.info("index reconciled with %s: %d packs changed", config.packs_dir, changed)
        context.tasks.append(asyncio.create_task(service.build_archives_forever(), name="emojid-archives"))
        stop_sync = asyncio.Event()
        if config.sync:
            context.tasks.append(asyncio.create_task(syncer.run_forever(stop_sync), name="emojid-sync"))
        if config.watch.enabled:
            context.watcher = Watcher(service, config.watch.debounce_ms)
            context.watcher.start()
        try:
            yield
        finally:
            stop_sync.set()
            if context.watcher:
                await context.watcher.stop()
            for task in context.tasks:
                task.cancel()
            for task in context.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await remote.aclose()
            service.close()

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[Middleware(IgnoreTrailingSlash), Middleware(CloseForms)],
        exception_handlers={EmojidError: emojid_error, HTTPException: http_error, Exception: server_error},
    )
    app.router.redirect_slashes = False  # IgnoreTrailingSlash serves `/x/` as `/x`
    return app
