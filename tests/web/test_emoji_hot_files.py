"""Emoji served from memory (emojid.emoji.web.serve.HotFiles) are never stale or unsafe:
a file changed, replaced, swapped for a FIFO or a symlink, or removed by hand is
answered as the disk has it now, on the very next request."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.helpers import png_bytes, write_pack

URL = "/emoji/blobs/blob.png"


async def _warm(client, body: bytes) -> str:
    """Two GETs: the second is served from memory; both the file's bytes."""
    for _ in range(2):
        r = await client.get(URL)
        assert r.status_code == 200 and r.content == body
    return r.headers["etag"]


async def test_a_file_rewritten_in_place_with_the_same_size_is_served_new(server):
    folder = write_pack(server.packs_dir, "blobs", {"blob": "blob.png"}, images={"blob.png": png_bytes("red")})
    async with server.anon() as client:
        old_etag = await _warm(client, png_bytes("red"))
        new = png_bytes("blue")
        assert len(new) == len(png_bytes("red"))  # the size alone cannot tell them apart
        with open(folder / "blob.png", "r+b") as fh:  # same inode, new bytes
            fh.write(new)
        r = await client.get(URL)
        assert r.status_code == 200 and r.content == new and r.headers["etag"] != old_etag
        r = await client.get(URL, headers={"if-none-match": old_etag})
        assert r.status_code == 200 and r.content == new


async def test_a_file_replaced_by_rename_is_served_new(server):
    folder = write_pack(server.packs_dir, "blobs", {"blob": "blob.png"}, images={"blob.png": png_bytes("red")})
    async with server.anon() as client:
        await _warm(client, png_bytes("red"))
        (folder / "new.png").write_bytes(png_bytes("green", size=20))
        os.replace(folder / "new.png", folder / "blob.png")
        r = await client.get(URL)
        assert r.status_code == 200 and r.content == png_bytes("green", size=20)


async def test_a_removed_file_is_gone_at_once(server):
    folder = write_pack(server.packs_dir, "blobs", {"blob": "blob.png"})
    async with server.anon() as client:
        await _warm(client, png_bytes())
        (folder / "blob.png").unlink()
        r = await client.get(URL)
        assert r.status_code == 404 and r.json() == {"error": "Not found"}


async def test_a_fifo_in_place_of_a_served_file_is_never_opened(server):
    folder = write_pack(server.packs_dir, "blobs", {"blob": "blob.png"})
    async with server.anon() as client:
        await _warm(client, png_bytes())
        (folder / "blob.png").unlink()
        os.mkfifo(folder / "blob.png")
        r = await client.get(URL)
        assert r.status_code == 404
        assert (await client.get("/api/v1/pleroma/healthcheck")).status_code == 200


@pytest.mark.parametrize("what", ["file", "pack folder"])
async def test_a_symlink_out_of_the_store_in_place_of_a_served_file_is_refused(server, tmp_path, what):
    folder = write_pack(server.packs_dir, "blobs", {"blob": "blob.png"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "blob.png").write_bytes(png_bytes("purple"))
    async with server.anon() as client:
        await _warm(client, png_bytes())
        if what == "file":
            (folder / "blob.png").unlink()
            (folder / "blob.png").symlink_to(outside / "blob.png")
        else:
            shutil.copy(folder / "pack.json", outside / "pack.json")
            shutil.rmtree(folder)
            folder.symlink_to(outside)
        r = await client.get(URL)
        assert r.status_code == 404 and r.content != png_bytes("purple")


async def test_an_answer_from_memory_is_the_answer_from_disk(server):
    """The first GET goes through the route (and fills the memory); the next ones are answered
    before routing: the same bytes and headers, HEAD and conditional GETs as before."""
    write_pack(server.packs_dir, "blobs", {"blob": "blob.png"}, images={"blob.png": png_bytes("red", 24)})
    async with server.anon() as client:
        first, second = await client.get(URL), await client.get(URL)
        assert first.status_code == second.status_code == 200 and first.content == second.content
        drop = {"date", "server"}
        assert {k: v for k, v in first.headers.items() if k not in drop} == \
            {k: v for k, v in second.headers.items() if k not in drop}
        assert second.headers["content-type"] == "image/png"
        assert second.headers["content-length"] == str(len(png_bytes("red", 24)))
        assert second.headers["x-content-type-options"] == "nosniff"
        r = await client.get(URL, headers={"if-none-match": second.headers["etag"]})
        assert r.status_code == 304 and r.content == b""
        r = await client.get(URL, headers={"range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b"\x89PNG"
        r = await client.head(URL)
        assert r.status_code == 200 and r.content == b"" and r.headers["etag"] == second.headers["etag"]
        r = await client.get(URL + "/")  # not a file name here: the route serves it as without "/"
        assert r.status_code == 200 and r.content == second.content
