"""The fast download path keeps every check, and remote failures answer as documented.

- A download is hashed as it arrives and written once; the SHA256 is compared
  before a byte is unpacked, so a corrupt archive of the right size is refused
  by its checksum and leaves nothing.
- Entries are unpacked by several threads, each CRC-checked as it is read and
  its image probed by its header: a bad entry refuses the whole pack, names the
  first bad entry in name order, and leaves no staging folder behind.
- A download operation is bounded as a whole, not only request by request.
- Statuses: Pleroma's remote pack routes answer 500 for any remote failure (its
  docs, for downloads); elsewhere a remote that fails is 502, one that cannot
  be reached 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import sqlite3
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emojid.config import RemoteConfig
from emojid.remote import WRITE_BATCH, RemoteClient, RemoteError
from tests.conftest import serving
from tests.helpers import png_bytes, tree, write_pack, zip_bytes
from tests.remote.checks import (
    DOWNLOAD,
    FILES,
    PACK,
    PRIVATE_OK,
    REMOTE,
    assert_error,
    assert_nothing_written,
    leftovers,
)
from tests.remote.stubs import FakePleroma, Stub, pack_json, serving_stub, sha256_hex

BAD_SHA = "SHA256 for the pack doesn't match the one sent by the server"
IMPORT = "/api/v1/emojid/packs/import"

FILES_20 = {f"e{i:02d}": f"e{i:02d}.png" for i in range(20)}
IMAGES_20 = {f: png_bytes(("red", "green", "blue", "purple")[i % 4], 16 + i) for i, f in enumerate(FILES_20.values())}


def archive_of(files: dict[str, str], images: dict[str, bytes]) -> bytes:
    return zip_bytes({"pack.json": pack_json(files, {"share-files": True}), **images})


def corrupt_entry(archive: bytes, name: str) -> bytes:
    """The archive with one byte of `name`'s data flipped: same size, same headers, a bad CRC."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        info = zf.getinfo(name)
    # The local header: 30 bytes, then the name and the extra field, then the (stored) data.
    extra = int.from_bytes(archive[info.header_offset + 28:info.header_offset + 30], "little")
    at = info.header_offset + 30 + len(info.filename.encode()) + extra + info.file_size // 2
    data = bytearray(archive)
    data[at] ^= 0xFF
    return bytes(data)


