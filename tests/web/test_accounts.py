"""Mastodon account endpoints: the entity, credentials, lookups, relationships and their effects."""

from __future__ import annotations

import base64
import re

from tests.conftest import wait_for
from tests.helpers import png_bytes, write_pack
from tests.web.accounts_support import assert_error, make_account, me, token_for

ID = re.compile(r"^[0-9]{1,20}$")


async def test_verify_credentials_shape(server):
    user = await me(server, server.tokens["user"])
    assert ID.match(user["id"]) and user["username"] == user["acct"] == "user"
    assert user["emojis"] == [] and user["fields"] == [] and user["display_name"] == "user"
    assert user["created_at"].endswith(".000Z")
    assert user["url"] == user["pleroma"]["ap_id"] == f"{server.url}/users/user"
    assert user["fqn"] == "user@127.0.0.1"
    pleroma = user["pleroma"]
    assert pleroma["notification_settings"] == {"block_from_strangers": False, "hide_notification_contents": False}
    assert pleroma["email"] == "user@example.org" and pleroma["is_admin"] is False
    assert pleroma["allow_following_move"] is True and pleroma["settings_store"] == {}
    assert pleroma["relationship"] == {} and pleroma["also_known_as"] == []
    assert user["source"]["privacy"] == "public" and user["follow_requests_count"] == 0
    async with server.anon() as c:
        for url in (user["avatar"], user["header"]):  # the default images resolve
            r = await c.get(url)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    admin = await me(server, server.tokens["admin"])
    assert admin["pleroma"]["is_admin"] is True and admin["pleroma"]["privileges"]
    assert int(admin["id"]) < int(user["id"])  # time-sortable: admin was made first


async def test_verify_credentials_needs_token_and_scope(server):
    async with server.anon() as c:
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    async with server.client("not-a-token") as c:
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    async with server.client(token_for(server, "user", "write")) as c:
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 403,
                     "Insufficient permissions: read:accounts.")


async def test_update_credentials_form_and_effect(server):
    write_pack(server.packs_dir, "blobs", {"blobcat": "blobcat.png"})

    async def indexed():
        async with server.anon() as c:
            return "blobcat" in (await c.get("/api/v1/pleroma/emoji")).json()

    await wait_for(indexed)
    async with server.client(server.tokens["user"]) as c:
        r = await c.patch("/api/v1/accounts/update_credentials", data={
            "display_name": "User :blobcat:", "note": "hello <b>\nworld", "locked": "true", "bot": "1",
            "fields_attributes[0][name]": "site", "fields_attributes[0][value]": "https://x.example",
            "fields_attributes[1][name]": "pronouns", "fields_attributes[1][value]": "they",
            "source[privacy]": "unlisted", "hide_followers": "true", "allow_following_move": "false",
        })
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert body["source"]["privacy"] == "unlisted" and body["pleroma"]["allow_following_move"] is False
        user_id = body["id"]
    async with server.anon() as c:
        shown = (await c.get(f"/api/v1/accounts/{user_id}")).json()
    assert shown["display_name"] == "User :blobcat:" and shown["locked"] is True and shown["bot"] is True
    assert shown["note"] == "hello &lt;b&gt;<br/>world" and shown["source"]["note"] == "hello <b>\nworld"
    assert [f["name"] for f in shown["fields"]] == ["site", "pronouns"]
    assert shown["pleroma"]["hide_followers"] is True
    assert shown["emojis"] == [{"shortcode": "blobcat", "url": f"{server.url}/emoji/blobs/blobcat.png",
                                "static_url": f"{server.url}/emoji/blobs/blobcat.png", "visible_in_picker": False}]
    # what only the owner sees stays private
    assert "email" not in shown["pleroma"] and "settings_store" not in shown["pleroma"]
    assert "notification_settings" not in shown["pleroma"] and "privacy" not in shown["source"]


async def test_update_credentials_json_images_and_clearing(server):
    async with server.client(server.tokens["user"]) as c:
        data_url = "data:image/png;base64," + base64.b64encode(png_bytes("blue")).decode()
        r = await c.patch("/api/v1/accounts/update_credentials",
                          json={"header": data_url, "fields_attributes": [{"name": "a", "value": "b"}],
                                "pleroma_settings_store": {"fe": {"theme": "dark"}}})
        assert r.status_code == 200, r.text
        header = r.json()["header"]
        assert header.startswith(f"{server.url}/media/") and r.json()["pleroma"]["settings_store"] == {
            "fe": {"theme": "dark"}}
        r = await c.patch("/api/v1/accounts/update_credentials",
                          files={"avatar": ("a.png", png_bytes("red"), "image/png")})
        avatar = r.json()["avatar"]
        assert (await c.get(avatar)).content == png_bytes("red")
        assert (await c.get(header)).content == png_bytes("blue")
        r = await c.patch("/api/v1/accounts/update_credentials", data={"header": ""})
        assert r.json()["header"] == f"{server.url}/images/banner.png"
        assert (await c.get(header)).status_code == 404  # the old file is gone
        assert (await me(server, server.tokens["user"]))["avatar"] == avatar


