"""A full disk (issue 15): packs_dir and cache_dir each on a 4 MiB tmpfs, filled to the last
page. A file upload, a zip upload, a remote download and the writes of pack.json answer
507 with a JSON error naming the lack of space (never a 500), the store stays exactly as it
was (files, pack.json bytes, what the API lists), and once space is freed the same request
succeeds. The tmpfs is mounted directly where the test may (root), else in a user namespace
of the server's own (`unshare -rm`), whose files the test reads through /proc/PID/root; where
neither is allowed the tests skip, saying so."""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emojid.config import load
from tests.conftest import seed_accounts, serving, write_config
from tests.helpers import http_client, png_bytes, write_pack, zip_bytes
from tests.test_crash_remote import ALLOW_LOOPBACK, Local
from tests.test_hardening_crash import V1, free_port

SIZE = "4m"
FILLER = ".filler"  # hidden: never a pack, never swept


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


@functools.cache
def mount_mode() -> tuple[str | None, str]:
    """"direct" (this process may mount), "userns" (a user namespace may), or None and why not."""
    probe = Path(tempfile.mkdtemp(prefix="emojid-tmpfs-probe-"))
    try:
        direct = _run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)])
        if direct.returncode == 0:
            _run(["umount", str(probe)])
            return "direct", ""
        if shutil.which("unshare") is None:
            return None, f"mount: {direct.stderr.strip()}; no unshare command"
        userns = _run(["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)])
        if userns.returncode == 0:
            return "userns", ""
        return None, f"mount: {direct.stderr.strip()}; unshare -rm: {userns.stderr.strip()}"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, str(exc)
    finally:
        probe.rmdir()


@dataclass
class Site:
    """A local emojid whose packs_dir and cache_dir are small tmpfs mounts."""

    local: Local
    token: str
    # Where this process sees a path of the server's (its mounts may be in its own namespace).
    view: Callable[[Path], Path]

    @property
    def packs(self) -> Path:
        return self.view(self.local.root / "packs")

    @property
    def cache(self) -> Path:
        return self.view(self.local.root / "cache")

    def fill(self, *folders: Path) -> None:
        """Write to each disk until it has no page left."""
        for folder in folders:
            fd = os.open(folder / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                chunk = b"\0" * (1 << 16)
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
            finally:
                os.close(fd)
            assert os.statvfs(folder).f_bavail == 0

    def free(self) -> None:
        for folder in (self.packs, self.cache):
            (folder / FILLER).unlink(missing_ok=True)

    def client(self) -> httpx.AsyncClient:
        return http_client(base_url=self.local.url, timeout=30,
                                 headers={"authorization": f"Bearer {self.token}"})


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    mode, why = mount_mode()
    if mode is None:
        pytest.skip(f"cannot mount a small tmpfs here ({why})")
    root = tmp_path / "site"
    token = seed_accounts(load(write_config(root, free_port()), environ={}))["admin"]
    mounts = [root / "packs", root / "cache"]
    for folder in mounts:
        folder.mkdir()
    mounted: list[Path] = []
    try:
        if mode == "direct":
            for folder in mounts:
                done = _run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(folder)])
                assert done.returncode == 0, done.stderr
                mounted.append(folder)
            local = Local(root, ALLOW_LOOPBACK)
        else:
            # The mounts live as long as the namespace: as long as the server.
            script = f'mount -t tmpfs -o size={SIZE} tmpfs "$1" && mount -t tmpfs -o size={SIZE} tmpfs "$2" ' \
                     '&& shift 2 && exec "$@"'
            local = Local(root, ALLOW_LOOPBACK, wrap=["unshare", "-rm", "sh", "-c", script, "sh", *map(str, mounts)])
        try:
            await local.ready()
            pid = local.process.pid
            yield Site(local, token, (lambda p: p) if mode == "direct" else (lambda p: Path(f"/proc/{pid}/root{p}")))
        finally:
            local.stop()
    finally:
        for folder in mounted:
            if _run(["umount", str(folder)]).returncode != 0:
                _run(["umount", "-l", str(folder)])


def store_tree(packs: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under packs_dir, hidden ones too, but the filler."""
    found: dict[str, bytes | None] = {}
    for path in sorted(packs.rglob("*")):
        rel = path.relative_to(packs).as_posix()
        if rel != FILLER:
            found[rel] = path.read_bytes() if path.is_file() else None
    return found


async def api_state(c: httpx.AsyncClient, *names: str) -> dict[str, object]:
    """What the API says of the packs: their listing and each pack's files and metadata."""
    state: dict[str, object] = {"packs": (await c.get(f"{V1}/emoji/packs", params={"page_size": 100})).json()}
    for name in names:
        r = await c.get(f"{V1}/emoji/pack", params={"name": name, "page_size": 100})
        state[name] = (r.status_code, r.json())
    return state


def assert_no_space(r: httpx.Response, where: str) -> None:
    assert r.status_code == 507, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error.startswith("Insufficient storage: No space left on device") and where in error, error


async def seed(site: Site) -> None:
    """A pack with two emoji, made through the API."""
    async with site.client() as c:
        assert (await c.post(f"{V1}/emoji/pack", params={"name": "blobs"})).status_code == 200
        for shortcode, color in (("blobcat", "orange"), ("blobfox", "red")):
            r = await c.post(f"{V1}/emoji/packs/files", params={"name": "blobs"}, data={"shortcode": shortcode},
                             files={"file": (f"{shortcode}.png", png_bytes(color), "image/png")})
            assert r.status_code == 200, r.text


async def refused_without_a_trace(site: Site, request: Callable[[httpx.AsyncClient], object], where: str,
                                  *names: str) -> None:
    """`request` on the full disk: 507, and the store and the API as they were."""
    async with site.client() as c:
        before, api_before = store_tree(site.packs), await api_state(c, *names)
        r = await request(c)  # type: ignore[misc]
        assert_no_space(r, where)
        assert store_tree(site.packs) == before
        assert await api_state(c, *names) == api_before


async def test_a_file_upload_on_a_full_disk(site):
    await seed(site)

    async def upload(c: httpx.AsyncClient) -> httpx.Response:
        return await c.post(f"{V1}/emoji/packs/files", params={"name": "blobs"}, data={"shortcode": "blobdog"},
                            files={"file": ("blobdog.png", png_bytes("blue", 64), "image/png")})

    site.fill(site.packs)  # the upload is received, then cannot be placed
    await refused_without_a_trace(site, upload, "packs_dir", "blobs")
    site.free()
    site.fill(site.cache)  # the upload cannot even be received
    await refused_without_a_trace(site, upload, "cache_dir", "blobs")
    assert list((site.cache / "tmp").iterdir()) == []  # its spool file went too
    site.free()
    async with site.client() as c:
        r = await upload(c)
        assert r.status_code == 200, r.text
        assert r.json()["blobdog"] == "blobdog.png"
    assert (site.packs / "blobs" / "blobdog.png").read_bytes() == png_bytes("blue", 64)


async def test_a_zip_upload_on_a_full_disk(site):
    await seed(site)
    data = zip_bytes({f"z{i}.png": png_bytes(f"#{i:02x}80ff", 48) for i in range(20)})

    async def upload(c: httpx.AsyncClient) -> httpx.Response:
        return await c.post(f"{V1}/emoji/packs/files", params={"name": "blobs"},
                            files={"file": ("more.zip", data, "application/zip")})

    site.fill(site.packs)
    await refused_without_a_trace(site, upload, "packs_dir", "blobs")
    site.free()
    async with site.client() as c:
        r = await upload(c)
        assert r.status_code == 200, r.text
        assert len(r.json()) == 22
    assert sorted(p.name for p in (site.packs / "blobs").iterdir()) == \
        sorted(["pack.json", "blobcat.png", "blobfox.png", *(f"z{i}.png" for i in range(20))])


async def test_pack_json_writes_on_a_full_disk(site):
    await seed(site)
    writes = {
        "metadata": lambda c: c.patch(f"{V1}/emoji/pack", params={"name": "blobs"},
                                      json={"metadata": {"license": "CC0", "share-files": True}}),
        "rename": lambda c: c.patch(f"{V1}/emoji/packs/files", params={"name": "blobs"},
                                    data={"shortcode": "blobcat", "new_shortcode": "blobkitten",
                                          "new_filename": "kitten/blobkitten.png"}),
        "remove": lambda c: c.request("DELETE", f"{V1}/emoji/packs/files",
                                      params={"name": "blobs", "shortcode": "blobfox"}),
        "create": lambda c: c.post(f"{V1}/emoji/pack", params={"name": "fresh"}),
    }
    site.fill(site.packs)
    for request in writes.values():
        await refused_without_a_trace(site, request, "packs_dir", "blobs", "fresh")
    site.free()
    async with site.client() as c:
        for what, request in writes.items():
            r = await request(c)
            assert r.status_code == 200, (what, r.text)
        r = await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})
        assert r.json()["files"] == {"blobkitten": "kitten/blobkitten.png"}
        assert r.json()["pack"]["license"] == "CC0"
        assert (await c.get(f"{V1}/emoji/pack", params={"name": "fresh"})).status_code == 200
    assert (site.packs / "blobs" / "kitten" / "blobkitten.png").read_bytes() == png_bytes("orange")
    assert not (site.packs / "blobs" / "blobfox.png").exists()


