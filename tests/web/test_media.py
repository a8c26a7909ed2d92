"""Media: uploads, attachment entities, /media/ files, the mascot and the update_* images."""

from __future__ import annotations

import base64

import pytest

from tests.helpers import gif_bytes, jpeg_bytes, png_bytes
from tests.web.accounts_support import assert_error, make_account, me, token_for

PREFIXES = ["/api/v1/pleroma", "/api/pleroma"]


@pytest.mark.parametrize("path, status", [("/api/v1/media", 200), ("/api/v2/media", 202)])
async def test_upload_media(server, path, status):
    async with server.client(server.tokens["user"]) as c:
        r = await c.post(path, files={"file": ("cat.gif", gif_bytes(), "image/gif")},
                         data={"description": "a cat", "focus": "0.5,-0.25"})
        assert r.status_code == status, r.text
        media = r.json()
        assert media["type"] == "image" and media["description"] == "a cat"
        assert media["pleroma"] == {"mime_type": "image/gif"} and media["meta"]["focus"] == {"x": 0.5, "y": -0.25}
        assert media["id"].isdigit() and media["url"].startswith(f"{server.url}/media/") and media["url"].endswith(".gif")
        r = await c.get(media["url"])
        assert r.status_code == 200 and r.content == gif_bytes() and r.headers["content-type"] == "image/gif"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert (await c.get(f"/api/v1/media/{media['id']}")).json() == media
        r = await c.put(f"/api/v1/media/{media['id']}", json={"description": "a better cat"})
        assert r.json()["description"] == "a better cat"
        assert (await c.get(f"/api/v1/media/{media['id']}")).json()["description"] == "a better cat"
    async with server.client(server.tokens["admin"]) as c:  # someone else's media is not there for others
        assert_error(await c.get(f"/api/v1/media/{media['id']}"), 404)
        assert_error(await c.put(f"/api/v1/media/{media['id']}", json={"description": "mine"}), 404)


async def test_upload_refusals(server):
    async with server.client(server.tokens["user"]) as c:
        assert_error(await c.post("/api/v1/media", data={"description": "x"}), 400, "Missing field: file.")
        assert_error(await c.post("/api/v1/media", data={"file": "text"}), 400)
        r = await c.post("/api/v1/media", files={"file": ("page.html", b"<script>alert(1)</script>", "image/png")})
        assert_error(r, 415)
        r = await c.post("/api/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}, data={"focus": "9,9"})
        assert_error(r, 400)
        assert_error(await c.get("/api/v1/media/12345"), 404)
        assert_error(await c.get("/api/v1/media/abc"), 404)
    assert not server.config.media_dir.exists() or not list(server.config.media_dir.iterdir())
    async with server.anon() as c:
        assert_error(await c.post("/api/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}), 401)
        for name in ("..%2Femojid.toml", "emojid.db", "1.txt", "abc.png"):
            assert (await c.get(f"/media/{name}")).status_code == 404
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post("/api/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}), 403,
                     "Insufficient permissions: write:media.")


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_mascot(server, prefix):
    async with server.client(server.tokens["user"]) as c:
        default = (await c.get(f"{prefix}/mascot")).json()
        assert default["id"] == "default-mascot" and "pleroma-fox-tan-smol" in default["url"]
        assert default["pleroma"]["mime_type"] == "image/png"
        r = await c.get(default["url"])
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        r = await c.put(f"{prefix}/mascot", files={"file": ("sound.mp3", b"ID3\x03\x00", "audio/mpeg")})
        assert_error(r, 415, "mascots can only be images")
        r = await c.put(f"{prefix}/mascot", files={"file": ("fake.png", b"not really", "image/png")})
        assert_error(r, 415, "mascots can only be images")
        assert_error(await c.put(f"{prefix}/mascot", data={}), 400, "Missing field: file.")
        assert (await c.get(f"{prefix}/mascot")).json() == default
        r = await c.put(f"{prefix}/mascot", files={"file": ("an_image.jpg", jpeg_bytes(), "image/jpeg")})
        assert r.status_code == 200, r.text
        mascot = r.json()
        assert mascot["type"] == "image" and mascot["pleroma"]["mime_type"] == "image/jpeg"
        assert (await c.get(f"{prefix}/mascot")).json() == mascot
        assert (await c.get(mascot["url"])).content == jpeg_bytes()
        r = await c.put(f"{prefix}/mascot", files={"file": ("b.png", png_bytes(), "image/png")})
        assert (await c.get(mascot["url"])).status_code == 404  # the replaced one is removed
    async with server.client(server.tokens["admin"]) as c:
        assert (await c.get(f"{prefix}/mascot")).json()["id"] == "default-mascot"
    async with server.client(token_for(server, "user", "write")) as c:
        assert_error(await c.get(f"{prefix}/mascot"), 403, "Insufficient permissions: read:accounts.")


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_update_avatar_banner_background(server, prefix):
    cases = [("update_avatar", "img", lambda a: a["avatar"]),
             ("update_banner", "banner", lambda a: a["header"]),
             ("update_background", "img", lambda a: a["pleroma"]["background_image"])]
    async with server.client(server.tokens["user"]) as c:
        for path, field, shown in cases:
            url = f"{prefix}/accounts/{path}"
            r = await c.patch(url, files={field: ("x.png", png_bytes("green"), "image/png")})
            assert r.status_code == 200, r.text
            first = r.json()["url"]
            assert first.startswith(f"{server.url}/media/") and shown(await me(server, server.tokens["user"])) == first
            assert (await c.get(first)).content == png_bytes("green")
            data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes()).decode()
            second = (await c.patch(url, json={field: data_url})).json()["url"]
            assert second.endswith(".jpg") and (await c.get(first)).status_code == 404
            assert shown(await me(server, server.tokens["user"])) == second
            r = await c.patch(url, json={field: ""})
            assert r.status_code == 200 and r.json() == {"url": None}
            assert (await c.get(second)).status_code == 404
            assert shown(await me(server, server.tokens["user"])) in (
                None, f"{server.url}/images/avi.png", f"{server.url}/images/banner.png")
            assert_error(await c.patch(url, json={}), 400, f"Missing field: {field}.")
            assert_error(await c.patch(url, files={field: ("x.png", b"nope", "image/png")}), 415)
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.patch(f"{prefix}/accounts/update_avatar", data={"img": ""}), 403,
                     "Insufficient permissions: write:accounts.")


async def test_images_are_size_limited(server):
    big = b"data:image/png;base64," + base64.b64encode(b"\0" * ((2 << 20) + 10))
    async with server.client(server.tokens["user"]) as c:
        assert_error(await c.patch("/api/v1/pleroma/accounts/update_avatar", content=b'{"img": "' + big + b'"}',
                                   headers={"content-type": "application/json"}), 413, "File is too large")
        assert_error(await c.patch("/api/v1/accounts/update_credentials",
                                   files={"avatar": ("big.png", b"\0" * ((2 << 20) + 1), "image/png")}),
                     413, "File is too large")


async def test_one_account_cannot_touch_another_ones_images(server):
    other = make_account(server, "other")
    async with server.client(other.token) as c:
        url = (await c.patch("/api/v1/pleroma/accounts/update_avatar",
                             files={"img": ("x.png", png_bytes(), "image/png")})).json()["url"]
    async with server.client(server.tokens["user"]) as c:
        await c.patch("/api/v1/pleroma/accounts/update_avatar", json={"img": ""})
    async with server.anon() as c:
        assert (await c.get(url)).status_code == 200
        assert (await c.get(f"/api/v1/accounts/{other.id}")).json()["avatar"] == url
