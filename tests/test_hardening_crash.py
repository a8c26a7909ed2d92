"""`kill -9` in the middle of a zip upload (issue 10, item 7): after a restart every pack
is as it was or as the upload made it (every listed file there, no unlisted image, no
`.tmp-`/`.staging-` leftovers, no upload temp files in cache_dir), and the same upload
again adds everything. A real `emojid serve` process is killed; the store's own crash
points are also hit exactly, by a process that kills itself there."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from emojid.config import load
from tests.conftest import seed_accounts, serving, write_config
from tests.helpers import http_client, png_bytes, write_pack

V1 = "/api/v1/pleroma"
IMAGES = (".png", ".gif", ".webp", ".jpg", ".jpeg")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emoji_zip(prefix: str, count: int) -> bytes:
    tiny = png_bytes(size=1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(count):
            zf.writestr(f"{prefix}/{prefix}{i:05d}.png", tiny)
    return buf.getvalue()


class Serve:
    """`emojid serve` as a process of its own, over the store under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.config_path = write_config(root, self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMOJID_")}
        self.log = open(root / f"serve-{self.port}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen([sys.executable, "-m", "emojid", "--config", str(self.config_path), "serve"],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        async with http_client(base_url=self.url, timeout=2) as c:
            while True:
                assert self.process.poll() is None, self.output()
                try:
                    if (await c.get(f"{V1}/healthcheck")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, self.output()
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)  # reaped: its pid is gone

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return (self.root / f"serve-{self.port}.log").read_text(errors="replace")[-3000:]


def images_on_disk(pack: Path) -> set[str]:
    found = set()
    for dirpath, _dirnames, filenames in os.walk(pack):
        for name in filenames:
            if name.lower().endswith(IMAGES):
                found.add(Path(dirpath, name).relative_to(pack).as_posix())
    return found


def leftovers(root: Path) -> list[str]:
    """Temp files and staging folders anywhere in the store, upload temp files in cache_dir."""
    found = [str(p.relative_to(root)) for p in (root / "packs").rglob(".*") if p.name.startswith((".tmp-", ".staging-"))]
    found += [p.name for p in (root / "packs").iterdir() if p.name.startswith(".")]
    for sub in ("tmp", ""):
        folder = root / "cache" / sub
        if folder.is_dir():
            found += [f"cache/{sub}/{p.name}" for p in folder.iterdir() if p.name.startswith("upload-")]
    return found


def assert_consistent(root: Path, names: list[str]) -> dict[str, dict[str, str]]:
    """Each pack: every listed file present, every image listed; nothing left over. The listings."""
    listings = {}
    for name in names:
        pack = root / "packs" / name
        files = json.loads((pack / "pack.json").read_text())["files"]
        on_disk = images_on_disk(pack)
        assert set(files.values()) <= on_disk, f"{name}: listed but missing: {sorted(set(files.values()) - on_disk)[:5]}"
        assert on_disk <= set(files.values()), \
            f"{name}: {len(on_disk - set(files.values()))} images on disk, not listed ({len(files)} listed)"
        listings[name] = files
    assert leftovers(root) == [], leftovers(root)[:10]
    return listings


async def upload(url: str, token: str, pack: str, data: bytes) -> httpx.Response | Exception:
    async with http_client(base_url=url, timeout=60, headers={"authorization": f"Bearer {token}"}) as c:
        try:
            return await c.post(f"{V1}/emoji/packs/files", params={"name": pack},
                                files={"file": (f"{pack}.zip", data, "application/zip")})
        except httpx.HTTPError as exc:
            return exc


async def assert_uploads_recover(url: str, token: str, root: Path, zips: dict[str, bytes], before: int,
                                 after: int) -> None:
    """After a kill: each pack has its files of `before` or of `after` the upload, never a
    part; uploading each again then gives every pack its `after` files."""
    names = list(zips)
    for files in assert_consistent(root, names).values():
        assert len(files) in (before, after)
    answers = await asyncio.gather(*(upload(url, token, n, zips[n]) for n in names))
    for answer in answers:
        assert isinstance(answer, httpx.Response) and answer.status_code == 200, answer
    for files in assert_consistent(root, names).values():
        assert len(files) == after


async def kill_when(serve: Serve, condition, timeout: float = 60) -> str:
    """Poll (tightly) until `condition()` names a moment, then kill -9 the server; the moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        moment = condition()
        if moment:
            serve.kill()
            return moment
        await asyncio.sleep(0.001)
    serve.kill()
    return "timeout"


def staged_files(packs: Path) -> int:
    return sum(len(files) for staging in packs.glob(".staging-*") for _d, _s, files in os.walk(staging))


@pytest.mark.parametrize("moment", ["unpacking", "placing"])
async def test_kill_9_during_a_big_zip_upload(tmp_path, moment):
    root = tmp_path / "site"
    count = 1200
    config = load(write_config(root, free_port()), environ={})
    tokens = seed_accounts(config)
    write_pack(config.packs_dir, "blobs", {"old": "old.png"})
    data = emoji_zip("e", count)

    serve = Serve(root)
    try:
        await serve.ready()
        packs = root / "packs"

        def condition() -> str | None:
            if moment == "unpacking":
                return "unpacking" if staged_files(packs) >= 200 else None
            return "placing" if len(images_on_disk(packs / "blobs")) > 1 else None

        task = asyncio.create_task(upload(serve.url, tokens["admin"], "blobs", data))
        seen = await kill_when(serve, condition)
        await task
    finally:
        serve.stop()
    assert seen == moment, serve.output()

    restarted = Serve(root)
    try:
        await restarted.ready()
        listing = assert_consistent(root, ["blobs"])["blobs"]
        assert len(listing) in (1, count + 1), len(listing)  # before, or after
        async with http_client(base_url=restarted.url, timeout=60) as c:
            r = await c.get(f"{V1}/emoji/pack", params={"name": "blobs", "page_size": 10_000})
            assert r.status_code == 200 and r.json()["files"] == listing
        r = await upload(restarted.url, tokens["admin"], "blobs", data)
        assert isinstance(r, httpx.Response) and r.status_code == 200, r
        assert len(r.json()) == count + 1
        assert len(assert_consistent(root, ["blobs"])["blobs"]) == count + 1
    finally:
        restarted.stop()


async def test_kill_9_during_ten_concurrent_zip_uploads(tmp_path):
    root = tmp_path / "site"
    config = load(write_config(root, free_port()), environ={})
    tokens = seed_accounts(config)
    names = [f"pack{i}" for i in range(10)]
    for name in names:
        write_pack(config.packs_dir, name, {f"{name}_old": "old.png"})
    zips = {name: emoji_zip(name, 150) for name in names}

    serve = Serve(root)
    try:
        await serve.ready()
        packs = root / "packs"

        def condition() -> str | None:
            return "placing" if any(len(images_on_disk(packs / n)) > 1 for n in names) else None

        tasks = [asyncio.create_task(upload(serve.url, tokens["admin"], n, zips[n])) for n in names]
        seen = await kill_when(serve, condition)
        await asyncio.gather(*tasks)
    finally:
        serve.stop()
    assert seen == "placing", serve.output()

    restarted = Serve(root)
    try:
        await restarted.ready()
        await assert_uploads_recover(restarted.url, tokens["admin"], root, zips, 1, 151)
    finally:
        restarted.stop()


# -- the store's own crash points, hit exactly -------------------------------------------

KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from emojid.emoji.store import PackStore

    packs, lock, point, count = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    store = PackStore(packs, lock, [".png"])
    real_link, real_replace = os.link, os.replace
    linked = 0

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def link(src, dst, *args, **kwargs):
        global linked
        real_link(src, dst, *args, **kwargs)
        linked += 1
        if point == "links" and linked == count // 2 or point == "before-pack-json" and linked == count:
            die()

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        if point == "after-pack-json" and str(dst) == str(packs / "blobs" / "pack.json"):
            die()

    os.link, os.replace = link, replace
    with store.staging_folder() as staging:
        items = []
        for i in range(count):
            path = staging / f"{i}.png"
            path.write_bytes(Path(sys.argv[5]).read_bytes())
            items.append((f"new{i}", f"sub/dir/new{i}.png", path))
        store.add_files("blobs", items, staged_in=staging)
    print("not killed")
""")


@pytest.mark.parametrize("point", ["links", "before-pack-json", "after-pack-json"])
async def test_a_kill_at_each_step_of_placing_files(tmp_path, point):
    count = 40

    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"old": "old.png"}, {"share-files": True})
        image = tmp_path / "image.png"
        image.write_bytes(png_bytes("purple"))
        done = subprocess.run([sys.executable, "-c", KILLER, str(config.packs_dir), str(config.cache_dir / "store.lock"),
                               point, str(count), str(image)], capture_output=True, text=True, timeout=60)
        assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
        staging = list(config.packs_dir.glob(".staging-*"))
        assert len(staging) == 1 and (staging[0] / "placing.json").is_file()
        if point != "after-pack-json":
            assert images_on_disk(config.packs_dir / "blobs") > {"old.png"}  # placed, not listed

    async with serving(tmp_path / "s", prepare=prepare) as server:
        files = assert_consistent(server.root, ["blobs"])["blobs"]
        expected = count + 1 if point == "after-pack-json" else 1
        assert len(files) == expected
        if point != "after-pack-json":
            assert not (server.packs_dir / "blobs" / "sub").exists()  # folders made for the upload go too
        async with server.anon() as c:
            r = await c.get(f"{V1}/emoji/pack", params={"name": "blobs", "page_size": 100})
            assert r.status_code == 200 and r.json()["files"] == files


