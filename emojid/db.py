"""The one SQLite database every part keeps its tables in.

One connection, guarded by a lock, shared by the worker threads that call
in; WAL mode lets `emojid` CLI commands write while `serve` runs. Each part
reads and writes its tables through its own index class (`EmojiIndex`,
`AuthIndex`, `SocialIndex`), all built on `Tables` over one `Database`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

T = TypeVar("T")


def run_script(db: sqlite_utils.Database, sql: str) -> None:
    """Each statement of `sql` in turn: db.executescript inside a transaction (as every
    migration runs) tests each character for the end of a statement, rejoining the text
    each time; a new database took 70 ms, most of it there. Split at each `;` instead,
    kept only where SQLite says a statement is complete (not in a string, a comment or
    a trigger's body)."""
    statement = ""
    for piece in sql.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            db.conn.execute(statement)
            statement = ""
    if statement[:-1].strip():
        db.conn.execute(statement[:-1])


class Database:
    def __init__(self, path: Path, migrations: sqlite_utils.Migrations) -> None:
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

    def execute(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
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


class Tables:
    """The base of every index class: SQL over the shared `Database`."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.path = database.path
        self.db = database.db
        self.lock = database.lock

    def execute(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return self.database.execute(sql, params)

    def transaction(self, fn: Callable[[], T]) -> T:
        return self.database.transaction(fn)

    def close(self) -> None:
        """Close the shared database (for one-shot users: the CLI, tests)."""
        self.database.close()
