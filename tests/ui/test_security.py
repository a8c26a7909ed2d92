"""The UI's locks: CSRF tokens, cookies, headers, admin rights, login throttling and
second factor, escaping. Mostly plain HTTP; a browser where the page matters."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pyotp
import pytest
import pytest_asyncio
from starlette.requests import Request

from emojid.emoji.ui.session import secure_cookies
from tests.conftest import Server, serving, wait_for
from tests.helpers import http_client, png_bytes
from tests.ui.conftest import art_pack, csrf_of, face_png, new_page, ui_session

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTILE = "<script>alert(1)</script>"
PAGES = ["/ui/", "/ui/?q=smile", "/ui/packs/faces", "/ui/packs/faces?page=99", "/ui/login", "/ui/remote",
         "/ui/sync", "/ui/new-pack", "/ui/packs/no-such-pack", "/ui/no-such-page", "/ui/packs/odd"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    def prepare(config) -> None:
        art_pack(config.packs_dir, "faces", {"smile": face_png("#ffb703", 0), "frown": face_png("#4361ee", 2)})
        # Hand-written: a shortcode and a description that are markup. The shortcode is held to
        # `[emoji] shortcode_pattern` as uploads are; this admin's pattern takes anything.
        odd = config.packs_dir / "odd"
        odd.mkdir()
        (odd / "x.png").write_bytes(png_bytes("purple"))
        (odd / "pack.json").write_text(json.dumps({
            "files": {HOSTILE: "x.png"}, "pack": {"description": '<img src=x onerror="alert(2)">'}}))

    async with serving(tmp_path_factory.mktemp("ui-security"), '[emoji]\nshortcode_pattern = ".+"\n',
                       prepare=prepare) as s:
        yield s


def store_state(server: Server) -> dict[str, bytes]:
    return {str(p.relative_to(server.packs_dir)): p.read_bytes()
            for p in sorted(server.packs_dir.rglob("*")) if p.is_file()}


async def test_every_page_sends_the_security_headers(server):
    async with ui_session(server) as admin, http_client(base_url=server.url) as anon:
        for client in (anon, admin):
            for path in PAGES:
                r = await client.get(path)
                assert r.status_code < 500, (path, r.status_code)
                if r.status_code != 303:  # /ui/login, logged in already
                    assert r.headers["content-type"].startswith("text/html"), path
                assert r.headers["content-security-policy"].startswith("default-src 'self'"), path
                assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
                assert r.headers["x-content-type-options"] == "nosniff", path
                assert "<script>alert" not in r.text and "onerror=\"alert" not in r.text, path
        r = await anon.get("/ui/static/htmx.min.js")
        assert r.headers["content-type"].startswith("text/javascript")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert (await anon.get("/ui/static/../style.css")).status_code == 404
        # Versioned assets are cached for good; the answer to a matching ETag is 304.
        page = (await anon.get("/ui/")).text
        css = re.search(r'href="(/ui/static/style\.css\?v=[0-9a-f]+)"', page).group(1)
        r = await anon.get(css)
        assert "immutable" in r.headers["cache-control"]
        assert (await anon.get(css, headers={"if-none-match": r.headers["etag"]})).status_code == 304


async def test_no_inline_script_or_style_anywhere(server):
    """CSP `default-src 'self'` allows none: a page that used one would break."""
    async with ui_session(server) as admin:
        for path in PAGES:
            body = (await admin.get(path)).text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), path
            assert " style=" not in body and "<style" not in body, path
            assert not re.search(r"<[^>]*\son[a-z]+\s*=", body), path


async def test_forms_without_the_csrf_token_are_refused(server):
    before = store_state(server)
    async with ui_session(server) as admin, ui_session(server, "user", "userpass") as user:
        page = (await admin.get("/ui/packs/faces")).text
        token = csrf_of(page)
        other = csrf_of((await user.get("/ui/")).text)
        assert other != token
        attempts = [
            ("/ui/packs", {"name": "sneaky"}),
            ("/ui/packs/faces/delete", {"confirmed": "1"}),
            ("/ui/packs/faces/meta", {"license": "stolen"}),
            ("/ui/packs/faces/emoji/rename", {"shortcode": "smile", "new_shortcode": "grin"}),
            ("/ui/packs/faces/emoji/delete", {"shortcode": "smile", "confirmed": "1"}),
            ("/ui/packs/faces/emoji/tags", {"shortcode": "smile", "tags": "stolen"}),
            ("/ui/remote/download", {"url": server.url, "name": "faces"}),
            ("/ui/sync/run", {"url": "http://example.org"}),
            ("/ui/logout", {}),
        ]
        for path, fields in attempts:
            for label, extra in (("no token", {}), ("wrong token", {"_csrf_token": "0" * 64}),
                                 ("another session's token", {"_csrf_token": other})):
                r = await admin.post(path, data={**fields, **extra})
                assert r.status_code == 403, (path, label, r.status_code)
                assert "Form expired" in r.text, (path, label)
        r = await admin.post("/ui/packs/faces/files", files={"file": ("a.png", png_bytes(), "image/png")})
        assert r.status_code == 403
        # htmx gets the refusal aimed at the page's message area.
        r = await admin.post("/ui/packs/faces/meta", data={"license": "x"}, headers={"hx-request": "true"})
        assert r.status_code == 403 and r.headers["hx-retarget"] == "#flash"
        # The session still works, with its token.
        assert (await admin.get("/ui/")).status_code == 200
        r = await admin.post("/ui/packs", data={"_csrf_token": token, "name": "legit"})
        assert r.status_code == 303
    after = store_state(server)
    assert {k: v for k, v in after.items() if not k.startswith("legit/")} == before


async def test_the_login_form_needs_its_token_too(server):
    async with http_client(base_url=server.url) as c:
        r = await c.post("/ui/login", data={"username": "admin", "password": "adminpass"})
        assert r.status_code == 403 and "_pleroma_key" not in r.headers.get("set-cookie", "")
    async with http_client(base_url=server.url) as c:
        cookie = (await c.get("/ui/login")).headers["set-cookie"].lower()
        assert "emojid_csrf=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


async def test_csrf_refusal_in_the_browser(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/login")
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill("adminpass")
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(re.compile(r"/ui/$"))
    await page.goto("/ui/packs/faces")
    await page.locator("form[action$='/meta'] input[name=_csrf_token]").evaluate("e => e.value = 'forged'")
    await page.get_by_label("License").fill("forged")
    await page.get_by_role("button", name="Save pack").click()
    await page.get_by_role("alert").get_by_text("This form has expired").wait_for()
    assert "forged" not in (server.packs_dir / "faces" / "pack.json").read_text()
    await page.context.close()


async def test_session_cookie_flags(server):
    async with http_client(base_url=server.url) as c:
        token = csrf_of((await c.get("/ui/login")).text)
        r = await c.post("/ui/login", data={"_csrf_token": token, "username": "admin", "password": "adminpass"},
                         headers={"x-forwarded-proto": "https"})
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("_pleroma_key=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" in cookie and "path=/" in cookie

    def request(public_url: str, scheme: str = "http") -> Request:
        config = SimpleNamespace(public_url=public_url)
        app = SimpleNamespace(state=SimpleNamespace(ctx=SimpleNamespace(config=config)))
        return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "scheme": scheme,
                        "server": ("x", 80), "query_string": b"", "app": app})

    assert secure_cookies(request("https://emoji.example"))
    assert not secure_cookies(request("http://127.0.0.1:4000"))


async def test_admin_rights_as_the_api_gives_them(server):
    async with ui_session(server, "user", "userpass") as user:
        token = csrf_of((await user.get("/ui/")).text)
        r = await user.post("/ui/packs", data={"_csrf_token": token, "name": "by_user"})
        assert r.status_code == 403 and "Only admins" in r.text
        assert not (server.packs_dir / "by_user").exists()
        r = await user.get("/ui/new-pack")
        assert r.status_code == 403
    async with http_client(base_url=server.url) as anon:
        token = csrf_of((await anon.get("/ui/login")).text)
        r = await anon.post("/ui/packs", data={"_csrf_token": token, "name": "by_nobody"})
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
        assert not (server.packs_dir / "by_nobody").exists()


async def test_a_kept_grid_carries_each_viewers_own_token(server):
    """The pack page's grid is rendered once per version of the index and kept: every
    viewer still gets their own CSRF token in it, and only admins get its forms."""
    async with ui_session(server) as first, ui_session(server) as second, \
            ui_session(server, "user", "userpass") as user, http_client(base_url=server.url) as anon:
        pages = [(await client.get("/ui/packs/faces")).text for client in (first, second, first, user, anon)]
        tokens = [set(re.findall(r'name="_csrf_token" value="([^"]+)"', page)) for page in pages]
        assert len(tokens[0]) == 1 and tokens[0] == tokens[2] and len(tokens[1]) == 1 and tokens[0] != tokens[1]
        assert pages[0].count(f'value="{tokens[0].pop()}"') > 2  # the tiles' forms, not only the page's
        for page in pages:
            assert "csrf-" not in page
        assert 'aria-label="Delete :smile:"' in pages[0] and 'aria-label="Delete :smile:"' not in pages[3]
        assert 'aria-label="Delete :smile:"' not in pages[4] and "_csrf_token" not in pages[4]
        # Another's token in a tile's form is refused; one's own goes through.
        other = re.search(r'name="_csrf_token" value="([^"]+)"', pages[1]).group(1)
        r = await first.post("/ui/packs/faces/emoji/tags", data={"_csrf_token": other, "shortcode": "smile",
                                                               "tags": "stolen"})
        assert r.status_code == 403
        own = re.search(r'name="_csrf_token" value="([^"]+)"', pages[0]).group(1)
        r = await first.post("/ui/packs/faces/emoji/tags", data={"_csrf_token": own, "shortcode": "smile",
                                                               "tags": "grin"})
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/packs/faces?notice=tags-saved")
        # The next look is of the new version: every viewer sees the tag.
        for client in (first, user, anon):
            assert "Tags: </span>grin</span>" in (await client.get("/ui/packs/faces")).text
        doc = json.loads((server.packs_dir / "faces" / "pack.json").read_text())
        assert doc["emojid"]["emoji"]["smile"]["tags"] == ["grin"]


async def test_login_goes_back_only_to_ui_pages(server):
    for target, expected in (("/ui/sync", "/ui/sync"), ("https://evil.example/", "/ui/"),
                             ("//evil.example/ui", "/ui/"), ("/api/v1/instance", "/ui/")):
        async with http_client(base_url=server.url) as c:
            token = csrf_of((await c.get("/ui/login")).text)
            r = await c.post("/ui/login", data={"_csrf_token": token, "username": "admin",
                                                "password": "adminpass", "next": target})
            assert r.status_code == 303 and r.headers["location"] == expected, target


async def test_failed_logins_are_throttled_like_every_login(tmp_path: Path):
    async with serving(tmp_path) as server, http_client(base_url=server.url) as c:
        statuses = []
        for _ in range(12):
            token = csrf_of((await c.get("/ui/login")).text)
            r = await c.post("/ui/login", data={"_csrf_token": token, "username": "admin", "password": "nope"})
            statuses.append(r.status_code)
        assert statuses[0] == 401 and statuses[-1] == 429
        assert "Too many failed logins" in r.text and r.headers.get("retry-after")
        token = csrf_of((await c.get("/ui/login")).text)
        r = await c.post("/ui/login", data={"_csrf_token": token, "username": "admin", "password": "adminpass"})
        assert r.status_code == 429  # the right password too, for now


async def test_an_account_with_two_factors_is_asked_for_its_code(server, browser):
    async with server.client(server.tokens["user"]) as c:
        secret = (await c.get("/api/pleroma/accounts/mfa/setup/totp")).json()["key"]
        totp = pyotp.TOTP(secret)
        r = await c.post("/api/pleroma/accounts/mfa/confirm/totp",
                         data={"password": "userpass", "code": totp.generate_otp(int(time.time() // 30) - 1)})
        assert r.status_code == 200, r.text
    page = await new_page(browser, server)
    await page.goto("/ui/login")
    await page.get_by_label("Username").fill("user")
    await page.get_by_label("Password").fill("userpass")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_label("Authentication code").fill("000000")
    await page.get_by_role("button", name="Verify").click()
    await page.get_by_role("alert").get_by_text("That code did not work.").wait_for()
    assert not [c for c in await page.context.cookies() if c["name"] == "_pleroma_key"]
    await page.get_by_label("Authentication code").fill(totp.now())
    await page.get_by_role("button", name="Verify").click()
    await page.wait_for_url(re.compile(r"/ui/$"))
    await page.get_by_text("@user").wait_for()
    await page.context.close()


async def test_markup_in_pack_json_is_shown_as_text(server, browser):
    page = await new_page(browser, server)
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto("/ui/packs/odd")
    await page.get_by_text(HOSTILE, exact=True).wait_for()
    assert await page.get_by_role("img", name=f":{HOSTILE}:").count() == 1
    await page.get_by_text('<img src=x onerror="alert(2)">').wait_for()
    await page.goto("/ui/?q=script")
    await page.get_by_role("img", name=f":{HOSTILE}:").wait_for()
    assert dialogs == []
    async with http_client(base_url=server.url) as c:
        body = (await c.get("/ui/packs/odd")).text
    assert HOSTILE not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    await page.context.close()


async def test_broken_pack_json_is_a_problem_with_its_code(server, browser):
    broken = server.packs_dir / "broken"
    broken.mkdir()
    (broken / "pack.json").write_text("{not json")

    async def recorded() -> bool:
        async with server.anon() as c:
            return (await c.get("/ui/packs/broken")).status_code == 200

    await wait_for(recorded)
    page = await new_page(browser, server)
    await page.goto("/ui/packs/broken")
    problems = page.locator(".problems")
    await problems.get_by_text("bad_pack_json").wait_for()
    assert "not valid JSON" in await problems.inner_text()
    # A listed file that is not there.
    (server.packs_dir / "faces" / "frown.png").unlink()

    async def noticed() -> bool:
        async with server.anon() as c:
            return "missing_file" in (await c.get("/ui/packs/faces")).text

    await wait_for(noticed)
    await page.goto("/ui/packs/faces")
    await page.locator(".problems").get_by_text("missing_file").wait_for()
    await page.context.close()
