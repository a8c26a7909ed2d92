"""Registration (Mastodon's and the 2019 form), captcha, invites, email confirmation and its mail."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import io
import json
import re
import time

import pytest
from PIL import Image

from emojid.social.registration import Registration
from tests.conftest import serving
from tests.web.accounts_support import app_token, assert_error, basic_client, me, password_grant, with_index

VALID = {"username": "lain", "email": "lain@example.org", "password": "PlzDontHackLain", "agreement": "true"}


def field_error(r, status: int = 400) -> dict:
    return json.loads(assert_error(r, status)["error"])


async def register(server, app: str, **params):
    async with server.client(app) as c:
        return await c.post("/api/v1/accounts", data={**VALID, **params})


async def test_register_with_app_token_logs_in(server):
    token = await app_token(server, "read write follow")
    r = await register(server, token)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["token_type"] == "Bearer" and answer["scope"] == "read write follow"
    assert isinstance(answer["created_at"], int) and answer["access_token"]
    lain = await me(server, answer["access_token"])
    assert lain["acct"] == "lain" and lain["display_name"] == "lain" and lain["pleroma"]["is_confirmed"]
    assert lain["pleroma"]["email"] == "lain@example.org" and lain["emojis"] == []
    assert int(lain["id"]) > int((await me(server, server.tokens["user"]))["id"])
    # taken, invalid and reserved names; JSON bodies; registration without email
    assert field_error(await register(server, token)) == {"email": ["has already been taken"],
                                                           "nickname": ["has already been taken"]}
    assert field_error(await register(server, token, username="lain2")) == {"email": ["has already been taken"]}
    assert field_error(await register(server, token, username="x y", email="bad")) == {
        "email": ["has invalid format"], "nickname": ["has invalid format"]}
    assert field_error(await register(server, token, username="api", email="")) == {"nickname": ["Invalid nickname"]}
    async with server.client(token) as c:
        r = await c.post("/api/v1/accounts", json={"username": "wired", "password": "pw", "agreement": True,
                                                   "fullname": "Wired One", "bio": "hi :)"})
        assert r.status_code == 200, r.text
        wired = await me(server, r.json()["access_token"])
        assert wired["display_name"] == "Wired One" and wired["source"]["note"] == "hi :)"
        assert wired["pleroma"]["email"] is None


async def test_register_refusals(server):
    token = await app_token(server)
    for name in ("username", "password", "agreement"):
        params = {k: v for k, v in VALID.items() if k != name}
        async with server.client(token) as c:
            assert_error(await c.post("/api/v1/accounts", data=params), 400, f"Missing field: {name}.")
    async with server.anon() as c:
        assert_error(await c.post("/api/v1/accounts", data=VALID), 403, "Invalid credentials")
    async with server.client("bogus") as c:
        assert_error(await c.post("/api/v1/accounts", data=VALID), 403, "Invalid credentials")
    # a token without an app (the CLI's) cannot register accounts either
    assert_error(await register(server, server.tokens["user"]), 403, "Invalid credentials")
    assert_error(await register(server, token, agreement="perhaps"), 400)
    async with server.client(server.tokens["admin"]) as c:
        r = await c.get("/api/v1/accounts/lookup", params={"acct": "lain"})
        assert r.status_code == 404  # nothing was created


async def test_register_2019_form(server):
    async with server.anon() as c:
        form = {"nickname": "oldie", "password": "pw1", "confirm": "pw2", "email": "oldie@example.org"}
        r = await c.post("/api/account/register", data=form)
        assert field_error(r) == {"password_confirmation": ["does not match confirmation"]}
        r = await c.post("/api/account/register", data={**form, "confirm": "pw1", "fullname": "Old Timer",
                                                        "bio": "likes <emoji> & blobs"})
        assert r.status_code == 200, r.text
        assert field_error(await c.post("/api/account/register", data={"password": "x"})) == {
            "nickname": ["can't be blank"]}
        assert field_error(await c.post("/api/account/register", data={**form, "confirm": "pw1"})) == {
            "email": ["has already been taken"], "nickname": ["has already been taken"]}


async def test_register_2019_answers_the_twitterapi_user(server):
    """Pleroma's TwitterAPI `register` answered the new user (TwitterAPI UserView), not a token."""
    form = {"nickname": "oldie", "password": "pw1", "confirm": "pw1", "email": "oldie@example.org",
            "fullname": "Old <Timer>", "bio": "likes emoji\nand blobs"}
    async with server.anon() as c:
        r = await c.post("/api/account/register", json=form)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    user = r.json()
    assert "access_token" not in user and "token" not in user
    assert "email" not in user  # the 2019 view never showed it
    assert user["screen_name"] == "oldie" and user["id"].isdigit()
    assert user["name"] == "Old <Timer>" and user["name_html"] == "Old &lt;Timer&gt;"
    assert user["description"] == "likes emoji\nand blobs"
    assert user["description_html"] == "likes emoji<br/>and blobs"
    assert user["statusnet_profile_url"] == f"{server.url}/users/oldie"
    assert user["profile_image_url"] == user["profile_image_url_https"] == user["profile_image_url_original"]
    assert user["profile_image_url"].startswith(server.url)
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \+0000 \d{4}",
                        user["created_at"]), user["created_at"]
    assert (user["followers_count"], user["friends_count"], user["statuses_count"], user["favourites_count"]) \
        == (0, 0, 0, 0)
    assert (user["following"], user["follows_you"], user["statusnet_blocking"]) == (False, False, False)
    assert user["is_local"] is True and user["locked"] is False and user["fields"] == []
    assert user["pleroma"] == {"confirmation_pending": False, "tags": [], "skip_thread_containment": False}

    # the account is there, with that id and name, and logs in with its password
    async with server.anon() as c:
        found = (await c.get("/api/v1/accounts/lookup", params={"acct": "oldie"})).json()
    assert found["id"] == user["id"] and found["display_name"] == "Old <Timer>"
    assert found["source"]["note"] == "likes emoji\nand blobs"
    assert (await password_grant(server, "oldie", "pw1")).status_code == 200
    # registering issued no token: the only one is the password grant's
    async with basic_client(server, "oldie", "pw1") as c:
        r = await c.get("/api/oauth_tokens")
        assert r.status_code == 200, r.text
        assert len(r.json()) == 1


