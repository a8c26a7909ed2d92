"""Scrobbles against a real server: posting, listing by id or nickname, visibility, paging."""

from __future__ import annotations

from tests.web.accounts_support import assert_error, make_account, token_for

V1 = "/api/v1/pleroma"
LAIN = {
    "title": "lain radio episode 1",
    "artist": "lain",
    "album": "lain radio",
    "length": "180000",
    "externalLink": "https://www.last.fm/music/lain/lain+radio/lain+radio+episode+1",
}


async def test_scrobble_and_list(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        r = await c.post(f"{V1}/scrobble", json=LAIN)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["title"] == "lain radio episode 1" and body["artist"] == "lain"
        assert body["album"] == "lain radio" and body["length"] == 180000
        assert body["externalLink"] == LAIN["externalLink"]
        assert body["account"]["username"] == "user" and body["id"].isdigit()
        assert body["created_at"].endswith("Z")

        await c.post("/api/pleroma/scrobble", data={"title": "<b>episode 2</b>", "artist": "lain"})
        user_id = body["account"]["id"]
        for path in (f"{V1}/accounts/{user_id}/scrobbles", f"{V1}/accounts/user/scrobbles"):
            listed = (await anon.get(path)).json()
            assert [s["title"] for s in listed] == ["episode 2", "lain radio episode 1"]
            assert listed[0]["length"] is None and listed[0]["album"] is None


async def test_visibility(server):
    friend = make_account(server, "friend")
    stranger = make_account(server, "stranger")
    async with server.client(server.user_token) as c, server.client(friend.token) as f, \
            server.client(stranger.token) as s, server.anon() as anon:
        for visibility in ("public", "unlisted", "private", "direct"):
            r = await c.post(f"{V1}/scrobble", json={"title": visibility, "visibility": visibility})
            assert r.status_code == 200, r.text
        assert (await f.post(f"/api/v1/accounts/{(await c.get('/api/v1/accounts/verify_credentials')).json()['id']}"
                                 "/follow")).status_code == 200
        path = f"{V1}/accounts/user/scrobbles"
        assert [x["title"] for x in (await c.get(path)).json()] == ["direct", "private", "unlisted", "public"]
        assert [x["title"] for x in (await f.get(path)).json()] == ["private", "unlisted", "public"]
        assert [x["title"] for x in (await s.get(path)).json()] == ["unlisted", "public"]
        assert [x["title"] for x in (await anon.get(path)).json()] == ["unlisted", "public"]


async def test_paging(server):
    async with server.client(server.user_token) as c:
        ids = [(await c.post(f"{V1}/scrobble", json={"title": f"t{i}"})).json()["id"] for i in range(5)]
        r = await c.get(f"{V1}/accounts/user/scrobbles", params={"limit": 2})
        assert [x["id"] for x in r.json()] == ids[:-3:-1]
        assert 'rel="next"' in r.headers["link"] and f"max_id={ids[3]}" in r.headers["link"]
        older = (await c.get(f"{V1}/accounts/user/scrobbles", params={"limit": 2, "max_id": ids[3]})).json()
        assert [x["id"] for x in older] == [ids[2], ids[1]]
        newer = (await c.get(f"{V1}/accounts/user/scrobbles", params={"min_id": ids[1], "limit": 2})).json()
        assert [x["id"] for x in newer] == [ids[3], ids[2]]
        since = (await c.get(f"{V1}/accounts/user/scrobbles", params={"since_id": ids[2]})).json()
        assert [x["id"] for x in since] == [ids[4], ids[3]]


async def test_errors(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        assert_error(await anon.post(f"{V1}/scrobble", json={"title": "x"}), 401)
        assert_error(await c.post(f"{V1}/scrobble", json={"artist": "no title"}), 400, "Missing field: title.")
        assert_error(await c.post(f"{V1}/scrobble", json={"title": "x", "length": "long"}), 400)
        assert_error(await c.post(f"{V1}/scrobble", json={"title": "x", "visibility": "everyone"}), 400)
        assert_error(await c.post(f"{V1}/scrobble", json={"title": {"a": 1}}), 400)
        assert (await c.get(f"{V1}/accounts/user/scrobbles")).json() == []
        assert_error(await c.get(f"{V1}/accounts/nobody/scrobbles"), 404)
        assert_error(await c.get(f"{V1}/accounts/99999/scrobbles"), 404)
        assert_error(await c.get(f"{V1}/accounts/user/scrobbles", params={"max_id": "x"}), 400)
        assert_error(await c.get(f"{V1}/accounts/user/scrobbles", params={"limit": "many"}), 400)
    read_only = token_for(server, "user", "read")
    async with server.client(read_only) as c:
        assert_error(await c.post(f"{V1}/scrobble", json={"title": "x"}), 403)


async def test_location_search_without_provider(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        r = await c.get(f"{V1}/search/location", params={"q": "Paris"})
        assert r.status_code == 200 and r.json() == []
        assert (await c.get("/api/pleroma/search/location", params={"q": "Paris"})).json() == []
        assert_error(await c.get(f"{V1}/search/location"), 400)
        assert_error(await anon.get(f"{V1}/search/location", params={"q": "Paris"}), 401)
