"""Remote downloads started from the web UI, as tasks the page can follow.

"Download" on /ui/remote starts `RemotePacks.download` (the API's own download, the
same checks) as a task of this process with a random id, metered through its
`progress` parameter; the page polls `/ui/remote/downloads/{id}` for a small status
fragment: the phase (starting, downloading, verifying, unpacking, installed, failed)
and the bytes received of the archive's size (its Content-Length, when the remote
sends one), then the files unpacked. Without JavaScript the form's POST awaits the
same task and redirects to the result.

Tasks live in memory: a finished one is kept for a while so a late poll still sees
how it ended.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from emojid.emoji.names import check_pack_name
from emojid.emoji.remote_packs import RemotePacks
from emojid.errors import EmojidError
from emojid.progress import BYTES, Meter

log = logging.getLogger("emojid.ui")

# In the order a download goes through them; a phase never goes back.
PHASES = ("starting", "downloading", "verifying", "unpacking", "installed", "failed")
KEEP_SECONDS = 900
CAPACITY = 200


@dataclass
class Download:
    """One download, as its status fragment shows it. Meters write it from any thread."""

    id: str
    url: str
    name: str
    local: str
    phase: str = "starting"
    received: int = 0
    total: int | None = None  # the archive's size, when the remote says it
    files: int = 0
    files_total: int | None = None
    error: str | None = None
    status: int | None = None  # a failure's HTTP status, as the API would answer it
    finished_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> bool:
        return self.phase in ("installed", "failed")

    def advance(self, phase: str) -> None:
        with self.lock:
            if PHASES.index(phase) > PHASES.index(self.phase) and not self.done:
                self.phase = phase

    def percent(self) -> int | None:
        """How far the current phase is, when that is known."""
        if self.phase == "downloading" and self.total:
            return min(100, self.received * 100 // self.total)
        if self.phase == "unpacking" and self.files_total:
            return min(100, self.files * 100 // self.files_total)
        return None


class _Meter:
    def __init__(self, job: Download, unit: str) -> None:
        self.job = job
        self.unit = unit

    def __call__(self, done: int, total: int | None) -> None:
        job = self.job
        with job.lock:
            if self.unit == BYTES:
                job.received, job.total = done, total
            else:
                job.files, job.files_total = done, total

    def close(self) -> None:
        if self.unit == BYTES:
            # The archive is in: its SHA256 is checked before anything is unpacked.
            self.job.advance("verifying")


class Progress:
    """The `Meters` a download reports to: bytes are the archive coming in, any other
    unit the files being unpacked."""

    def __init__(self, job: Download) -> None:
        self.job = job

    def __call__(self, label: str, unit: str = BYTES) -> Meter:
        self.job.advance("downloading" if unit == BYTES else "unpacking")
        return _Meter(self.job, unit)


class Downloads:
    """The UI's downloads of this process, by id."""

    def __init__(self, remote_packs: RemotePacks) -> None:
        self.remote_packs = remote_packs
        self._jobs: dict[str, Download] = {}

    def get(self, job_id: str) -> Download | None:
        return self._jobs.get(job_id)

    def start(self, url: str, name: str, as_name: str | None) -> Download:
        """A download of remote pack `name` from `url`, running. One to a local name at a time:
        asked again while it runs, the running one is the answer."""
        local = check_pack_name(as_name or name) if (as_name or name) else ""
        self._prune()
        running = next((j for j in self._jobs.values() if not j.done and j.local == local and local), None)
        if running is not None:
            return running
        job = Download(secrets.token_urlsafe(18), url, name, local)
        job.task = asyncio.create_task(self._run(job, as_name), name=f"ui-download-{name}")
        self._jobs[job.id] = job
        return job

    async def _run(self, job: Download, as_name: str | None) -> None:
        try:
            job.local = await self.remote_packs.download(job.url, job.name, as_name, progress=Progress(job))
            outcome, error, status = "installed", None, None
        except EmojidError as exc:
            outcome, error, status = "failed", exc.message, exc.status
        except Exception:
            log.exception("web UI: downloading %s from %s failed", job.name, job.url)
            outcome, error, status = "failed", "Something went wrong on the server; the log says what.", 500
        with job.lock:
            job.phase, job.error, job.status, job.finished_at = outcome, error, status, time.monotonic()

    def _prune(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._jobs.items()):
            if job.finished_at is not None and now - job.finished_at > KEEP_SECONDS:
                del self._jobs[job_id]
        finished = sorted((j for j in self._jobs.values() if j.finished_at is not None),
                          key=lambda j: j.finished_at or 0.0)
        while len(self._jobs) > CAPACITY and finished:
            del self._jobs[finished.pop(0).id]