async def test_leftovers_of_a_live_process_are_kept(tmp_path):
    """A CLI command beside `serve` may be mid-write: its fresh staging folder stays."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        def prepare(config):
            write_pack(config.packs_dir, "blobs", {"old": "old.png"})
            (config.packs_dir / f".staging-{sleeper.pid}-abcd").mkdir()
            (config.packs_dir / "blobs" / f".tmp-{sleeper.pid}-abcd.png").write_bytes(b"partial")
            (config.packs_dir / ".staging-999999999-dead").mkdir()  # no such process
            tmp = config.cache_dir / "tmp"
            tmp.mkdir(parents=True)
            (tmp / f"upload-{sleeper.pid}-x").write_bytes(b"x")
            (tmp / "upload-999999999-y").write_bytes(b"y")

        async with serving(tmp_path / "s", prepare=prepare) as server:
            packs = server.packs_dir
            assert (packs / f".staging-{sleeper.pid}-abcd").is_dir()
            assert (packs / "blobs" / f".tmp-{sleeper.pid}-abcd.png").exists()
            assert not (packs / ".staging-999999999-dead").exists()
            assert (server.config.cache_dir / "tmp" / f"upload-{sleeper.pid}-x").exists()
            assert not (server.config.cache_dir / "tmp" / "upload-999999999-y").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


async def test_an_interrupted_replace_of_a_long_named_pack_is_put_back(tmp_path):
    """The pack kept aside during a replace has a short name (a 240-byte pack name would not
    fit in `.replacing-<name>-...`); the marker beside it names the pack for the start-up."""
    name = "あ" * 80  # 240 bytes
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    def prepare(config):
        aside = write_pack(config.packs_dir, f".replacing-{dead.pid}-0a1b2c3d", {"blob": "blob.png"})
        (config.packs_dir / f"{aside.name}.pack").write_text(name, encoding="utf-8")

    async with serving(tmp_path / "s", prepare=prepare) as server:
        assert (server.packs_dir / name / "pack.json").is_file()
        assert [p.name for p in server.packs_dir.iterdir()] == [name]
        async with server.anon() as c:
            r = await c.get(f"{V1}/emoji/pack", params={"name": name})
            assert r.status_code == 200 and r.json()["files"] == {"blob": "blob.png"}
