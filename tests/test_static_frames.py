"""Static frames: an animated emoji (GIF, APNG, animated WebP) has a first-frame PNG of the
same size at /emoji-static/{pack}/{filename}.png, built once per file version (in the
background, or on first request), served with ETag/304, and used as static_url wherever
emoji are rendered; a still image's static_url is its url."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from emojid.emoji.packs import PackService
from emojid.migrations import open_database
from tests.conftest import serving, wait_for
from tests.helpers import png_bytes, write_pack

V1 = "/api/v1/pleroma"


def animated(fmt: str, colors: tuple[str, ...] = ("red", "blue", "lime"), size: tuple[int, int] = (24, 12)) -> bytes:
    frames = [Image.new("RGBA", size, c) for c in colors]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


FILES = {"party.gif": animated("GIF"), "dance.png": animated("PNG"), "spin.webp": animated("WEBP"),
         "sub/still.png": png_bytes("green", size=20)}
CODES = {"party": "party.gif", "dance": "dance.png", "spin": "spin.webp", "still": "sub/still.png"}


def moving_pack(config) -> None:
    write_pack(config.packs_dir, "moving", CODES, images=FILES)


def near(pixel: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """Equal but for lossy WebP's rounding."""
    return all(abs(a - b) <= 8 for a, b in zip(pixel, expected, strict=True))


