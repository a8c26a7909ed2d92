"""Pleroma's account utilities: password-guarded changes, aliases, settings, imports, local moves."""

from __future__ import annotations

import pytest

from tests.helpers import png_bytes
from tests.web.accounts_support import (
    assert_error,
    basic_client,
    make_account,
    me,
    password_grant,
    token_for,
    with_index,
)

PREFIXES = ["/api/v1/pleroma", "/api/pleroma"]
SUCCESS = {"status": "success"}
INVALID = {"error": "Invalid password."}


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_change_password(server, prefix):
    ivy = make_account(server, "ivy", "oldpass")
    async with basic_client(server, "ivy", "oldpass") as c:
        assert (await c.get("/api/v1/accounts/verify_credentials")).status_code == 200
    url = f"{prefix}/change_password"
    async with server.client(ivy.token) as c:
        form = {"password": "oldpass", "new_password": "newpass", "new_password_confirmation": "newpass"}
        assert (await c.post(url, data={**form, "password": "wrong"})).json() == INVALID
        r = await c.post(url, data={**form, "new_password_confirmation": "other"})
        assert r.status_code == 200 and r.json() == {"error": "New password does not match confirmation."}
        r = await c.post(url, data={**form, "new_password": "", "new_password_confirmation": ""})
        assert r.json() == {"error": "New password can't be blank."}
        assert_error(await c.post(url, data={"password": "oldpass", "new_password": "x"}), 400,
                     "Missing field: new_password_confirmation.")
        assert (await c.post(url, files={k: (None, v) for k, v in form.items()})).json() == SUCCESS
    async with basic_client(server, "ivy", "oldpass") as c:  # no stale Basic login
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    async with basic_client(server, "ivy", "newpass") as c:
        assert (await c.get("/api/v1/accounts/verify_credentials")).status_code == 200
    async with server.client(token_for(server, "ivy", "read")) as c:
        assert_error(await c.post(url, data=form), 403, "Insufficient permissions: write:accounts.")
    async with server.anon() as c:
        assert_error(await c.post(url, data=form), 401)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_change_email(server, prefix):
    url = f"{prefix}/change_email"
    async with server.client(server.tokens["user"]) as c:
        assert (await c.post(url, data={"password": "hi", "email": "new@example.org"})).json() == INVALID
        r = await c.post(url, data={"password": "userpass", "email": "foobar"})
        assert r.json() == {"error": "Email has invalid format."}
        r = await c.post(url, data={"password": "userpass", "email": "admin@example.org"})
        assert r.json() == {"error": "Email has already been taken."}
        assert_error(await c.post(url, data={"password": "userpass"}), 400, "Missing field: email.")
        assert (await me(server, server.tokens["user"]))["pleroma"]["email"] == "user@example.org"
        r = await c.post(url, files={"password": (None, "userpass"), "email": (None, "cofe@example.org")})
        assert r.json() == SUCCESS
        assert (await me(server, server.tokens["user"]))["pleroma"]["email"] == "cofe@example.org"
        assert (await c.post(url, json={"password": "userpass", "email": ""})).json() == SUCCESS
        assert (await me(server, server.tokens["user"]))["pleroma"]["email"] is None
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post(url, data={"password": "userpass", "email": "a@b.c"}), 403,
                     "Insufficient permissions: write:accounts.")


async def test_delete_account_ends_everything_at_once(server):
    jo = make_account(server, "jo", "jopass")
    second_token = token_for(server, "jo", "read")
    user = await me(server, server.tokens["user"])
    async with server.client(jo.token) as c:
        avatar = (await c.patch("/api/v1/accounts/update_credentials",
                                files={"avatar": ("a.png", png_bytes(), "image/png")})).json()["avatar"]
        await c.post(f"/api/v1/accounts/{user['id']}/follow")
        for params in ({"password": "hi"}, {}):
            r = await c.post("/api/pleroma/delete_account", json=params)
            assert r.status_code == 200 and r.json() == INVALID
        assert (await c.get("/api/v1/accounts/verify_credentials")).status_code == 200
        r = await c.post("/api/pleroma/delete_account", json={"password": "jopass"})
        assert r.status_code == 200 and r.json() == SUCCESS
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    for token in (second_token,):
        async with server.client(token) as c:
            assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    async with basic_client(server, "jo", "jopass") as c:
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    assert "access_token" not in (await password_grant(server, "jo", "jopass")).json()
    async with server.anon() as c:
        assert_error(await c.get(f"/api/v1/accounts/{jo.id}"), 404)
        assert (await c.get(avatar)).status_code == 404
        assert (await c.get(f"/api/v1/accounts/{user['id']}")).json()["followers_count"] == 0
    async with server.client(server.tokens["admin"]) as c:  # gone, even for admins
        assert_error(await c.post(f"/api/v1/accounts/{jo.id}/follow"), 404)