async def test_closed_registrations_and_invites(tmp_path):
    async with serving(tmp_path / "closed", "[instance]\nregistrations_open = false\n") as server:
        token = await app_token(server)
        assert_error(await register(server, token), 403, "Registrations are closed")
    async with serving(tmp_path / "invites", "[instance]\nregistrations_open = false\ninvites_enabled = true\n") as server:
        token = await app_token(server)
        invite = with_index(server, lambda index: Registration(index, server.config).create_invite(max_use=1))
        assert_error(await register(server, token), 400, "Invalid token")
        assert_error(await register(server, token, token="nope"), 400, "Invalid token")
        r = await register(server, token, token=invite.token)
        assert r.status_code == 200, r.text
        assert (await me(server, r.json()["access_token"]))["acct"] == "lain"
        assert_error(await register(server, token, token=invite.token, username="second", email=""), 400,
                     "Expired token")
        expired = with_index(server, lambda index: Registration(index, server.config).create_invite(
            expires_at="2001-01-01"))
        assert_error(await register(server, token, token=expired.token, username="third", email=""), 400,
                     "Expired token")


async def test_captcha(tmp_path):
    async with serving(tmp_path / "s", "[instance]\ncaptcha_enabled = true\ncaptcha_seconds_valid = 3\n") as server:
        token = await app_token(server)
        async with server.anon() as c:
            for prefix in ("/api/v1/pleroma", "/api/pleroma"):
                captcha = (await c.get(f"{prefix}/captcha")).json()
                assert captcha["type"] == "native" and captcha["seconds_valid"] == 3
                assert captcha["url"].startswith("data:image/png;base64,")
                with Image.open(io.BytesIO(base64.b64decode(captcha["url"].split(",", 1)[1]))) as image:
                    assert image.format == "PNG" and image.width > image.height > 20
        assert captcha["token"] and captcha["answer_data"]

        def answer(c: dict) -> str:
            return with_index(server, lambda index: index.captcha_answer(c["token"]))

        fields = {"captcha_token": captcha["token"], "captcha_answer_data": captcha["answer_data"]}
        for missing in ("captcha_solution", "captcha_token", "captcha_answer_data"):
            given = {**fields, "captcha_solution": "x"}
            del given[missing]
            assert field_error(await register(server, token, **given)) == {
                "captcha": [f"Invalid CAPTCHA (Missing parameter: {missing})"]}
        r = await register(server, token, **fields, captcha_solution="WRONG")
        assert field_error(r) == {"captcha": ["Invalid CAPTCHA"]}
        # checked once: even the right answer is refused now
        r = await register(server, token, **fields, captcha_solution=answer(captcha))
        assert field_error(r) == {"captcha": ["CAPTCHA already used"]}
        async with server.anon() as c:
            fresh = (await c.get("/api/v1/pleroma/captcha")).json()
        r = await register(server, token, captcha_token=fresh["token"], captcha_answer_data="forged",
                           captcha_solution=answer(fresh))
        assert field_error(r) == {"captcha": ["Invalid answer data"]}
        async with server.anon() as c:
            good = (await c.get("/api/v1/pleroma/captcha")).json()
            late = (await c.get("/api/v1/pleroma/captcha")).json()
        r = await register(server, token, captcha_token=good["token"], captcha_answer_data=good["answer_data"],
                           captcha_solution=answer(good).lower())
        assert r.status_code == 200, r.text
        await asyncio.sleep(3.1)
        r = await register(server, token, username="late", email="", captcha_token=late["token"],
                           captcha_answer_data=late["answer_data"], captcha_solution=answer(late))
        assert field_error(r) == {"captcha": ["CAPTCHA expired"]}