def never_listening() -> socket.socket:
    """A bound socket that never listens (kept bound, so no one else takes the port):
    connections to it are refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def download(local, url: str, name: str):
    async with local.admin() as c:
        return await c.post(DOWNLOAD, json={"url": url, "name": name})


# -- hashed once, while it arrives -----------------------------------------------------


async def test_corrupt_archive_of_the_right_size_is_refused_by_its_sha256(tmp_path: Path):
    good = archive_of(FILES_20, IMAGES_20)
    bad = corrupt_entry(good, "e07.png")
    assert len(bad) == len(good)
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        # The remote announces the good archive's SHA256 and serves the corrupt one.
        remote.add("blobs", FILES_20, {"share-files": True, "download-sha256": sha256_hex(good)}, bad)
        before = tree(local.packs_dir)
        # The checksum speaks first: the bad CRC inside is never reached.
        assert_error(await download(local, remote.url, "blobs"), 500, BAD_SHA)
        assert remote.count(FakePleroma.ARCHIVE) == 1
        await assert_nothing_written(local, before, "blobs")


async def test_download_hashes_and_writes_every_batch_in_order(tmp_path: Path):
    body = hashlib.sha256(b"seed").digest() * ((3 * WRITE_BATCH + 12345) // 32)
    sizes = [1, 7, 65536, WRITE_BATCH - 3, 5, WRITE_BATCH + 1]  # odd chunks across batch edges

    def handler(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            at = i = 0
            while at < len(body):
                size = sizes[i % len(sizes)]
                yield body[at:at + size]
                at, i = at + size, i + 1
        return StreamingResponse(chunks(), media_type="application/octet-stream")

    crumbs = [hashlib.sha256(b"%d" % i).digest() * 30 for i in range(300)]

    def dripping(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for crumb in crumbs:  # far more chunks than one writev takes in a batch
                await asyncio.sleep(0.001)
                yield crumb
        return StreamingResponse(chunks(), media_type="application/octet-stream")

    stub = Stub()
    async with serving_stub(stub):
        stub.route("/big.bin", handler)
        stub.route("/crumbs.bin", dripping)
        seen: list[tuple[int, int | None]] = []
        config = RemoteConfig(allow_private_addresses=True, max_download_bytes=len(body))
        async with RemoteClient(config) as client:
            got = await client.download(stub.url + "/big.bin", tmp_path / "downloads",
                                        progress=lambda done, total: seen.append((done, total)))
            assert got.size == len(body)
            assert got.sha256 == hashlib.sha256(body).hexdigest().upper()
            assert got.path.read_bytes() == body
            assert seen[-1] == (len(body), None)  # streamed: no Content-Length
            assert [done for done, _ in seen] == sorted(done for done, _ in seen)
            got.path.unlink()

            got = await client.download(stub.url + "/crumbs.bin", tmp_path / "downloads")
            assert got.path.read_bytes() == b"".join(crumbs)
            assert got.sha256 == hashlib.sha256(b"".join(crumbs)).hexdigest().upper()
            got.path.unlink()

            # One byte over a smaller limit: refused, and the partial file is gone.
            try:
                await client.download(stub.url + "/big.bin", tmp_path / "downloads", max_bytes=len(body) - 1)
                raise AssertionError("a download over its limit was accepted")
            except RemoteError as exc:
                assert "larger than the limit" in exc.message and exc.status == 502
            assert list((tmp_path / "downloads").iterdir()) == []


# -- unpacked by threads, each entry checked --------------------------------------------


async def test_bad_crc_in_one_entry_refuses_the_pack_and_places_nothing(tmp_path: Path):
    # Two bad entries: the CRC of e07 and a text file as e15; the first in name order is named.
    images = {**IMAGES_20, "e15.png": b"not an image at all, " * 40}
    archive = corrupt_entry(archive_of(FILES_20, images), "e07.png")
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("blobs", FILES_20, {"share-files": True}, archive)  # the SHA256 of the corrupt bytes
        before = tree(local.packs_dir)
        r = await download(local, remote.url, "blobs")
        error = assert_error(r, 500, contains=("the archive of blobs", "e07.png", "crc"))
        assert "e15" not in error
        await assert_nothing_written(local, before, "blobs")


async def test_entry_that_is_not_an_allowed_image_by_its_header_refuses_the_pack(tmp_path: Path):
    from PIL import Image

    bmp = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(bmp, "BMP")
    cases = {"bmp": (bmp.getvalue(), "is a BMP image"), "text": (b"<svg>" * 50, "is not a valid image")}
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        before = tree(local.packs_dir)
        for name, (data, words) in cases.items():
            remote.add(name, FILES_20, {"share-files": True}, archive_of(FILES_20, {**IMAGES_20, "e11.png": data}))
            r = await download(local, remote.url, name)
            assert_error(r, 500, contains=("e11.png", words))
            await assert_nothing_written(local, before, name)


async def test_many_entries_unpack_byte_for_byte(tmp_path: Path):
    files = {f"e{i:03d}": f"d{i % 3}/e{i:03d}.png" for i in range(120)}
    images = {f: png_bytes(("red", "green", "blue")[i % 3], 8 + i % 40) for i, f in enumerate(files.values())}
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("many", files, {"share-files": True}, archive_of(files, images))
        r = await download(local, remote.url, "many")
        assert r.status_code == 200 and r.json() == "ok", r.text
        assert tree(local.packs_dir / "many") | {"pack.json": b""} == images | {"pack.json": b""}
        async with local.admin() as c:
            shown = (await c.get(PACK, params={"name": "many", "page_size": 500})).json()
        assert shown["files"] == files
        assert leftovers(local) == []


async def test_an_installed_packs_facts_are_its_files_own(tmp_path: Path):
    """The index's facts of each file (SHA-256, header, size, mtime) are taken as the file
    is unpacked, not read again: they must be what the file on disk says, each kind."""
    from PIL import Image

    frames = [Image.new("RGBA", (12, 12), c) for c in ("red", "lime", "blue")]
    apng, gif = io.BytesIO(), io.BytesIO()
    frames[0].save(apng, "PNG", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    files = {"plain": "plain.png", "moving": "d/moving.png", "party": "d/e/party.gif", "misnamed": "misnamed.gif"}
    images = {"plain.png": png_bytes("red", 20), "d/moving.png": apng.getvalue(), "d/e/party.gif": gif.getvalue(),
              "misnamed.gif": png_bytes("blue", 9)}
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, PRIVATE_OK) as local:
        remote.add("kinds", files, {"share-files": True}, archive_of(files, images))
        r = await download(local, remote.url, "kinds")
        assert r.status_code == 200 and r.json() == "ok", r.text
        async with local.admin() as c:
            listed = (await c.get("/api/v1/emojid/packs/emoji", params={"name": "kinds"})).json()
        shown = {e["filename"]: (e["sha256"], e["size"], e["width"], e["height"], e["animated"])
                 for e in listed["emoji"]}
        own = {}
        for filename, data in images.items():
            with Image.open(io.BytesIO(data)) as im:
                moving = getattr(im, "n_frames", 1) > 1
                own[filename] = (hashlib.sha256(data).hexdigest(), len(data), *im.size, moving)
        assert shown == own
        assert own["d/moving.png"][-1] and own["d/e/party.gif"][-1] and not own["plain.png"][-1]
        with sqlite3.connect(local.config.database_path) as conn:
            rows = conn.execute("SELECT filename, size, mtime_ns, format, problem FROM emoji_files "
                                "WHERE pack = 'kinds'").fetchall()
        on_disk = {f: (os.stat(local.packs_dir / "kinds" / f).st_size,
                       os.stat(local.packs_dir / "kinds" / f).st_mtime_ns) for f in images}
        assert {row[0]: row[1:3] for row in rows} == on_disk
        assert {row[0]: row[3:] for row in rows} == {"plain.png": ("PNG", None), "d/moving.png": ("PNG", None),
                                                     "d/e/party.gif": ("GIF", None),
                                                     "misnamed.gif": ("PNG", "wrong_extension")}


# -- the whole operation's deadline -----------------------------------------------------

TIMEOUT = 1  # [remote] timeout_seconds: each JSON request's deadline
LIMIT = 1 << 20  # max_download_bytes: the archive's deadline is TIMEOUT + 1 s
DRIPS = 6  # each page of the pack's files comes in six parts 0.1 s apart: well within a request's deadline
MARGIN = 1.5


async def test_a_remote_dripping_each_page_just_in_time_cannot_hold_a_download(tmp_path: Path):
    """Ten pages of 0.6 s each, dripped: no request is late and no read waits long, but
    describing the pack may take 2 x timeout_seconds in all, so the download stops there,
    before the archive is asked for."""
    remote = FakePleroma()
    show = remote.routes[FakePleroma.SHOW]

    def slow_show(request: Request) -> Response:
        answer = show(request)
        if request.query_params.get("page_size") == "0":
            return answer  # type: ignore[return-value]
        body = answer.body  # type: ignore[union-attr]
        step = -(-len(body) // DRIPS)

        async def parts() -> AsyncIterator[bytes]:
            for at in range(0, len(body), step):
                await asyncio.sleep(0.1)
                yield body[at:at + step]
        return StreamingResponse(parts(), media_type="application/json")

    files = dict(list(FILES_20.items())[:10])
    config = PRIVATE_OK + f"timeout_seconds = {TIMEOUT}\nmax_download_bytes = {LIMIT}\n"
    async with serving_stub(remote), serving(tmp_path, config) as local:
        remote.add("blobs", files, {"share-files": True}, archive_of(files, {f: IMAGES_20[f] for f in files.values()}))
        remote.max_page_size = 1
        remote.route(FakePleroma.SHOW, slow_show)
        before = tree(local.packs_dir)
        started = time.monotonic()
        r = await download(local, remote.url, "blobs")
        elapsed = time.monotonic() - started
        assert_error(r, 500, contains=("timed out", "whole operation", f"{2 * TIMEOUT} s"))
        assert 2 * TIMEOUT - 0.2 <= elapsed < 2 * TIMEOUT + MARGIN, elapsed
        assert 2 <= remote.count(FakePleroma.SHOW) < 10
        assert remote.count(FakePleroma.ARCHIVE) == 0
        await assert_nothing_written(local, before, "blobs")


async def test_operations_bound_their_requests_and_never_extend_an_outer_one():
    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.4)
        return Response(b'{"ok": true}', media_type="application/json")

    stub = Stub()
    async with serving_stub(stub):
        stub.route("/slow.json", slow)
        async with RemoteClient(RemoteConfig(allow_private_addresses=True, timeout_seconds=TIMEOUT)) as client:
            # Each request is well within its own deadline; the third is cut by the operation's.
            started = time.monotonic()
            try:
                with client.operation(1.0):
                    for _ in range(3):
                        assert await client.get_json(stub.url + "/slow.json") == {"ok": True}
                raise AssertionError("three 0.4 s requests fitted in a 1 s operation")
            except RemoteError as exc:
                assert "whole operation took more than 1 s" in exc.message and exc.status == 502
            assert 0.8 <= time.monotonic() - started < 1.0 + MARGIN
            # A longer operation inside a shorter one keeps the shorter end.
            started = time.monotonic()
            try:
                with client.operation(0.6), client.operation(60):
                    for _ in range(3):
                        await client.get_json(stub.url + "/slow.json")
                raise AssertionError("the inner operation extended the outer one")
            except RemoteError as exc:
                assert "0.6 s" in exc.message
            assert time.monotonic() - started < 0.6 + MARGIN
            # Outside any operation, only the request's own deadline holds.
            for _ in range(3):
                assert await client.get_json(stub.url + "/slow.json") == {"ok": True}


# -- statuses -----------------------------------------------------------------------------


def mine(config) -> None:
    write_pack(config.packs_dir, "mine", {"a": "a.png"}, {"license": "CC0"}, images={"a.png": png_bytes()})


async def test_remote_failures_answer_502_and_unreachable_remotes_500(tmp_path: Path, subtests):
    stub = Stub()
    stub.down = True  # 503 to everything
    closed = never_listening()
    gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    async with serving_stub(stub), serving(tmp_path, PRIVATE_OK, mine) as local:
        before = tree(local.packs_dir)
        async with local.admin() as c:
            cases = {
                # Pleroma's remote pack routes: 500 for any failure of the remote (documented for downloads).
                "download, remote failing": (c.post(DOWNLOAD, json={"url": stub.url, "name": "x"}), 500, "503"),
                "download, unreachable": (c.post(DOWNLOAD, json={"url": gone, "name": "x"}), 500, "cannot be reached"),
                "listing, remote failing": (c.get(REMOTE, params={"url": stub.url}), 500, "503"),
                # Elsewhere: a remote that fails is a bad gateway; one that cannot be reached, 500.
                "file by URL, remote failing": (c.post(FILES, params={"name": "mine"}, data={"file": stub.url + "/b.png"}),
                                                502, "503"),
                "file by URL, unreachable": (c.post(FILES, params={"name": "mine"}, data={"file": gone + "/b.png"}),
                                             500, "cannot be reached"),
                "fallback-src, remote failing": (c.patch(PACK, params={"name": "mine"},
                                                         json={"metadata": {"fallback-src": stub.url + "/f.zip"}}),
                                                 502, "503"),
                "fallback-src, unreachable": (c.patch(PACK, params={"name": "mine"},
                                                      json={"metadata": {"fallback-src": gone + "/f.zip"}}),
                                              500, "cannot be reached"),
                "import by URL, remote failing": (c.post(IMPORT, data={"url": stub.url + "/p.zip", "name": "imp"}),
                                                  502, "503"),
            }
            for label, (request, status, words) in cases.items():
                with subtests.test(label):
                    assert_error(await request, status, contains=(words,))
        await assert_nothing_written(local, before, "x", "imp")
    closed.close()