async def test_a_remote_download_on_a_full_disk(site, tmp_path):
    images = {f"r{i}.png": png_bytes(f"#ff{i:02x}40", 48) for i in range(20)}

    def prepare(config):
        write_pack(config.packs_dir, "remote_blobs", {f"r{i}": f"r{i}.png" for i in range(20)},
                   {"share-files": True}, images)

    await seed(site)
    async with serving(tmp_path / "remote", prepare=prepare) as remote:
        async def download(c: httpx.AsyncClient) -> httpx.Response:
            return await c.post(f"{V1}/emoji/packs/download", json={"url": remote.url, "name": "remote_blobs"})

        site.fill(site.cache)  # the archive cannot be downloaded
        await refused_without_a_trace(site, download, "cache_dir", "blobs", "remote_blobs")
        assert list((site.cache / "downloads").iterdir()) == []
        site.free()
        site.fill(site.packs)  # it is downloaded, then cannot be unpacked
        await refused_without_a_trace(site, download, "packs_dir", "blobs", "remote_blobs")
        assert list((site.cache / "downloads").iterdir()) == []
        site.free()
        async with site.client() as c:
            r = await download(c)
            assert r.status_code == 200 and r.json() == "ok", r.text
            r = await c.get(f"{V1}/emoji/pack", params={"name": "remote_blobs"})
            assert r.status_code == 200 and len(r.json()["files"]) == 20
    for filename, data in images.items():
        assert (site.packs / "remote_blobs" / filename).read_bytes() == data
