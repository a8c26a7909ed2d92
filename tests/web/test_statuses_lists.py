"""Favourites, bookmarks and timelines: effects seen by a second request, Link-header paging."""

from __future__ import annotations

import re

from tests.web.accounts_support import assert_error, token_for
from tests.web.statuses_support import client, make_account, ok, post


def links(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", ""))}


async def test_favourites(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    status = await post(server, alice, "like me")
    async with client(server, bob) as c:
        faved = ok(await c.post(f"/api/v1/statuses/{status['id']}/favourite"))
        assert faved["favourited"] is True and faved["favourites_count"] == 1
        again = ok(await c.post(f"/api/v1/statuses/{status['id']}/favourite"))  # idempotent
        assert again["favourites_count"] == 1
        assert [s["id"] for s in ok(await c.get("/api/v1/favourites"))] == [status["id"]]
    async with server.anon() as c:
        assert ok(await c.get(f"/api/v1/statuses/{status['id']}"))["favourites_count"] == 1
        who = ok(await c.get(f"/api/v1/statuses/{status['id']}/favourited_by"))
        assert [a["id"] for a in who] == [bob.id]
    async with client(server, alice) as c:
        notes = ok(await c.get("/api/v1/notifications"))
        assert [(n["type"], n["account"]["id"], n["status"]["id"]) for n in notes] == [
            ("favourite", bob.id, status["id"])]
    async with client(server, bob) as c:
        undone = ok(await c.post(f"/api/v1/statuses/{status['id']}/unfavourite"))
        assert undone["favourited"] is False and undone["favourites_count"] == 0
        assert_error(await c.post(f"/api/v1/statuses/{status['id']}/unfavourite"), 400, "Could not unfavorite")
        assert ok(await c.get("/api/v1/favourites")) == []
        assert_error(await c.post("/api/v1/statuses/424242/favourite"), 404)
    async with client(server, alice) as c:
        assert ok(await c.get("/api/v1/notifications")) == []  # the notification went with the favourite
    read_only = token_for(server, "bob", "read")
    async with server.client(read_only) as c:
        assert_error(await c.post(f"/api/v1/statuses/{status['id']}/favourite"), 403)


async def test_account_favourites_respects_hide_favorites(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    public = await post(server, alice, "public")
    dm = await post(server, alice, "@bob dm", visibility="direct")
    async with client(server, bob) as c:
        for s in (public, dm):
            ok(await c.post(f"/api/v1/statuses/{s['id']}/favourite"))
    for prefix in ("/api/v1/pleroma", "/api/pleroma"):
        async with client(server, carol) as c:
            # Favourites are hidden by default, as on Pleroma.
            assert_error(await c.get(f"{prefix}/accounts/{bob.id}/favourites"), 403, "Can't get favorites")
            assert_error(await c.get(f"{prefix}/accounts/999/favourites"), 404, "Record not found")
    async with client(server, bob) as c:
        ok(await c.patch("/api/v1/accounts/update_credentials", json={"hide_favorites": False}))
        both = ok(await c.get(f"/api/v1/pleroma/accounts/{bob.id}/favourites"))
        assert [s["id"] for s in both] == [dm["id"], public["id"]]
    async with client(server, carol) as c:  # the DM is not carol's to see
        assert [s["id"] for s in ok(await c.get(f"/api/v1/pleroma/accounts/{bob.id}/favourites"))] == [public["id"]]
    async with server.anon() as c:
        assert [s["id"] for s in ok(await c.get(f"/api/pleroma/accounts/{bob.id}/favourites"))] == [public["id"]]


async def test_bookmarks_and_folders(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    first, second = await post(server, alice, "one"), await post(server, alice, "two")
    private = await post(server, alice, "private", visibility="private")
    async with client(server, bob) as c:
        marked = ok(await c.post(f"/api/v1/statuses/{first['id']}/bookmark"))
        assert marked["bookmarked"] is True and marked["pleroma"]["bookmark_folder"] is None
        # A folder that is not the caller's is ignored, as Pleroma does.
        ok(await c.post(f"/api/v1/statuses/{second['id']}/bookmark", json={"folder_id": "4242"}))
        assert [s["id"] for s in ok(await c.get("/api/v1/bookmarks"))] == [second["id"], first["id"]]
        assert ok(await c.get("/api/v1/bookmarks?folder_id=4242")) == []
        assert_error(await c.post(f"/api/v1/statuses/{private['id']}/bookmark"), 404)
        assert_error(await c.post(f"/api/v1/statuses/{first['id']}/bookmark", json={"folder_id": ["x"]}), 400)
        assert ok(await c.get(f"/api/v1/statuses/{first['id']}"))["bookmarked"] is True
        ok(await c.post(f"/api/v1/statuses/{first['id']}/unbookmark"))
        ok(await c.post(f"/api/v1/statuses/{first['id']}/unbookmark"))  # already gone: still fine
        assert [s["id"] for s in ok(await c.get("/api/v1/bookmarks"))] == [second["id"]]
    async with client(server, alice) as c:
        assert ok(await c.get("/api/v1/bookmarks")) == []  # bookmarks are private to their owner
        assert ok(await c.get(f"/api/v1/statuses/{second['id']}"))["bookmarked"] is False
    async with server.anon() as c:
        assert_error(await c.get("/api/v1/bookmarks"), 401)


async def test_home_timeline_and_paging(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    async with client(server, bob) as c:
        ok(await c.post(f"/api/v1/accounts/{alice.id}/follow"))
    posts = [await post(server, alice, f"post {i}") for i in range(5)]
    own = await post(server, bob, "my own")
    mention = await post(server, carol, "hey @bob", visibility="direct")
    await post(server, carol, "not followed")
    expected = [mention["id"], own["id"], *[p["id"] for p in reversed(posts)]]

    async with client(server, bob) as c:
        r = await c.get("/api/v1/timelines/home")
        assert [s["id"] for s in ok(r)] == expected
        r = await c.get("/api/v1/timelines/home", params={"limit": 3})
        page1 = [s["id"] for s in ok(r)]
        assert page1 == expected[:3]
        nav = links(r)
        assert "max_id=" + page1[-1] in nav["next"] and "min_id=" + page1[0] in nav["prev"]
        assert "limit=3" in nav["next"]
        r = await c.get(nav["next"])
        assert [s["id"] for s in ok(r)] == expected[3:6]
        r = await c.get(links(r)["next"])
        assert [s["id"] for s in ok(r)] == expected[6:]
        empty = await c.get(links(r)["next"])
        assert ok(empty) == [] and "link" not in empty.headers
        # since_id: the newest after it; min_id: those right after it.
        assert [s["id"] for s in ok(await c.get(f"/api/v1/timelines/home?since_id={expected[4]}&limit=2"))] == \
            expected[:2]
        assert [s["id"] for s in ok(await c.get(f"/api/v1/timelines/home?min_id={expected[4]}&limit=2"))] == \
            expected[2:4]
        # Muting alice hides her from home unless with_muted.
        ok(await c.post(f"/api/v1/accounts/{alice.id}/mute"))
        assert [s["id"] for s in ok(await c.get("/api/v1/timelines/home"))] == expected[:2]
        assert len(ok(await c.get("/api/v1/timelines/home?with_muted=true"))) == len(expected)
        shown = ok(await c.get(f"/api/v1/statuses/{posts[0]['id']}"))
        assert shown["muted"] is True


async def test_public_and_account_timelines(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    public = await post(server, alice, "public #tagged")
    await post(server, alice, "unlisted", visibility="unlisted")
    reply = await post(server, alice, "reply", in_reply_to_id=public["id"])
    async with server.anon() as c:
        assert [s["id"] for s in ok(await c.get("/api/v1/timelines/public"))] == [reply["id"], public["id"]]
        listed = ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses?exclude_replies=true"))
        assert [s["pleroma"]["content"]["text/plain"] for s in listed] == ["unlisted", "public #tagged"]
        assert [s["id"] for s in ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses?tagged=Tagged"))] == \
            [public["id"]]
        assert ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses?pinned=true")) == []
        assert ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses?only_media=1")) == []
        assert ok(await c.get(f"/api/v1/accounts/{bob.id}/statuses")) == []


async def test_favourited_by_leaves_out_blocked(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    status = await post(server, alice, "popular")
    for who in (bob, carol):
        async with client(server, who) as c:
            ok(await c.post(f"/api/v1/statuses/{status['id']}/favourite"))
    async with client(server, alice) as c:
        assert [a["id"] for a in ok(await c.get(f"/api/v1/statuses/{status['id']}/favourited_by"))] == \
            [carol.id, bob.id]
        ok(await c.post(f"/api/v1/accounts/{carol.id}/block"))
        assert [a["id"] for a in ok(await c.get(f"/api/v1/statuses/{status['id']}/favourited_by"))] == [bob.id]
        assert_error(await c.get("/api/v1/statuses/12345/favourited_by"), 404)