async def test_delete_account_password_in_query(server):
    kim = make_account(server, "kim", "kimpass")
    async with server.client(kim.token) as c:
        r = await c.post("/api/v1/pleroma/delete_account", params={"password": "kimpass"})
        assert r.json() == SUCCESS
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post("/api/pleroma/delete_account", json={"password": "userpass"}), 403,
                     "Insufficient permissions: write:accounts.")


async def test_disable_account(server):
    lee = make_account(server, "lee", "leepass")
    async with server.client(lee.token) as c:
        r = await c.post("/api/pleroma/disable_account", params={"password": "nope"})
        assert r.status_code == 200 and r.json() == INVALID
        assert (await c.get("/api/v1/accounts/verify_credentials")).status_code == 200
        assert (await c.post("/api/pleroma/disable_account", params={"password": "leepass"})).json() == SUCCESS
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    async with basic_client(server, "lee", "leepass") as c:
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    r = await password_grant(server, "lee", "leepass")
    assert r.status_code in (400, 401, 403) and "access_token" not in r.json()


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_aliases(server, prefix):
    make_account(server, "mo")
    url = f"{prefix}/aliases"
    async with server.client(server.tokens["user"]) as c:
        assert (await c.get(url)).json() == {"aliases": []}
        assert_error(await c.put(url, json={}), 400, "Missing field: alias.")
        assert_error(await c.put(url, json={"alias": "nobody"}), 404, "Target account does not exist.")
        assert (await c.put(url, json={"alias": "mo@127.0.0.1"})).json() == SUCCESS
        assert (await c.put(url, data={"alias": "@mo"})).json() == SUCCESS  # the same account, once
        assert (await c.get(url)).json() == {"aliases": ["mo@127.0.0.1"]}
        assert (await me(server, server.tokens["user"]))["pleroma"]["also_known_as"] == [f"{server.url}/users/mo"]
        assert_error(await c.request("DELETE", url, json={"alias": "admin"}), 404, "Account has no such alias.")
        assert_error(await c.request("DELETE", url, json={}), 400, "Missing field: alias.")
        assert (await c.request("DELETE", url, json={"alias": "mo"})).json() == SUCCESS
        assert (await c.get(url)).json() == {"aliases": []}
    async with server.client(token_for(server, "user", "write")) as c:
        assert_error(await c.get(url), 403, "Insufficient permissions: read:accounts.")
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.put(url, json={"alias": "mo"}), 403, "Insufficient permissions: write:accounts.")


