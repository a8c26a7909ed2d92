"""Sync job status, shared by `serve` and `emojid sync --once` through the database."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from emojid.db import Tables


@dataclass
class JobStatus:
    url: str
    last_run: str | None = None
    result: str | None = None
    error: str | None = None
    updated: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    failures: int = 0
    next_run: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class SyncJobsIndex(Tables):
    def save_job_status(self, status: JobStatus) -> None:
        self.transaction(
            lambda: self.db.conn.execute(
                "INSERT OR REPLACE INTO sync_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (status.url, status.last_run, status.result, status.error, json.dumps(status.updated),
                 json.dumps(status.conflicts), status.failures, status.next_run),
            )
        )

    def job_status(self, url: str) -> JobStatus:
        rows = self.execute("SELECT * FROM sync_jobs WHERE url = ?", (url,))
        if not rows:
            return JobStatus(url)
        r = rows[0]
        return JobStatus(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6], r[7])
