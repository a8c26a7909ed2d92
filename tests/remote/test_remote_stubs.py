"""Downloads from stub remotes: fallback sources, checksums, an old Pleroma, hostile archives.

Every failure asserts the answer (500, as Pleroma answers failed downloads, with
a message saying what went wrong) and that the store is exactly as before: no
pack, no `.staging-*` folder, no temp file, nothing in the listing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from starlette.responses import StreamingResponse

from tests.conftest import serving
from tests.helpers import png_bytes, tree, write_pack, zip_bytes
from tests.remote.checks import (
    DOWNLOAD,
    PACK,
    PRIVATE_OK,
    REMOTE,
    assert_error,
    assert_nothing_written,
    deflated_zip,
    leftovers,
    listed,
    noise_png,
    raw_zip,
)
from tests.remote.stubs import FakePleroma, pack_json, serving_stub, sha256_hex

NOT_SHAREABLE = "The requested instance does not support sharing emoji packs"
BAD_SHA = "SHA256 for the pack doesn't match the one sent by the server"

A, B = png_bytes("red"), png_bytes("blue")
FILES = {"a": "a.png", "b": "sub/b.png"}
IMAGES = {"a.png": A, "sub/b.png": B}


def shared_archive(files=FILES, images=IMAGES, meta=None) -> bytes:
    return zip_bytes({"pack.json": pack_json(files, meta or {"share-files": True}), **images})


async def download(local, url: str, name: str, **extra):
    async with local.admin() as c:
        return await c.post(DOWNLOAD, json={"url": url, "name": name, **extra})


# -- the remote's nodeinfo ------------------------------------------------------


async def test_non_shareable_instance_is_refused_before_any_pack_request(tmp_path: Path):
    async with serving_stub(FakePleroma(shareable=False)) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("blobs", FILES, {"share-files": True}, shared_archive())
        before = tree(local.packs_dir)
        async with local.admin() as c:
            assert_error(await c.get(REMOTE, params={"url": remote.url}), 500, NOT_SHAREABLE)
            r = await c.post("/api/pleroma/emoji/packs/list_from", json={"instance_address": remote.url})
            assert_error(r, 500, NOT_SHAREABLE)
        assert_error(await download(local, remote.url, "blobs"), 500, NOT_SHAREABLE)
        assert {r.path for r in remote.requests} == {"/.well-known/nodeinfo", "/nodeinfo/2.1.json"}
        await assert_nothing_written(local, before, "blobs")


async def test_nodeinfo_that_is_not_json_is_not_shareable(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.bytes("/.well-known/nodeinfo", b"<html>hello</html>", "text/html")
        assert_error(await download(local, remote.url, "blobs"), 500)
        assert remote.count(FakePleroma.ARCHIVE) == 0
        assert leftovers(local) == []


# -- checksums ------------------------------------------------------------------


async def test_wrong_sha256_is_refused_and_leaves_nothing(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("blobs", FILES, {"share-files": True, "download-sha256": "0" * 64}, shared_archive())
        before = tree(local.packs_dir)
        assert_error(await download(local, remote.url, "blobs"), 500, BAD_SHA)
        assert remote.count(FakePleroma.ARCHIVE) == 1
        await assert_nothing_written(local, before, "blobs")


async def test_lowercase_sha256_is_accepted_and_only_listed_files_are_unpacked(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        archive = zip_bytes({"pack.json": pack_json(FILES, {"share-files": True}), **IMAGES,
                             "unlisted.png": A, "notes.txt": b"hello", "deeper/x.gif": B})
        remote.add("blobs", FILES, {"share-files": True, "download-sha256": sha256_hex(archive).lower()}, archive)
        r = await download(local, remote.url, "blobs")
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
        assert tree(local.packs_dir / "blobs") | {"pack.json": b""} == IMAGES | {"pack.json": b""}


async def test_remote_capping_page_size_still_gives_every_file(tmp_path: Path):
    """A remote that pages pack.json 30 files at a time whatever is asked: all 45 arrive."""
    files = {f"e{i:02d}": f"e{i:02d}.png" for i in range(45)}
    images = {f: png_bytes("green", 8 + i) for i, f in enumerate(files.values())}
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("many", files, {"share-files": True}, shared_archive(files, images))
        remote.max_page_size = 30
        r = await download(local, remote.url, "many")
        assert r.status_code == 200, r.text
        assert json.loads((local.packs_dir / "many" / "pack.json").read_bytes())["files"] == files
        assert tree(local.packs_dir / "many") | {"pack.json": b""} == images | {"pack.json": b""}


# -- fallback sources -----------------------------------------------------------


async def test_fallback_src_pack_is_installed_with_its_pack_json(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        # A fallback archive holds only the files, here under a "pack.json" that must not be trusted.
        fallback = zip_bytes({**IMAGES, "pack.json": pack_json({"x": "x.png"}, {"evil": True})})
        src = remote.publish("/static/blobs.zip", fallback)
        meta = {"share-files": False, "license": "CC-BY", "fallback-src": src,
                "fallback-src-sha256": sha256_hex(fallback)}
        remote.add("blobs", FILES, meta)
        r = await download(local, remote.url, "blobs", **{"as": "fb"})
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
        assert await listed(local, "fb")
        assert remote.count("/static/blobs.zip") == 1
        assert remote.count(FakePleroma.ARCHIVE) == 0
        on_disk = tree(local.packs_dir / "fb")
        assert {k: v for k, v in on_disk.items() if k != "pack.json"} == IMAGES
        doc = json.loads(on_disk["pack.json"])
        assert doc["files"] == FILES
        assert doc["pack"]["fallback-src"] == src
        assert doc["pack"]["fallback-src-sha256"] == sha256_hex(fallback)
        assert doc["pack"]["license"] == "CC-BY"
        assert "evil" not in doc["pack"]
        async with local.admin() as c:
            shown = (await c.get(PACK, params={"name": "fb"})).json()
            assert shown["files"] == FILES
            assert shown["pack"]["fallback-src"] == src


async def test_fallback_src_with_lowercase_sha256(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        fallback = zip_bytes(IMAGES)
        src = remote.publish("/fb.zip", fallback)
        remote.add("blobs", FILES, {"fallback-src": src, "fallback-src-sha256": sha256_hex(fallback).lower()})
        r = await download(local, remote.url, "blobs")
        assert r.status_code == 200, r.text
        assert (local.packs_dir / "blobs" / "sub" / "b.png").read_bytes() == B


async def test_fallback_src_with_wrong_sha256(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        src = remote.publish("/fb.zip", zip_bytes(IMAGES))
        remote.add("blobs", FILES, {"fallback-src": src, "fallback-src-sha256": sha256_hex(b"other")})
        before = tree(local.packs_dir)
        assert_error(await download(local, remote.url, "blobs"), 500, BAD_SHA)
        await assert_nothing_written(local, before, "blobs")


async def test_fallback_src_that_is_gone(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("blobs", FILES, {"fallback-src": remote.url + "/missing.zip", "fallback-src-sha256": "A" * 64})
        before = tree(local.packs_dir)
        assert_error(await download(local, remote.url, "blobs"), 500, contains=("404",))
        await assert_nothing_written(local, before, "blobs")


# -- an old Pleroma ---------------------------------------------------------------


async def test_old_pleroma_remote(tmp_path: Path):
    async with serving_stub(FakePleroma(old=True)) as remote, serving(tmp_path, PRIVATE_OK) as local:
        archive = shared_archive()
        remote.add("blobs", FILES, {"share-files": True}, archive)
        remote.add("other", {"o": "o.png"}, {"share-files": False})
        async with local.admin() as c:
            r = await c.get(REMOTE, params={"url": remote.url})
            assert r.status_code == 200, r.text
            assert sorted(r.json()["packs"]) == ["blobs", "other"] and r.json()["count"] == 2
            r = await c.post("/api/pleroma/emoji/packs/list_from", json={"instance_address": remote.url})
            assert sorted(r.json()["packs"]) == ["blobs", "other"]
            r = await c.post("/api/pleroma/emoji/packs/download_from",
                             json={"instance_address": remote.url, "pack_name": "blobs", "as": "old"})
            assert r.status_code == 200, r.text
        assert remote.count("/api/v1/pleroma/emoji/pack") >= 1  # tried the current route first
        assert remote.count("/api/pleroma/emoji/packs/blobs/download_shared") == 1
        assert await listed(local, "old")
        assert {k: v for k, v in tree(local.packs_dir / "old").items() if k != "pack.json"} == IMAGES
        assert json.loads((local.packs_dir / "old" / "pack.json").read_bytes())["files"] == FILES


# -- hostile archives -----------------------------------------------------------------


def bomb() -> bytes:
    # 40 MB of zeros deflates to ~40 KB: far beyond any sane ratio.
    return deflated_zip({"a.png": A, "sub/b.png": B, "bomb.png": b"\0" * (40 << 20)})


HOSTILE = {
    # name: (files listed by the remote pack.json, archive, words the error must contain)
    "traversal": (FILES, raw_zip([("a.png", A), ("sub/b.png", B), ("../evil.png", A)]), ("../evil.png",)),
    "traversal-listed": ({"a": "a.png", "b": "sub/../../b.png"}, raw_zip([("a.png", A), ("sub/../../b.png", B)]),
                         ("b.png",)),
    "absolute": (FILES, raw_zip([("a.png", A), ("sub/b.png", B), ("/tmp/evil.png", A)]), ("/tmp/evil.png",)),
    "symlink": ({"a": "a.png", "b": "b.png"}, zip_bytes({"a.png": A}, symlinks={"b.png": "/etc/passwd"}),
                ("symlink",)),
    "pack.json lists ../x.png": ({"a": "a.png", "x": "../x.png"}, zip_bytes({"a.png": A, "x.png": B}),
                                 ("../x.png",)),
    "pack.json lists an absolute path": ({"x": "/etc/passwd"}, zip_bytes({"a.png": A}), ("/etc/passwd",)),
    "duplicate entries": (FILES, raw_zip([("a.png", A), ("sub/b.png", B), ("a.png", B)]), ("duplicate",)),
    "zip bomb": (FILES, None, ("bomb.png",)),
    "missing listed file": ({"a": "a.png", "b": "sub/b.png", "c": "c.png"}, zip_bytes(IMAGES), ("c.png",)),
    "listed file not an image": ({"a": "a.png", "t": "t.png"}, zip_bytes({"a.png": A, "t.png": b"#!/bin/sh\n"}),
                                 ("t.png", "image")),
    "not a zip": (FILES, b"this is not a zip archive at all" * 10, ("zip",)),
    # Shortcodes the local API would refuse ([emoji] shortcode_pattern) are refused from a remote too.
    "markup in a shortcode": ({"a": "a.png", "<img src=x onerror=alert(1)>": "sub/b.png"}, zip_bytes(IMAGES),
                              ("shortcode", "<img")),
    "colon in a shortcode": ({"a": "a.png", "a:b": "sub/b.png"}, zip_bytes(IMAGES), ("shortcode", "a:b")),
    # A real PNG, but under a name the store does not serve as an emoji.
    "listed file with a disallowed extension": ({"a": "a.png", "x": "x.html"}, zip_bytes({"a.png": A, "x.html": B}),
                                                ("x.html", "allowed")),
}


async def test_hostile_archives_are_refused_and_leave_nothing(tmp_path: Path, subtests):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        for i, (files, archive, _words) in enumerate(HOSTILE.values()):
            if archive is None:
                archive = bomb()
            # Shared with a correct SHA256: the checks under test are the archive's, not the checksum's.
            remote.add(f"evil{i}", files, {"share-files": True}, archive)
            # The same archive as the fallback source of an unshared pack.
            src = remote.publish(f"/evil{i}.zip", archive)
            remote.add(f"evil{i}_fb", files, {"fallback-src": src, "fallback-src-sha256": sha256_hex(archive)})
        before = tree(local.packs_dir)
        for i, (case, (_files, _archive, words)) in enumerate(HOSTILE.items()):
            with subtests.test(case):
                for name in (f"evil{i}", f"evil{i}_fb"):
                    assert_error(await download(local, remote.url, name), 500, contains=words)
                    await assert_nothing_written(local, before, name)
        assert not (tmp_path / "evil.png").exists() and not (local.packs_dir / "evil.png").exists()
        assert not (local.packs_dir.parent / "x.png").exists()


# -- sizes --------------------------------------------------------------------------


LIMIT = 8000
SMALL = PRIVATE_OK + f"max_download_bytes = {LIMIT}\n"


async def test_archive_beyond_max_download_bytes_is_refused(tmp_path: Path):
    big = noise_png()
    assert len(big) > LIMIT
    archive = zip_bytes({"pack.json": pack_json({"big": "big.png"}, {"share-files": True}), "big.png": big})
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, SMALL) as local:
        remote.add("big", {"big": "big.png"}, {"share-files": True}, archive)
        before = tree(local.packs_dir)
        assert_error(await download(local, remote.url, "big"), 500, contains=(str(LIMIT),))
        await assert_nothing_written(local, before, "big")


async def test_streamed_archive_beyond_max_download_bytes_is_cut_off(tmp_path: Path):
    """No Content-Length to go by: the download stops once the limit is passed."""
    def endless(request):
        async def chunks():
            for _ in range(1000):  # 64 MB if nobody stops reading
                yield b"\0" * 65536
        return StreamingResponse(chunks(), media_type="application/zip")

    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, SMALL) as local:
        remote.add("big", FILES, {"share-files": True, "download-sha256": "A" * 64}, b"")
        remote.route(FakePleroma.ARCHIVE, endless)
        before = tree(local.packs_dir)
        # Not the Content-Length check: the one counting bytes as they stream in.
        assert_error(await download(local, remote.url, "big"), 500, contains=("larger than the limit", str(LIMIT)))
        await assert_nothing_written(local, before, "big")


async def test_remote_listing_beyond_max_download_bytes_is_refused(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, SMALL) as local:
        for i in range(60):
            remote.add(f"pack{i:03d}", {f"e{j}": f"e{j}.png" for j in range(5)}, {"description": "x" * 100})
        async with local.admin() as c:
            r = await c.get(REMOTE, params={"url": remote.url, "page_size": 100})
            assert_error(r, 500, contains=(str(LIMIT),))


async def test_download_name_checks_happen_before_any_fetch(tmp_path: Path):
    def mine(config):
        write_pack(config.packs_dir, "blobs", {"x": "x.png"}, {})

    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK, mine) as local:
        remote.add("blobs", FILES, {"share-files": True}, shared_archive())
        before = tree(local.packs_dir)
        assert_error(await download(local, remote.url, "blobs"), 409, 'A pack named "blobs" already exists')
        assert_error(await download(local, remote.url, "blobs", **{"as": ".staging-x"}), 400)
        assert remote.count(FakePleroma.ARCHIVE) == 0
        await assert_nothing_written(local, before)


async def test_concurrent_downloads_onto_one_name_install_once(tmp_path: Path):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("blobs", FILES, {"share-files": True}, shared_archive())
        answers = await asyncio.gather(*(download(local, remote.url, "blobs") for _ in range(5)))
        assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409], [r.text for r in answers]
        for r in answers:
            if r.status_code == 409:
                assert_error(r, 409, 'A pack named "blobs" already exists')
        assert {k: v for k, v in tree(local.packs_dir).items() if k != "blobs/pack.json"} == \
               {f"blobs/{k}": v for k, v in IMAGES.items()}
        assert leftovers(local) == []