async def test_update_credentials_refusals(server):
    async with server.client(server.tokens["user"]) as c:
        url = "/api/v1/accounts/update_credentials"
        assert_error(await c.patch(url, data={"display_name": "x" * 101}), 413, "Name is too long")
        assert_error(await c.patch(url, data={"note": "x" * 5001}), 413, "Bio is too long")
        fields = [{"name": str(i), "value": "v"} for i in range(11)]
        assert_error(await c.patch(url, json={"fields_attributes": fields}), 413, "Too many field entries")
        assert_error(await c.patch(url, json={"fields_attributes": [{"name": "n", "value": "v" * 3000}]}), 413,
                     "One or more field entries are too long")
        assert_error(await c.patch(url, data={"locked": "maybe"}), 400)
        assert_error(await c.patch(url, data={"source[privacy]": "everyone"}), 400)
        assert_error(await c.patch(url, json={"display_name": {"x": 1}}), 400)
        assert_error(await c.patch(url, files={"avatar": ("a.png", b"not an image", "image/png")}), 415)
        r = await c.patch(url, files={"avatar": ("a.png", png_bytes(), "image/png"),
                                      "header": ("h.png", b"no image either", "image/png")})
        assert_error(r, 415)
        media = server.config.media_dir
        assert not media.exists() or not list(media.iterdir())  # the good avatar was not kept either
        assert_error(await c.patch(url, json={"avatar": "data:image/png;base64,!!!"}), 400)
        assert_error(await c.patch(url, json={"avatar": "https://elsewhere.example/a.png"}), 400)
        assert_error(await c.patch(url, content=b"{not json", headers={"content-type": "application/json"}), 400)
    user = await me(server, server.tokens["user"])  # nothing of the refused requests stuck
    assert user["display_name"] == "user" and user["locked"] is False and user["fields"] == []
    assert user["avatar"].endswith("/images/avi.png")
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.patch("/api/v1/accounts/update_credentials", data={"note": "x"}), 403,
                     "Insufficient permissions: write:accounts.")


async def test_show_and_lookup(server):
    user = await me(server, server.tokens["user"])
    async with server.anon() as c:
        assert (await c.get(f"/api/v1/accounts/{user['id']}")).json()["id"] == user["id"]
        assert (await c.get("/api/v1/accounts/user")).json()["id"] == user["id"]  # a nickname works too
        assert (await c.get("/api/v1/accounts/user@127.0.0.1")).json()["id"] == user["id"]
        assert_error(await c.get("/api/v1/accounts/99999999"), 404, "Can't find user")
        assert_error(await c.get("/api/v1/accounts/nobody"), 404, "Can't find user")
        for acct in ("user", "@user", "user@127.0.0.1", f"{server.url}/users/user"):
            r = await c.get("/api/v1/accounts/lookup", params={"acct": acct})
            assert r.status_code == 200 and r.json()["id"] == user["id"], acct
        assert_error(await c.get("/api/v1/accounts/lookup"), 400, "Missing field: acct.")
        assert_error(await c.get("/api/v1/accounts/lookup", params={"acct": "nobody"}), 404, "Can't find user")
        assert_error(await c.get("/api/v1/accounts/lookup", params={"acct": "user@remote.example"}), 404)
    async with server.client(server.tokens["admin"]) as c:
        r = await c.get(f"/api/v1/accounts/{user['id']}", params={"with_relationships": "true"})
        assert r.json()["pleroma"]["relationship"]["id"] == user["id"]
        assert r.json()["pleroma"]["deactivated"] is False


