"""Start-up serves at once: the index as it was answers while the start-up pass reconciles
it with the store in the background, pack by pack, each under the store's write lock.

The pass is held at a known point by taking that lock from the test, as a CLI command
beside the server would: nothing is timed, every state is waited for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import httpx

from emojid.config import Config
from emojid.emoji.packs import PackService
from emojid.emoji.store import PackStore
from emojid.migrations import open_database
from tests.conftest import serving, wait_for
from tests.helpers import gif_bytes, png_bytes, write_pack

V1 = "/api/v1/pleroma"
OLD = [f"p{i:03d}" for i in range(300)]  # indexed before the restart
NEW = [f"q{i:03d}" for i in range(200)]  # put on disk while the server was stopped
IMAGE = png_bytes("teal", size=8)


def make_packs(packs_dir: Path, names: list[str], extra: str = "") -> None:
    """Small real packs: one Pillow PNG each (two with `extra`, a second emoji added by hand)."""
    for name in names:
        files = {f"{name}_a": "a.png"} | ({f"{name}_{extra}": f"{extra}.png"} if extra else {})
        write_pack(packs_dir, name, files, images={"a.png": IMAGE, f"{extra}.png": IMAGE})


def index_now(config: Config) -> None:
    """The index as a server (or `emojid reindex`) left it before stopping."""
    database = open_database(config.database_path)
    try:
        PackService.open(config, database).reconcile_sync()
    finally:
        database.close()


@contextlib.contextmanager
def store_lock(config: Config) -> Iterator[None]:
    """The store's write lock, held as another emojid process holds it while it writes."""
    with PackStore(config.packs_dir, config.cache_dir / "store.lock", config.emoji.allowed_extensions).write_lock():
        yield


def lock_waiters(config: Config) -> int:
    """How many are blocked waiting for the store's write lock (the kernel's /proc/locks)."""
    st = (config.cache_dir / "store.lock").stat()
    lock_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return sum(1 for line in Path("/proc/locks").read_text().splitlines()
               if "->" in line.split() and lock_id in line.split())


async def pause_mid_walk(client: httpx.AsyncClient, config: Config, lock: contextlib.ExitStack) -> dict:
    """Once the pass has reconciled a pack (p000, the first by name), take the lock between
    two packs and wait until the pass is blocked on it: the walk stands still, half done."""
    async def started() -> bool:
        doc = await health(client)
        assert doc["status"] == "indexing", "the pass ended before it could be paused"
        return doc["indexing"]["done"] >= 1

    await wait_for(started, timeout=30, step=0.005)
    await anyio.to_thread.run_sync(lock.enter_context, store_lock(config))
    await wait_for(lambda: lock_waiters(config) >= 1, timeout=30)
    doc = await health(client)
    assert doc["status"] == "indexing"
    assert 1 <= doc["indexing"]["done"] < doc["indexing"]["total"], doc["indexing"]
    return doc


async def health(client: httpx.AsyncClient) -> dict:
    r = await client.get(f"{V1}/healthcheck")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["healthy"] is True
    return doc


async def listed(client: httpx.AsyncClient) -> dict:
    r = await client.get(f"{V1}/emoji/packs", params={"page_size": 1000})
    assert r.status_code == 200, r.text
    return r.json()


async def until_reconciled(client: httpx.AsyncClient) -> dict:
    """The healthcheck once the pass is over; every answer on the way shows sane progress."""
    seen: list[dict] = []

    async def done() -> dict | None:
        doc = await health(client)
        if doc["status"] == "indexing":
            progress = doc["indexing"]
            assert 0 <= progress["done"] <= progress["total"] or progress == {"done": 0, "total": 0}
            seen.append(progress)
            return None
        return doc

    doc = await wait_for(done, timeout=60, step=0.01)
    assert [p["done"] for p in seen] == sorted(p["done"] for p in seen)  # never goes back
    return doc


