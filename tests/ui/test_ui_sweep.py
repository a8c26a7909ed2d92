"""Every route of the web UI, under every kind of visitor, with hostile path values,
query strings and bodies: never a 5xx or a traceback; answers are HTML pages with
the UI's headers; a refused request changes nothing.

The UI is one entry in emojid's route table (emojid.emoji.ui.site.WebUI); its
routes are HTML, so they are swept here rather than by tests/test_surface.py,
which holds the JSON API to its rules.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.routing import Route

from emojid.emoji.ui.site import ROUTES
from tests.conftest import Server, serving
from tests.helpers import http_client, png_bytes, zip_bytes
from tests.ui.conftest import art_pack, csrf_of, face_png

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]+\.py", line \d+')
PATH_VALUES = ["faces", "no-such-pack", "..", "%2e%2e", "a%00b", "x" * 300, "ñ☃💥", "%ZZ", "<b>x</b>", ".hidden"]
QUERIES = [{}, {"page": "-1"}, {"page": "9" * 40}, {"page": "abc"}, {"q": "%_\\'\""}, {"q": "x" * 5000},
           {"shortcode": "<script>"}, {"shortcode": ""}, {"url": "javascript:alert(1)"},
           {"url": "http://127.0.0.1:9"}, {"next": "//evil.example"}, {"v": "nope"}]
BODIES = [
    {"data": {}},
    {"data": {"name": "", "shortcode": "", "new_shortcode": "", "url": "", "username": "", "password": ""}},
    {"data": {"name": "../escape", "shortcode": "smile", "new_shortcode": "../../x", "confirmed": "1"}},
    {"data": {"name": "a\x00b", "shortcode": "a\x00b", "new_shortcode": "ok", "confirmed": "1", "url": "x"}},
    {"data": {"name": "x" * 5000, "description": "y" * 20000, "license": "%ff\u202e", "share_files": "maybe"}},
    {"files": {"file": ("evil.zip", zip_bytes({"../evil.png": png_bytes()}), "application/zip")}},
    {"files": {"file": ("big.png", b"\x89PNG" + b"0" * 1_100_000, "image/png")}},
    {"files": {"name[]": (None, "a"), "shortcode[x]": (None, "b")}},
    {"content": b'{"name": "json"}', "headers": {"content-type": "application/json"}},
    {"content": b"--xyz\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=xyz"}},
    {"content": b"\xff\xfe=\xfa", "headers": {"content-type": "application/x-www-form-urlencoded"}},
]


def cases() -> list[tuple[str, str]]:
    found = []
    for route in ROUTES:
        assert isinstance(route, Route)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    prepare = lambda config: art_pack(config.packs_dir, "faces", {"smile": face_png("#ffb703")})  # noqa: E731
    async with serving(tmp_path_factory.mktemp("ui-sweep"), prepare=prepare) as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def visitors(server) -> AsyncIterator[dict[str, tuple[httpx.AsyncClient, str]]]:
    """name -> (client, its CSRF token): nobody, a user, an admin."""
    clients = {}
    for name, login in (("anon", None), ("user", ("user", "userpass")), ("admin", ("admin", "adminpass"))):
        client = http_client(base_url=server.url, timeout=60, follow_redirects=False)
        token = csrf_of((await client.get("/ui/login")).text)
        if login:
            r = await client.post("/ui/login", data={"_csrf_token": token, "username": login[0],
                                                     "password": login[1]})
            assert r.status_code == 303
            token = csrf_of((await client.get("/ui/")).text)  # the log-out form's
        clients[name] = (client, token)
    yield clients
    for client, _ in clients.values():
        await client.aclose()


def store_state(server: Server) -> dict[str, bytes]:
    return {str(p.relative_to(server.packs_dir)): p.read_bytes()
            for p in sorted(server.packs_dir.rglob("*")) if p.is_file()}


def problems_with(r: httpx.Response) -> list[str]:
    found = []
    where = f"{r.request.method} {str(r.request.url)[:120]}"
    if r.status_code >= 500:
        found.append(f"{where}: status {r.status_code}")
    if TRACEBACK.search(r.text):
        found.append(f"{where}: traceback")
    ctype = r.headers.get("content-type", "")
    if r.status_code == 405:
        return found  # Starlette's own answer to a wrong method (JSON, as the API's)
    if 300 <= r.status_code < 400:
        if r.status_code != 303 or not r.headers.get("location", "").startswith("/ui"):
            found.append(f"{where}: redirect {r.status_code} to {r.headers.get('location')}")
        return found
    if r.request.url.path.startswith("/ui/static/"):
        if r.headers.get("x-content-type-options") != "nosniff":
            found.append(f"{where}: static file without nosniff")
        return found
    if r.status_code != 204 and not ctype.startswith("text/html"):
        found.append(f"{where}: content-type {ctype!r}")
    if not r.headers.get("content-security-policy", "").startswith("default-src 'self'"):
        found.append(f"{where}: no CSP")
    return found


@pytest.mark.parametrize(("method", "template"), cases(), ids=[f"{m} {t}" for m, t in cases()])
async def test_route(server, visitors, method, template):
    if not (server.packs_dir / "faces").exists():  # a sweep of the delete route took it
        art_pack(server.packs_dir, "faces", {"smile": face_png("#ffb703")})
    problems: list[str] = []
    paths = [template]
    for param in re.findall(r"\{(\w+)\}", template):
        paths = [p.replace("{" + param + "}", value) for p in paths for value in PATH_VALUES]
    for name, (client, token) in visitors.items():
        for path in paths:
            # Every hostile query string and body on the plausible path (the first); the
            # hostile paths with the first few, which is all a refused path reads.
            plausible = path == paths[0]
            if method == "GET":
                for query in QUERIES if plausible else QUERIES[:3]:
                    problems += problems_with(await client.get(path, params=query))
                continue
            before = store_state(server)
            statuses = []
            # Logging out with a good token would end the visitor's session for the routes after.
            tokens = (False,) if template == "/ui/logout" and name != "anon" else (False, True)
            for body in BODIES if plausible else BODIES[:3]:
                for with_token in tokens:
                    kwargs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}
                    if with_token and "data" in kwargs:
                        kwargs["data"]["_csrf_token"] = token
                    elif with_token and "files" in kwargs:
                        kwargs["data"] = {"_csrf_token": token}
                    r = await client.post(path, params=QUERIES[len(statuses) % len(QUERIES)], **kwargs)
                    problems += problems_with(r)
                    statuses.append(r.status_code)
            if all(400 <= s < 500 for s in statuses) and store_state(server) != before:
                problems.append(f"{name} {method} {path}: every request refused, yet the store changed")
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:40])
