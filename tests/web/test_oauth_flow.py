"""The browser side of OAuth: the login + consent page, authorization codes with PKCE,
the `_pleroma_key` session, token expiry, /api/oauth_tokens and login throttling."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emojid.auth import ratelimit
from emojid.auth.login import csrf_token
from tests.conftest import serving
from tests.helpers import http_client

OOB = "urn:ietf:wg:oauth:2.0:oob"
CALLBACK = "https://app.example/callback?from=emojid"
PACK = "/api/v1/pleroma/emoji/pack"


def assert_error(r: httpx.Response, status: int, text: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    if text is not None:
        assert body["error"] == text
    return body


def html(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def db(server) -> sqlite3.Connection:
    return sqlite3.connect(server.config.database_path, isolation_level=None, timeout=30)


def backdate(server, table: str, column: str = "valid_until") -> None:
    """Moves every row of `table` into the past: how a test waits 60 days."""
    with db(server) as conn:
        conn.execute(f"UPDATE {table} SET {column} = '2000-01-01T00:00:00+00:00'")


async def make_app(server, redirect_uris: str | list = CALLBACK, scopes: str = "read write follow admin",
                   name: str = "Tusky") -> dict:
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json={"client_name": name, "redirect_uris": redirect_uris,
                                               "scopes": scopes})
    assert r.status_code == 200, r.text
    return r.json()


def login_form(app: dict, name: str = "admin", password: str = "adminpass", redirect_uri: str = CALLBACK,
               scope: str | None = "read write", state: str | None = "st8", **extra: str) -> dict:
    """Exactly the fields Pleroma's login form posts."""
    fields = {"authorization[name]": name, "authorization[password]": password,
              "authorization[client_id]": app["client_id"], "authorization[redirect_uri]": redirect_uri}
    if scope is not None:
        fields["authorization[scope]"] = scope
    if state is not None:
        fields["authorization[state]"] = state
    fields.update({f"authorization[{k}]": v for k, v in extra.items()})
    return fields


def browser(server) -> httpx.AsyncClient:
    return http_client(base_url=server.url, timeout=30, follow_redirects=False)


def code_from(r: httpx.Response, redirect_uri: str = CALLBACK, state: str | None = "st8") -> str:
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    target, query = urlsplit(location), parse_qs(urlsplit(location).query)
    expected = urlsplit(redirect_uri)
    assert (target.scheme, target.netloc, target.path) == (expected.scheme, expected.netloc, expected.path)
    for key, values in parse_qs(expected.query).items():
        assert query[key] == values  # the app's own query survives
    if state is None:
        assert "state" not in query
    else:
        assert query["state"] == [state]
    return query["code"][0]


async def exchange(server, app: dict, code: str, redirect_uri: str | None = CALLBACK, **extra) -> httpx.Response:
    fields = {"grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
              "client_secret": app["client_secret"], **extra}
    if redirect_uri is not None:
        fields["redirect_uri"] = redirect_uri
    async with server.anon() as c:
        return await c.post("/oauth/token", data=fields)


async def password_grant(server, app: dict, username: str = "admin", password: str = "adminpass",
                         headers: dict | None = None, **extra) -> httpx.Response:
    async with server.anon() as c:
        return await c.post("/oauth/token", headers=headers or {}, data={
            "grant_type": "password", "username": username, "password": password,
            "client_id": app["client_id"], "client_secret": app["client_secret"], **extra})


async def whoami(server, **client_kw) -> int:
    """The status of an authenticated read: 200 with working credentials."""
    async with http_client(base_url=server.url, timeout=30, **client_kw) as c:
        return (await c.get("/api/oauth_tokens")).status_code


def bearer(token: str) -> dict:
    return {"headers": {"authorization": f"Bearer {token}"}}


# -- the page -------------------------------------------------------------------------


async def test_authorize_page_is_a_real_login_form(server):
    app = await make_app(server, name="Tusky <b>beta</b>")
    async with browser(server) as c:
        r = await c.get("/oauth/authorize", params={"response_type": "code", "client_id": app["client_id"],
                                                    "redirect_uri": CALLBACK, "scope": "read write",
                                                    "state": "xyz"})
    page = html(r, 200)
    assert 'type="submit"' in page
    for field in ("name", "password", "client_id", "redirect_uri", "state"):
        assert f'name="authorization[{field}]"' in page
    assert "Tusky &lt;b&gt;beta&lt;/b&gt;" in page and "<b>beta</b>" not in page
    assert f'value="{app["client_id"]}"' in page and 'value="xyz"' in page
    # The requested scopes are ticked, the app's others offered unticked.
    assert re.search(r'value="read" checked', page) and re.search(r'value="write" checked', page)
    assert re.search(r'value="follow">', page)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "set-cookie" not in r.headers


