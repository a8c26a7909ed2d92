"""Conversations with Pleroma semantics: participations, recipients, replies by conversation id."""

from __future__ import annotations

from tests.web.accounts_support import assert_error, token_for
from tests.web.statuses_support import client, make_account, ok, post

PREFIXES = ("/api/v1/pleroma", "/api/pleroma")


async def test_direct_messages_make_conversations(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    dm = await post(server, alice, "@bob @carol secret plans", visibility="direct")
    conversation_id = dm["pleroma"]["direct_conversation_id"]
    assert isinstance(conversation_id, int)
    async with client(server, alice) as c:
        mine = ok(await c.get("/api/v1/conversations"))
    assert [m["id"] for m in mine] == [str(conversation_id)]
    assert mine[0]["unread"] is False  # the author has read their own message
    assert sorted(a["id"] for a in mine[0]["accounts"]) == sorted([bob.id, carol.id])
    assert sorted(a["id"] for a in mine[0]["pleroma"]["recipients"]) == sorted([alice.id, bob.id, carol.id])
    assert mine[0]["last_status"]["id"] == dm["id"]
    assert mine[0]["last_status"]["pleroma"]["direct_conversation_id"] == conversation_id

    async with client(server, bob) as c:
        theirs = ok(await c.get("/api/v1/conversations"))
        assert theirs[0]["unread"] is True and theirs[0]["id"] != mine[0]["id"]
        bob_conversation = theirs[0]["id"]
        assert ok(await c.get(f"/api/v1/statuses/{dm['id']}"))["pleroma"]["direct_conversation_id"] == \
            int(bob_conversation)
        for prefix in PREFIXES:
            shown = ok(await c.get(f"{prefix}/conversations/{bob_conversation}"))
            assert shown["id"] == bob_conversation and shown["last_status"]["id"] == dm["id"]
            # Someone else's conversation is unknown.
            assert_error(await c.get(f"{prefix}/conversations/{mine[0]['id']}"), 404, "Unknown conversation id")
            assert_error(await c.get(f"{prefix}/conversations/abc"), 404, "Unknown conversation id")
            assert_error(await c.get(f"{prefix}/conversations/999999/statuses"), 404)
        read = ok(await c.post(f"/api/v1/conversations/{bob_conversation}/read"))
        assert read["unread"] is False
        assert ok(await c.get("/api/v1/conversations"))[0]["unread"] is False

    # A reply in the thread bumps it back to unread for the others.
    reply = await post(server, bob, "@alice @carol sure", visibility="direct", in_reply_to_id=dm["id"])
    async with client(server, alice) as c:
        again = ok(await c.get("/api/v1/conversations"))
        assert [(x["id"], x["unread"], x["last_status"]["id"]) for x in again] == [
            (mine[0]["id"], True, reply["id"])]
        statuses = ok(await c.get(f"/api/v1/pleroma/conversations/{mine[0]['id']}/statuses"))
        assert [s["id"] for s in statuses] == [dm["id"], reply["id"]]  # oldest first
        page = ok(await c.get(f"/api/v1/pleroma/conversations/{mine[0]['id']}/statuses?limit=1"))
        assert [s["id"] for s in page] == [reply["id"]]
    async with client(server, make_account(server, "dave")) as c:
        assert ok(await c.get("/api/v1/conversations")) == []


async def test_recipients_and_replying_by_conversation(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    dm = await post(server, alice, "@bob hi", visibility="direct")
    cid = str(dm["pleroma"]["direct_conversation_id"])
    for prefix in PREFIXES:
        async with client(server, alice) as c:
            # The owner always stays, whatever the list says.
            updated = ok(await c.patch(f"{prefix}/conversations/{cid}", json={"recipients": [carol.id]}))
            assert sorted(a["id"] for a in updated["pleroma"]["recipients"]) == sorted([alice.id, carol.id])
            assert [a["id"] for a in updated["accounts"]] == [carol.id]
    async with client(server, alice) as c:
        # As form fields `recipients[]`, an unknown id is dropped.
        updated = ok(await c.patch(f"/api/v1/pleroma/conversations/{cid}",
                                   data={"recipients[]": [bob.id, carol.id, "424242"]}))
        assert sorted(a["id"] for a in updated["pleroma"]["recipients"]) == sorted([alice.id, bob.id, carol.id])
        assert_error(await c.patch(f"/api/v1/pleroma/conversations/{cid}", json={}), 400)
        assert_error(await c.patch(f"/api/v1/pleroma/conversations/{cid}", json={"recipients": {"a": 1}}), 400)
        # As the API spec has them: query parameters.
        queried = ok(await c.patch(f"/api/v1/pleroma/conversations/{cid}?recipients[]={bob.id}"))
        assert sorted(a["id"] for a in queried["pleroma"]["recipients"]) == sorted([alice.id, bob.id])
        updated = ok(await c.patch(f"/api/v1/pleroma/conversations/{cid}",
                                   json={"recipients": [bob.id, carol.id]}))
        assert ok(await c.get(f"/api/v1/pleroma/conversations/{cid}"))["pleroma"]["recipients"] == \
            updated["pleroma"]["recipients"]
        # A status posted into the conversation goes to its recipients, direct.
        reply = ok(await c.post("/api/v1/statuses", json={"status": "everyone read this",
                                                          "in_reply_to_conversation_id": cid,
                                                          "visibility": "public"}))
    assert reply["visibility"] == "direct"
    assert sorted(m["id"] for m in reply["mentions"]) == sorted([bob.id, carol.id])
    assert reply["pleroma"]["conversation_id"] == dm["pleroma"]["conversation_id"]
    async with client(server, carol) as c:
        assert ok(await c.get(f"/api/v1/statuses/{reply['id']}"))["id"] == reply["id"]
        theirs = ok(await c.get("/api/v1/conversations"))
        assert [x["last_status"]["id"] for x in theirs] == [reply["id"]] and theirs[0]["unread"] is True
        notes = ok(await c.get("/api/v1/notifications"))
        assert [(n["type"], n["status"]["id"]) for n in notes] == [("mention", reply["id"])]
        # Not carol's conversation: she may not post into alice's participation.
        r = await c.post("/api/v1/statuses", json={"status": "x", "in_reply_to_conversation_id": cid})
        assert_error(r, 404, "Unknown conversation id")
        assert_error(await c.patch(f"/api/v1/pleroma/conversations/{cid}", json={"recipients": []}), 404)
    async with server.client(token_for(server, "alice", "read")) as c:
        assert_error(await c.patch(f"/api/v1/pleroma/conversations/{cid}", json={"recipients": []}), 403)


async def test_read_all_delete_and_filters(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    one = await post(server, bob, "@alice first", visibility="direct")
    two = await post(server, carol, "@alice second", visibility="direct")
    three = await post(server, carol, "@alice @bob third", visibility="direct")
    async with client(server, alice) as c:
        listed = ok(await c.get("/api/v1/conversations"))
        assert [x["last_status"]["id"] for x in listed] == [three["id"], two["id"], one["id"]]
        assert all(x["unread"] for x in listed)
        only_carol = ok(await c.get(f"/api/v1/conversations?recipients[]={carol.id}"))
        assert [x["last_status"]["id"] for x in only_carol] == [two["id"]]
        paged = await c.get("/api/v1/conversations?limit=2")
        assert len(ok(paged)) == 2 and 'rel="next"' in paged.headers["link"]
        for prefix in PREFIXES:
            marked = ok(await c.post(f"{prefix}/conversations/read"))
            assert len(marked) == (3 if prefix == PREFIXES[0] else 0)
            assert all(x["unread"] is False for x in marked)
        assert not any(x["unread"] for x in ok(await c.get("/api/v1/conversations")))
        assert ok(await c.delete(f"/api/v1/conversations/{listed[0]['id']}")) == {}
        assert len(ok(await c.get("/api/v1/conversations"))) == 2
        assert_error(await c.delete(f"/api/v1/conversations/{listed[0]['id']}"), 404)
    async with server.anon() as c:
        assert_error(await c.get("/api/v1/conversations"), 401)
        assert_error(await c.post("/api/v1/pleroma/conversations/read"), 401)