async def test_move_account_to_a_local_account(server):
    origin = make_account(server, "origin", "originpass")
    target = make_account(server, "target")
    stays = make_account(server, "stays")
    user = await me(server, server.tokens["user"])
    async with server.client(server.tokens["user"]) as c:
        await c.post(f"/api/v1/accounts/{origin.id}/follow")
    async with server.client(stays.token) as c:
        await c.post(f"/api/v1/accounts/{origin.id}/follow")
        await c.patch("/api/v1/accounts/update_credentials", data={"allow_following_move": "false"})
    url = "/api/pleroma/move_account"
    async with server.client(origin.token) as c:
        r = await c.post(url, data={"password": "wrong", "target_account": "target"})
        assert r.status_code == 200 and r.json() == INVALID
        assert_error(await c.post(url, data={"password": "originpass"}), 400, "Missing field: target_account.")
        r = await c.post(url, data={"password": "originpass", "target_account": "nobody@127.0.0.1"})
        assert_error(r, 404, "Target account not found.")
        r = await c.post(url, data={"password": "originpass", "target_account": "target@127.0.0.1"})
        assert r.status_code == 200 and r.json() == {"error": "Target account must have the origin in `alsoKnownAs`"}
    async with server.client(target.token) as c:
        assert (await c.put("/api/pleroma/aliases", json={"alias": "origin"})).json() == SUCCESS
    async with server.client(origin.token) as c:
        r = await c.post("/api/v1/pleroma/move_account",
                         data={"password": "originpass", "target_account": "@target@127.0.0.1"})
        assert r.json() == SUCCESS
        moved = await me(server, origin.token)
        assert moved["moved"]["id"] == target.id
    async with server.client(server.tokens["user"]) as c:
        rels = (await c.get("/api/v1/accounts/relationships", params=[("id[]", origin.id), ("id[]", target.id)]))
        assert [r["following"] for r in rels.json()] == [False, True]
    async with server.client(stays.token) as c:
        rels = (await c.get("/api/v1/accounts/relationships", params=[("id[]", origin.id), ("id[]", target.id)]))
        assert [r["following"] for r in rels.json()] == [True, False]
    assert user["id"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_notification_settings(server, prefix):
    async with server.client(server.tokens["user"]) as c:
        r = await c.put(f"{prefix}/notification_settings", params={"block_from_strangers": "true"})
        assert r.status_code == 200 and r.json() == SUCCESS
        settings = (await me(server, server.tokens["user"]))["pleroma"]["notification_settings"]
        assert settings == {"block_from_strangers": True, "hide_notification_contents": False}
        r = await c.put(f"{prefix}/notification_settings", json={"hide_notification_contents": 1})
        assert r.json() == SUCCESS
        settings = (await me(server, server.tokens["user"]))["pleroma"]["notification_settings"]
        assert settings == {"block_from_strangers": True, "hide_notification_contents": True}
        assert_error(await c.put(f"{prefix}/notification_settings", params={"block_from_strangers": "perhaps"}), 400)
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.put(f"{prefix}/notification_settings", params={"block_from_strangers": "1"}), 403)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_settings_store(server, prefix):
    url = f"{prefix}/settings/pleroma-fe"
    async with server.client(server.tokens["user"]) as c:
        assert (await c.get(url)).json() == {}
        r = await c.patch(url, json={"a": 1, "nested": {"x": 1, "y": 2}, "drop": True})
        assert r.json() == {"a": 1, "nested": {"x": 1, "y": 2}, "drop": True}
        r = await c.patch(url, json={"drop": None, "nested": {"y": None, "z": [1, 2]}, "gone": None})
        assert r.json() == {"a": 1, "nested": {"x": 1, "z": [1, 2]}}
        assert (await c.get(url)).json() == {"a": 1, "nested": {"x": 1, "z": [1, 2]}}
        assert (await c.get(f"{prefix}/settings/other-app")).json() == {}
        assert (await me(server, server.tokens["user"]))["pleroma"]["settings_store"] == {
            "pleroma-fe": {"a": 1, "nested": {"x": 1, "z": [1, 2]}}}
        assert_error(await c.patch(url, content=b"[1, 2]", headers={"content-type": "application/json"}), 400)
    async with server.client(server.tokens["admin"]) as c:  # another account's settings are its own
        assert (await c.get(url)).json() == {}
    async with server.client(token_for(server, "user", "write")) as c:
        assert_error(await c.get(url), 403, "Insufficient permissions: read:accounts.")
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.patch(url, json={"a": 2}), 403, "Insufficient permissions: write:accounts.")


async def test_imports(server):
    nia, oz, pat = make_account(server, "nia"), make_account(server, "oz"), make_account(server, "pat")
    async with server.client(server.tokens["user"]) as c:
        csv = ("Account address,Show boosts,Notify on new posts,Languages\n"
               "nia@127.0.0.1,true,false,\n@oz,true,false,\nfriend@remote.example,true,false,\n")
        r = await c.post("/api/pleroma/follow_import", files={"list": ("following_accounts.csv", csv.encode(), "text/csv")})
        assert r.status_code == 200 and r.json() == "jobs started"
        r = await c.post("/api/v1/pleroma/blocks_import", data={"list": f"pat {server.url}/users/nobody @x@remote.example"})
        assert r.json() == "jobs started"
        r = await c.post("/api/pleroma/mutes_import",
                         json={"list": "Account address,Hide notifications\nnia,true\nuser\nnot a handle!\n"})
        assert r.json() == "jobs started"
        rels = (await c.get("/api/v1/accounts/relationships",
                            params=[("id[]", nia.id), ("id[]", oz.id), ("id[]", pat.id)])).json()
        assert [(r["following"], r["blocking"], r["muting"]) for r in rels] == [
            (True, False, True), (True, False, False), (False, True, False)]
        assert_error(await c.post("/api/pleroma/follow_import", data={}), 400, "Missing field: list.")
        r = await c.post("/api/pleroma/follow_import", files={"list": ("x.csv", b"\xff\xfe\x00bad", "text/csv")})
        assert_error(r, 400)
    recorded = with_index(server, lambda index: (
        index.remote_relationships(index.account_by_nickname("user").id, "follow"),
        index.remote_relationships(index.account_by_nickname("user").id, "block")))
    assert recorded == (["friend@remote.example"], ["x@remote.example"])
    async with server.client(token_for(server, "user", "read")) as c:
        for path, scope in (("follow_import", "write:follows"), ("blocks_import", "write:blocks"),
                            ("mutes_import", "write:mutes")):
            assert_error(await c.post(f"/api/pleroma/{path}", data={"list": "nia"}), 403,
                         f"Insufficient permissions: follow | {scope}.")
