"""The global emoji lists (/api/v1/custom_emojis, /api/v1/pleroma/emoji) and the
emoji files themselves at /emoji/<pack>/<file>."""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlsplit

import uvicorn

from emojid.app import build_app
from emojid.config import load
from tests.conftest import serving, wait_for, write_config
from tests.helpers import gif_bytes, http_client, jpeg_bytes, png_bytes, webp_bytes, write_pack

V1 = "/api/v1/pleroma"


def two_packs(config):
    write_pack(config.packs_dir, "blobs", {"blobcat": "blobcat.png", "blobwave": "anim/wave.gif"},
               {"share-files": True}, images={"blobcat.png": png_bytes("red"), "anim/wave.gif": gif_bytes()})
    write_pack(config.packs_dir, "Fancy Pack", {"sparkle": "spär kle.png", "photo": "photo.jpg"},
               images={"spär kle.png": png_bytes("yellow"), "photo.jpg": jpeg_bytes()})


async def raw_get(server, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side normalisation)."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- /api/v1/custom_emojis ---------------------------------------------------------


async def test_custom_emojis_mastodon_shape(tmp_path):
    async with serving(tmp_path / "s", prepare=two_packs) as server, server.anon() as c:
        r = await c.get("/api/v1/custom_emojis")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        emojis = r.json()
        assert isinstance(emojis, list)
        by_code = {e["shortcode"]: e for e in emojis}
        assert set(by_code) == {"blobcat", "blobwave", "sparkle", "photo"}
        for e in emojis:
            assert {"shortcode", "url", "static_url", "visible_in_picker", "category"} <= set(e)
            assert e["visible_in_picker"] is True
        base = server.config.public_url
        assert base == server.url
        assert by_code["blobcat"]["url"] == f"{base}/emoji/blobs/blobcat.png"
        assert by_code["blobcat"]["category"] == "blobs"
        assert by_code["blobwave"]["url"] == f"{base}/emoji/blobs/anim/wave.gif"
        assert by_code["sparkle"]["category"] == "Fancy Pack"
        assert by_code["sparkle"]["url"] == f"{base}/emoji/Fancy%20Pack/sp%C3%A4r%20kle.png"

        # Every url and static_url serves exactly the file on disk, as an image.
        disk = {
            "blobcat": server.packs_dir / "blobs" / "blobcat.png",
            "blobwave": server.packs_dir / "blobs" / "anim" / "wave.gif",
            "sparkle": server.packs_dir / "Fancy Pack" / "spär kle.png",
            "photo": server.packs_dir / "Fancy Pack" / "photo.jpg",
        }
        for code, path in disk.items():
            for key in ("url", "static_url"):
                got = await c.get(by_code[code][key])
                assert got.status_code == 200, (code, key)
                assert got.headers["content-type"].startswith("image/")
                if key == "url":
                    assert got.content == path.read_bytes()
        r = await c.get(by_code["photo"]["url"])
        assert r.headers["content-type"] == "image/jpeg"


async def test_custom_emojis_etag_and_change(server):
    async with server.admin() as c:
        r = await c.get("/api/v1/custom_emojis")
        assert r.status_code == 200
        assert r.json() == []
        etag = r.headers["etag"]
        r = await c.get("/api/v1/custom_emojis", headers={"if-none-match": etag})
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == etag

        assert (await c.post(f"{V1}/emoji/pack", params={"name": "new"})).status_code == 200
        r = await c.post(f"{V1}/emoji/packs/files", params={"name": "new"},
                         files={"file": ("hello.png", png_bytes(), "image/png")})
        assert r.status_code == 200, r.text

        r = await c.get("/api/v1/custom_emojis", headers={"if-none-match": etag})
        assert r.status_code == 200
        assert r.headers["etag"] != etag
        assert [e["shortcode"] for e in r.json()] == ["hello"]
        assert r.json()[0]["url"] == f"{server.url}/emoji/new/hello.png"
        new_etag = r.headers["etag"]
        r = await c.get("/api/v1/custom_emojis", headers={"if-none-match": new_etag})
        assert r.status_code == 304
        # Same content, same ETag, on a second plain request.
        r = await c.get("/api/v1/custom_emojis")
        assert r.headers["etag"] == new_etag


