"""`kill -9` of `emojid serve` while it downloads a pack from another server and while it
syncs mirrored packs (issue 15): after a restart each pack is absent, as it was, or the
complete new version (every listed file there, byte for byte the remote's), nothing is
left over in packs_dir or cache_dir, the index says what the disk says, and the same
download or the next sync pass completes. The remote is an in-process emojid; the local
server is a real process, killed at moments spread over measured durations."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emojid.config import load
from tests.conftest import Server, seed_accounts, serving, write_config
from tests.helpers import http_client, png_bytes, write_pack
from tests.test_hardening_crash import (
    V1,
    Serve,
    assert_consistent,
    assert_uploads_recover,
    emoji_zip,
    free_port,
    images_on_disk,
    leftovers,
    upload,
)
from tests.zygote import Forked, Zygote

TRIALS = 20

@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    # forty restarts of `emojid serve`, each ~1 s of imports as a fresh process
    started = Zygote("spawn")
    yield started
    started.close()


class Local(Serve):
    """`emojid serve` in a process of its own (test_hardening_crash's, killed and read the
    same way), with config lines `extra` added; forked off a `zygote`, or run as a command,
    optionally through `wrap` (a command that ends by running it, e.g. `unshare` with a mount)."""

    def __init__(self, root: Path, extra: str = "", env: dict[str, str] | None = None,
                 wrap: list[str] | None = None, zygote: Zygote | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.config_path = write_config(root, self.port, extra)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("EMOJID_")}, **(env or {})}
        log = root / f"serve-{self.port}.log"
        self.log = open(log, "wb")  # noqa: SIM115  (closed in stop)
        args = ["--config", str(self.config_path), "serve"]
        self.process: subprocess.Popen[bytes] | Forked
        if zygote is not None:
            self.process = zygote.spawn(["emojid", *args], env, log)
        else:
            self.process = subprocess.Popen([*(wrap or []), sys.executable, "-m", "emojid", *args], env=env,
                                            stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self) -> None:
        """Answering, and through its start-up pass (leftovers swept, index reconciled with
        the store, which a big store may still be doing while it answers): what a restart
        leaves is what the checks look at."""
        await super().ready()
        deadline = time.monotonic() + 30
        async with http_client(base_url=self.url, timeout=5) as c:
            while (await c.get(f"{V1}/healthcheck")).json()["status"] == "indexing":
                assert time.monotonic() < deadline, self.output()
                await asyncio.sleep(0.02)


ALLOW_LOOPBACK = "\n[remote]\nallow_private_addresses = true\n"


def remote_pack(packs_dir: Path, name: str, count: int, version: int = 0) -> dict[str, bytes]:
    """A shared pack of `count` distinct PNGs (each file's bytes differ, so a mix-up shows);
    its files, filename -> bytes."""
    images = {f"{name}{i:04d}.png": png_bytes(f"#{(version * 7919 + i) % 0xFFFFFF:06x}", size=8 + i % 9)
              for i in range(count)}
    write_pack(packs_dir, name, {Path(f).stem: f for f in images}, {"share-files": True, "license": "CC0"}, images)
    return images


def cache_leftovers(root: Path, live_pid: int) -> list[str]:
    """Temp files a killed process left in cache_dir: downloads, upload spools, half-built
    archives, export and import work files. Those of the running server (its pid in the
    name) are its own work in progress."""
    cache = root / "cache"
    patterns = ("downloads/*", "tmp/*", "archives/*/.*", "exports/.*", "imports/*", "lists/.*")
    found = [p.relative_to(root).as_posix() for pattern in patterns for p in cache.glob(pattern)]
    return [f for f in found if f"-{live_pid}-" not in f]


def disk_state(pack: Path) -> dict[str, bytes] | None:
    """A pack as it is on disk: filename -> bytes of what pack.json lists (which must be
    valid, with every listed file there and no other image), or None when absent."""
    if not pack.exists():
        return None
    doc = json.loads((pack / "pack.json").read_bytes())
    files = doc["files"]
    assert doc["files_count"] == len(files), pack.name
    assert images_on_disk(pack) == set(files.values()), f"{pack.name}: images on disk != listed"
    return {f: (pack / f).read_bytes() for f in files.values()}


async def api_files(c: httpx.AsyncClient, name: str) -> dict[str, str] | None:
    r = await c.get(f"{V1}/emoji/pack", params={"name": name, "page_size": 10_000})
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return r.json()["files"]


async def assert_store(local: Serve, expected: dict[str, list[dict[str, bytes] | None]]) -> dict[str, int]:
    """Each pack is one of its `expected` states (None: absent), byte for byte; the API lists
    exactly the files of its pack.json; nothing left over. Which state each pack is in."""
    which = {}
    async with http_client(base_url=local.url, timeout=30) as c:
        for name, states in expected.items():
            pack = local.root / "packs" / name
            state = disk_state(pack)
            assert state in states, f"{name}: {None if state is None else len(state)} files on disk, " \
                                    f"expected one of {[None if s is None else len(s) for s in states]}"
            which[name] = states.index(state)
            listed = None if state is None else json.loads((pack / "pack.json").read_bytes())["files"]
            assert await api_files(c, name) == listed, name
    assert leftovers(local.root) == [], leftovers(local.root)
    assert cache_leftovers(local.root, local.process.pid) == [], cache_leftovers(local.root, local.process.pid)
    return which


async def kill_at(local: Serve, task: asyncio.Task[httpx.Response | Exception], trial: int,
                  duration: float) -> httpx.Response | Exception:
    """kill -9 at the trial's moment: from at once (the request not even sent) through the whole
    measured `duration`; the last trial once the answer came. The answer, or the failure."""
    if trial < TRIALS - 1:
        await asyncio.sleep(duration * trial / (TRIALS - 2))
    else:
        await asyncio.wait([task])
    local.kill()
    return await task


async def admin_post(url: str, token: str, path: str, **kw) -> httpx.Response | Exception:
    async with http_client(base_url=url, timeout=60, headers={"authorization": f"Bearer {token}"}) as c:
        try:
            return await c.post(path, **kw)
        except httpx.HTTPError as exc:
            return exc


# -- a remote download, killed -----------------------------------------------------------


async def test_kill_9_during_remote_downloads(tmp_path, zygote):
    async with serving(tmp_path / "remote", prepare=lambda c: remote_pack(c.packs_dir, "big", 80)) as remote:
        await run_download_trials(tmp_path / "local", remote, zygote)


async def run_download_trials(root: Path, remote: Server, zygote: Zygote) -> None:
    config = load(write_config(root, free_port()), environ={})
    token = seed_accounts(config)["admin"]
    big = {f: (remote.packs_dir / "big" / f).read_bytes() for f in images_on_disk(remote.packs_dir / "big")}
    # A pack of our own, there before all the downloads: never touched by them.
    write_pack(config.packs_dir, "ours", {"ours": "ours.png"}, {}, {"ours.png": png_bytes("olive")})
    expected: dict[str, list[dict[str, bytes] | None]] = {"ours": [{"ours.png": png_bytes("olive")}]}

    def download(url: str, as_name: str | None) -> asyncio.Task[httpx.Response | Exception]:
        data = {"url": remote.url, "name": "big", **({"as": as_name} if as_name else {})}
        return asyncio.create_task(admin_post(url, token, f"{V1}/emoji/packs/download", json=data))

    local = Local(root, ALLOW_LOOPBACK, zygote=zygote)
    try:
        await local.ready()
        # How long one download takes here: the kills are spread over that.
        started = time.monotonic()
        r = await download(local.url, "measured")
        duration = time.monotonic() - started
        assert isinstance(r, httpx.Response) and r.status_code == 200 and r.json() == "ok", r
        expected["measured"] = [big]
        # No replace through this route: a name taken answers 409 and the pack stays.
        r = await admin_post(local.url, token, f"{V1}/emoji/packs/download",
                             json={"url": remote.url, "name": "big", "as": "ours"})
        assert isinstance(r, httpx.Response) and r.status_code == 409, r
        assert r.json() == {"error": 'A pack named "ours" already exists'}
        await assert_store(local, expected)

        outcomes = []
        for trial in range(TRIALS):
            # Even trials take the remote's name (deleted again below), odd ones `as` a new name.
            name = "big" if trial % 2 == 0 else f"copy{trial}"
            answer = await kill_at(local, download(local.url, None if name == "big" else name), trial, duration)
            local.stop()
            local = Local(root, ALLOW_LOOPBACK, zygote=zygote)
            await local.ready()
            expected[name] = [None, big]
            done = isinstance(answer, httpx.Response) and answer.status_code == 200
            which = await assert_store(local, expected)
            outcomes.append(which[name])
            assert which[name] == 1 or not done, f"trial {trial}: answered 200, yet {name} is absent"
            if which[name] == 0:
                # The same download again completes.
                r = await download(local.url, None if name == "big" else name)
                assert isinstance(r, httpx.Response) and r.status_code == 200, (r, getattr(r, "text", ""), local.output())
                assert (await assert_store(local, expected))[name] == 1
            if name == "big":
                async with http_client(base_url=local.url, headers={"authorization": f"Bearer {token}"}) as c:
                    r = await c.delete(f"{V1}/emoji/pack", params={"name": "big"})
                    assert r.status_code == 200, r.text
                expected[name] = [None]
                await assert_store(local, expected)
        assert outcomes[0] == 0 and outcomes[-1] == 1, outcomes  # killed before it began, after it ended
    finally:
        local.stop()


# -- a sync pass, killed -----------------------------------------------------------------

MIRRORED = ("alpha", "beta", "gamma")


def sync_config(remote: Server) -> str:
    return ALLOW_LOOPBACK + f"""
[[sync]]
url = "{remote.url}"
packs = ["*"]
interval_seconds = 86400
as = "m_"
"""


async def ui_login(url: str) -> tuple[dict[str, str], str]:
    """The admin logged in through the UI's login form: the session cookies and the CSRF
    token of the "Sync now" form (the session lives in SQLite: it outlasts restarts)."""
    def csrf_of(html: str) -> str:
        found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
        assert found, html[:500]
        return found.group(1)

    async with http_client(base_url=url, timeout=30) as c:
        r = await c.get("/ui/login")
        r = await c.post("/ui/login", data={"_csrf_token": csrf_of(r.text), "username": "admin",
                                            "password": "adminpass"})
        assert r.status_code == 303, r.text
        r = await c.get("/ui/sync")
        assert "Sync now" in r.text, r.text[:500]
        return dict(c.cookies), csrf_of(r.text)


async def bump(remote: Server, version: int) -> dict[str, dict[str, bytes] | None]:
    """A new version of every remote pack: one emoji added, the oldest one removed (so old
    and new differ both ways). The new states, as the remote has them on disk."""
    async with remote.admin() as c:
        for name in MIRRORED:
            files = json.loads((remote.packs_dir / name / "pack.json").read_bytes())["files"]
            r = await c.post(f"{V1}/emoji/packs/files", params={"name": name},
                             data={"shortcode": f"{name}_v{version}"},
                             files={"file": (f"v{version}.png", png_bytes(f"#{version:02x}{version:02x}ff"), "image/png")})
            assert r.status_code == 200, r.text
            r = await c.delete(f"{V1}/emoji/packs/files", params={"name": name, "shortcode": min(files)})
            assert r.status_code == 200, r.text
    return {f"m_{name}": disk_state(remote.packs_dir / name) for name in MIRRORED}


async def test_kill_9_during_sync_passes(tmp_path, zygote):
    def prepare(config):
        for name in MIRRORED:
            remote_pack(config.packs_dir, name, 24, version=MIRRORED.index(name))

    async with serving(tmp_path / "remote", prepare=prepare) as remote:
        await run_sync_trials(tmp_path / "local", remote, zygote)


async def run_sync_trials(root: Path, remote: Server, zygote: Zygote) -> None:
    config = load(write_config(root, free_port()), environ={})
    token = seed_accounts(config)["admin"]
    headers = {"authorization": f"Bearer {token}"}
    current = {f"m_{name}": disk_state(remote.packs_dir / name) for name in MIRRORED}

    async def job_status(url: str) -> dict:
        async with http_client(base_url=url, timeout=30, headers=headers) as c:
            r = await c.get(f"{V1}/emoji/sync")
            assert r.status_code == 200, r.text
            [job] = r.json()["jobs"]
            return job

    async def sync_now(url: str, session: tuple[dict[str, str], str]) -> httpx.Response | Exception:
        cookies, csrf = session
        async with http_client(base_url=url, timeout=60, cookies=cookies) as c:
            try:
                return await c.post("/ui/sync/run", data={"_csrf_token": csrf, "url": remote.url})
            except httpx.HTTPError as exc:
                return exc

    async def synced(url: str, answer: httpx.Response | Exception) -> None:
        """A pass that ran to its end: every job result ok (a pack the crash left half-recorded
        would be a "conflict"), every mirror the remote's current version."""
        assert isinstance(answer, httpx.Response) and answer.status_code == 303, answer
        assert answer.headers["location"] == "/ui/sync?notice=synced"
        job = await job_status(url)
        assert (job["result"], job["error"], job["conflicts"]) == ("ok", None, []), job
        await assert_store(local, {name: [state] for name, state in current.items()})
        # The journal of an install a kill cut short was adopted or dropped.
        assert list((local.root / "cache" / "mirroring").glob("*")) == []

    local = Local(root, sync_config(remote), zygote=zygote)
    try:
        await local.ready()
        # The job has never run: serve runs it at once.
        async def first_pass_done() -> bool:
            return (await job_status(local.url))["result"] is not None
        deadline = time.monotonic() + 30
        while not await first_pass_done():
            assert time.monotonic() < deadline, local.output()
            await asyncio.sleep(0.05)
        session = await ui_login(local.url)
        await synced(local.url, httpx.Response(303, headers={"location": "/ui/sync?notice=synced"}))
        # How long a pass that updates every pack takes: the kills are spread over that.
        current = await bump(remote, 0)
        started = time.monotonic()
        answer = await sync_now(local.url, session)
        duration = time.monotonic() - started
        await synced(local.url, answer)

        seen = []
        for trial in range(TRIALS):
            old, current = current, await bump(remote, trial + 1)
            await kill_at(local, asyncio.create_task(sync_now(local.url, session)), trial, duration)
            local.stop()
            local = Local(root, sync_config(remote), zygote=zygote)
            await local.ready()
            # Before the next pass (the job is not due: a day after the last complete pass).
            which = await assert_store(local, {name: [old[name], current[name]] for name in current})
            seen.append(sorted(which.values()))
            await synced(local.url, await sync_now(local.url, session))
        assert seen[0] == [0, 0, 0] and seen[-1] == [1, 1, 1], seen  # killed before the pass began, after it ended
    finally:
        local.stop()


# -- concurrent zip uploads, killed --------------------------------------------------------


async def test_kill_9_during_concurrent_zip_uploads(tmp_path, zygote):
    """20 trials of four zip uploads at once, killed from at once to after the answers:
    after each restart every pack is its old state or old + new, nothing left over, and
    the index (the API) agrees with the disk; the last restart takes the uploads again."""
    root = tmp_path / "site"
    names = [f"up{i}" for i in range(4)]
    config = load(write_config(root, free_port()), environ={})
    tokens = seed_accounts(config)  # before any server opens the database
    for name in names:
        write_pack(config.packs_dir, name, {f"{name}_old": "old.png"})
    local = Local(root, zygote=zygote)
    zips = {name: emoji_zip(name, 40) for name in names}
    await local.ready()
    started = time.monotonic()
    answers = await asyncio.gather(*(upload(local.url, tokens["admin"], n, zips[n]) for n in names))
    duration = time.monotonic() - started
    assert all(isinstance(a, httpx.Response) and a.status_code == 200 for a in answers), answers
    local.kill()
    local.stop()
    for name in names:  # back to the old state: each trial uploads the same zips again
        write_pack(root / "packs", name, {f"{name}_old": "old.png"})
        for stray in images_on_disk(root / "packs" / name) - {"old.png"}:
            (root / "packs" / name / stray).unlink()
    for trial in range(TRIALS):
        local = Local(root, zygote=zygote)
        await local.ready()
        assert_consistent(root, names)
        async with http_client(base_url=local.url, timeout=10) as c:
            for name in names:
                assert set(await api_files(c, name) or {}) == \
                    set(json.loads((root / "packs" / name / "pack.json").read_text())["files"])
        tasks = [asyncio.create_task(upload(local.url, tokens["admin"], n, zips[n])) for n in names]
        gathered = asyncio.ensure_future(asyncio.gather(*tasks))
        await kill_at(local, gathered, trial, duration)
        local.stop()
        for name in names:  # old, or old + new: never a part
            assert len(json.loads((root / "packs" / name / "pack.json").read_text())["files"]) in (1, 41)
    local = Local(root, zygote=zygote)
    try:
        await local.ready()
        await assert_uploads_recover(local.url, tokens["admin"], root, zips, 1, 41)
    finally:
        local.kill()
        local.stop()
