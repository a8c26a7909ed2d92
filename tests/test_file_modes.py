"""What emojid writes follows the process umask (0644 / 0755 under umask 022), so Pleroma,
nginx or a backup job running as another user can read the store, the cache and the media.

Atomic writes go through tempfile.mkstemp/mkdtemp (0600 / 0700): these tests catch a
published file or folder that kept that private mode.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from emojid.cli import cli
from tests.conftest import serving, wait_for
from tests.helpers import png_bytes, write_pack, zip_bytes
from tests.remote.checks import DOWNLOAD, PRIVATE_OK

V1 = "/api/v1/pleroma"
FILES = f"{V1}/emoji/packs/files"


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def umask(request) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes_under(root: Path) -> dict[str, int]:
    """Every file and folder under root (root included): relative path -> permission bits."""
    found = {".": mode(root)}
    for path in root.rglob("*"):
        found[path.relative_to(root).as_posix()] = mode(path)
    return found


def assert_follow_umask(root: Path, mask: int, expect: set[str] | None = None) -> None:
    """Files 0666 & ~umask, folders 0777 & ~umask, for everything under root."""
    found = modes_under(root)
    if expect is not None:
        assert expect <= set(found), (expect - set(found), sorted(found))
    wrong = {}
    for rel, bits in found.items():
        want = (0o777 if (root / rel).is_dir() else 0o666) & ~mask
        if bits != want:
            wrong[rel] = oct(bits)
    assert wrong == {}, f"want {oct(0o666 & ~mask)} / {oct(0o777 & ~mask)} under {root}"


async def test_store_cache_and_media_follow_the_umask(tmp_path, umask):
    async with serving(tmp_path / "s") as server:
        packs = server.packs_dir
        async with server.admin() as c:
            r = await c.post(f"{V1}/emoji/pack", params={"name": "blobs"})
            assert r.status_code == 200, r.text
            r = await c.post(FILES, params={"name": "blobs"},
                             files={"file": ("blobcat.png", png_bytes("red"), "image/png")})
            assert r.status_code == 200, r.text
            r = await c.post(FILES, params={"name": "blobs"},
                             files={"file": ("more.zip", zip_bytes({"sub/deep/zipped.png": png_bytes("blue"),
                                                                     "top.png": png_bytes("green")}),
                                             "application/zip")})
            assert r.status_code == 200, r.text
            assert r.json() == {"blobcat": "blobcat.png", "top": "top.png", "zipped": "sub/deep/zipped.png"}
            r = await c.patch(f"{V1}/emoji/pack", json={"name": "blobs", "metadata": {"share-files": True}})
            assert r.status_code == 200, r.text
            # A rename moves a file into a new folder.
            r = await c.patch(FILES, json={"name": "blobs", "shortcode": "top", "new_shortcode": "top",
                                           "new_filename": "moved/top.png"})
            assert r.status_code == 200, r.text

            # The archive is built into cache_dir, the global lists too.
            r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "blobs"})
            assert r.status_code == 200
            assert (await c.get("/api/v1/custom_emojis")).status_code == 200
            assert (await c.get(f"{V1}/emoji")).status_code == 200

        async with server.client(server.tokens["user"]) as c:
            r = await c.post("/api/v1/media", files={"file": ("cat.png", png_bytes("white"), "image/png")})
            assert r.status_code == 200, r.text
            media_name = r.json()["url"].rsplit("/", 1)[1]

        assert_follow_umask(packs / "blobs", umask, {".", "pack.json", "blobcat.png", "sub", "sub/deep",
                                                     "sub/deep/zipped.png", "moved", "moved/top.png"})
        archives = server.config.cache_dir / "archives"
        assert_follow_umask(archives, umask)
        assert [p.suffix for p in (archives / "blobs").iterdir()] == [".zip"]
        lists = server.config.cache_dir / "lists"
        assert lists.is_dir() and any(lists.iterdir()), "the emoji lists are written under cache_dir/lists"
        assert_follow_umask(lists, umask)
        assert_follow_umask(server.config.media_dir, umask, {".", media_name})


async def test_a_mirrored_pack_follows_the_umask(tmp_path, umask):
    def publish(config):
        write_pack(config.packs_dir, "blobs", {"a": "a.png", "b": "sub/deeper/b.png"}, {"share-files": True},
                   images={"a.png": png_bytes("red"), "sub/deeper/b.png": png_bytes("blue")})

    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local, local.admin() as c:
        r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs", "as": "mirrored"})
        assert r.status_code == 200, r.text
        r = await c.get(f"{V1}/emoji/pack", params={"name": "mirrored"})
        assert r.json()["files"] == {"a": "a.png", "b": "sub/deeper/b.png"}
        # The staging folder was renamed into place: it must not stay 0700.
        assert_follow_umask(local.packs_dir / "mirrored", umask,
                            {".", "pack.json", "a.png", "sub", "sub/deeper", "sub/deeper/b.png"})


async def test_gen_pack_output_follows_the_umask(tmp_path, umask):
    def publish(config):
        write_pack(config.packs_dir, "blobs", {"a": "a.png"}, {"share-files": True})

    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote:
        url = f"{remote.url}{V1}/emoji/packs/archive?name=blobs"
        async with remote.anon() as c:
            await wait_for(lambda: c.get(url), timeout=5)
        site = tmp_path / "site"
        site.mkdir()
        (site / "emojid.toml").write_text('[storage]\npacks_dir = "packs"\ndatabase = "emojid.db"\n'
                                          f'cache_dir = "cache"\n[watch]\nenabled = false\n{PRIVATE_OK}')
        out = tmp_path / "publish"
        argv = ["--config", str(site / "emojid.toml"), "pack", "gen-pack", url, "--name", "blobs",
                "--license", "CC0", "--homepage", "", "--description", "blobs", "--extensions", ".png",
                "--files", str(out / "blobs_files.json"), "--manifest-out", str(out / "manifest.json")]
        env = {k: None for k in os.environ if k.startswith("EMOJID_")}
        # The command runs its own event loop: off this one.
        result = await asyncio.to_thread(CliRunner().invoke, cli, argv, env=env, prog_name="emojid")
        assert result.exit_code == 0, (result.output, result.exception)
    assert_follow_umask(out, umask, {".", "manifest.json", "blobs_files.json"})