async def test_a_restart_serves_the_old_index_at_once_then_the_new_packs(tmp_path, caplog):
    lock = contextlib.ExitStack()

    def prepare(config: Config) -> None:
        make_packs(config.packs_dir, OLD)
        index_now(config)
        make_packs(config.packs_dir, NEW)  # while stopped; one shared, one with an animated emoji:
        write_pack(config.packs_dir, "q000", {"q000_a": "a.png"}, {"share-files": True}, images={"a.png": IMAGE})
        write_pack(config.packs_dir, "q001", {"q001_a": "a.gif"}, images={"a.gif": gif_bytes()})
        lock.enter_context(store_lock(config))  # taken before the start: the pass cannot begin

    caplog.set_level(logging.INFO, logger="emojid.app")
    try:
        async with serving(tmp_path / "s", prepare=prepare, indexed=False, reconcile_grace=0) as server, \
                server.anon() as c:
            doc = await health(c)
            assert doc["status"] == "indexing"
            assert doc["indexing"] == {"done": 0, "total": 0}
            assert doc["lint"] is None  # not counted over a half-reconciled index
            assert {"pool_size", "active", "idle", "memory_used", "job_queue_stats", "db", "watcher",
                    "pack_errors"} <= set(doc)
            # The old index answers meanwhile: every pack indexed before, none of the new ones.
            body = await listed(c)
            assert body["count"] == len(OLD)
            assert sorted(body["packs"]) == OLD
            assert body["packs"]["p007"]["files"] == {"p007_a": "a.png"}

            lock.close()  # the pass goes on
            doc = await until_reconciled(c)
            assert doc["status"] == "ok" and doc["indexing"] is None
            assert isinstance(doc["lint"], dict)
            # The background builders got the new packs' work, unasked: q000's archive, q001's frame.
            cache = server.config.cache_dir
            await wait_for(lambda: list((cache / "archives" / "q000").glob("*.zip")), timeout=10)
            await wait_for(lambda: list((cache / "static").glob("*/*.png")), timeout=10)
            body = await listed(c)
            assert body["count"] == len(OLD) + len(NEW)
            assert sorted(body["packs"]) == OLD + NEW
            assert body["packs"]["q123"]["files"] == {"q123_a": "a.png"}
            assert body["packs"]["q000"]["pack"]["download-sha256"]
            r = await c.get("/api/v1/custom_emojis")
            still = next(e for e in r.json() if e["shortcode"] == "q001_a")
            assert still["static_url"].endswith("/emoji-static/q001/a.gif.png")
            assert (await c.get(still["static_url"])).status_code == 200
    finally:
        lock.close()
    ended = [r.getMessage() for r in caplog.records if r.getMessage().startswith("index reconciled")]
    assert len(ended) == 1, ended
    assert re.fullmatch(rf"index reconciled with {re.escape(str(server.packs_dir))}: "
                        rf"{len(NEW)} packs changed in \d+\.\d s", ended[0]), ended[0]


async def test_a_first_start_serves_while_indexing(tmp_path):
    lock = contextlib.ExitStack()

    def prepare(config: Config) -> None:
        make_packs(config.packs_dir, OLD)  # no index yet
        lock.enter_context(store_lock(config))

    try:
        async with serving(tmp_path / "s", prepare=prepare, indexed=False, reconcile_grace=0) as server, \
                server.anon() as c:
            doc = await health(c)
            assert doc["status"] == "indexing" and doc["indexing"]["done"] == 0
            assert await listed(c) == {"packs": {}, "count": 0}
            lock.close()
            assert (await until_reconciled(c))["status"] == "ok"
            body = await listed(c)
            assert body["count"] == len(OLD) and sorted(body["packs"]) == OLD
    finally:
        lock.close()


def stale_index(config: Config) -> None:
    """Every pack indexed, then given a second emoji by hand while the server was stopped:
    the pass has to read each one again."""
    make_packs(config.packs_dir, OLD)
    index_now(config)
    make_packs(config.packs_dir, OLD, extra="hand")