async def test_urls_use_the_configured_base_url(tmp_path):
    """Behind a proxy: urls come from base_url, not from the socket the request came in on."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = load(write_config(tmp_path / "s", port), environ={"EMOJID_SERVER_BASE_URL": "https://emoji.example/"})
    write_pack(config.packs_dir, "p", {"e": "e.png"})
    server = uvicorn.Server(uvicorn.Config(build_app(config), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await wait_for(lambda: server.started or task.done())
        async with http_client(base_url=f"http://127.0.0.1:{port}") as c:
            r = await c.get("/api/v1/custom_emojis")
            assert r.status_code == 200
            assert r.json()[0]["url"] == "https://emoji.example/emoji/p/e.png"
            assert r.json()[0]["static_url"].startswith("https://emoji.example/emoji/p/")
            r = await c.get(urlsplit(r.json()[0]["url"]).path)
            assert r.status_code == 200 and r.content == (config.packs_dir / "p" / "e.png").read_bytes()
    finally:
        server.should_exit = True
        await task
        sock.close()


# -- /api/v1/pleroma/emoji -----------------------------------------------------------


async def test_pleroma_emoji_list(tmp_path):
    async with serving(tmp_path / "s", prepare=two_packs) as server, server.anon() as c:
        for prefix in (V1, "/api/pleroma"):
            r = await c.get(f"{prefix}/emoji")
            assert r.status_code == 200
            body = r.json()
            assert body == {
                "blobcat": {"image_url": "/emoji/blobs/blobcat.png", "tags": ["pack:blobs"]},
                "blobwave": {"image_url": "/emoji/blobs/anim/wave.gif", "tags": ["pack:blobs"]},
                "photo": {"image_url": "/emoji/Fancy%20Pack/photo.jpg", "tags": ["pack:Fancy Pack"]},
                "sparkle": {"image_url": "/emoji/Fancy%20Pack/sp%C3%A4r%20kle.png", "tags": ["pack:Fancy Pack"]},
            }
            for entry in body.values():
                got = await c.get(entry["image_url"])
                assert got.status_code == 200
                assert got.headers["content-type"].startswith("image/")
            etag = r.headers["etag"]
            r = await c.get(f"{prefix}/emoji", headers={"if-none-match": etag})
            assert r.status_code == 304

        # A hand edit to pack.json (seen by the watcher) changes the answer and its ETag.
        write_pack(server.packs_dir, "blobs", {"blobcat": "blobcat.png"}, {"share-files": True},
                   images={"blobcat.png": png_bytes("red")})

        async def updated():
            r = await c.get(f"{V1}/emoji", headers={"if-none-match": etag})
            return r if r.status_code == 200 and "blobwave" not in r.json() else None

        r = await wait_for(updated)
        assert r.headers["etag"] != etag
        assert set(r.json()) == {"blobcat", "photo", "sparkle"}


# -- /emoji/<pack>/<file> ------------------------------------------------------------


async def test_static_content_type_from_bytes(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "types",
                   {"liar": "liar.gif", "gif": "real.gif", "webp": "w.webp", "jpg": "j.jpeg", "png": "p.png"},
                   images={"liar.gif": png_bytes("red"), "real.gif": gif_bytes(), "w.webp": webp_bytes(),
                           "j.jpeg": jpeg_bytes(), "p.png": png_bytes()})

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        expected = {"liar.gif": "image/png", "real.gif": "image/gif", "w.webp": "image/webp",
                    "j.jpeg": "image/jpeg", "p.png": "image/png"}
        for filename, media in expected.items():
            r = await c.get(f"/emoji/types/{filename}")
            assert r.status_code == 200, filename
            assert r.headers["content-type"] == media, filename
            assert r.content == (server.packs_dir / "types" / filename).read_bytes()
            assert r.headers["x-content-type-options"] == "nosniff"


async def test_static_caching_headers_and_ranges(server):
    data = png_bytes("teal", 32)
    write_pack(server.packs_dir, "st", {"e": "e.png"}, images={"e.png": data})
    async with server.anon() as c:
        r = await c.get("/emoji/st/e.png")
        assert r.status_code == 200
        assert r.content == data
        etag = r.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        cache = r.headers["cache-control"]
        assert "public" in cache
        max_age = int(cache.split("max-age=")[1].split(",")[0])
        assert max_age >= 86400 * 7

        r = await c.get("/emoji/st/e.png", headers={"if-none-match": etag})
        assert r.status_code == 304
        assert r.content == b""
        r = await c.get("/emoji/st/e.png", headers={"if-none-match": f'"other", {etag}'})
        assert r.status_code == 304
        r = await c.get("/emoji/st/e.png", headers={"if-none-match": f"W/{etag}"})
        assert r.status_code == 304
        r = await c.get("/emoji/st/e.png", headers={"if-none-match": '"stale"'})
        assert r.status_code == 200 and r.content == data

        r = await c.get("/emoji/st/e.png", headers={"range": "bytes=0-3"})
        assert r.status_code == 206
        assert r.content == data[:4] == b"\x89PNG"
        assert r.headers["content-range"] == f"bytes 0-3/{len(data)}"
        r = await c.get("/emoji/st/e.png", headers={"range": "bytes=-4"})
        assert r.status_code == 206
        assert r.content == data[-4:]
        assert r.headers["content-range"] == f"bytes {len(data) - 4}-{len(data) - 1}/{len(data)}"
        r = await c.get("/emoji/st/e.png", headers={"range": "bytes=10-"})
        assert r.status_code == 206 and r.content == data[10:]

        r = await c.head("/emoji/st/e.png")
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == len(data)

        # New bytes on disk: a new ETag, and the old one no longer answers 304.
        newer = png_bytes("orange", 40)
        (server.packs_dir / "st" / "e.png").write_bytes(newer)
        r = await c.get("/emoji/st/e.png", headers={"if-none-match": etag})
        assert r.status_code == 200
        assert r.content == newer
        assert r.headers["etag"] != etag


async def test_static_not_found_and_traversal(server):
    write_pack(server.packs_dir, "pack", {"e": "e.png"})
    (server.packs_dir / "pack" / ".hidden.png").write_bytes(png_bytes())
    secret = server.root / "emojid.toml"
    assert secret.is_file()
    async with server.anon() as c:
        for path in ("/emoji/pack/nope.png", "/emoji/nopack/e.png", "/emoji/pack/", "/emoji/pack/sub/e.png"):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith("application/json")
            assert "error" in r.json()

    targets = [
        "/emoji/pack/../../emojid.toml",
        "/emoji/pack/../../../local/emojid.toml",
        "/emoji/../emojid.toml",
        "/emoji/pack/%2e%2e/%2e%2e/emojid.toml",
        "/emoji/pack/..%2f..%2femojid.toml",
        "/emoji/pack/..%2F..%2Femojid.toml",
        "/emoji/%2e%2e/emojid.toml",
        "/emoji/pack/%2e%2e%5c%2e%2e%5cemojid.toml",
        "/emoji/pack/.hidden.png",
        "/emoji/pack/e.png%00.png",
    ]
    for target in targets:
        status, body = await raw_get(server, target)
        assert status == 404, (target, status)
        assert b"[server]" not in body and b"packs_dir" not in body, target
        assert b'"files"' not in body, target
    status, body = await raw_get(server, "/emoji/pack/e.png")
    assert status == 200 and body == (server.packs_dir / "pack" / "e.png").read_bytes()


async def test_static_symlink_out_of_pack_is_not_served(server):
    write_pack(server.packs_dir, "pack", {"e": "e.png"})
    outside = server.root / "outside.png"
    outside.write_bytes(png_bytes("pink"))
    os.symlink(outside, server.packs_dir / "pack" / "out.png")
    os.symlink(server.root, server.packs_dir / "pack" / "up")
    async with server.anon() as c:
        for path in ("/emoji/pack/out.png", "/emoji/pack/up/outside.png", "/emoji/pack/up/emojid.toml"):
            r = await c.get(path)
            assert r.status_code == 404, path
    assert outside.read_bytes() == png_bytes("pink")