async def test_captcha_disabled_by_default(server):
    async with server.anon() as c:
        assert (await c.get("/api/v1/pleroma/captcha")).json() == {"type": "none"}


async def assert_cannot_log_in(server, nickname: str, password: str) -> None:
    """Neither HTTP Basic nor whatever a password grant hands out lets a pending account in."""
    async with basic_client(server, nickname, password) as c:
        assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    r = await password_grant(server, nickname, password)
    token = r.json().get("access_token")
    if token:
        async with server.client(token) as c:
            assert_error(await c.get("/api/v1/accounts/verify_credentials"), 401)


def spooled(server) -> list[email.message.Message]:
    folder = server.config.mail_spool_dir
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    assert not list(folder.glob(".*")) if folder.is_dir() else True  # no half-written files left
    return [email.message_from_bytes(p.read_bytes()) for p in files]


def confirmation_link(message: email.message.Message) -> str:
    match = re.search(r"(http://\S+/api/account/confirm_email/\d+/\S+)", message.get_payload(decode=True).decode())
    assert match, message.get_payload()
    return match.group(1)


async def test_activation_required_mails_a_confirmation_link(tmp_path):
    async with serving(tmp_path / "s", "[instance]\naccount_activation_required = true\n") as server:
        token = await app_token(server)
        async with server.client(token) as c:
            r = await c.post("/api/v1/accounts", data={k: v for k, v in VALID.items() if k != "email"})
            assert_error(r, 400, "Missing parameter: email")
        assert field_error(await register(server, token, email="")) == {"email": ["can't be blank"]}
        r = await register(server, token)
        assert r.status_code == 200 and r.json() == {
            "message": "You have been registered. Please check your email for further instructions.",
            "identifier": "missing_confirmed_email"}
        [mail] = spooled(server)
        assert mail["To"] == "lain@example.org" and "confirmation" in mail["Subject"]
        link = confirmation_link(mail)
        await assert_cannot_log_in(server, "lain", VALID["password"])
        async with server.anon() as c:
            lain = (await c.get("/api/v1/accounts/lookup", params={"acct": "lain"}))
            assert lain.status_code == 404  # unconfirmed accounts are not shown
            for who in ({"email": "lain@example.org"}, {"nickname": "lain"}):
                for prefix in ("/api/v1/pleroma", "/api/pleroma"):
                    r = await c.post(f"{prefix}/accounts/confirmation_resend", params=who)
                    assert r.status_code == 204 and r.content == b""
                    assert r.headers["content-type"] == "application/json"
            r = await c.post("/api/v1/pleroma/accounts/confirmation_resend", params={"email": "ghost@example.org"})
            assert r.status_code == 204
            assert_error(await c.post("/api/v1/pleroma/accounts/confirmation_resend"), 400)
            mails = spooled(server)
            assert len(mails) == 5  # the first mail and four resends (nobody mails the ghost)
            assert_error(await c.get(link), 400, "Invalid token")  # each resend replaces the link
            link = confirmation_link(mails[-1])
            assert_error(await c.get(link + "x"), 400, "Invalid token")
            r = await c.get(link)
            assert r.status_code == 200 and r.json() == {"status": "success"}
            r = await c.get("/api/v1/accounts/lookup", params={"acct": "lain"})
            assert r.status_code == 200 and r.json()["pleroma"]["is_confirmed"] is True
            await c.post("/api/v1/pleroma/accounts/confirmation_resend", params={"nickname": "lain"})
            assert len(spooled(server)) == 5  # confirmed: nothing more to send
        async with basic_client(server, "lain", VALID["password"]) as c:
            assert (await c.get("/api/v1/accounts/verify_credentials")).status_code == 200
        async with server.client(server.tokens["user"]) as c:
            r = await c.post("/api/pleroma/change_email", data={"password": "userpass", "email": ""})
            assert r.json() == {"error": "Email can't be blank."}


