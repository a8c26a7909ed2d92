"""The sync daemon: mirror packs from other servers on a schedule.

A mirrored pack is downloaded again only when the remote's download-sha256
(or fallback-src-sha256) differs from the one it was installed from, so an
unchanged pack costs nothing beyond the listing. A pack edited here since it
was installed (its fingerprint moved) is handled by the job's `on_conflict`:
skip it, move the local copy aside and install ("rename"), or "replace" it.
Job status lives in SQLite, so `serve`, `emojid sync --once` and
`emojid sync --status` all see the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread

from emojid.config import SyncJob
from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.sync_jobs import JobStatus
from emojid.emoji.installer import adopt_interrupted_mirror
from emojid.emoji.packs import PackService
from emojid.emoji.remote_packs import RemotePacks, origin
from emojid.errors import EmojidError
from emojid.progress import Meters

log = logging.getLogger("emojid.sync")

LISTING_PAGE_SIZE = 200
BACKOFF_START_SECONDS = 30


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def remote_sha(meta: dict[str, Any]) -> str | None:
    """The checksum a remote pack would be installed from, or None if it is not shareable."""
    if meta.get("can-download") is True and meta.get("download-sha256"):
        return str(meta["download-sha256"]).upper()
    if meta.get("fallback-src") and meta.get("fallback-src-sha256"):
        return str(meta["fallback-src-sha256"]).upper()
    return None


class Syncer:
    def __init__(self, service: PackService, remote_packs: RemotePacks, jobs: list[SyncJob],
                 progress: Meters | None = None) -> None:
        """`progress` meters each pack's download and unpacking (`emojid sync --once`)."""
        self.service = service
        self.remote_packs = remote_packs
        self.jobs = jobs
        self.progress = progress

    @property
    def index(self) -> EmojiIndex:
        return self.service.index

    async def _listing(self, base: str) -> dict[str, Any]:
        packs: dict[str, Any] = {}
        page = 1
        while True:
            answer = await self.remote_packs.list_remote(base, page, LISTING_PAGE_SIZE, check=False)
            chunk = answer.get("packs") if isinstance(answer, dict) else None
            if not isinstance(chunk, dict):
                raise EmojidError(f"{base} sent a malformed pack listing", status=500)
            packs.update(chunk)
            if not chunk or len(packs) >= int(answer.get("count") or 0):
                return packs
            page += 1

    async def run_job(self, job: SyncJob) -> JobStatus:
        status = await anyio.to_thread.run_sync(self.index.job_status, job.url)
        status.last_run, status.error, status.updated, status.conflicts = _iso(_now()), None, [], []
        problems: list[str] = []
        try:
            base = origin(job.url)
            await self.remote_packs.check_shareable(base)
            listing = await self._listing(base)
            names = sorted(listing) if "*" in job.packs else list(job.packs)
            for name in names:
                entry = listing.get(name)
                sha = remote_sha(entry.get("pack") or {}) if isinstance(entry, dict) else None
                if sha is None:
                    if "*" not in job.packs:
                        problems.append(f"{name}: not shareable on {base}" if entry else f"{name}: not on {base}")
                    continue
                try:
                    await self._sync_pack(job, base, name, sha, status)
                except EmojidError as exc:
                    log.warning("sync %s: pack %s failed: %s", base, name, exc)
                    problems.append(f"{name}: {exc}")
        except EmojidError as exc:
            problems.append(str(exc))
        except Exception as exc:  # one bad remote never stops the others
            log.exception("sync job %s crashed", job.url)
            problems.append(f"internal error: {exc}")
        if problems:
            status.result, status.error = "failed", "; ".join(problems)
            status.failures += 1
            delay = min(job.interval_seconds, BACKOFF_START_SECONDS * 2 ** (status.failures - 1))
        else:
            status.result = "conflict" if status.conflicts else "ok"
            status.failures = 0
            delay = job.interval_seconds
        status.next_run = _iso(_now() + timedelta(seconds=delay))
        await anyio.to_thread.run_sync(self.index.save_job_status, status)
        log.info("sync %s: %s (updated %s, conflicts %s)%s", job.url, status.result, status.updated,
                 status.conflicts, f": {status.error}" if status.error else "")
        return status

    async def _sync_pack(self, job: SyncJob, base: str, name: str, sha: str, status: JobStatus) -> None:
        local = job.as_prefix + name
        await adopt_interrupted_mirror(self.service, local)  # a kill may have cut its last install short
        mirror = await anyio.to_thread.run_sync(self.index.mirror, local)
        exists = await anyio.to_thread.run_sync(self.service.store.exists, local)
        # The mirror record, when it is of this very remote pack.
        ours = mirror if mirror is not None and mirror.source_url == base and mirror.remote_name == name else None
        if exists and ours is not None and ours.sha256.upper() == sha:
            return  # unchanged: the listing was all it cost
        replace = False
        if exists:
            current = await anyio.to_thread.run_sync(self.service.store.load, local)
            if ours is None or current.fingerprint != ours.fingerprint:
                log.warning("sync %s: local pack %s was edited here (conflict, on_conflict=%s)",
                            base, local, job.on_conflict)
                status.conflicts.append(local)
                if job.on_conflict == "skip":
                    return
                if job.on_conflict == "rename":
                    aside = f"{local}-local-{_now().strftime('%Y%m%d%H%M%S')}"
                    await self.service.rename_pack(local, aside)
                    log.warning("sync %s: kept the local copy of %s as %s", base, local, aside)
            replace = await anyio.to_thread.run_sync(self.service.store.exists, local)
        remote_pack = await self.remote_packs.describe(base, name, check=False)
        await self.remote_packs.install(remote_pack, local, replace=replace, progress=self.progress)
        status.updated.append(local)

    async def run_once(self) -> list[JobStatus]:
        return list(await asyncio.gather(*(self.run_job(job) for job in self.jobs)))

    async def _job_loop(self, job: SyncJob, stop: asyncio.Event) -> None:
        while not stop.is_set():
            status = await anyio.to_thread.run_sync(self.index.job_status, job.url)
            due = datetime.fromisoformat(status.next_run) if status.next_run else _now()
            wait = (due - _now()).total_seconds()
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                continue
            await self.run_job(job)

    async def run_forever(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._job_loop(job, stop) for job in self.jobs))

    def statuses(self) -> list[JobStatus]:
        return [self.index.job_status(job.url) for job in self.jobs]

    def queue_stats(self) -> dict[str, int]:
        statuses = self.statuses()
        return {
            "sync_jobs": len(statuses),
            "sync_ok": sum(s.result == "ok" for s in statuses),
            "sync_failed": sum(s.result == "failed" for s in statuses),
            "sync_conflict": sum(s.result == "conflict" for s in statuses),
            "sync_never_run": sum(s.result is None for s in statuses),
        }
