"""Notifications: what creates them, filters, Pleroma's notifications/read, dismiss and clear."""

from __future__ import annotations

from emojid.social.index.notifications import Notice
from tests.web.accounts_support import assert_error, token_for, with_index
from tests.web.statuses_support import client, make_account, ok, post


async def test_mentions_favourites_reactions_and_filters(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    mention = await post(server, bob, "hello @alice")
    mine = await post(server, alice, "mine")
    async with client(server, carol) as c:
        ok(await c.post(f"/api/v1/statuses/{mine['id']}/favourite"))
        ok(await c.put(f"/api/v1/pleroma/statuses/{mine['id']}/reactions/👍"))
    async with client(server, alice) as c:  # one's own doings notify nobody
        ok(await c.post(f"/api/v1/statuses/{mine['id']}/favourite"))
        notes = ok(await c.get("/api/v1/notifications"))
        assert [(n["type"], n["account"]["id"], n["status"]["id"]) for n in notes] == [
            ("pleroma:emoji_reaction", carol.id, mine["id"]),
            ("favourite", carol.id, mine["id"]),
            ("mention", bob.id, mention["id"])]
        first = notes[0]
        assert first["emoji"] == "👍" and first["emoji_url"] is None
        assert first["pleroma"] == {"is_muted": False, "is_seen": False}
        assert first["group_key"] == f"ungrouped-{first['id']}" and first["created_at"].endswith("Z")
        assert "emoji" not in notes[1]

        def types(response) -> list[str]:
            return [n["type"] for n in ok(response)]

        assert types(await c.get("/api/v1/notifications?types[]=mention")) == ["mention"]
        assert types(await c.get("/api/v1/notifications", params=[("exclude_types[]", "mention"),
                                                                  ("exclude_types[]", "favourite")])) == \
            ["pleroma:emoji_reaction"]
        assert types(await c.get(f"/api/v1/notifications?account_id={bob.id}")) == ["mention"]
        assert_error(await c.get("/api/v1/notifications?account_id=999"), 404, "Account is not found")
        assert types(await c.get(f"/api/v1/notifications?limit=1&max_id={notes[0]['id']}")) == ["favourite"]
        one = ok(await c.get(f"/api/v1/notifications/{notes[2]['id']}"))
        assert one["id"] == notes[2]["id"] and one["type"] == "mention"
    async with client(server, bob) as c:  # another account's notification is not found
        assert_error(await c.get(f"/api/v1/notifications/{notes[2]['id']}"), 404)
        assert ok(await c.get("/api/v1/notifications")) == []


async def test_notifications_read(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    for i in range(4):
        await post(server, bob, f"@alice number {i}")
    async with client(server, alice) as c:
        notes = ok(await c.get("/api/v1/notifications"))
        ids = [n["id"] for n in notes]  # newest first
        for prefix in ("/api/v1/pleroma", "/api/pleroma"):
            assert_error(await c.post(f"{prefix}/notifications/read", json={}), 400)
        read = ok(await c.post("/api/v1/pleroma/notifications/read", json={"id": ids[0]}))
        assert read["id"] == ids[0] and read["pleroma"]["is_seen"] is True
        seen = {n["id"]: n["pleroma"]["is_seen"] for n in ok(await c.get("/api/v1/notifications"))}
        assert seen == {ids[0]: True, ids[1]: False, ids[2]: False, ids[3]: False}
        # max_id: all up to it are read; the list of those newly read.
        listed = ok(await c.post("/api/pleroma/notifications/read", data={"max_id": ids[2]}))
        assert [n["id"] for n in listed] == [ids[2], ids[3]] and all(n["pleroma"]["is_seen"] for n in listed)
        seen = {n["id"]: n["pleroma"]["is_seen"] for n in ok(await c.get("/api/v1/notifications"))}
        assert seen == {ids[0]: True, ids[1]: False, ids[2]: True, ids[3]: True}
        assert ok(await c.post("/api/v1/pleroma/notifications/read", json={"max_id": ids[0]}))[0]["id"] == ids[1]
        assert_error(await c.post("/api/v1/pleroma/notifications/read", json={"id": "22222222222222"}), 404,
                     "Cannot get notification")
        assert_error(await c.post("/api/v1/pleroma/notifications/read", json={"id": "abc"}), 400)
        assert_error(await c.post("/api/v1/pleroma/notifications/read", json={"id": ids[0], "max_id": ids[0]}), 400)
    async with client(server, bob) as c:
        assert_error(await c.post("/api/v1/pleroma/notifications/read", json={"id": ids[1]}), 404)
    async with server.client(token_for(server, "alice", "read")) as c:
        assert_error(await c.post("/api/v1/pleroma/notifications/read", json={"id": ids[1]}), 403)
    async with server.anon() as c:
        assert_error(await c.post("/api/v1/pleroma/notifications/read", json={"id": ids[1]}), 401)


async def test_read_up_to_returns_at_most_80(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    status = await post(server, alice, "react")
    emoji = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊"]
    for e in emoji:
        async with client(server, bob) as c:
            ok(await c.put(f"/api/v1/pleroma/statuses/{status['id']}/reactions/{e}"))
    # 90 more, written as the reactions above were (the index API other areas notify through).
    with_index(server, lambda index: index.add_notices(
        [Notice(alice.id, "mention", bob.id, status["id"]) for _ in range(90)]))
    async with client(server, alice) as c:
        newest = ok(await c.get("/api/v1/notifications?limit=1"))[0]["id"]
        read = ok(await c.post("/api/v1/pleroma/notifications/read", json={"max_id": newest}))
        assert len(read) == 80
        assert all(n["pleroma"]["is_seen"] for n in read) and read[0]["id"] == newest
        oldest = ok(await c.get(f"/api/v1/notifications?limit=40&max_id={read[-1]['id']}"))
        assert len(oldest) == 20 and all(n["pleroma"]["is_seen"] for n in oldest)


async def test_dismiss_clear_and_blocks(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    await post(server, bob, "@alice one")
    await post(server, carol, "@alice two")
    async with client(server, alice) as c:
        notes = ok(await c.get("/api/v1/notifications"))
        assert len(notes) == 2
        assert ok(await c.post(f"/api/v1/notifications/{notes[0]['id']}/dismiss")) == {}
        assert_error(await c.post(f"/api/v1/notifications/{notes[0]['id']}/dismiss"), 404)
        assert [n["id"] for n in ok(await c.get("/api/v1/notifications"))] == [notes[1]["id"]]
        await post(server, carol, "@alice three")
        third = ok(await c.get("/api/v1/notifications"))[0]["id"]
        assert ok(await c.post("/api/v1/notifications/dismiss", data={"id": third})) == {}  # id in the body
        assert_error(await c.post("/api/v1/notifications/dismiss", data={}), 404)
        assert [n["id"] for n in ok(await c.get("/api/v1/notifications"))] == [notes[1]["id"]]
        ok(await c.post(f"/api/v1/accounts/{bob.id}/block"))
        assert ok(await c.get("/api/v1/notifications")) == []  # blocked: hidden
        ok(await c.post(f"/api/v1/accounts/{bob.id}/unblock"))
        assert ok(await c.post("/api/v1/notifications/clear")) == {}
        assert ok(await c.get("/api/v1/notifications")) == []
    async with client(server, bob) as c:
        ok(await c.post(f"/api/v1/accounts/{alice.id}/block"))
    await post(server, bob, "@alice blocked")  # a blocker's mention does not reach the blocked
    async with client(server, alice) as c:
        assert ok(await c.get("/api/v1/notifications")) == []


async def test_subscriptions_and_strangers(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    async with client(server, bob) as c:
        ok(await c.post(f"/api/v1/pleroma/accounts/{alice.id}/subscribe"))
    public = await post(server, alice, "news for subscribers")
    await post(server, alice, "@carol not for bob", visibility="direct")
    await post(server, alice, "followers only", visibility="private")
    async with client(server, bob) as c:
        notes = ok(await c.get("/api/v1/notifications"))
        assert [(n["type"], n["status"]["id"]) for n in notes] == [("status", public["id"])]
    # block_from_strangers: mentions from accounts one does not follow are not notified.
    async with client(server, carol) as c:
        ok(await c.put("/api/pleroma/notification_settings", json={"block_from_strangers": True}))
    await post(server, bob, "@carol from a stranger")
    async with client(server, carol) as c:
        assert [n["account"]["id"] for n in ok(await c.get("/api/v1/notifications"))] == [alice.id]
        ok(await c.post(f"/api/v1/accounts/{bob.id}/follow"))
    await post(server, bob, "@carol from a friend")
    async with client(server, carol) as c:
        assert [n["account"]["id"] for n in ok(await c.get("/api/v1/notifications"))] == [bob.id, alice.id]