async def test_approval_required(tmp_path):
    async with serving(tmp_path / "s", "[instance]\naccount_approval_required = true\n") as server:
        r = await register(server, await app_token(server), reason="I like emoji")
        assert r.json() == {"identifier": "awaiting_approval", "message":
                            "You have been registered. You'll be able to log in once your account is approved."}
        await assert_cannot_log_in(server, "lain", VALID["password"])
        async with server.anon() as c:
            assert (await c.get("/api/v1/accounts/lookup", params={"acct": "lain"})).status_code == 404
        async with server.client(server.tokens["admin"]) as c:
            assert (await c.get("/api/v1/accounts/lookup", params={"acct": "lain"})).status_code == 200


@contextlib.asynccontextmanager
async def smtp_server():
    """A minimal SMTP server on 127.0.0.1 that keeps every message it is given."""
    received: list[bytes] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                writer.write(b"250-test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go on\r\n")
                await writer.drain()
                data = bytearray()
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk
                received.append(bytes(data))
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], received
    finally:
        server.close()
        await server.wait_closed()


async def test_confirmation_mail_goes_to_the_smtp_server(tmp_path):
    async with smtp_server() as (port, received):
        extra = (f"[instance]\naccount_activation_required = true\n[mail]\nsmtp_host = \"127.0.0.1\"\n"
                 f"smtp_port = {port}\nsmtp_starttls = false\nfrom_address = \"noreply@emojid.test\"\n")
        async with serving(tmp_path / "s", extra) as server:
            r = await register(server, await app_token(server))
            assert r.json()["identifier"] == "missing_confirmed_email"
            deadline = time.monotonic() + 5
            while not received and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            [raw] = received
            mail = email.message_from_bytes(raw)
            assert mail["To"] == "lain@example.org" and "noreply@emojid.test" in mail["From"]
            async with server.anon() as c:
                assert (await c.get(confirmation_link(mail))).json() == {"status": "success"}
            assert not server.config.mail_spool_dir.exists()  # nothing spooled when SMTP is set


@pytest.mark.parametrize("prefix", ["/api/v1/pleroma", "/api/pleroma"])
async def test_confirmation_resend_for_a_confirmed_account_sends_nothing(server, prefix):
    async with server.anon() as c:
        r = await c.post(f"{prefix}/accounts/confirmation_resend", json={"email": "user@example.org"})
        assert r.status_code == 204
    assert spooled(server) == []


async def test_signups_are_rate_limited_per_address(tmp_path, monkeypatch):
    from emojid.auth import ratelimit

    monkeypatch.setattr(ratelimit, "SIGNUPS_PER_ADDRESS", 3)  # Pleroma's app_account_creation is 25 / 30 min
    async with serving(tmp_path / "s") as server, server.anon() as c:
        app = await app_token(server)
        for i in range(2):
            form = {"nickname": f"n{i}", "password": "pw", "confirm": "pw", "email": f"n{i}@example.org"}
            assert (await c.post("/api/account/register", data=form)).status_code == 200
        async with server.client(app) as a:
            r = await a.post("/api/v1/accounts", data={**VALID, "username": "third", "email": "t@example.org"})
            assert r.status_code == 200, r.text
            r = await a.post("/api/v1/accounts", data={**VALID, "username": "fourth", "email": "f@example.org"})
        assert_error(r, 429, "Throttled")
        assert int(r.headers["retry-after"]) > 0
        form = {"nickname": "fifth", "password": "pw", "confirm": "pw", "email": "v@example.org"}
        assert_error(await c.post("/api/account/register", data=form), 429, "Throttled")
        assert with_index(server, lambda index: index.account_by_nickname("fourth")) is None
