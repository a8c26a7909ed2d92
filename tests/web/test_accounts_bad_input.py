"""Malformed parameters on the account endpoints: always a 4xx JSON error, never a 500, nothing changed."""

from __future__ import annotations

from tests.web.accounts_support import make_account, me

BAD = [
    ("PUT", "/api/pleroma/aliases", {"json": {"alias": "a@127.0.0.1:99999"}}),
    ("PUT", "/api/pleroma/aliases", {"json": {"alias": "http://[::1/users/x"}}),
    ("PUT", "/api/pleroma/aliases", {"json": {"alias": ["x"]}}),
    ("POST", "/api/pleroma/move_account", {"json": {"password": "userpass", "target_account": "a@127.0.0.1:0"}}),
    ("POST", "/api/pleroma/move_account", {"json": {"password": "userpass", "target_account": "https://exa mple/u"}}),
    ("GET", "/api/v1/accounts/{bob}/followers", {"params": {"limit": "abc"}}),
    ("GET", "/api/v1/accounts/{bob}", {"params": {"with_relationships": "maybe"}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"fields_attributes": "x"}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"fields_attributes": {"0": {"name": 1}}}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"also_known_as": "x"}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"also_known_as": ["nope"]}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"data": {"pleroma_settings_store": "x"}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"birthday": "yesterday"}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"actor_type": "Robot"}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"avatar": 5}}),
    ("PATCH", "/api/v1/accounts/update_credentials", {"json": {"display_name": "ok", "locked": "sometimes"}}),
    ("POST", "/api/v1/accounts/{bob}/mute", {"json": {"duration": -5}}),
    ("POST", "/api/v1/accounts/{bob}/follow", {"json": {"notify": "yes please"}}),
    ("POST", "/api/pleroma/follow_import", {"json": {"list": 5}}),
    ("POST", "/api/pleroma/follow_import", {"json": {"list": ["a"]}}),
    ("PATCH", "/api/v1/pleroma/accounts/update_avatar", {"json": {"img": 5}}),
    ("PATCH", "/api/v1/pleroma/accounts/update_avatar", {"json": {"img": "data:image/png;base64,"}}),
    ("PATCH", "/api/v1/pleroma/accounts/update_avatar", {"json": {"img": "data:;base64,AAAA"}}),
    ("PUT", "/api/v1/pleroma/mascot", {"json": {"file": "data:image/png;base64,AAAA"}}),
    ("POST", "/api/v1/media", {"json": {"file": 1}}),
    ("POST", "/api/pleroma/change_email", {"json": {"password": "userpass", "email": ["a"]}}),
    ("POST", "/api/pleroma/delete_account", {"json": {"password": ["a"]}}),
    ("POST", "/api/account/register", {"json": {"nickname": {"a": 1}, "password": "x"}}),
    ("POST", "/api/account/register", {"json": {"nickname": "a" * 500, "password": "x"}}),
    ("GET", "/api/account/confirm_email/abc/def", {}),
    ("GET", "/media/" + "1" * 30 + ".png", {}),
    ("GET", "/api/v1/accounts/" + "9" * 40, {}),
    ("PUT", "/api/v1/pleroma/notification_settings", {"json": {"block_from_strangers": [1]}}),
    ("PATCH", "/api/v1/pleroma/settings/app", {"content": b"\xff", "headers": {"content-type": "application/json"}}),
    ("POST", "/api/pleroma/change_password", {"content": b"a=%zz&b", "headers": {
        "content-type": "multipart/form-data; boundary=x"}}),
]


async def test_bad_input_is_a_4xx_json_error(server):
    bob = make_account(server, "bob")
    before = await me(server, server.tokens["user"])
    async with server.client(server.tokens["user"]) as c:
        for method, url, kw in BAD:
            r = await c.request(method, url.format(bob=bob.id), **kw)
            assert 400 <= r.status_code < 500, (method, url, kw, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert isinstance(r.json().get("error"), str), r.text
        rel = (await c.get("/api/v1/accounts/relationships", params={"id": bob.id})).json()[0]
        assert not rel["following"] and not rel["muting"] and not rel["subscribing"]
    assert await me(server, server.tokens["user"]) == before