async def test_authorize_page_takes_wrapped_params_and_default_redirect(server):
    app = await make_app(server)
    async with browser(server) as c:
        r = await c.get("/oauth/authorize", params={"authorization[client_id]": app["client_id"],
                                                    "authorization[response_type]": "code"})
    assert f'value="{CALLBACK}"' in html(r, 200).replace("&amp;", "&")


BAD_REQUESTS = [
    ({"client_id": "nope"}, "Unknown client_id."),
    ({"client_id": None}, "Unknown client_id."),
    ({"redirect_uri": "https://evil.example/steal"}, "Unlisted redirect_uri."),
    ({"response_type": "token"}, "Unsupported response_type"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, "code_challenge_method"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "Invalid code_challenge"),
]


async def test_authorize_refuses_bad_requests_without_redirecting(server):
    app = await make_app(server)
    async with browser(server) as c:
        for change, message in BAD_REQUESTS:
            params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, **change}
            params = {k: v for k, v in params.items() if v is not None}
            page = html(await c.get("/oauth/authorize", params=params), 400)
            assert message in page
            fields = {f"authorization[{k}]": v for k, v in params.items()}
            r = await c.post("/oauth/authorize", data={**fields, "authorization[name]": "admin",
                                                      "authorization[password]": "adminpass"})
            assert message in html(r, 400)
            assert "location" not in r.headers and "set-cookie" not in r.headers
    with db(server) as conn:
        assert conn.execute("SELECT count(*) FROM oauth_codes").fetchone()[0] == 0


# -- authorization_code ------------------------------------------------------------------


async def test_login_redirects_with_a_single_use_code(server):
    app = await make_app(server)
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app, scope="read write admin"))
    code = code_from(r)
    assert r.headers["cache-control"] == "no-store"
    with db(server) as conn:  # stored hashed only
        hashes = [row[0] for row in conn.execute("SELECT code_hash FROM oauth_codes")]
    assert hashes == [hashlib.sha256(code.encode()).hexdigest()]

    before = int(time.time())
    r = await exchange(server, app, code)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write admin"
    assert before - 1 <= body["created_at"] <= time.time() + 1
    assert body["refresh_token"] and isinstance(body["id"], str)
    assert await whoami(server, **bearer(body["access_token"])) == 200
    async with server.client(body["access_token"]) as c:
        assert (await c.post(PACK, params={"name": "by_code"})).status_code == 200

    # Used once; a replay is refused and revokes what the code gave (RFC 6749 4.1.2).
    assert_error(await exchange(server, app, code), 400, "Invalid credentials")
    assert await whoami(server, **bearer(body["access_token"])) == 401
    assert_error(await exchange(server, app, "made-up-code"), 400, "Invalid credentials")


async def test_oob_shows_the_code(server):
    app = await make_app(server, redirect_uris=OOB)
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app, redirect_uri=OOB))
    page = html(r, 200)
    match = re.search(r"Token code is\s*(?:<br>)?\s*([A-Za-z0-9_-]+)", page)
    assert match, page
    r = await exchange(server, app, match.group(1), redirect_uri=OOB)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read write"
    assert await whoami(server, **bearer(r.json()["access_token"])) == 200


async def test_code_is_bound_to_its_app_and_redirect_uri(server):
    app = await make_app(server, redirect_uris=[CALLBACK, "https://app.example/other"])
    other = await make_app(server)
    async with browser(server) as c:
        code = code_from(await c.post("/oauth/authorize", data=login_form(app)))
    assert_error(await exchange(server, other, code), 400, "Invalid credentials")
    assert_error(await exchange(server, app, code, redirect_uri="https://app.example/other"), 400)
    assert_error(await exchange(server, {**app, "client_secret": "wrong"}, code), 401)
    r = await exchange(server, app, code)
    assert r.status_code == 200, r.text


