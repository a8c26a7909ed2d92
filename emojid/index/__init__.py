"""The SQLite index: the only code that issues SQL.

One connection, guarded by a lock, shared by the worker threads that call
in; WAL mode lets `emojid` CLI commands write while `serve` runs. Callers on
the event loop go through `Index.run()` so SQLite never blocks it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

import anyio.to_thread
import sqlite_utils

from emojid.index.accounts import AccountsIndex
from emojid.index.events import EventsIndex
from emojid.index.mirrors import MirrorsIndex
from emojid.index.oauth import OAuthIndex
from emojid.index.packs import PacksIndex
from emojid.index.profiles import ProfilesIndex
from emojid.index.registration import RegistrationIndex
from emojid.index.relationships import RelationshipsIndex
from emojid.index.statuses import StatusesIndex
from emojid.index.interactions import InteractionsIndex
from emojid.index.conversations import ConversationsIndex
from emojid.index.sync_jobs import SyncJobsIndex
from emojid.index.schema import migrations

T = TypeVar("T")


class Index(PacksIndex, AccountsIndex, MirrorsIndex, SyncJobsIndex, OAuthIndex, ProfilesIndex,
            RelationshipsIndex, RegistrationIndex, StatusesIndex, InteractionsIndex, ConversationsIndex, EventsIndex):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        with self.lock:
            migrations.apply(self.db)

    def close(self) -> None:
        with self.lock:
            self.db.conn.close()

    def execute(self, sql: str, params: Any = ()) -> list[tuple]:
        with self.lock:
            return self.db.conn.execute(sql, params).fetchall()

    def transaction(self, fn: Callable[[], T]) -> T:
        """Run `fn` inside BEGIN IMMEDIATE ... COMMIT, rolled back if it raises."""
        with self.lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def healthy(self) -> bool:
        try:
            return self.execute("SELECT 1") == [(1,)]
        except sqlite3.Error:
            return False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args)
