"""Who may call admin routes (bearer, HTTP Basic, cookie), and the OAuth 2 endpoints."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers import http_client

CREATE = "/api/v1/pleroma/emoji/pack"


def assert_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body


async def try_create(server, name: str, **client_kw) -> httpx.Response:
    async with http_client(base_url=server.url, timeout=30, **client_kw) as c:
        return await c.post(CREATE, params={"name": name})


def created(server, name: str) -> bool:
    return (server.packs_dir / name / "pack.json").is_file()


async def pack_listed(server, name: str) -> bool:
    async with server.anon() as c:
        r = await c.get("/api/v1/pleroma/emoji/packs", params={"page_size": 500})
        assert r.status_code == 200
        return name in r.json()["packs"]


# -- the matrix on POST /api/v1/pleroma/emoji/pack?name=x -------------------------------


def bearer(token: str) -> dict:
    return {"headers": {"authorization": f"Bearer {token}"}}


@pytest.mark.parametrize("how, status", [
    ("anonymous", 401),
    ("garbage bearer", 401),
    ("empty bearer", 401),
    ("unknown scheme", 401),
    ("user token", 403),
    ("admin token without admin scope", 403),
    ("basic wrong password", 401),
    ("basic unknown user", 401),
    ("basic malformed", 401),
    ("basic non-admin", 403),
    ("garbage cookie", 401),
    ("user cookie", 403),
])
async def test_refused(server, how, status):
    kw = {
        "anonymous": {},
        "garbage bearer": bearer("not-a-token"),
        "empty bearer": {"headers": {"authorization": "Bearer"}},
        "unknown scheme": {"headers": {"authorization": f"Token {server.tokens['admin']}"}},
        "user token": bearer(server.tokens["user"]),
        "admin token without admin scope": bearer(server.tokens["admin_read"]),
        "basic wrong password": {"auth": ("admin", "wrongpass")},
        "basic unknown user": {"auth": ("nobody", "adminpass")},
        "basic malformed": {"headers": {"authorization": "Basic !!!not base64!!!"}},
        "basic non-admin": {"auth": ("user", "userpass")},
        "garbage cookie": {"cookies": {"_pleroma_key": "not-a-token"}},
        "user cookie": {"cookies": {"_pleroma_key": server.tokens["user"]}},
    }[how]
    r = await try_create(server, "x", **kw)
    assert_error(r, status)
    assert not created(server, "x")
    assert not await pack_listed(server, "x")


@pytest.mark.parametrize("how", ["admin token", "basic admin", "admin cookie"])
async def test_admin_allowed(server, how):
    kw = {
        "admin token": bearer(server.tokens["admin"]),
        "basic admin": {"auth": ("admin", "adminpass")},
        "admin cookie": {"cookies": {"_pleroma_key": server.tokens["admin"]}},
    }[how]
    r = await try_create(server, "x", **kw)
    assert r.status_code == 200, r.text
    assert r.json() == "ok"
    assert created(server, "x")
    assert await pack_listed(server, "x")


async def test_basic_auth_repeatedly_and_after_a_bad_attempt(server):
    for i in range(3):
        r = await try_create(server, f"p{i}", auth=("admin", "adminpass"))
        assert r.status_code == 200, r.text
    assert_error(await try_create(server, "p9", auth=("admin", "adminpas")), 401)
    assert [created(server, f"p{i}") for i in (0, 1, 2, 9)] == [True, True, True, False]


async def test_the_error_names_the_problem(server):
    body = assert_error(await try_create(server, "x", **bearer(server.tokens["user"])), 403)
    assert "admin" in body["error"].lower()
    body = assert_error(await try_create(server, "x", **bearer(server.tokens["admin_read"])), 403)
    assert "admin:write" in body["error"]


async def test_reads_need_no_credentials(server):
    async with server.anon() as c:
        r = await c.get("/api/v1/pleroma/emoji/packs")
        assert r.status_code == 200
        assert r.json() == {"packs": {}, "count": 0}


# -- OAuth: apps ----------------------------------------------------------------------

APP = {"client_name": "emoji tool", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
       "scopes": "read write follow admin", "website": "https://tool.example"}


def multipart(fields: dict) -> dict:
    return {"files": {k: (None, v) for k, v in fields.items()}}


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
async def test_create_app(server, encoding):
    kw = {"json": {"json": APP}, "form": {"data": APP}, "multipart": multipart(APP)}[encoding]
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    if encoding == "multipart":
        assert r.request.headers["content-type"].startswith("multipart/form-data")
    app = r.json()
    assert app["name"] == "emoji tool"
    assert app["redirect_uri"] == "urn:ietf:wg:oauth:2.0:oob"
    assert app["website"] == "https://tool.example"
    assert set(app["scopes"]) == {"read", "write", "follow", "admin"}
    assert isinstance(app["id"], str) and app["id"].isdigit() and len(app["id"]) <= 20
    assert isinstance(app["client_id"], str) and len(app["client_id"]) >= 20
    assert isinstance(app["client_secret"], str) and len(app["client_secret"]) >= 20
    # The app is real: its credentials get a token.
    r = await token(server, app, grant_type="client_credentials")
    assert r.status_code == 200, r.text


async def test_create_app_errors(server):
    async with server.anon() as c:
        assert_error(await c.post("/api/v1/apps", json={"redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}), 422)
        assert_error(await c.post("/api/v1/apps", json={"client_name": "x"}), 422)
        assert_error(await c.post("/api/v1/apps", json={**APP, "scopes": "read sudo"}), 400)
        assert_error(await c.post("/api/v1/apps", content=b"{not json", headers={"content-type": "application/json"}), 400)


async def test_app_scopes_default_to_read(server):
    app = await make_app(server, scopes=None)
    assert app["scopes"] == ["read"]


async def make_app(server, scopes: str | None = "read write follow admin") -> dict:
    fields = {"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}
    if scopes is not None:
        fields["scopes"] = scopes
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json=fields)
    assert r.status_code == 200, r.text
    return r.json()


async def token(server, app: dict, encoding: str = "form", **fields) -> httpx.Response:
    body = {"client_id": app["client_id"], "client_secret": app["client_secret"], **fields}
    kw = {"json": {"json": body}, "form": {"data": body}, "multipart": multipart(body)}[encoding]
    async with server.anon() as c:
        return await c.post("/oauth/token", **kw)


async def can_create(server, access: str, name: str) -> int:
    r = await try_create(server, name, **bearer(access))
    return r.status_code


# -- OAuth: the token endpoint ------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
async def test_password_grant(server, encoding):
    app = await make_app(server)
    before = int(time.time())
    r = await token(server, app, encoding, grant_type="password", username="admin", password="adminpass",
                    scope="read write admin")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert body["token_type"] == "Bearer"
    assert body["scope"].split() == ["read", "write", "admin"]
    assert isinstance(body["created_at"], int) and before - 1 <= body["created_at"] <= time.time() + 1
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]
    assert await can_create(server, body["access_token"], f"by_{encoding}") == 200
    assert created(server, f"by_{encoding}")


async def test_no_scope_means_the_apps_scopes(server):
    app = await make_app(server, "read write admin")
    r = await token(server, app, grant_type="password", username="admin", password="adminpass")
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == {"read", "write", "admin"}
    assert await can_create(server, r.json()["access_token"], "admin_default") == 200
    assert created(server, "admin_default")

    # A non-admin account gets the app's scopes minus admin.
    r = await token(server, app, grant_type="password", username="user", password="userpass")
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == {"read", "write"}
    assert await can_create(server, r.json()["access_token"], "user_default") == 403
    assert not created(server, "user_default")


async def test_requested_admin_scope_is_dropped_for_a_non_admin(server):
    app = await make_app(server)
    r = await token(server, app, grant_type="password", username="user", password="userpass", scope="read admin")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read"


async def test_sub_scope_admin_write_is_enough(server):
    app = await make_app(server)
    r = await token(server, app, grant_type="password", username="admin", password="adminpass",
                    scope="read admin:write")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read admin:write"
    assert await can_create(server, r.json()["access_token"], "sub_scoped") == 200
    r = await token(server, app, grant_type="password", username="admin", password="adminpass",
                    scope="admin:read")
    assert r.status_code == 200, r.text
    assert await can_create(server, r.json()["access_token"], "read_only") == 403
    assert created(server, "sub_scoped") and not created(server, "read_only")


async def test_scope_outside_the_app_is_refused(server):
    app = await make_app(server, "read")
    r = await token(server, app, grant_type="password", username="admin", password="adminpass", scope="read admin")
    assert_error(r, 400)


async def test_wrong_password(server):
    app = await make_app(server)
    r = await token(server, app, grant_type="password", username="admin", password="nope")
    body = assert_error(r, 400)
    assert "access_token" not in body
    r = await token(server, app, grant_type="password", username="ghost", password="adminpass")
    assert_error(r, 400)


async def test_bad_client_and_grant(server):
    app = await make_app(server)
    r = await token(server, {**app, "client_secret": "wrong"}, grant_type="password",
                    username="admin", password="adminpass")
    assert "access_token" not in assert_error(r, 401)
    assert_error(await token(server, app, grant_type="telepathy"), 400)
    assert_error(await token(server, app), 400)


async def test_client_credentials(server):
    app = await make_app(server, "read write")
    r = await token(server, app, grant_type="client_credentials")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["access_token"] and body["token_type"] == "Bearer"
    assert body["scope"].split() == ["read", "write"]
    assert isinstance(body["created_at"], int)
    # An app token speaks for no account: it never passes an admin check.
    assert await can_create(server, body["access_token"], "by_app") in (401, 403)
    assert not created(server, "by_app")


async def test_refresh_token_rotates(server):
    app = await make_app(server)
    first = (await token(server, app, grant_type="password", username="admin", password="adminpass",
                         scope="read write admin")).json()
    r = await token(server, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    assert second["token_type"] == "Bearer" and isinstance(second["created_at"], int)
    assert await can_create(server, second["access_token"], "after_refresh") == 200
    assert created(server, "after_refresh")
    # The old refresh token is spent, and the old access token with it.
    assert_error(await token(server, app, grant_type="refresh_token", refresh_token=first["refresh_token"]), 400)
    assert await can_create(server, first["access_token"], "old_access") == 401
    assert not created(server, "old_access")
    # A refresh token only works for the app it was issued to.
    other = await make_app(server)
    assert_error(await token(server, other, grant_type="refresh_token", refresh_token=second["refresh_token"]), 400)
    assert await can_create(server, second["access_token"], "still_valid") == 200


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
async def test_revoke(server, encoding):
    app = await make_app(server)
    body = (await token(server, app, grant_type="password", username="admin", password="adminpass",
                        scope="read write admin")).json()
    assert await can_create(server, body["access_token"], "before_revoke") == 200
    fields = {"client_id": app["client_id"], "client_secret": app["client_secret"], "token": body["access_token"]}
    kw = {"json": {"json": fields}, "form": {"data": fields}, "multipart": multipart(fields)}[encoding]
    async with server.anon() as c:
        r = await c.post("/oauth/revoke", **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {}
    r = await try_create(server, "after_revoke", **bearer(body["access_token"]))
    assert_error(r, 401)
    assert not created(server, "after_revoke")
    # The other tokens are untouched.
    assert await can_create(server, server.tokens["admin"], "other_token") == 200


async def test_revoke_needs_a_token(server):
    async with server.anon() as c:
        assert_error(await c.post("/oauth/revoke", data={}), 400)


async def test_token_request_may_say_scopes(server):
    # Pleroma reads `scope`, else `scopes` (as some clients send it), else the app's.
    app = await make_app(server)
    r = await token(server, app, "json", grant_type="password", username="admin", password="adminpass",
                    scopes="read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read"
    assert await can_create(server, r.json()["access_token"], "read_scoped") == 403
    assert not created(server, "read_scoped")
    r = await token(server, app, "json", grant_type="password", username="admin", password="adminpass",
                    scopes=["read", "admin:write"])
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read admin:write"


async def test_client_credentials_in_a_basic_header(server):
    # RFC 6749 2.3.1 (and Pleroma): the client may authenticate with HTTP Basic.
    app = await make_app(server)
    async with server.anon() as c:
        r = await c.post("/oauth/token", auth=(app["client_id"], app["client_secret"]),
                         data={"grant_type": "password", "username": "admin", "password": "adminpass",
                               "scope": "read admin"})
        assert r.status_code == 200, r.text
        access = r.json()["access_token"]
        assert await can_create(server, access, "basic_client") == 200
        r = await c.post("/oauth/token", auth=(app["client_id"], "wrong"),
                         data={"grant_type": "client_credentials"})
        assert_error(r, 401)
        r = await c.post("/oauth/revoke", auth=(app["client_id"], app["client_secret"]), data={"token": access})
        assert r.status_code == 200, r.text
    assert await can_create(server, access, "basic_client_revoked") == 401
    assert created(server, "basic_client") and not created(server, "basic_client_revoked")


async def test_password_grant_by_email(server):
    # Pleroma logs in by nickname or email.
    app = await make_app(server)
    r = await token(server, app, grant_type="password", username="admin@example.org", password="adminpass",
                    scope="read admin")
    assert r.status_code == 200, r.text
    assert await can_create(server, r.json()["access_token"], "by_email") == 200
    assert created(server, "by_email")
    assert_error(await token(server, app, grant_type="password", username="admin@example.org",
                             password="userpass"), 400)


async def test_app_redirect_uris_as_a_list(server):
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json={"client_name": "x", "scopes": ["read", "write"],
                                               "redirect_uris": ["https://a.example/cb", "https://b.example/cb"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["redirect_uris"] == ["https://a.example/cb", "https://b.example/cb"]
    assert "https://a.example/cb" in body["redirect_uri"]
    assert body["scopes"] == ["read", "write"]