async def test_code_expires(server):
    app = await make_app(server)
    async with browser(server) as c:
        code = code_from(await c.post("/oauth/authorize", data=login_form(app)))
    backdate(server, "oauth_codes")
    assert_error(await exchange(server, app, code), 400, "Invalid credentials")


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("method", ["S256", "plain", None])
async def test_pkce(server, method):
    app = await make_app(server)
    verifier = "v3rifier-" + "k" * 50
    challenge = s256(verifier) if method == "S256" else verifier
    extra = {"code_challenge": challenge}
    if method:
        extra["code_challenge_method"] = method
    async with browser(server) as c:
        page = html(await c.get("/oauth/authorize", params={"client_id": app["client_id"], "redirect_uri": CALLBACK,
                                                           **extra}), 200)
        assert f'value="{challenge}"' in page  # carried by the form
        code = code_from(await c.post("/oauth/authorize", data=login_form(app, **extra)))
    assert_error(await exchange(server, app, code), 400, "Invalid credentials")
    assert_error(await exchange(server, app, code, code_verifier="w" * 60), 400)
    if method == "S256":
        assert_error(await exchange(server, app, code, code_verifier=challenge), 400)
    r = await exchange(server, app, code, code_verifier=verifier)
    assert r.status_code == 200, r.text
    assert await whoami(server, **bearer(r.json()["access_token"])) == 200
    assert_error(await exchange(server, app, code, code_verifier=verifier), 400)


async def test_wrong_password_keeps_the_form(server):
    app = await make_app(server)
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app, password="wrong"))
        page = html(r, 401)
        assert "Invalid Username/Password" in page
        assert app["client_id"] in page and "app.example/callback" in page
        assert "set-cookie" not in r.headers and "location" not in r.headers
        page = html(await c.post("/oauth/authorize", data=login_form(app, name="ghost")), 401)
        assert "Invalid Username/Password" in page
        # No password and no session: nobody to authorize.
        fields = login_form(app)
        del fields["authorization[password]"]
        assert "Invalid Username/Password" in html(await c.post("/oauth/authorize", data=fields), 401)
    with db(server) as conn:
        assert conn.execute("SELECT count(*) FROM oauth_codes").fetchone()[0] == 0


async def test_scope_choices(server):
    app = await make_app(server, scopes="read write admin")
    async with browser(server) as c:
        # The consent page's checkboxes (with the empty placeholder value).
        fields = login_form(app, scope=None)
        r = await c.post("/oauth/authorize", content=httpx.QueryParams(
            [*fields.items(), ("authorization[scope][]", ""), ("authorization[scope][]", "read")]).__str__(),
            headers={"content-type": "application/x-www-form-urlencoded"})
        r = await exchange(server, app, code_from(r))
        assert r.json()["scope"] == "read"
        async with server.client(r.json()["access_token"]) as api:
            assert (await api.post(PACK, params={"name": "ro"})).status_code == 403

        # No scope field at all: the app's scopes.
        r = await exchange(server, app, code_from(await c.post("/oauth/authorize", data=login_form(app, scope=None))))
        assert r.json()["scope"] == "read write admin"
        # A sub-scope of an app scope is fine.
        r = await c.post("/oauth/authorize", data=login_form(app, scope="read:accounts admin:write"))
        assert (await exchange(server, app, code_from(r))).json()["scope"] == "read:accounts admin:write"
        # A non-admin never gets admin scopes.
        r = await c.post("/oauth/authorize", data=login_form(app, "user", "userpass", scope="read admin"))
        assert (await exchange(server, app, code_from(r))).json()["scope"] == "read"

        # Nothing ticked, or beyond the app's scopes: Pleroma's 401 page.
        r = await c.post("/oauth/authorize", content=httpx.QueryParams(
            [*fields.items(), ("authorization[scope][]", "")]).__str__(),
            headers={"content-type": "application/x-www-form-urlencoded"})
        assert "This action is outside the authorized scopes" in html(r, 401)
        r = await c.post("/oauth/authorize", data=login_form(app, scope="read follow"))
        assert "This action is outside the authorized scopes" in html(r, 401)
        r = await c.post("/oauth/authorize", data=login_form(app, "user", "userpass", scope="admin"))
        assert "This action is outside the authorized scopes" in html(r, 401)


async def test_authorize_accepts_json_and_multipart(server):
    app = await make_app(server)
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", json={"authorization": {
            "name": "admin", "password": "adminpass", "client_id": app["client_id"], "redirect_uri": CALLBACK,
            "scope": ["read"], "state": "st8"}})
        assert (await exchange(server, app, code_from(r))).json()["scope"] == "read"
        r = await c.post("/oauth/authorize", files={k: (None, v) for k, v in login_form(app).items()})
        assert (await exchange(server, app, code_from(r))).json()["scope"] == "read write"


