"""Posting, reading, deleting statuses; visibility on every read; bad input."""

from __future__ import annotations

from tests.helpers import png_bytes
from tests.web.accounts_support import assert_error, token_for
from tests.web.statuses_support import client, make_account, ok, post


async def test_post_and_read_back(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    status = await post(server, alice, "hi @bob, see #Emoji https://example.org/x. <b>", spoiler_text="cw",
                        language="en", sensitive="true")
    assert status["id"].isdigit() and len(status["id"]) <= 20
    assert status["account"]["id"] == alice.id and status["account"]["statuses_count"] == 1
    assert status["visibility"] == "public" and status["sensitive"] is True and status["spoiler_text"] == "cw"
    assert status["language"] == "en" and status["text"] is None
    assert f'data-user="{bob.id}"' in status["content"] and "&lt;b&gt;" in status["content"]
    assert 'href="https://example.org/x"' in status["content"] and 'rel="tag ugc">#Emoji</a>' in status["content"]
    assert status["mentions"] == [{"id": bob.id, "username": "bob", "acct": "bob",
                                   "url": f"{server.url}/users/bob"}]
    assert status["tags"] == [{"name": "emoji", "url": f"{server.url}/tag/emoji"}]
    pleroma = status["pleroma"]
    assert pleroma["content"] == {"text/plain": "hi @bob, see #Emoji https://example.org/x. <b>"}
    assert pleroma["spoiler_text"] == {"text/plain": "cw"} and pleroma["local"] is True
    assert isinstance(pleroma["conversation_id"], int) and pleroma["direct_conversation_id"] is None
    assert pleroma["emoji_reactions"] == [] and pleroma["quote"] is None

    async with server.anon() as c:
        shown = ok(await c.get(f"/api/v1/statuses/{status['id']}"))
        assert shown["id"] == status["id"] and shown["content"] == status["content"]
        assert shown["favourited"] is False and shown["bookmarked"] is False
        dm = await post(server, alice, "@bob only", visibility="direct")
        many = ok(await c.get("/api/v1/statuses", params=[("id[]", status["id"]), ("id[]", dm["id"]),
                                                          ("id[]", "12345")]))
        assert [s["id"] for s in many] == [status["id"]]
    async with client(server, bob) as c:
        many = ok(await c.get("/api/v1/statuses", params=[("id[]", status["id"]), ("id[]", dm["id"])]))
        assert [s["id"] for s in many] == [status["id"], dm["id"]]


async def test_bodies_as_form_and_multipart(server):
    alice = make_account(server, "alice")
    async with client(server, alice) as c:
        form = ok(await c.post("/api/v1/statuses", data={"status": "from a form", "visibility": "unlisted"}))
        multi = ok(await c.post("/api/v1/statuses", files={"status": (None, "multipart"),
                                                           "visibility": (None, "private")}))
    assert form["visibility"] == "unlisted" and form["pleroma"]["content"]["text/plain"] == "from a form"
    assert multi["visibility"] == "private"


async def test_visibility_on_every_read(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    async with client(server, bob) as c:
        ok(await c.post(f"/api/v1/accounts/{alice.id}/follow"))
    public = await post(server, alice, "for all")
    unlisted = await post(server, alice, "quiet", visibility="unlisted")
    private = await post(server, alice, "followers only", visibility="private")
    direct = await post(server, alice, "psst @carol", visibility="direct")

    async def readable(who) -> set[str]:
        seen = set()
        async with client(server, who) as c:
            for s in (public, unlisted, private, direct):
                r = await c.get(f"/api/v1/statuses/{s['id']}")
                if r.status_code == 200:
                    seen.add(s["pleroma"]["content"]["text/plain"])
                else:
                    assert_error(r, 404, "Record not found")
        return seen

    assert await readable(None) == {"for all", "quiet"}
    assert await readable(bob) == {"for all", "quiet", "followers only"}
    assert await readable(carol) == {"for all", "quiet", "psst @carol"}
    assert await readable(alice) == {"for all", "quiet", "followers only", "psst @carol"}

    # The account timeline follows the same rules, newest first.
    async with client(server, carol) as c:
        listed = ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses"))
    assert [s["id"] for s in listed] == [direct["id"], unlisted["id"], public["id"]]

    # A blocked viewer no longer sees anything of the blocker.
    async with client(server, alice) as c:
        ok(await c.post(f"/api/v1/accounts/{carol.id}/block"))
    async with client(server, carol) as c:
        assert_error(await c.get(f"/api/v1/statuses/{public['id']}"), 404)
        assert ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses")) == []


async def test_replies_threads_and_defaults(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    root = await post(server, alice, "root", visibility="unlisted")
    reply = await post(server, bob, "a reply", in_reply_to_id=root["id"])
    assert reply["visibility"] == "unlisted"  # inherited from the parent
    assert reply["in_reply_to_id"] == root["id"] and reply["in_reply_to_account_id"] == alice.id
    assert reply["pleroma"]["in_reply_to_account_acct"] == "alice" and reply["pleroma"]["parent_visible"] is True
    assert reply["pleroma"]["conversation_id"] == root["pleroma"]["conversation_id"]
    assert [m["id"] for m in reply["mentions"]] == [alice.id]
    deeper = await post(server, alice, "deeper", in_reply_to_id=reply["id"], visibility="public")

    async with server.anon() as c:
        thread = ok(await c.get(f"/api/v1/statuses/{reply['id']}/context"))
        assert [s["id"] for s in thread["ancestors"]] == [root["id"]]
        assert [s["id"] for s in thread["descendants"]] == [deeper["id"]]
        assert ok(await c.get(f"/api/v1/statuses/{root['id']}"))["replies_count"] == 1

    # A direct parent forces a direct reply.
    dm = await post(server, alice, "@bob secret", visibility="direct")
    async with client(server, bob) as c:
        r = await c.post("/api/v1/statuses", json={"status": "leak", "in_reply_to_id": dm["id"],
                                                   "visibility": "public"})
        assert_error(r, 422, "The message visibility must be direct")
        answer = ok(await c.post("/api/v1/statuses", json={"status": "ok", "in_reply_to_id": dm["id"]}))
    assert answer["visibility"] == "direct" and [m["id"] for m in answer["mentions"]] == [alice.id]

    # The profile's default scope applies to a new thread.
    async with client(server, alice) as c:
        ok(await c.patch("/api/v1/accounts/update_credentials", json={"source": {"privacy": "private"}}))
    assert (await post(server, alice, "default scope"))["visibility"] == "private"


async def test_delete_returns_source_and_removes(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    mine = await post(server, alice, "to be deleted")
    async with client(server, bob) as c:
        assert_error(await c.delete(f"/api/v1/statuses/{mine['id']}"), 404, "Record not found")
    async with client(server, alice) as c:
        deleted = ok(await c.delete(f"/api/v1/statuses/{mine['id']}"))
        assert deleted["id"] == mine["id"] and deleted["text"] == "to be deleted"
        assert_error(await c.get(f"/api/v1/statuses/{mine['id']}"), 404)
        assert_error(await c.delete(f"/api/v1/statuses/{mine['id']}"), 404)
    # An admin may delete anyone's, even what they cannot read; with it go its reactions and favourites.
    other = await post(server, bob, "@alice moderated", visibility="direct")
    async with client(server, alice) as c:
        ok(await c.post(f"/api/v1/statuses/{other['id']}/favourite"))
        ok(await c.post(f"/api/v1/statuses/{other['id']}/bookmark"))
    async with server.admin() as c:
        assert_error(await c.get(f"/api/v1/statuses/{other['id']}"), 404)
        ok(await c.delete(f"/api/v1/statuses/{other['id']}"))
    async with client(server, bob) as c:
        assert_error(await c.get(f"/api/v1/statuses/{other['id']}"), 404)
        assert ok(await c.get("/api/v1/notifications")) == []
    async with client(server, alice) as c:
        assert ok(await c.get("/api/v1/bookmarks")) == [] and ok(await c.get("/api/v1/favourites")) == []
        assert ok(await c.get("/api/v1/notifications")) == []


async def test_media_ids(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")

    async def upload(who) -> str:
        async with client(server, who) as c:
            return ok(await c.post("/api/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}))["id"]

    mine, theirs = await upload(alice), await upload(bob)
    async with client(server, alice) as c:
        # Form fields `media_ids[]`, repeated; another account's media is ignored (as Pleroma does).
        status = ok(await c.post("/api/v1/statuses", data={"media_ids[]": [mine, theirs]}))
    assert [m["id"] for m in status["media_attachments"]] == [mine]
    assert status["media_attachments"][0]["type"] == "image"
    assert status["media_attachments"][0]["url"].startswith(server.url + "/media/")
    async with client(server, bob) as c:
        assert_error(await c.post("/api/v1/statuses", json={"media_ids": [mine]}), 422,
                     "Cannot post an empty status without attachments")
        many = [await upload(bob) for _ in range(5)]
        assert_error(await c.post("/api/v1/statuses", json={"status": "x", "media_ids": many}), 422,
                     "Too many attachments")


async def test_bad_input(server):
    alice = make_account(server, "alice")
    async with client(server, alice) as c:
        for body, status, text in [
            ({"status": ""}, 422, "Cannot post an empty status without attachments"),
            ({"status": "   "}, 422, "Cannot post an empty status without attachments"),
            ({"status": "x" * 5001}, 422, "The status is over the character limit"),
            ({"status": "x", "visibility": "everyone"}, 400, None),
            ({"status": {"a": 1}}, 400, None),
            ({"status": "x", "in_reply_to_id": "abc"}, 400, None),
            ({"status": "x", "in_reply_to_id": "123"}, 404, "Record not found"),
            ({"status": "x", "quote_id": "123"}, 404, "Record not found"),
            ({"status": "x", "in_reply_to_conversation_id": "99"}, 404, "Unknown conversation id"),
            ({"status": "x", "sensitive": "maybe"}, 400, None),
            ({"status": "x", "media_ids": [{"id": 1}]}, 400, None),
            ({"status": "x", "language": "not a language"}, 400, None),
        ]:
            assert_error(await c.post("/api/v1/statuses", json=body), status, text)
        assert_error(await c.post("/api/v1/statuses", content=b"{nope", headers={"content-type": "application/json"}),
                     400)
        for path in ("/api/v1/statuses/nope", "/api/v1/statuses/999", "/api/v1/statuses/" + "9" * 25):
            assert_error(await c.get(path), 404)
        assert_error(await c.get("/api/v1/timelines/home?max_id=abc"), 400)
        assert_error(await c.get("/api/v1/timelines/home?limit=many"), 400)
        assert_error(await c.get("/api/v1/timelines/home?with_muted=perhaps"), 400)
        assert ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses")) == []  # nothing was written
    async with server.anon() as c:
        assert_error(await c.post("/api/v1/statuses", json={"status": "x"}), 401)
        assert_error(await c.get("/api/v1/timelines/home"), 401)
        assert_error(await c.get("/api/v1/accounts/999/statuses"), 404, "Can't find user")
    read_only = token_for(server, "alice", "read")
    async with server.client(read_only) as c:
        assert_error(await c.post("/api/v1/statuses", json={"status": "x"}), 403)


async def test_quotes(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    original = await post(server, alice, "quote me")
    quoting = await post(server, bob, "look", quote_id=original["id"])
    assert quoting["pleroma"]["quote_id"] == original["id"] and quoting["pleroma"]["quote_visible"] is True
    assert quoting["pleroma"]["quote"]["id"] == original["id"]
    assert quoting["pleroma"]["quote"]["pleroma"]["quote"] is None
    private = await post(server, alice, "mine only", visibility="private")
    async with client(server, alice) as c:
        ok(await c.post("/api/v1/statuses", json={"status": "self", "quote_id": private["id"]}))
    async with client(server, bob) as c:
        ok(await c.post(f"/api/v1/accounts/{alice.id}/follow"))
        r = await c.post("/api/v1/statuses", json={"status": "no", "quote_id": private["id"]})
        assert_error(r, 422, "Cannot quote private message")

    for prefix in ("/api/v1/pleroma", "/api/pleroma"):
        async with server.anon() as c:
            quotes = ok(await c.get(f"{prefix}/statuses/{original['id']}/quotes"))
            assert [q["id"] for q in quotes] == [quoting["id"]]
            assert_error(await c.get(f"{prefix}/statuses/{private['id']}/quotes"), 404)
            assert_error(await c.get(f"{prefix}/statuses/12345/quotes"), 404)
    async with server.anon() as c:
        assert ok(await c.get(f"/api/v1/statuses/{original['id']}"))["pleroma"]["quotes_count"] == 1


async def test_explicit_addressing_with_to(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    # `to` replaces the addressing the text's mentions would give (Pleroma's parameter).
    status = await post(server, alice, "hi @carol", visibility="direct",
                        to=["bob", "nobody", "carol@elsewhere.example"])
    assert [m["id"] for m in status["mentions"]] == [bob.id]
    async with client(server, bob) as c:
        ok(await c.get(f"/api/v1/statuses/{status['id']}"))
    async with client(server, carol) as c:
        assert_error(await c.get(f"/api/v1/statuses/{status['id']}"), 404)
        assert ok(await c.get("/api/v1/notifications")) == []
    async with client(server, alice) as c:
        form = ok(await c.post("/api/v1/statuses", data={"status": "form", "visibility": "direct",
                                                         "to[]": ["bob", "carol"]}))
    assert sorted(m["id"] for m in form["mentions"]) == sorted([bob.id, carol.id])


async def test_account_counts_follow_posts_and_notifications(server):
    """verify_credentials and /accounts/:id count the account's statuses and unread notifications."""
    async with server.client(server.user_token) as user, server.admin() as admin:
        me = (await user.get("/api/v1/accounts/verify_credentials")).json()
        assert me["statuses_count"] == 0
        for text in ("one", "two"):
            r = await user.post("/api/v1/statuses", json={"status": text})
            assert r.status_code == 200, r.text
        status_id = r.json()["id"]
        r = await admin.post(f"/api/v1/statuses/{status_id}/favourite")
        assert r.status_code == 200, r.text
        me = (await user.get("/api/v1/accounts/verify_credentials")).json()
        assert me["statuses_count"] == 2
        assert me["pleroma"]["unread_notifications_count"] == 1
        shown = (await admin.get(f"/api/v1/accounts/{me['id']}")).json()
        assert shown["statuses_count"] == 2
