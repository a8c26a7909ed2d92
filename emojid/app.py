"""build_app(config) -> the Starlette application, with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
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
from emojid.emoji.web.lists import AnswerCache, EmojiListCache
from emojid.emoji.web.serve import HotEmoji
from emojid.errors import EmojidError
from emojid.http.middleware import CloseForms, IgnoreTrailingSlash, LimitBodies, upload_body_limit
from emojid.http.responses import emojid_error, http_error, os_error, server_error
from emojid.http.uploads import sweep_uploads
from emojid.migrations import open_database
from emojid.remote import RemoteClient
from emojid.routes import routes
from emojid.social.index import SocialIndex
from emojid.social.services import Social

log = logging.getLogger("emojid.app")

# A store of at most SMALL_STORE folders is given up to RECONCILE_GRACE seconds to be
# reconciled before the first answer (as start-up always did); a bigger one is served at
# once, from the index as it was, while the start-up pass goes on in the background.
SMALL_STORE = 100
RECONCILE_GRACE = 0.3


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


async def start_up_pass(context: AppContext) -> None:
    """In the background while serving: remove what a crash left behind, then reconcile the
    index with the store pack by pack (PackService.reconcile_sync), with progress for the
    healthcheck. A restart answers from the index at once, whatever the size of the store."""
    service, indexing = context.packs, context.indexing
    watcher = context.watcher
    if watcher is not None and watcher.task is not None:
        # Watching once its first step is done: a hand edit from here on is seen.
        ready = asyncio.ensure_future(watcher.ready.wait())
        await asyncio.wait({ready, watcher.task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
    began = time.perf_counter()
    try:
        swept = await anyio.to_thread.run_sync(service.sweep_leftovers)
        swept += await anyio.to_thread.run_sync(sweep_uploads, context.config.cache_dir)
        if swept:
            log.info("removed %d leftovers of an earlier crash", swept)
        changed = await anyio.to_thread.run_sync(service.reconcile_sync, indexing.progress, indexing.stop)
        if not indexing.stop.is_set():
            log.info("index reconciled with %s: %d packs changed in %.1f s", context.config.packs_dir, changed,
                     time.perf_counter() - began)
    except Exception:
        # The index as it was is still served, and the watcher keeps it current from here.
        log.exception("reconciling the index with %s failed", context.config.packs_dir)
    finally:
        indexing.finished.set()


def build_app(config: Config, reload_config: Callable[[], Config] | None = None,
              reconcile_grace: float = RECONCILE_GRACE) -> Starlette:
    """The application. With `reload_config` (emojid serve), SIGHUP calls it and
    applies what can change while serving: the [[sync]] jobs and the log settings.
    `reconcile_grace`: how long start-up waits for the start-up pass over a small store."""

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
            emoji_lists=EmojiListCache(config.cache_dir / "lists"), pack_answers=AnswerCache(),
            accounts=accounts, auth=Authenticator(accounts),
            social=Social(social_index, config, remote),
        )
        app.state.ctx = context
        after_crash, folders = await anyio.to_thread.run_sync(service.store.glance)
        # Tasks take their first step in the order they are made: the archive builder and the
        # static frames set up their queues, and the watcher starts watching, before the
        # start-up pass (made last) reads a single pack. Nothing it finds is lost.
        context.tasks.append(asyncio.create_task(service.build_archives_forever(), name="emojid-archives"))
        context.tasks.append(asyncio.create_task(service.static_frames.build_forever(), name="emojid-static-frames"))
        if config.watch.enabled:
            context.watcher = Watcher(service, config.watch.debounce_ms)
            context.watcher.start()
        context.tasks.append(asyncio.create_task(start_up_pass(context), name="emojid-reconcile"))
        scheduler = SyncScheduler(context.syncer)
        scheduler.start(config.sync)
        loop = asyncio.get_running_loop()
        if reload_config is not None:
            loop.add_signal_handler(signal.SIGHUP, lambda: context.tasks.append(
                asyncio.create_task(reload(scheduler), name="emojid-reload")))
        try:
            if after_crash:
                # Writes were cut short: they are undone (or completed) and the index reconciled
                # before the first answer, so nobody is served a pack half written.
                log.info("an earlier run was interrupted mid-write: recovering before serving")
                await context.indexing.finished.wait()
            elif folders <= SMALL_STORE:
                # Reconciled before the first answer, as start-up always was, unless that takes
                # long; a big store is served from the index as it was while the pass goes on
                # (the healthcheck says so).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(context.indexing.finished.wait(), reconcile_grace)
            yield
        finally:
            context.indexing.stop.set()  # the pass ends after the pack it is reading
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
        middleware=[Middleware(HotEmoji),  # emoji files answered from memory skip the rest
                    Middleware(IgnoreTrailingSlash),
                    Middleware(LimitBodies, upload_limit=upload_body_limit(config)),
                    Middleware(CloseForms)],
        exception_handlers={EmojidError: emojid_error, HTTPException: http_error, OSError: os_error,
                            Exception: server_error},
    )
    app.router.redirect_slashes = False  # IgnoreTrailingSlash serves `/x/` as `/x`
    return app