# -- the session cookie ------------------------------------------------------------------


def session_cookie(r: httpx.Response) -> tuple[str, str]:
    header = next(h for h in r.headers.get_list("set-cookie") if h.startswith("_pleroma_key="))
    return header.split(";")[0].split("=", 1)[1], header.lower()


async def test_login_sets_a_safe_session_cookie(server):
    app = await make_app(server)
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app))
        key, header = session_cookie(r)
        assert "httponly" in header and "samesite=lax" in header and "path=/" in header
        assert "secure" not in header and "max-age=" in header
        with db(server) as conn:
            stored = [row[0] for row in conn.execute("SELECT key_hash FROM sessions")]
        assert stored == [hashlib.sha256(key.encode()).hexdigest()]
        r = await c.post("/oauth/authorize", data=login_form(app), headers={"x-forwarded-proto": "https"})
        assert "secure" in session_cookie(r)[1]


async def test_session_is_credentials_until_deleted(server):
    app = await make_app(server)
    async with browser(server) as c:
        key, _ = session_cookie(await c.post("/oauth/authorize", data=login_form(app, scope="read write admin")))
    jar = {"cookies": {"_pleroma_key": key}}
    csrf = {"x-csrf-token": csrf_token(key)}
    async with http_client(base_url=server.url, timeout=30, **jar) as c:
        # The session speaks for the admin account with the scopes its login granted;
        # a state change from a cookie needs the session's CSRF token.
        assert_error(await c.post(PACK, params={"name": "no_token"}), 403, "Invalid or missing CSRF token.")
        assert (await c.post(PACK, params={"name": "by_session"}, headers=csrf)).status_code == 200
        entries = (await c.get("/api/oauth_tokens")).json()
        web = [e for e in entries if e["app_name"] == "Web login"]
        assert len(web) == 1
        r = await c.delete(f"/api/oauth_tokens/{web[0]['id']}", headers=csrf)
        assert r.status_code == 200 and r.json() == {}
        assert_error(await c.get("/api/oauth_tokens"), 401)
        assert_error(await c.post(PACK, params={"name": "after_logout"}), 401)
    assert (server.packs_dir / "by_session").is_dir() and not (server.packs_dir / "after_logout").exists()
    assert not (server.packs_dir / "no_token").exists()


async def test_expired_session_is_refused(server):
    app = await make_app(server)
    async with browser(server) as c:
        key, _ = session_cookie(await c.post("/oauth/authorize", data=login_form(app)))
    assert await whoami(server, cookies={"_pleroma_key": key}) == 200
    backdate(server, "sessions")
    assert await whoami(server, cookies={"_pleroma_key": key}) == 401


async def test_logged_in_session_only_approves(server):
    app = await make_app(server)
    async with browser(server) as c:
        code_from(await c.post("/oauth/authorize", data=login_form(app)))  # logs the browser in
        assert c.cookies.get("_pleroma_key")
        params = {"client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read", "state": "st8"}
        page = html(await c.get("/oauth/authorize", params=params), 200)
        assert "Approve" in page and "@admin" in page
        assert 'name="authorization[password]"' not in page
        csrf = re.search(r'name="authorization\[csrf\]" value="([0-9a-f]+)"', page).group(1)

        fields = {f"authorization[{k}]": v for k, v in params.items()}
        r = await c.post("/oauth/authorize", data={**fields, "authorization[csrf]": csrf})
        assert "set-cookie" not in r.headers  # the same session goes on
        r = await exchange(server, app, code_from(r))
        assert r.json()["scope"] == "read"
        assert await whoami(server, **bearer(r.json()["access_token"])) == 200

        # Without the form's token (a cross-site post), nothing is granted.
        assert "expired" in html(await c.post("/oauth/authorize", data=fields), 403)
        # force_login asks for the password again.
        page = html(await c.get("/oauth/authorize", params={**params, "force_login": "true"}), 200)
        assert 'name="authorization[password]"' in page and "Approve" not in page
        # Logging in again replaces the session (a new key; the old one ends).
        old_key = c.cookies.get("_pleroma_key")
        new_key, _ = session_cookie(await c.post("/oauth/authorize", data=login_form(app, "user", "userpass")))
        assert new_key != old_key
    assert await whoami(server, cookies={"_pleroma_key": old_key}) == 401
    assert await whoami(server, cookies={"_pleroma_key": new_key}) == 200

    # Another browser, without the cookie, gets the login form.
    async with browser(server) as c:
        page = html(await c.get("/oauth/authorize", params=params), 200)
        assert 'name="authorization[password]"' in page