async def test_follow_unfollow_and_their_effects(server):
    bob = make_account(server, "bob")
    user = await me(server, server.tokens["user"])
    async with server.client(server.tokens["user"]) as c:
        r = await c.post(f"/api/v1/accounts/{bob.id}/follow", data={"notify": "true", "reblogs": "false"})
        assert r.status_code == 200, r.text
        rel = r.json()
        assert rel["id"] == bob.id and rel["following"] and rel["subscribing"] and rel["notifying"]
        assert rel["showing_reblogs"] is False and rel["requested"] is False
        assert set(rel) >= {"followed_by", "blocking", "blocked_by", "muting", "muting_notifications",
                            "domain_blocking", "endorsed", "note"}
        r = await c.get("/api/v1/accounts/relationships", params=[("id[]", bob.id), ("id[]", "424242")])
        assert [x["id"] for x in r.json()] == [bob.id] and r.json()[0]["following"]
        assert (await c.get("/api/v1/accounts/relationships")).json() == []
    async with server.client(bob.token) as c:
        r = await c.get("/api/v1/accounts/relationships", params={"id": user["id"]})
        assert r.json()[0]["followed_by"] is True and r.json()[0]["following"] is False
        followers = (await c.get(f"/api/v1/accounts/{bob.id}/followers")).json()
        assert [a["id"] for a in followers] == [user["id"]]
        await c.patch("/api/v1/accounts/update_credentials", data={"hide_followers": "true"})
        assert len((await c.get(f"/api/v1/accounts/{bob.id}/followers")).json()) == 1  # the owner still sees them
        async with server.anon() as anon:
            assert (await anon.get(f"/api/v1/accounts/{bob.id}/followers")).json() == []
    async with server.anon() as c:
        assert (await c.get(f"/api/v1/accounts/{bob.id}")).json()["followers_count"] == 1
        assert [a["id"] for a in (await c.get(f"/api/v1/accounts/{user['id']}/following")).json()] == [bob.id]
    async with server.client(server.tokens["user"]) as c:
        rel = (await c.post(f"/api/v1/accounts/{bob.id}/unfollow")).json()
        assert rel["following"] is False and rel["subscribing"] is False
        assert_error(await c.post(f"/api/v1/accounts/{user['id']}/follow"), 400, "Can not follow yourself")
        assert_error(await c.post(f"/api/v1/accounts/{user['id']}/unfollow"), 400, "Can not unfollow yourself")
        assert_error(await c.post("/api/v1/accounts/31337/follow"), 404, "Record not found")
        assert_error(await c.post("/api/v1/accounts/abc/follow"), 404, "Record not found")
    async with server.anon() as c:
        assert (await c.get(f"/api/v1/accounts/{bob.id}")).json()["followers_count"] == 0
        assert_error(await c.post(f"/api/v1/accounts/{bob.id}/follow"), 401)
        assert_error(await c.get("/api/v1/accounts/relationships", params={"id": bob.id}), 401)
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post(f"/api/v1/accounts/{bob.id}/follow"), 403,
                     "Insufficient permissions: follow | write:follows.")


async def test_locked_account_follow_requests(server):
    carol = make_account(server, "carol")
    user = await me(server, server.tokens["user"])
    async with server.client(carol.token) as c:
        await c.patch("/api/v1/accounts/update_credentials", data={"locked": "true"})
    async with server.client(server.tokens["user"]) as c:
        rel = (await c.post(f"/api/v1/accounts/{carol.id}/follow")).json()
        assert rel["requested"] is True and rel["following"] is False
    async with server.client(carol.token) as c:
        assert (await me(server, carol.token))["follow_requests_count"] == 1
        assert [a["id"] for a in (await c.get("/api/v1/follow_requests")).json()] == [user["id"]]
        rel = (await c.post(f"/api/v1/follow_requests/{user['id']}/authorize")).json()
        assert rel["followed_by"] is True
        assert_error(await c.post(f"/api/v1/follow_requests/{user['id']}/authorize"), 404)
        assert (await c.get("/api/v1/follow_requests")).json() == []
    async with server.client(server.tokens["user"]) as c:
        r = await c.get("/api/v1/accounts/relationships", params={"id": carol.id})
        assert r.json()[0]["following"] is True and r.json()[0]["requested"] is False


async def test_block_severs_follows_and_stops_new_ones(server):
    dave = make_account(server, "dave")
    user = await me(server, server.tokens["user"])
    async with server.client(dave.token) as c:
        await c.post(f"/api/v1/accounts/{user['id']}/follow")
    async with server.client(server.tokens["user"]) as c:
        await c.post(f"/api/v1/accounts/{dave.id}/follow")
        rel = (await c.post(f"/api/v1/accounts/{dave.id}/block")).json()
        assert rel["blocking"] and not rel["following"] and not rel["followed_by"]
        assert [a["id"] for a in (await c.get("/api/v1/blocks")).json()] == [dave.id]
    async with server.client(dave.token) as c:
        assert_error(await c.post(f"/api/v1/accounts/{user['id']}/follow"), 403,
                     "Could not follow user: user blocked you.")
        assert_error(await c.post(f"/api/v1/pleroma/accounts/{user['id']}/subscribe"), 403,
                     "Could not subscribe: user is blocking you")
        assert (await c.get("/api/v1/accounts/relationships", params={"id": user["id"]})).json()[0]["blocked_by"]
    async with server.client(server.tokens["user"]) as c:
        assert (await c.post(f"/api/v1/accounts/{dave.id}/unblock")).json()["blocking"] is False
        assert (await c.get("/api/v1/blocks")).json() == []
    async with server.client(dave.token) as c:
        assert (await c.post(f"/api/v1/accounts/{user['id']}/follow")).json()["following"] is True
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post(f"/api/v1/accounts/{dave.id}/block"), 403,
                     "Insufficient permissions: follow | write:blocks.")


