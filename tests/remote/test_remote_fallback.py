"""PATCH /emoji/pack with a new fallback-src, and POST /emoji/packs/files with a URL."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from starlette.responses import Response

from tests.conftest import serving
from tests.helpers import png_bytes, tree, write_pack, zip_bytes
from tests.remote.checks import FILES, PACK, PRIVATE_OK, assert_error, leftovers, noise_png
from tests.remote.stubs import Stub, serving_stub, sha256_hex

INCOMPLETE = "The fallback archive does not have all files specified in pack.json"
A, B = png_bytes("red"), png_bytes("blue")
PACK_FILES = {"a": "a.png", "b": "sub/b.png"}


def mine(config) -> None:
    write_pack(config.packs_dir, "mine", PACK_FILES, {"license": "CC0"}, images={"a.png": A, "sub/b.png": B})


async def patch(local, metadata: dict):
    async with local.admin() as c:
        return await c.patch(PACK, params={"name": "mine"}, json={"metadata": metadata})


def on_disk_meta(local) -> dict:
    return json.loads((local.packs_dir / "mine" / "pack.json").read_bytes())["pack"]


async def test_new_fallback_src_stores_its_sha256_and_is_not_fetched_again(tmp_path: Path):
    stub = Stub()
    async with serving_stub(stub), serving(tmp_path, PRIVATE_OK, mine) as local:
        archive = zip_bytes({"a.png": A, "sub/b.png": B, "extra.png": A})
        stub.bytes("/mine.zip", archive)
        src = stub.url + "/mine.zip"

        r = await patch(local, {"license": "CC0", "fallback-src": src})
        assert r.status_code == 200, r.text
        assert r.json()["fallback-src"] == src
        assert r.json()["fallback-src-sha256"] == sha256_hex(archive)  # uppercase hex
        assert on_disk_meta(local)["fallback-src-sha256"] == sha256_hex(archive)
        assert stub.count("/mine.zip") == 1

        # The same source again (other metadata changing): kept, not downloaded again.
        r = await patch(local, {"license": "CC-BY", "fallback-src": src})
        assert r.status_code == 200, r.text
        assert r.json()["fallback-src-sha256"] == sha256_hex(archive)
        assert r.json()["license"] == "CC-BY"
        assert stub.count("/mine.zip") == 1
        assert on_disk_meta(local) == {"license": "CC-BY", "fallback-src": src,
                                       "fallback-src-sha256": sha256_hex(archive)}
        async with local.admin() as c:
            shown = (await c.get(PACK, params={"name": "mine"})).json()["pack"]
            assert shown["fallback-src-sha256"] == sha256_hex(archive)
        assert leftovers(local) == []


async def test_fallback_archive_missing_a_pack_file_is_400_and_changes_nothing(tmp_path: Path):
    stub = Stub()
    async with serving_stub(stub), serving(tmp_path, PRIVATE_OK, mine) as local:
        stub.bytes("/partial.zip", zip_bytes({"a.png": A}))
        before = tree(local.packs_dir)
        r = await patch(local, {"license": "changed", "fallback-src": stub.url + "/partial.zip"})
        assert_error(r, 400, INCOMPLETE)
        assert tree(local.packs_dir) == before
        assert leftovers(local) == []
        async with local.admin() as c:
            assert (await c.get(PACK, params={"name": "mine"})).json()["pack"]["license"] == "CC0"


async def test_bad_fallback_sources_change_nothing(tmp_path: Path, subtests):
    stub = Stub()
    small = PRIVATE_OK + "max_download_bytes = 4000\n"
    async with serving_stub(stub), serving(tmp_path, small, mine) as local:
        stub.bytes("/notzip.zip", b"hello, not a zip" * 10)
        stub.bytes("/traversal.zip", zip_bytes({"a.png": A, "sub/b.png": B, "../../evil.png": A}))
        stub.bytes("/symlink.zip", zip_bytes({"a.png": A}, symlinks={"sub/b.png": "/etc/passwd"}))
        stub.bytes("/big.zip", zip_bytes({"a.png": A, "sub/b.png": B, "pad.png": os.urandom(8000)}))
        before = tree(local.packs_dir)
        cases = {
            "/missing.zip": (502, "404"),  # the remote failed: 502 (400 is for the metadata itself)
            "/notzip.zip": (400, "zip"),
            "/traversal.zip": (400, "evil.png"),
            "/symlink.zip": (400, "symlink"),
            "/big.zip": (502, "4000"),
        }
        for path, (status, word) in cases.items():
            with subtests.test(path):
                r = await patch(local, {"fallback-src": stub.url + path})
                assert_error(r, status, contains=(word,))
                assert tree(local.packs_dir) == before
                assert leftovers(local) == []
        assert not (tmp_path / "evil.png").exists()


# -- upload by URL ---------------------------------------------------------------------


async def test_upload_by_url_adds_the_file_named_after_the_url(tmp_path: Path):
    stub = Stub()
    image = png_bytes("purple", 24)
    async with serving_stub(stub), serving(tmp_path, PRIVATE_OK, mine) as local:
        stub.bytes("/media/happy_cat.png", image, "image/png")
        stub.bytes("/media/other.png", image, "image/png")
        async with local.admin() as c:
            r = await c.post(FILES, params={"name": "mine"}, data={"file": stub.url + "/media/happy_cat.png"})
            assert r.status_code == 200, r.text
            assert r.json() == {**PACK_FILES, "happy_cat": "happy_cat.png"}
            assert (local.packs_dir / "mine" / "happy_cat.png").read_bytes() == image
            # As JSON, with the shortcode and filename given.
            r = await c.post(FILES, params={"name": "mine"},
                             json={"file": stub.url + "/media/other.png", "shortcode": "cat2", "filename": "c/cat2.png"})
            assert r.status_code == 200, r.text
            assert r.json()["cat2"] == "c/cat2.png"
            assert (local.packs_dir / "mine" / "c" / "cat2.png").read_bytes() == image
            emoji = {e["shortcode"]: e for e in (await c.get("/api/v1/custom_emojis")).json()}
            assert "happy_cat" in emoji and "cat2" in emoji
        assert leftovers(local) == []
        assert stub.requests[0].user_agent.startswith("emojid/"), stub.requests[0]


async def test_upload_by_url_failures_write_nothing(tmp_path: Path, subtests):
    stub = Stub()
    noisy = noise_png()
    small = PRIVATE_OK + "max_download_bytes = 4000\ntimeout_seconds = 1\n"

    async def slow(request):
        await asyncio.sleep(1.5)
        return Response(A, media_type="image/png")

    async with serving_stub(stub), serving(tmp_path, small, mine) as local:
        stub.route("/slow.png", slow)
        stub.bytes("/script.png", b"#!/bin/sh\nrm -rf /\n", "image/png")
        stub.bytes("/noisy.png", noisy, "image/png")
        stub.bytes("/a.png", A, "image/png")
        before = tree(local.packs_dir)
        cases = {
            "/gone.png": (502, ("404",)),  # the remote failed
            "/script.png": (415, ("image",)),
            "/noisy.png": (413, ("4000",)),  # beyond max_download_bytes, though under max_file_bytes
            "/a.png": (409, ("a",)),  # the shortcode "a" is taken
            "/slow.png": (502, ("timed out",)),  # [remote] timeout_seconds
        }
        async with local.admin() as c:
            for path, (status, words) in cases.items():
                with subtests.test(path):
                    r = await c.post(FILES, params={"name": "mine"}, data={"file": stub.url + path})
                    assert_error(r, status, contains=words)
                    assert tree(local.packs_dir) == before
                    assert leftovers(local) == []
            r = await c.post(FILES, params={"name": "nope"}, data={"file": stub.url + "/a.png", "shortcode": "zz"})
            assert_error(r, 404)
        assert tree(local.packs_dir) == before