async def test_pleroma_key_may_still_carry_a_token(server):
    # Before sessions existed the cookie held an access token; it still works.
    assert await whoami(server, cookies={"_pleroma_key": server.tokens["user"]}) == 200
    assert await whoami(server, cookies={"_pleroma_key": "garbage"}) == 401


# -- disabled accounts ---------------------------------------------------------------------


async def test_disabled_account_cannot_log_in_or_go_on(server):
    app = await make_app(server)
    async with browser(server) as c:
        key, _ = session_cookie(await c.post("/oauth/authorize", data=login_form(app, "user", "userpass")))
    token = (await password_grant(server, app, "user", "userpass")).json()["access_token"]
    assert await whoami(server, cookies={"_pleroma_key": key}) == 200
    with db(server) as conn:
        conn.execute("UPDATE accounts SET disabled = 1 WHERE nickname = 'user'")

    r = await password_grant(server, app, "user", "userpass")
    assert r.status_code == 403
    assert r.json() == {"error": "Your account is currently disabled", "identifier": "account_is_disabled"}
    assert_error(await password_grant(server, app, "user", "wrong"), 400, "Invalid credentials")
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app, "user", "userpass"))
        assert "Your account is currently disabled" in html(r, 403)
    assert await whoami(server, cookies={"_pleroma_key": key}) == 401
    assert await whoami(server, **bearer(token)) == 401
    assert await whoami(server, auth=("user", "userpass")) == 401


# -- token expiry ----------------------------------------------------------------------------


async def test_tokens_expire(server):
    app = await make_app(server)
    r = await password_grant(server, app, scope="read")
    body = r.json()
    assert 60 * 86400 - 60 <= body["expires_in"] <= 60 * 86400
    assert await whoami(server, **bearer(body["access_token"])) == 200
    backdate(server, "tokens")
    assert await whoami(server, **bearer(body["access_token"])) == 401
    # As in Pleroma, an expired token may still be refreshed; the new one works.
    async with server.anon() as c:
        r = await c.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                               "client_id": app["client_id"], "client_secret": app["client_secret"]})
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] > 59 * 86400
    assert await whoami(server, **bearer(r.json()["access_token"])) == 200
    assert await whoami(server, **bearer(body["access_token"])) == 401


# -- /api/oauth_tokens ------------------------------------------------------------------------


async def test_oauth_tokens_lists_and_revokes_your_own(server):
    app = await make_app(server, name="Patron")
    mine = (await password_grant(server, app, "user", "userpass", scope="read")).json()["access_token"]
    theirs = (await password_grant(server, app, "admin", "adminpass", scope="read")).json()
    async with server.client(mine) as c:
        r = await c.get("/api/oauth_tokens")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        entries = r.json()
        assert all(set(e) == {"id", "app_name", "valid_until"} for e in entries)
        assert all(isinstance(e["id"], str) and e["id"].isdigit() for e in entries)
        assert {e["app_name"] for e in entries} == {"Patron", "command line"}  # + the fixture's CLI token
        assert theirs["id"] not in {e["id"] for e in entries}
        patron = next(e for e in entries if e["app_name"] == "Patron")
        assert patron["valid_until"] > time.strftime("%Y-%m-%dT%H:%M:%S")

        # Someone else's token: not found, and still working.
        assert_error(await c.delete(f"/api/oauth_tokens/{theirs['id']}"), 404)
        assert_error(await c.delete("/api/oauth_tokens/12345"), 404)
    assert await whoami(server, **bearer(theirs["access_token"])) == 200

    async with server.client(server.tokens["user"]) as c:
        r = await c.delete(f"/api/oauth_tokens/{patron['id']}")
        assert r.status_code == 200 and r.json() == {}
        assert patron["id"] not in {e["id"] for e in (await c.get("/api/oauth_tokens")).json()}
    assert await whoami(server, **bearer(mine)) == 401
    async with server.anon() as c:
        assert_error(await c.get("/api/oauth_tokens"), 401)
        assert_error(await c.delete(f"/api/oauth_tokens/{theirs['id']}"), 401)
    assert await whoami(server, auth=("user", "userpass")) == 200