async def test_mute_and_unmute(server):
    erin = make_account(server, "erin")
    async with server.client(server.tokens["user"]) as c:
        rel = (await c.post(f"/api/v1/accounts/{erin.id}/mute", json={"notifications": False, "duration": 3600})).json()
        assert rel["muting"] is True and rel["muting_notifications"] is False
        mutes = (await c.get("/api/v1/mutes")).json()
        assert [a["id"] for a in mutes] == [erin.id] and mutes[0]["mute_expires_at"]
        rel = (await c.post(f"/api/v1/accounts/{erin.id}/mute")).json()
        assert rel["muting_notifications"] is True
        assert (await c.get("/api/v1/mutes")).json()[0]["mute_expires_at"] is None
        assert (await c.post(f"/api/v1/accounts/{erin.id}/unmute")).json()["muting"] is False
        assert (await c.get("/api/v1/mutes")).json() == []
        assert_error(await c.post(f"/api/v1/accounts/{erin.id}/mute", data={"duration": "soon"}), 400)


async def test_pin_unpin_and_endorsements(server):
    frank = make_account(server, "frank")
    user = await me(server, server.tokens["user"])
    async with server.client(server.tokens["user"]) as c:
        assert_error(await c.post(f"/api/v1/accounts/{frank.id}/pin"), 400,
                     "Could not endorse: You are not following frank")
        await c.post(f"/api/v1/accounts/{frank.id}/follow")
        assert (await c.post(f"/api/v1/accounts/{frank.id}/pin")).json()["endorsed"] is True
        assert [a["id"] for a in (await c.get("/api/v1/endorsements")).json()] == [frank.id]
    async with server.anon() as c:
        for prefix in ("/api/v1/pleroma", "/api/pleroma"):
            r = await c.get(f"{prefix}/accounts/{user['id']}/endorsements")
            assert r.status_code == 200 and [a["id"] for a in r.json()] == [frank.id]
        assert_error(await c.get("/api/v1/pleroma/accounts/777/endorsements"), 404, "Record not found")
    async with server.client(server.tokens["user"]) as c:
        assert (await c.post(f"/api/v1/accounts/{frank.id}/unpin")).json()["endorsed"] is False
    async with server.anon() as c:
        assert (await c.get(f"/api/v1/pleroma/accounts/{user['id']}/endorsements")).json() == []


async def test_subscribe_unsubscribe(server):
    gina = make_account(server, "gina")
    async with server.client(server.tokens["user"]) as c:
        for prefix in ("/api/v1/pleroma", "/api/pleroma"):
            rel = (await c.post(f"{prefix}/accounts/{gina.id}/subscribe")).json()
            assert rel["subscribing"] is True and rel["notifying"] is True and rel["following"] is False
            rel = (await c.get("/api/v1/accounts/relationships", params={"id": gina.id})).json()[0]
            assert rel["subscribing"] is True
            assert (await c.post(f"{prefix}/accounts/{gina.id}/unsubscribe")).json()["subscribing"] is False
        assert_error(await c.post("/api/v1/pleroma/accounts/5555/subscribe"), 404)
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post(f"/api/v1/pleroma/accounts/{gina.id}/subscribe"), 403,
                     "Insufficient permissions: follow | write:follows.")


async def test_disabled_accounts_are_hidden_except_from_admins(server):
    hank = make_account(server, "hank")
    async with server.client(hank.token) as c:
        r = await c.post("/api/pleroma/disable_account", params={"password": hank.password})
        assert r.json() == {"status": "success"}
    async with server.anon() as c:
        assert_error(await c.get(f"/api/v1/accounts/{hank.id}"), 404)
        assert_error(await c.get("/api/v1/accounts/lookup", params={"acct": "hank"}), 404)
    async with server.client(server.tokens["admin"]) as c:
        r = await c.get(f"/api/v1/accounts/{hank.id}")
        assert r.status_code == 200 and r.json()["pleroma"]["deactivated"] is True
    async with server.client(server.tokens["user"]) as c:
        assert_error(await c.post(f"/api/v1/accounts/{hank.id}/follow"), 403,
                     "Could not follow user: hank is deactivated.")
