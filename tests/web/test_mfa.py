"""MFA as Pleroma has it, with real TOTP codes: settings, setup and confirm, backup
codes, the password grant's challenge, the login page's second step, throttling."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from emojid.auth import ratelimit
from tests.conftest import serving
from tests.helpers import http_client
from tests.web.test_oauth_flow import (
    CALLBACK,
    OOB,
    assert_error,
    backdate,
    browser,
    code_from,
    db,
    exchange,
    html,
    login_form,
    make_app,
    password_grant,
    s256,
    session_cookie,
    whoami,
)

PREFIXES = ["/api/pleroma", "/api/v1/pleroma"]


class Device:
    """An authenticator app. Each code it hands out is for a later time step than
    the last, as the server takes every step once (steps -1..+1 of now pass)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last: int | None = None

    async def code(self) -> str:
        while True:
            t = time.time()
            now = int(t // 30)
            earliest = now - 1 if t % 30 < 25 else now  # leave time to use a past step's code
            step = earliest if self.last is None else max(self.last + 1, earliest)
            if step <= now + 1:
                self.last = step
                return self.totp.generate_otp(step)
            await asyncio.sleep(30 - t % 30 + 0.05)


async def enable_mfa(server, token: str | None = None, prefix: str = "/api/pleroma") -> Device:
    async with server.client(token or server.tokens["user"]) as c:
        r = await c.get(f"{prefix}/accounts/mfa/setup/totp")
        assert r.status_code == 200, r.text
        device = Device(r.json()["key"])
        r = await c.post(f"{prefix}/accounts/mfa/confirm/totp", data={"password": "userpass",
                                                                       "code": await device.code()})
        assert r.status_code == 200 and r.json() == {}, r.text
    return device


async def mfa_settings(server, prefix: str = "/api/pleroma") -> dict:
    async with server.client(server.tokens["user"]) as c:
        r = await c.get(f"{prefix}/accounts/mfa")
    assert r.status_code == 200, r.text
    return r.json()


async def challenge(server, app: dict, mfa_token: str, code: str, challenge_type: str = "totp",
                    headers: dict | None = None) -> httpx.Response:
    async with server.anon() as c:
        return await c.post("/oauth/mfa/challenge", headers=headers or {}, data={
            "mfa_token": mfa_token, "challenge_type": challenge_type, "code": code,
            "client_id": app["client_id"], "client_secret": app["client_secret"]})


async def mfa_required(server, app: dict, **kw) -> str:
    r = await password_grant(server, app, "user", "userpass", **kw)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["error"] == "mfa_required" and body["supported_challenge_types"] == "totp"
    assert "access_token" not in body
    return body["mfa_token"]


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_settings_setup_and_confirm(server, prefix):
    assert await mfa_settings(server, prefix) == {"settings": {"enabled": False, "totp": False}}
    async with server.client(server.tokens["user"]) as c:
        r = await c.get(f"{prefix}/accounts/mfa/setup/totp")
        assert r.status_code == 200, r.text
        setup = r.json()
        assert set(setup) == {"key", "provisioning_uri"}
        uri = urlsplit(setup["provisioning_uri"])
        assert uri.scheme == "otpauth" and uri.netloc == "totp" and "user%40example.org" in uri.path
        assert parse_qs(uri.query)["secret"] == [setup["key"]] and parse_qs(uri.query)["issuer"] == ["emojid"]
        device = Device(setup["key"])
        assert await mfa_settings(server, prefix) == {"settings": {"enabled": False, "totp": False}}

        confirm = f"{prefix}/accounts/mfa/confirm/totp"
        assert_error(await c.post(confirm, data={"password": "wrong", "code": device.totp.now()}), 422,
                     "Invalid password.")
        assert_error(await c.post(confirm, json={"password": "userpass", "code": "000000x"}), 422, "invalid_token")
        assert_error(await c.post(confirm, json={"password": "userpass"}), 400, "undefined mfa method")
        assert_error(await c.post(f"{prefix}/accounts/mfa/confirm/sms",
                                  json={"password": "userpass", "code": "1"}), 400, "undefined mfa method")
        assert_error(await c.get(f"{prefix}/accounts/mfa/setup/torf"), 400, "undefined method")
        assert await mfa_settings(server, prefix) == {"settings": {"enabled": False, "totp": False}}

        r = await c.post(confirm, files={"password": (None, "userpass"), "code": (None, await device.code())})
        assert r.status_code == 200 and r.json() == {}, r.text
        assert await mfa_settings(server, prefix) == {"settings": {"enabled": True, "totp": True}}
        # A confirmed secret is not swapped for a new one behind the owner's back.
        assert_error(await c.get(f"{prefix}/accounts/mfa/setup/totp"), 422)
    app = await make_app(server)
    await mfa_required(server, app)


async def test_settings_need_security_scopes(server):
    app = await make_app(server, scopes="read write")
    write_only = (await password_grant(server, app, "user", "userpass", scope="write")).json()["access_token"]
    read_only = (await password_grant(server, app, "user", "userpass", scope="read")).json()["access_token"]
    async with server.client(write_only) as c:
        assert_error(await c.get("/api/pleroma/accounts/mfa"), 403, "Insufficient permissions: read:security.")
        assert (await c.get("/api/pleroma/accounts/mfa/backup_codes")).status_code == 200
    async with server.client(read_only) as c:
        assert (await c.get("/api/pleroma/accounts/mfa")).status_code == 200
        for method, path in [("GET", "/accounts/mfa/setup/totp"), ("GET", "/accounts/mfa/backup_codes"),
                             ("POST", "/accounts/mfa/confirm/totp"), ("DELETE", "/accounts/mfa/totp")]:
            r = await c.request(method, "/api/pleroma" + path, json={"password": "userpass", "code": "1"})
            assert_error(r, 403, "Insufficient permissions: write:security.")
    async with server.anon() as c:
        assert_error(await c.get("/api/pleroma/accounts/mfa"), 401)
        assert_error(await c.get("/api/v1/pleroma/accounts/mfa/backup_codes"), 401)
    # Basic auth holds every scope.
    async with http_client(base_url=server.url, auth=("user", "userpass")) as c:
        assert (await c.get("/api/pleroma/accounts/mfa")).json()["settings"]["enabled"] is False
    assert await mfa_settings(server) == {"settings": {"enabled": False, "totp": False}}


# -- the password grant's challenge -----------------------------------------------------------


async def test_password_grant_asks_for_the_second_factor(server):
    device = await enable_mfa(server)
    app = await make_app(server, scopes="read write")
    mfa_token = await mfa_required(server, app, scope="read")
    with db(server) as conn:  # stored hashed
        assert conn.execute("SELECT token_hash FROM mfa_tokens").fetchone()[0] == \
            hashlib.sha256(mfa_token.encode()).hexdigest()

    assert_error(await challenge(server, app, mfa_token, "123456x"), 400, "Invalid code")
    assert_error(await challenge(server, app, mfa_token, device.totp.now(), "sms"), 400, "Invalid code")
    assert_error(await challenge(server, app, "not-a-token", device.totp.now()), 400, "Invalid code")
    other = await make_app(server)
    assert_error(await challenge(server, other, mfa_token, device.totp.now()), 400, "Invalid code")
    assert_error(await challenge(server, {**app, "client_secret": "x"}, mfa_token, device.totp.now()), 400)

    code = await device.code()
    r = await challenge(server, app, mfa_token, code)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "read" and body["token_type"] == "Bearer" and body["refresh_token"]
    assert isinstance(body["created_at"], int) and body["expires_in"] > 0
    assert await whoami(server, headers={"authorization": f"Bearer {body['access_token']}"}) == 200

    # The MFA token is spent, and so is that TOTP code (RFC 6238 5.2).
    assert_error(await challenge(server, app, mfa_token, device.totp.now()), 400, "Invalid code")
    assert_error(await challenge(server, app, await mfa_required(server, app), code), 400, "Invalid code")
    assert (await challenge(server, app, await mfa_required(server, app), await device.code())).status_code == 200


async def test_mfa_token_expires(server):
    device = await enable_mfa(server)
    app = await make_app(server)
    mfa_token = await mfa_required(server, app)
    backdate(server, "mfa_tokens")
    assert_error(await challenge(server, app, mfa_token, device.totp.now()), 400, "Invalid code")


async def test_wrong_password_on_an_mfa_account_is_just_wrong(server):
    await enable_mfa(server)
    app = await make_app(server)
    body = assert_error(await password_grant(server, app, "user", "wrong"), 400, "Invalid credentials")
    assert "mfa_token" not in body


# -- backup codes --------------------------------------------------------------------------


async def test_backup_codes_are_hashed_and_single_use(server):
    await enable_mfa(server)
    app = await make_app(server)
    async with server.client(server.tokens["user"]) as c:
        r = await c.get("/api/v1/pleroma/accounts/mfa/backup_codes")
        assert r.status_code == 200, r.text
        codes = r.json()["codes"]
    assert len(codes) == 5 and len(set(codes)) == 5
    assert all(re.fullmatch(r"[0-9a-f]{16}", code) for code in codes)
    with db(server) as conn:
        stored = " ".join(row[0] for row in conn.execute("SELECT code_hash FROM mfa_backup_codes"))
    assert stored and not any(code in stored for code in codes)

    r = await challenge(server, app, await mfa_required(server, app), codes[0], "recovery")
    assert r.status_code == 200, r.text
    assert await whoami(server, headers={"authorization": f"Bearer {r.json()['access_token']}"}) == 200
    assert_error(await challenge(server, app, await mfa_required(server, app), codes[0], "recovery"), 400,
                 "Invalid code")
    assert_error(await challenge(server, app, await mfa_required(server, app), "0" * 16, "recovery"), 400)
    # A backup code is not a TOTP code.
    assert_error(await challenge(server, app, await mfa_required(server, app), codes[1], "totp"), 400)

    # New codes replace the old ones.
    async with server.client(server.tokens["user"]) as c:
        fresh = (await c.get("/api/pleroma/accounts/mfa/backup_codes")).json()["codes"]
    assert_error(await challenge(server, app, await mfa_required(server, app), codes[1], "recovery"), 400)
    r = await challenge(server, app, await mfa_required(server, app), fresh[4].upper(), "recovery")
    assert r.status_code == 200, r.text


# -- turning it off --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["totp", "mfa"])
async def test_disable(server, method):
    device = await enable_mfa(server)
    app = await make_app(server)
    async with server.client(server.tokens["user"]) as c:
        backup = (await c.get("/api/pleroma/accounts/mfa/backup_codes")).json()["codes"]
        assert_error(await c.request("DELETE", f"/api/pleroma/accounts/mfa/{method}", json={"password": "x"}),
                     422, "Invalid password.")
        assert_error(await c.delete(f"/api/pleroma/accounts/mfa/{method}"), 422, "Invalid password.")
        assert_error(await c.request("DELETE", "/api/pleroma/accounts/mfa/sms", json={"password": "userpass"}),
                     400, "undefined mfa method")
        assert (await mfa_settings(server))["settings"]["enabled"] is True
        r = await c.request("DELETE", f"/api/v1/pleroma/accounts/mfa/{method}", data={"password": "userpass"})
        assert r.status_code == 200 and r.json() == {}, r.text
    assert await mfa_settings(server) == {"settings": {"enabled": False, "totp": False}}
    r = await password_grant(server, app, "user", "userpass")
    assert r.status_code == 200 and r.json()["access_token"]
    # Turned on again with a new secret: the old device and the old backup codes are dead.
    new_device = await enable_mfa(server)
    mfa_token = await mfa_required(server, app)
    assert_error(await challenge(server, app, mfa_token, device.totp.now()), 400)
    assert_error(await challenge(server, app, mfa_token, backup[0], "recovery"), 400)
    assert (await challenge(server, app, mfa_token, await new_device.code())).status_code == 200


# -- the login page's second step ---------------------------------------------------------


def mfa_form(page: str) -> dict:
    fields = dict(re.findall(r'name="(mfa\[[a-z_]+\])" value="([^"]*)"', page))
    assert set(fields) == {"mfa[mfa_token]", "mfa[state]", "mfa[redirect_uri]", "mfa[challenge_type]"}, fields
    return {k: v.replace("&amp;", "&") for k, v in fields.items()}


async def test_login_page_asks_for_the_code(server):
    device = await enable_mfa(server)
    app = await make_app(server)
    verifier = "pkce-" + "v" * 60
    async with browser(server) as c:
        r = await c.post("/oauth/authorize", data=login_form(app, "user", "userpass", code_challenge=s256(verifier),
                                                             code_challenge_method="S256"))
        page = html(r, 200)
        assert "Two-factor authentication" in page and "st8" in page
        assert "set-cookie" not in r.headers and "location" not in r.headers
        fields = mfa_form(page)
        assert fields["mfa[redirect_uri]"] == CALLBACK and fields["mfa[challenge_type]"] == "totp"

        r = await c.get("/oauth/mfa", params={"mfa_token": fields["mfa[mfa_token]"], "challenge_type": "recovery"})
        assert "Two-factor recovery" in html(r, 200)
        assert mfa_form(r.text)["mfa[challenge_type]"] == "recovery"
        assert "expired" in html(await c.get("/oauth/mfa", params={"mfa_token": "nope"}), 401)

        r = await c.post("/oauth/mfa/verify", data={**fields, "mfa[code]": "000000"})
        assert "Two-factor authentication failed." in html(r, 401)
        assert "set-cookie" not in r.headers
        # The form's redirect_uri is not trusted: the one checked at login is used.
        r = await c.post("/oauth/mfa/verify", data={**fields, "mfa[redirect_uri]": "https://evil.example/",
                                                    "mfa[code]": await device.code()})
        code = code_from(r)
        key, _ = session_cookie(r)
        # Spent: the same form does not log in twice.
        assert html(await c.post("/oauth/mfa/verify", data={**fields, "mfa[code]": device.totp.now()}), 401)

    assert_error(await exchange(server, app, code), 400)  # PKCE carried through the MFA step
    r = await exchange(server, app, code, code_verifier=verifier)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read write"
    assert await whoami(server, cookies={"_pleroma_key": key}) == 200


async def test_login_page_recovery_code_and_oob(server):
    await enable_mfa(server)
    app = await make_app(server, redirect_uris=OOB)
    async with server.client(server.tokens["user"]) as c:
        codes = (await c.get("/api/pleroma/accounts/mfa/backup_codes")).json()["codes"]
    async with browser(server) as c:
        page = html(await c.post("/oauth/authorize", data=login_form(app, "user", "userpass", redirect_uri=OOB,
                                                                    state=None)), 200)
        fields = {**mfa_form(page), "mfa[challenge_type]": "recovery", "mfa[code]": codes[2]}
        page = html(await c.post("/oauth/mfa/verify", data=fields), 200)
    code = re.search(r"Token code is <br>([A-Za-z0-9_-]+)", page).group(1)
    r = await exchange(server, app, code, redirect_uri=OOB)
    assert r.status_code == 200, r.text
    # That backup code is gone.
    assert_error(await challenge(server, app, await mfa_required(server, app), codes[2], "recovery"), 400)


async def test_page_mfa_tokens_only_finish_on_the_page(server):
    device = await enable_mfa(server)
    app = await make_app(server)
    async with browser(server) as c:
        page = html(await c.post("/oauth/authorize", data=login_form(app, "user", "userpass")), 200)
    assert_error(await challenge(server, app, mfa_form(page)["mfa[mfa_token]"], device.totp.now()), 400)
    password_token = await mfa_required(server, app)
    async with browser(server) as c:
        r = await c.post("/oauth/mfa/verify", data={"mfa[mfa_token]": password_token, "mfa[code]": "1"})
        html(r, 401)


# -- throttling -------------------------------------------------------------------------------


@pytest.fixture
async def strict_server(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ratelimit, "ACCOUNT_MAX_FAILURES", 3)
    monkeypatch.setattr(ratelimit, "ADDRESS_MAX_FAILURES", 6)
    monkeypatch.setattr(ratelimit, "WINDOW_SECONDS", 3.0)  # wide enough for a loaded machine
    async with serving(tmp_path / "strict") as s:
        yield s


async def test_wrong_codes_throttle(strict_server):
    server = strict_server
    device = await enable_mfa(server)
    app = await make_app(server)
    mfa_token = await mfa_required(server, app)
    for _ in range(3):
        assert_error(await challenge(server, app, mfa_token, "000000"), 400, "Invalid code")
    throttled = await challenge(server, app, mfa_token, device.totp.now())
    assert_error(throttled, 429, "Throttled")
    assert 1 <= int(throttled.headers["retry-after"]) <= 3
    # The right password again does not buy more guesses at the code.
    fresh = await mfa_required(server, app)
    assert_error(await challenge(server, app, fresh, device.totp.now()), 429, "Throttled")
    async with browser(server) as c:
        page = html(await c.post("/oauth/authorize", data=login_form(app, "user", "userpass")), 200)
        r = await c.post("/oauth/mfa/verify", data={**mfa_form(page), "mfa[code]": device.totp.now()})
        assert_error(r, 429, "Throttled")
    await asyncio.sleep(3.1)
    assert (await challenge(server, app, mfa_token, await device.code())).status_code == 200


async def test_wrong_passwords_on_security_settings_throttle(strict_server):
    server = strict_server
    async with server.client(server.tokens["user"]) as c:
        for _ in range(3):
            assert_error(await c.request("DELETE", "/api/pleroma/accounts/mfa/totp", json={"password": "x"}), 422)
        assert_error(await c.request("DELETE", "/api/pleroma/accounts/mfa/totp", json={"password": "userpass"}),
                     429, "Throttled")
        await asyncio.sleep(3.1)
        r = await c.request("DELETE", "/api/pleroma/accounts/mfa/totp", json={"password": "userpass"})
        assert r.status_code == 200, r.text


async def test_made_up_mfa_tokens_throttle_the_address(strict_server):
    server = strict_server
    app = await make_app(server)
    here = {"x-forwarded-for": "203.0.113.9"}
    for _ in range(6):
        assert_error(await challenge(server, app, "guess", "000000", headers=here), 400)
    assert_error(await challenge(server, app, "guess", "000000", headers=here), 429)
    assert_error(await password_grant(server, app, "admin", "adminpass", headers=here), 429)
    assert (await password_grant(server, app, "admin", "adminpass")).status_code == 200
