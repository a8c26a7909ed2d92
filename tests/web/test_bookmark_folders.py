"""Bookmark folders against a real server: names, emoji (unicode and the local packs'), owners."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import serving
from tests.helpers import write_pack
from tests.web.accounts_support import assert_error, make_account, token_for

V1 = "/api/v1/pleroma"


def firefox_pack(config) -> None:
    write_pack(config.packs_dir, "browsers", {"firefox": "firefox.png"})


@pytest.fixture
async def server(tmp_path: Path):
    async with serving(tmp_path / "s", prepare=firefox_pack) as s:
        yield s


async def test_create_list_update_delete(server):
    async with server.client(server.user_token) as c:
        r = await c.post(f"{V1}/bookmark_folders", json={"name": "Read later", "emoji": "🕓"})
        assert r.status_code == 200, r.text
        folder = r.json()
        assert folder == {"id": folder["id"], "name": "Read later", "emoji": "🕓", "emoji_url": None}
        assert folder["id"].isdigit() and len(folder["id"]) <= 20

        # form bodies too, and under the old prefix
        r = await c.post("/api/pleroma/bookmark_folders", data={"name": "Plain"})
        assert r.status_code == 200 and r.json()["emoji"] is None

        listed = (await c.get(f"{V1}/bookmark_folders")).json()
        assert [f["name"] for f in listed] == ["Read later", "Plain"]

        r = await c.patch(f"{V1}/bookmark_folders/{folder['id']}", json={"name": "read later"})
        assert r.status_code == 200 and r.json()["name"] == "read later"
        assert r.json()["emoji"] == "🕓"  # left alone when not given
        r = await c.patch(f"{V1}/bookmark_folders/{folder['id']}", json={"emoji": None})
        assert r.json()["emoji"] is None and r.json()["name"] == "read later"
        listed = (await c.get(f"{V1}/bookmark_folders")).json()
        assert listed[0] == {"id": folder["id"], "name": "read later", "emoji": None, "emoji_url": None}

        r = await c.delete(f"{V1}/bookmark_folders/{folder['id']}")
        assert r.status_code == 200 and r.json()["id"] == folder["id"]
        assert [f["name"] for f in (await c.get(f"{V1}/bookmark_folders")).json()] == ["Plain"]
        assert_error(await c.delete(f"{V1}/bookmark_folders/{folder['id']}"), 404)


async def test_custom_and_unqualified_emoji(server):
    async with server.client(server.user_token) as c:
        r = await c.post(f"{V1}/bookmark_folders", json={"name": "Browsers", "emoji": ":firefox:"})
        assert r.status_code == 200, r.text
        assert r.json()["emoji"] == ":firefox:"
        assert r.json()["emoji_url"] == f"{server.url}/emoji/browsers/firefox.png"
        assert (await c.get(r.json()["emoji_url"])).status_code == 200

        # a bare shortcode is quoted, as Pleroma does
        r = await c.post(f"{V1}/bookmark_folders", json={"name": "Fox", "emoji": "firefox"})
        assert r.json()["emoji"] == ":firefox:"

        # an unqualified emoji is stored fully qualified
        r = await c.post(f"{V1}/bookmark_folders", json={"name": "Warnings", "emoji": "⚠"})
        assert r.json()["emoji"] == "\u26a0\ufe0f"
        listed = {f["name"]: f for f in (await c.get(f"{V1}/bookmark_folders")).json()}
        assert listed["Warnings"]["emoji"] == "\u26a0\ufe0f"
        assert listed["Browsers"]["emoji_url"].endswith("/emoji/browsers/firefox.png")


@pytest.mark.parametrize("emoji", ["not an emoji", ":nosuchemoji:", "a", "🕓🕓"])
async def test_invalid_emoji_is_422(server, emoji):
    async with server.client(server.user_token) as c:
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": "X", "emoji": emoji}), 422, "Invalid emoji")
        assert (await c.get(f"{V1}/bookmark_folders")).json() == []
        folder = (await c.post(f"{V1}/bookmark_folders", json={"name": "Y", "emoji": "📁"})).json()
        assert_error(await c.patch(f"{V1}/bookmark_folders/{folder['id']}", json={"name": "Z", "emoji": emoji}),
                     422, "Invalid emoji")
        # nothing half-written: the name did not change either
        assert (await c.get(f"{V1}/bookmark_folders")).json() == [folder]


async def test_another_accounts_folder_is_403(server):
    other = make_account(server, "other")
    async with server.client(other.token) as o, server.client(server.user_token) as c:
        theirs = (await o.post(f"{V1}/bookmark_folders", json={"name": "Mine"})).json()
        assert_error(await c.patch(f"{V1}/bookmark_folders/{theirs['id']}", json={"name": "stolen"}),
                     403, "Access denied")
        assert_error(await c.delete(f"{V1}/bookmark_folders/{theirs['id']}"), 403, "Access denied")
        assert (await c.get(f"{V1}/bookmark_folders")).json() == []
        assert (await o.get(f"{V1}/bookmark_folders")).json() == [theirs]


async def test_bad_input(server):
    async with server.client(server.user_token) as c:
        assert_error(await c.post(f"{V1}/bookmark_folders", json={}), 422, "can't be blank")
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": "   "}), 422)
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": ["a"]}), 400)
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": "x" * 101}), 422)
        assert_error(await c.post(f"{V1}/bookmark_folders", content=b"{", headers={"content-type": "application/json"}),
                     400)
        await c.post(f"{V1}/bookmark_folders", json={"name": "Dup"})
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": "Dup"}), 422, "has already been taken")
        other = (await c.post(f"{V1}/bookmark_folders", json={"name": "Other"})).json()
        assert_error(await c.patch(f"{V1}/bookmark_folders/{other['id']}", json={"name": "Dup"}), 422)
        assert_error(await c.patch(f"{V1}/bookmark_folders/123456", json={"name": "x"}), 404)
        assert_error(await c.patch(f"{V1}/bookmark_folders/nope", json={"name": "x"}), 404)
        assert sorted(f["name"] for f in (await c.get(f"{V1}/bookmark_folders")).json()) == ["Dup", "Other"]


async def test_auth_and_scopes(server):
    async with server.anon() as c:
        assert_error(await c.get(f"{V1}/bookmark_folders"), 401)
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": "x"}), 401)
    read_only = token_for(server, "user", "read")
    async with server.client(read_only) as c:
        assert (await c.get(f"{V1}/bookmark_folders")).status_code == 200
        assert_error(await c.post(f"{V1}/bookmark_folders", json={"name": "x"}), 403)
    narrow = token_for(server, "user", "write:bookmarks")
    async with server.client(narrow) as c:
        assert (await c.post(f"{V1}/bookmark_folders", json={"name": "x"})).status_code == 200
        assert_error(await c.get(f"{V1}/bookmark_folders"), 403)


async def test_bookmarks_move_between_folders(server):
    other = make_account(server, "other")
    async with server.client(server.user_token) as c, server.client(other.token) as o:
        later = (await c.post(f"{V1}/bookmark_folders", json={"name": "Later"})).json()
        done = (await c.post(f"{V1}/bookmark_folders", json={"name": "Done"})).json()
        theirs = (await o.post(f"{V1}/bookmark_folders", json={"name": "Theirs"})).json()
        first = (await c.post("/api/v1/statuses", json={"status": "first"})).json()
        second = (await c.post("/api/v1/statuses", json={"status": "second"})).json()

        async def in_folder(folder_id: str | None) -> list[str]:
            params = {"folder_id": folder_id} if folder_id else {}
            r = await c.get("/api/v1/bookmarks", params=params)
            assert r.status_code == 200, r.text
            return [s["id"] for s in r.json()]

        r = await c.post(f"/api/v1/statuses/{first['id']}/bookmark", json={"folder_id": later["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["pleroma"]["bookmark_folder"] == later["id"]
        await c.post(f"/api/v1/statuses/{second['id']}/bookmark")
        assert await in_folder(later["id"]) == [first["id"]]
        assert await in_folder(None) == [second["id"], first["id"]]

        # bookmarking again moves it
        await c.post(f"/api/v1/statuses/{first['id']}/bookmark", json={"folder_id": done["id"]})
        assert await in_folder(later["id"]) == []
        assert await in_folder(done["id"]) == [first["id"]]

        # someone else's folder is no folder of ours
        await c.post(f"/api/v1/statuses/{second['id']}/bookmark", json={"folder_id": theirs["id"]})
        assert (await c.get(f"/api/v1/statuses/{second['id']}")).json()["pleroma"]["bookmark_folder"] is None

        # deleting a folder keeps its bookmarks, outside any folder
        assert (await c.delete(f"{V1}/bookmark_folders/{done['id']}")).status_code == 200
        assert await in_folder(done["id"]) == []
        assert await in_folder(None) == [second["id"], first["id"]]
        assert (await c.get(f"/api/v1/statuses/{first['id']}")).json()["pleroma"]["bookmark_folder"] is None