async def test_api_writes_in_the_middle_of_the_reconcile_survive(tmp_path):
    """The walk is paused half way; API writes to a pack it has read (p000), the very pack it
    waits to read next, and packs further on queue for the lock beside it. Neither side
    undoes the other."""
    lock = contextlib.ExitStack()
    try:
        async with serving(tmp_path / "s", prepare=stale_index, indexed=False, reconcile_grace=0) as server, \
                server.admin() as admin:
            paused = await pause_mid_walk(admin, server.config, lock)
            uploaded = sorted({"p000", OLD[paused["indexing"]["done"]], "p150", "p299"})

            async def add(name: str) -> httpx.Response:
                return await admin.post(f"{V1}/emoji/packs/files", params={"name": name},
                                        files={"file": ("api.png", png_bytes("navy"), "image/png")},
                                        data={"shortcode": f"{name}_api"})

            async def describe() -> httpx.Response:
                return await admin.patch(f"{V1}/emoji/pack", params={"name": "p200"},
                                         json={"metadata": {"description": "set during the reconcile"}})

            answers: dict[str, httpx.Response] = {}

            async def send(name: str, request) -> None:
                answers[name] = await request

            async with anyio.create_task_group() as tg:
                for name in uploaded:
                    tg.start_soon(send, name, add(name))
                tg.start_soon(send, "p200 metadata", describe())
                # The pass and every write, all blocked on the lock: then let them go.
                await wait_for(lambda: lock_waiters(server.config) >= 2 + len(uploaded), timeout=30)
                assert (await health(admin))["status"] == "indexing"
                lock.close()
            for name, r in answers.items():
                assert r.status_code == 200, (name, r.text)
            assert answers["p150"].json() == {"p150_a": "a.png", "p150_api": "api.png", "p150_hand": "hand.png"}
            assert answers["p200 metadata"].json() == {"description": "set during the reconcile"}
            assert (await until_reconciled(admin))["status"] == "ok"

            body = await listed(admin)
            assert body["count"] == len(OLD)
            for name in OLD:
                expected = {f"{name}_a": "a.png", f"{name}_hand": "hand.png"}
                if name in uploaded:
                    expected[f"{name}_api"] = "api.png"
                assert body["packs"][name]["files"] == expected, name
                assert json.loads((server.packs_dir / name / "pack.json").read_text())["files"] == expected, name
            assert body["packs"]["p200"]["pack"]["description"] == "set during the reconcile"
            r = await admin.get(f"{V1}/emoji/pack", params={"name": "p299"})
            assert r.status_code == 200
            assert r.json()["files"] == {"p299_a": "a.png", "p299_api": "api.png", "p299_hand": "hand.png"}
    finally:
        lock.close()


async def test_hand_edits_in_the_middle_of_the_reconcile_are_picked_up(tmp_path):
    """Edits the walk cannot see (a pack it has read, a pack made after it listed the store)
    reach the index through the watcher, which runs from before the walk began."""
    lock = contextlib.ExitStack()
    try:
        async with serving(tmp_path / "s", prepare=stale_index, indexed=False, reconcile_grace=0) as server, \
                server.anon() as c:
            await pause_mid_walk(c, server.config, lock)
            packs = server.packs_dir
            write_pack(packs, "p000", {"p000_a": "a.png", "p000_hand": "hand.png", "p000_late": "late.png"},
                       images={"a.png": IMAGE, "hand.png": IMAGE, "late.png": png_bytes("olive")})
            write_pack(packs, "a_new", {"a_new": "new.png"})  # not in the walk's list
            shutil.rmtree(packs / "p299")
            lock.close()
            assert (await until_reconciled(c))["status"] == "ok"

            async def settled() -> dict | None:
                body = await listed(c)
                ok = "a_new" in body["packs"] and "p299" not in body["packs"] and \
                    "p000_late" in body["packs"]["p000"]["files"]
                return body if ok else None

            body = await wait_for(settled, timeout=5)
            assert body["count"] == len(OLD)  # one made, one removed
            assert body["packs"]["p000"]["files"] == {"p000_a": "a.png", "p000_hand": "hand.png",
                                                      "p000_late": "late.png"}
            assert body["packs"]["a_new"]["files"] == {"a_new": "new.png"}
            assert body["packs"]["p150"]["files"] == {"p150_a": "a.png", "p150_hand": "hand.png"}
            r = await c.get(f"{V1}/emoji/pack", params={"name": "p299"})
            assert r.status_code == 404
    finally:
        lock.close()


async def test_after_a_crash_start_up_recovers_before_it_answers(tmp_path):
    """A staging folder of a dead process: an upload was cut short. Whatever the grace, the
    first answer comes after it is undone and the index reconciled."""
    def prepare(config: Config) -> None:
        make_packs(config.packs_dir, OLD)
        index_now(config)
        make_packs(config.packs_dir, NEW)
        (config.packs_dir / ".staging-999999999-dead").mkdir()  # no such process

    async with serving(tmp_path / "s", prepare=prepare, indexed=False, reconcile_grace=0) as server, \
            server.anon() as c:
        doc = await health(c)
        assert doc["status"] == "ok" and doc["indexing"] is None
        body = await listed(c)
        assert body["count"] == len(OLD) + len(NEW)
        assert not (server.packs_dir / ".staging-999999999-dead").exists()