# -- throttling ----------------------------------------------------------------------------


@pytest.fixture
async def strict_server(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ratelimit, "ACCOUNT_MAX_FAILURES", 3)
    monkeypatch.setattr(ratelimit, "ADDRESS_MAX_FAILURES", 5)
    monkeypatch.setattr(ratelimit, "WINDOW_SECONDS", 3.0)  # wide enough for a loaded machine
    async with serving(tmp_path / "strict") as s:
        yield s


async def test_password_failures_throttle_the_account(strict_server):
    server = strict_server
    app = await make_app(server)
    for _ in range(3):
        assert_error(await password_grant(server, app, password="wrong"), 400, "Invalid credentials")
    # Now even the right password waits, on every way in.
    assert_error(await password_grant(server, app), 429, "Throttled")
    assert_error(await password_grant(server, app, username="admin@example.org"), 429)
    assert await whoami(server, auth=("admin", "adminpass")) == 429
    async with browser(server) as c:
        assert_error(await c.post("/oauth/authorize", data=login_form(app)), 429, "Throttled")
    # Another account from the same address is not locked out.
    assert (await password_grant(server, app, "user", "userpass")).status_code == 200
    await asyncio.sleep(3.1)
    assert (await password_grant(server, app)).status_code == 200
    assert await whoami(server, auth=("admin", "adminpass")) == 200


async def test_a_success_clears_the_account_count(strict_server):
    server = strict_server
    app = await make_app(server)
    for _ in range(2):
        for _ in range(2):
            assert_error(await password_grant(server, app, password="wrong"), 400)
        assert (await password_grant(server, app)).status_code == 200


async def test_failures_throttle_the_address(strict_server):
    server = strict_server
    app = await make_app(server)
    here = {"x-forwarded-for": "203.0.113.7"}
    for name in ("a", "b", "c", "d"):
        assert_error(await password_grant(server, app, username=name, password="x", headers=here), 400)
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app, name="e", password="x"), headers=here)
        html(r, 401)
        assert_error(await c.post("/oauth/authorize", data=login_form(app), headers=here), 429, "Throttled")
    assert_error(await password_grant(server, app, headers=here), 429)
    async with http_client(base_url=server.url, auth=("user", "userpass"), headers=here) as c:
        assert_error(await c.get("/api/oauth_tokens"), 429)
    # Elsewhere, the same accounts log in.
    assert (await password_grant(server, app, headers={"x-forwarded-for": "198.51.100.1"})).status_code == 200
    await asyncio.sleep(3.1)
    assert (await password_grant(server, app, headers=here)).status_code == 200


@pytest.mark.parametrize("setting, error, identifier", [
    ("account_approval_required", "Your account is awaiting approval.", "awaiting_approval"),
    ("account_activation_required", "Your login is missing a confirmed e-mail address", "missing_confirmed_email"),
])
async def test_pending_accounts_are_told_why(tmp_path, setting, error, identifier):
    async with serving(tmp_path / "pending", f"[instance]\n{setting} = true\n") as server:
        app = await make_app(server)
        async with server.anon() as c:
            r = await c.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": app["client_id"],
                                                   "client_secret": app["client_secret"]})
            r = await c.post("/api/v1/accounts", headers={"authorization": f"Bearer {r.json()['access_token']}"},
                             data={"username": "lain", "email": "lain@example.org", "password": "lainpass",
                                   "agreement": "true", "reason": "emoji"})
            assert r.status_code == 200, r.text
        r = await password_grant(server, app, "lain", "lainpass")
        assert r.status_code == 403 and r.json() == {"error": error, "identifier": identifier}
        assert_error(await password_grant(server, app, "lain", "wrong"), 400, "Invalid credentials")
        async with browser(server) as c:
            r = await c.post("/oauth/authorize", data=login_form(app, "lain", "lainpass"))
            assert error in html(r, 403)
            assert "set-cookie" not in r.headers


async def test_app_scopes_list_must_hold_strings(server):
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json={"client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                                               "scopes": ["read", 1]})
        assert r.status_code == 400
        assert r.json() == {"error": "scopes must be a string or a list of strings"}
        r = await c.post("/api/v1/apps", json={"client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                                               "scopes": ["read", "write"]})
        assert r.status_code == 200 and r.json()["scopes"] == ["read", "write"]
