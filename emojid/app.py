"""build_app(config) -> the Starlette application, with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from emojid import logs
from emojid.auth.accounts import Accounts
from emojid.auth.callers import Authenticator
from emojid.auth.index import AuthIndex
from emojid.config import Config, SyncJob
from emojid.context import AppContext
from emojid.emoji.packs import PackService
from emojid.emoji.remote_packs import RemotePacks
from emojid.emoji.sync import Syncer
from emojid.emoji.watcher import Watcher
from emojid.emoji.web.lists import EmojiListCache
from emojid.errors import EmojidError
from emojid.http.middleware import CloseForms, IgnoreTrailingSlash, LimitBodies, upload_body_limit
from emojid.http.responses import emojid_error, http_error, server_error
from emojid.http.uploads import sweep_uploads
from emojid.migrations import open_database
from emojid.remote import RemoteClient
from emojid.routes import routes
from emojid.social.index import SocialIndex
from emojid.social.services import Social

log = logging.getLogger("emojid.app")


class SyncScheduler:
    """The [[sync]] jobs running inside serve; `restart` swaps in a new list (SIGHUP)."""

    def __init__(self, syncer: Syncer) -> None:
        self.syncer = syncer
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, jobs: list[SyncJob]) -> None:
        self.syncer.jobs = jobs
        self._stop = asyncio.Event()
        if jobs:
            self._task = asyncio.create_task(self.syncer.run_forever(self._stop), name="emojid-sync")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def restart(self, jobs: list[SyncJob]) -> None:
        await self.stop()
        self.start(jobs)


def build_app(config: Config, reload_config: Callable[[], Config] | None = None) -> Starlette:
    """The application. With `reload_config` (emojid serve), SIGHUP calls it and
    applies what can change while serving: the [[sync]] jobs and the log settings."""

    async def reload(scheduler: SyncScheduler) -> None:
        assert reload_config is not None
        try:
            new = await anyio.to_thread.run_sync(reload_config)
        except EmojidError as exc:
            log.error("SIGHUP: config not reloaded: %s", exc)
            return
        logs.configure(new.server.log_level, new.server.log_timestamps)
        if new.sync != scheduler.syncer.jobs:
            await scheduler.restart(new.sync)
        log.info("SIGHUP: reloaded log settings and %d sync jobs (other changes need a restart)", len(new.sync))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = await anyio.to_thread.run_sync(open_database, config.database_path)
        service = PackService.open(config, database)
        social_index = SocialIndex(database)
        accounts = Accounts(AuthIndex(database), pending_reason=social_index.pending_reason)
        remote = RemoteClient(config.remote)
        remote_packs = RemotePacks(service, remote)
        service.fallback_checker = remote_packs.fallback_sha256
        context = AppContext(
            config, database, remote,
            packs=service, remote_packs=remote_packs, syncer=Syncer(service, remote_packs, config.sync),
            emoji_lists=EmojiListCache(config.cache_dir / "lists"),
            accounts=accounts, auth=Authenticator(accounts),
            social=Social(social_index, config, remote),
        )
        app.state.ctx = context
        swept = await anyio.to_thread.run_sync(service.sweep_leftovers)
        swept += await anyio.to_thread.run_sync(sweep_uploads, config.cache_dir)
        if swept:
            log.info("removed %d leftovers of an earlier crash", swept)
        changed = await anyio.to_thread.run_sync(service.reconcile_sync)
        log.info("index reconciled with %s: %d packs changed", config.packs_dir, changed)
        context.tasks.append(asyncio.create_task(service.build_archives_forever(), name="emojid-archives"))
        context.tasks.append(asyncio.create_task(service.static_frames.build_forever(), name="emojid-static-frames"))
        scheduler = SyncScheduler(context.syncer)
        scheduler.start(config.sync)
        loop = asyncio.get_running_loop()
        if reload_config is not None:
            loop.add_signal_handler(signal.SIGHUP, lambda: context.tasks.append(
                asyncio.create_task(reload(scheduler), name="emojid-reload")))
        if config.watch.enabled:
            context.watcher = Watcher(service, config.watch.debounce_ms)
            context.watcher.start()
        try:
            yield
        finally:
            if reload_config is not None:
                loop.remove_signal_handler(signal.SIGHUP)
            await scheduler.stop()
            if context.watcher:
                await context.watcher.stop()
            for task in context.tasks:
                task.cancel()
            for task in context.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await context.social.aclose()
            await remote.aclose()
            database.close()

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[Middleware(IgnoreTrailingSlash),
                    Middleware(LimitBodies, upload_limit=upload_body_limit(config)),
                    Middleware(CloseForms)],
        exception_handlers={EmojidError: emojid_error, HTTPException: http_error, Exception: server_error},
    )
    app.router.redirect_slashes = False  # IgnoreTrailingSlash serves `/x/` as `/x`
    return app
