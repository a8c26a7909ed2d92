"""Fixtures: real emojid servers on 127.0.0.1 over real folders and SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from emojid.app import build_app
from emojid.auth.accounts import Accounts
from emojid.config import Config, load
from emojid.migrations import open_database
from emojid.social.index import SocialIndex
from tests.helpers import http_client


def write_config(root: Path, port: int, extra: str = "") -> Path:
    """A real emojid.toml under `root`, storage paths relative to it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "emojid.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
base_url = "http://127.0.0.1:{port}"

[storage]
packs_dir = "packs"
database = "emojid.db"
cache_dir = "cache"

[watch]
debounce_ms = 20
{extra}
"""
    )
    return path


@dataclass
class Server:
    url: str
    config: Config
    root: Path
    admin_token: str = ""
    user_token: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def packs_dir(self) -> Path:
        return self.config.packs_dir

    def client(self, token: str | None = None, **kw) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return http_client(base_url=self.url, headers=headers, timeout=30, **kw)

    def admin(self) -> httpx.AsyncClient:
        return self.client(self.admin_token)

    def anon(self) -> httpx.AsyncClient:
        return self.client()


def _seed(database: Path) -> dict[str, str]:
    index = SocialIndex(open_database(database))
    try:
        accounts = Accounts(index)
        accounts.create_user("admin", "adminpass", "admin@example.org", admin=True)
        accounts.create_user("user", "userpass", "user@example.org", admin=False)
        return {
            "admin": accounts.token_for_cli("admin", "read write follow push admin"),
            "admin_read": accounts.token_for_cli("admin", "read write"),
            "user": accounts.token_for_cli("user", "read write"),
        }
    finally:
        index.close()


_SEEDED: tuple[Path, dict[str, str]] | None = None


def seed_accounts(config: Config) -> dict[str, str]:
    """An admin and a plain user, with tokens, made by the same code the CLI uses:
    once per test process, then the database file is copied (argon2 and the
    migrations cost more than a test's own work)."""
    global _SEEDED
    if _SEEDED is None:
        template = Path(tempfile.mkdtemp(prefix="emojid-seed-")) / "seeded.db"
        _SEEDED = template, _seed(template)
    template, tokens = _SEEDED
    config.database_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, config.database_path)
    return dict(tokens)


class _TestServer(uvicorn.Server):
    """uvicorn's own server, stopping as soon as it is told to: its main loop polls
    every 0.1 s and its shutdown waits a fixed 0.1 s, which a thousand servers feel."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_now = asyncio.Event()

    async def main_loop(self) -> None:
        while not await self.on_tick(0):  # counter 0: the Date header is refreshed each time
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_now.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self.servers:
            listener.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + 5
        while (self.server_state.connections or self.server_state.tasks) and \
                asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        for listener in self.servers:
            await listener.wait_closed()
        await self.lifespan.shutdown()


@contextlib.asynccontextmanager
async def serving(root: Path, extra: str = "", prepare: Callable[[Config], None] | None = None,
                  configure_app: Callable[[Starlette], None] | None = None,
                  indexed: bool = True, reconcile_grace: float | None = None) -> AsyncIterator[Server]:
    """A server over `root`. Tests prepare packs on disk first and ask at once: with `indexed`
    (the default) this yields once the start-up pass has reconciled the index with them.
    `reconcile_grace`: start-up's wait for that pass before serving (0: serve at once)."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so,
    # and without it every response waits ~40 ms on a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = load(write_config(root, port, extra), environ={})
    tokens = seed_accounts(config)
    if prepare:
        prepare(config)
    app = build_app(config) if reconcile_grace is None else build_app(config, reconcile_grace=reconcile_grace)
    if configure_app:
        configure_app(app)
    server = _TestServer(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server failed to start")
            await asyncio.sleep(0.01)
        if indexed:
            # The app's own event, in this loop: no polling, no fixed sleep.
            finished = asyncio.ensure_future(app.state.ctx.indexing.finished.wait())
            await asyncio.wait({finished, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            finished.cancel()
            if task.done():
                task.result()
            assert not app.state.ctx.indexing.running, "the start-up pass did not end within 60 s"
        yield Server(f"http://127.0.0.1:{port}", config, root, tokens["admin"], tokens["user"], tokens)
    finally:
        server.should_exit = True
        server.exit_now.set()
        await task
        sock.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serving(tmp_path / "local") as s:
        yield s


@pytest.fixture
async def remote_server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serving(tmp_path / "remote") as s:
        yield s


async def wait_for(predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.02):
    """Poll an (async or plain) predicate until it is truthy; the value, or AssertionError."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
