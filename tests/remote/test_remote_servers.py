"""Two real emojid servers on 127.0.0.1: one publishes packs, the other lists and downloads them."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

from click.testing import CliRunner

from emojid.cli import cli
from tests.conftest import serving
from tests.helpers import png_bytes, tree, write_pack
from tests.remote.checks import (
    DOWNLOAD,
    PACK,
    PACKS,
    PRIVATE_OK,
    REMOTE,
    assert_error,
    assert_nothing_written,
    leftovers,
    listed,
)

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black", "pink"]
# 45 emoji, in subfolders, each file different: more than Pleroma's default page of 30.
BIG = {f"e{i:03d}": f"{'sub' if i % 3 else 'deep/er'}/e{i:03d}.png" for i in range(45)}
BIG_IMAGES = {f: png_bytes(COLORS[i % len(COLORS)], 8 + i) for i, f in enumerate(BIG.values())}


def publish(config) -> None:
    write_pack(config.packs_dir, "blobs", BIG, {"share-files": True, "license": "CC0", "homepage": "https://x.example"},
               images=BIG_IMAGES)
    write_pack(config.packs_dir, "secret", {"s": "s.png"}, {"share-files": False})


async def test_remote_listing_has_pleroma_shape(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local:
        async with local.admin() as c:
            r = await c.get(REMOTE, params={"url": remote.url})
            assert r.status_code == 200, r.text
            body = r.json()
            assert set(body) == {"packs", "count"}
            assert body["count"] == 2
            assert sorted(body["packs"]) == ["blobs", "secret"]
            blobs = body["packs"]["blobs"]
            assert blobs["files_count"] == 45
            assert blobs["pack"]["can-download"] is True
            assert blobs["pack"]["license"] == "CC0"
            assert len(blobs["pack"]["download-sha256"]) == 64
            assert body["packs"]["secret"]["pack"]["can-download"] is False

            # Paging is passed through; the count stays the total.
            r = await c.get(REMOTE, params={"url": remote.url, "page": 2, "page_size": 1})
            assert r.status_code == 200, r.text
            assert list(r.json()["packs"]) == ["secret"] and r.json()["count"] == 2

            # A path on the URL is ignored, as Pleroma merges the API path onto the instance.
            r = await c.get(REMOTE, params={"url": remote.url + "/some/where"})
            assert r.status_code == 200 and r.json()["count"] == 2

        async with local.client(local.user_token) as c:
            assert_error(await c.get(REMOTE, params={"url": remote.url}), 403)
        async with local.anon() as c:
            assert_error(await c.get(REMOTE, params={"url": remote.url}), 401)


async def test_download_installs_every_file_before_answering(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local:
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"})
            assert r.status_code == 200, r.text
            assert r.json() == "ok"
            # Listed by the time the request returns: no waiting for the watcher.
            assert await listed(local, "blobs")
            r = await c.get(PACK, params={"name": "blobs", "page_size": 100})
            assert r.status_code == 200, r.text
            shown = r.json()
            assert shown["files_count"] == 45
            assert shown["files"] == BIG
            assert shown["pack"]["license"] == "CC0"
            assert shown["pack"]["homepage"] == "https://x.example"
            r = await c.get("/api/v1/custom_emojis")
            assert {e["shortcode"] for e in r.json()} >= set(BIG)

        # Every file, byte for byte, and a pack.json listing them all.
        remote_files = tree(remote.packs_dir / "blobs")
        local_files = tree(local.packs_dir / "blobs")
        assert {k: v for k, v in local_files.items() if k != "pack.json"} == \
               {k: v for k, v in remote_files.items() if k != "pack.json"}
        doc = json.loads(local_files["pack.json"])
        assert doc["files"] == BIG and doc["files_count"] == 45
        assert doc["pack"]["share-files"] is True
        assert "download-sha256" not in doc["pack"] and "can-download" not in doc["pack"]
        assert leftovers(local) == []

        # The local copy is itself shareable, with the same files.
        async with local.anon() as c:
            r = await c.get(PACKS)
            assert r.json()["packs"]["blobs"]["pack"]["can-download"] is True


async def test_download_as_another_name(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local:
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs", "as": "mirrored"})
            assert r.status_code == 200, r.text
            assert r.json() == "ok"
            assert await listed(local, "mirrored")
            assert not await listed(local, "blobs")
            r = await c.get(PACK, params={"name": "mirrored", "page_size": 100})
            assert r.json()["files"] == BIG
        assert (local.packs_dir / "mirrored" / "sub" / "e001.png").read_bytes() == BIG_IMAGES["sub/e001.png"]
        assert not (local.packs_dir / "blobs").exists()

        # `emojid pack download URL NAME --as LOCAL` does the same, beside the running server.
        config = str(local.root / "emojid.toml")
        cli_run = functools.partial(CliRunner().invoke, cli, catch_exceptions=False)
        result = await asyncio.to_thread(cli_run, ["--config", config, "pack", "download", remote.url, "blobs",
                                                   "--as", "from_cli"])
        assert result.exit_code == 0, result.output
        assert tree(local.packs_dir / "from_cli") | {"pack.json": b""} == BIG_IMAGES | {"pack.json": b""}
        async with local.anon() as c:
            r = await c.get(PACK, params={"name": "from_cli", "page_size": 100})
            assert r.status_code == 200 and r.json()["files"] == BIG
        before = tree(local.packs_dir)
        result = await asyncio.to_thread(cli_run, ["--config", config, "pack", "download", remote.url, "blobs",
                                                   "--as", "mirrored"])
        assert result.exit_code == 1
        assert 'A pack named "mirrored" already exists' in result.stderr
        assert "Traceback" not in result.output
        assert tree(local.packs_dir) == before


async def test_download_onto_an_existing_name_is_409_and_leaves_it(tmp_path: Path):
    def mine(config) -> None:
        write_pack(config.packs_dir, "blobs", {"mine": "mine.png"}, {"license": "mine"}, images={"mine.png": png_bytes("white")})
        write_pack(config.packs_dir, "taken", {"t": "t.png"}, {})

    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK, mine) as local:
        before = tree(local.packs_dir)
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"})
            assert_error(r, 409, 'A pack named "blobs" already exists')
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs", "as": "taken"})
            assert_error(r, 409, 'A pack named "taken" already exists')
            r = await c.get(PACK, params={"name": "blobs"})
            assert r.json()["files"] == {"mine": "mine.png"}
        await assert_nothing_written(local, before)


async def test_download_of_an_unknown_or_private_pack_writes_nothing(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local:
        before = tree(local.packs_dir)
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "secret"})
            assert_error(r, 500, "The pack was not set as shared and there is no fallback src to download from")
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "nope"})
            assert r.status_code in (404, 500), r.text
            assert_error(r, r.status_code, contains=("nope",))
            assert_error(await c.post(DOWNLOAD, json={"url": remote.url}), 400, contains=("name",))
            assert_error(await c.post(DOWNLOAD, json={"name": "blobs"}), 400, contains=("url",))
            assert_error(await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs", "as": "../x"}), 400)
        async with local.client(local.user_token) as c:
            assert_error(await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"}), 403)
        await assert_nothing_written(local, before, "secret", "nope", "blobs")


async def test_2019_list_from_and_download_from(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local:
        async with local.admin() as c:
            r = await c.post("/api/pleroma/emoji/packs/list_from", json={"instance_address": remote.url})
            assert r.status_code == 200, r.text
            assert sorted(r.json()["packs"]) == ["blobs", "secret"]
            assert r.json()["packs"]["blobs"]["files_count"] == 45

            r = await c.post("/api/pleroma/emoji/packs/download_from",
                             data={"instance_address": remote.url, "pack_name": "blobs", "as": "old_style"})
            assert r.status_code == 200, r.text
            assert r.json() == "ok"
            assert await listed(local, "old_style")
            r = await c.get(PACK, params={"name": "old_style", "page_size": 100})
            assert r.json()["files"] == BIG

            r = await c.post("/api/pleroma/emoji/packs/download_from",
                             json={"instance_address": remote.url, "pack_name": "blobs", "as": "old_style"})
            assert_error(r, 409, 'A pack named "old_style" already exists')
        async with local.client(local.user_token) as c:
            r = await c.post("/api/pleroma/emoji/packs/list_from", json={"instance_address": remote.url})
            assert_error(r, 403)