def open_png(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG"
    return im


@pytest.mark.parametrize("code", ["party", "dance", "spin"])
async def test_animated_emoji_have_a_first_frame_png_of_the_same_size(tmp_path, code):
    async with serving(tmp_path / "s", prepare=moving_pack) as server, server.anon() as c:
        base = server.url
        by_code = {e["shortcode"]: e for e in (await c.get("/api/v1/custom_emojis")).json()}
        filename = CODES[code]
        assert by_code[code]["url"] == f"{base}/emoji/moving/{filename}"
        assert by_code[code]["static_url"] == f"{base}/emoji-static/moving/{filename}.png"

        r = await c.get(by_code[code]["static_url"])
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"].startswith("public")
        frame = open_png(r.content)
        assert frame.size == (24, 12)
        assert getattr(frame, "n_frames", 1) == 1
        assert near(frame.convert("RGBA").getpixel((3, 3)), (255, 0, 0, 255))  # the first frame is red

        etag = r.headers["etag"]
        r = await c.get(by_code[code]["static_url"], headers={"if-none-match": etag})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
        r = await c.head(by_code[code]["static_url"])
        assert r.status_code == 200 and r.headers["etag"] == etag


async def test_a_still_image_has_static_url_equal_to_url(tmp_path):
    async with serving(tmp_path / "s", prepare=moving_pack) as server, server.anon() as c:
        still = next(e for e in (await c.get("/api/v1/custom_emojis")).json() if e["shortcode"] == "still")
        assert still["static_url"] == still["url"] == f"{server.url}/emoji/moving/sub/still.png"
        for path in ("/emoji-static/moving/sub/still.png.png", "/emoji-static/moving/party.gif",
                     "/emoji-static/moving/nothing.gif.png", "/emoji-static/nope/party.gif.png",
                     "/emoji-static/moving/..%2Fmoving%2Fparty.gif.png"):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith("application/json")


async def test_frames_are_built_in_the_background(tmp_path):
    async with serving(tmp_path / "s", prepare=moving_pack) as server:
        static = server.config.cache_dir / "static"

        def built() -> bool:
            return len(list(static.glob("*/*.png"))) == 3

        await wait_for(built, timeout=10)
        # Then served from cache_dir, not built again.
        async with server.anon() as c:
            before = {p: p.stat().st_mtime_ns for p in static.glob("*/*.png")}
            assert (await c.get("/emoji-static/moving/party.gif.png")).status_code == 200
            assert {p: p.stat().st_mtime_ns for p in static.glob("*/*.png")} == before


async def test_a_file_replaced_by_hand_gets_a_new_frame(tmp_path):
    async with serving(tmp_path / "s", prepare=moving_pack) as server, server.anon() as c:
        url = "/emoji-static/moving/party.gif.png"
        first = await c.get(url)
        assert first.status_code == 200
        assert open_png(first.content).convert("RGBA").getpixel((0, 0)) == (255, 0, 0, 255)

        (server.packs_dir / "moving" / "party.gif").write_bytes(animated("GIF", ("blue", "red"), (30, 10)))

        async def replaced():
            r = await c.get(url)
            return r if r.status_code == 200 and r.content != first.content else None

        second = await wait_for(replaced, timeout=5)
        assert second.headers["etag"] != first.headers["etag"]
        frame = open_png(second.content)
        assert frame.size == (30, 10) and frame.convert("RGBA").getpixel((0, 0)) == (0, 0, 255, 255)
        assert (await c.get(url, headers={"if-none-match": first.headers["etag"]})).status_code == 200

        # Replaced by a still image: the static_url is the image itself again, the frame goes.
        (server.packs_dir / "moving" / "party.gif").write_bytes(animated("GIF", ("green",)))

        async def still():
            entry = next(e for e in (await c.get("/api/v1/custom_emojis")).json() if e["shortcode"] == "party")
            return entry["static_url"] == entry["url"]

        await wait_for(still, timeout=5)
        assert (await c.get(url)).status_code == 404
        assert list((server.config.cache_dir / "static").glob(f"*/{_sha(second)}*")) == []


def _sha(response) -> str:
    return response.headers["etag"].strip('"')[1:]


async def test_statuses_accounts_and_reactions_use_the_static_frame(tmp_path):
    async with serving(tmp_path / "s", prepare=moving_pack) as server, server.client(server.user_token) as c:
        base = server.url
        status = (await c.post("/api/v1/statuses", json={"status": "hi :party: and :still:"})).json()
        emojis = {e["shortcode"]: e for e in status["emojis"]}
        assert emojis["party"]["static_url"] == f"{base}/emoji-static/moving/party.gif.png"
        assert emojis["party"]["url"] == f"{base}/emoji/moving/party.gif"
        assert emojis["still"]["static_url"] == emojis["still"]["url"]

        r = await c.patch("/api/v1/accounts/update_credentials", data={"display_name": "me :spin:"})
        assert r.status_code == 200, r.text
        [spin] = r.json()["emojis"]
        assert spin["static_url"] == f"{base}/emoji-static/moving/spin.webp.png"

        r = await c.put(f"{V1}/statuses/{status['id']}/reactions/:dance:")
        assert r.status_code == 200, r.text
        [reaction] = r.json()["pleroma"]["emoji_reactions"]
        assert reaction["url"] == f"{base}/emoji/moving/dance.png"
        assert reaction["static_url"] == f"{base}/emoji-static/moving/dance.png.png"
        [listed] = (await c.get(f"{V1}/statuses/{status['id']}/reactions")).json()
        assert listed["static_url"] == reaction["static_url"]
        assert (await c.get(reaction["static_url"])).headers["content-type"] == "image/png"


async def test_a_folder_without_pack_json_gets_frames_too(tmp_path):
    def prepare(config) -> None:
        (config.packs_dir / "loose").mkdir(parents=True)
        (config.packs_dir / "loose" / "wave.gif").write_bytes(animated("GIF"))

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        [wave] = (await c.get("/api/v1/custom_emojis")).json()
        assert wave["static_url"] == f"{server.url}/emoji-static/loose/wave.gif.png"
        r = await c.get(wave["static_url"])
        assert r.status_code == 200 and open_png(r.content).size == (24, 12)


async def test_frames_survive_a_restart_without_being_built_again(tmp_path):
    async with serving(tmp_path / "s", prepare=moving_pack) as server:
        static = server.config.cache_dir / "static"
        await wait_for(lambda: len(list(static.glob("*/*.png"))) == 3, timeout=10)
        before = {p: p.stat().st_mtime_ns for p in static.glob("*/*.png")}
        config = server.config
    service = PackService.open(config, open_database(config.database_path))
    try:
        facts = service.index.file_facts("moving")
        service.reconcile_sync()  # what a restart does
        assert service.index.file_facts("moving") == facts
        assert service.static_frames._missing() == []
        path, _etag = service.static_frames.locate("moving", "party.gif")
        assert path.stat().st_mtime_ns == before[path]
    finally:
        service.index.close()
