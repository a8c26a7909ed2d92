"""What an outside attacker tried (issue "Hardening: what an outside attacker found"),
each reproduced against a real server: bodies larger than their limit, chunked or
not; JSON bodies that explode when parsed; racing wrong passwords; and the
`_pleroma_key` login session used beyond what its login granted or cross-site."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from emojid.auth import accounts as accounts_module
from emojid.auth import ratelimit
from emojid.auth.ratelimit import LoginLimiter, Throttled
from emojid.http import params as params_module
from emojid.http.middleware import BODY_LIMIT, MULTIPART_OVERHEAD
from emojid.http.params import MAX_JSON_VALUES
from tests.conftest import Server, serving
from tests.helpers import http_client, png_bytes

CALLBACK = "https://app.example/callback"
PACK = "/api/v1/pleroma/emoji/pack"
IMPORT = "/api/v1/pleroma/emoji/packs/import"
CSRF_REFUSED = "Invalid or missing CSRF token."


def assert_error(r: httpx.Response, status: int, text: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    if text is not None:
        assert body["error"] == text, body
    return body


# -- raw HTTP: a client that keeps sending until the server answers -----------------------


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def repeat(first: bytes, filler: bytes, total: int, last: bytes = b"") -> Iterator[bytes]:
    """`first`, then `filler` until about `total` bytes, then `last`: generated, never held."""
    yield first
    for _ in range(total // len(filler)):
        yield filler
    yield last


async def push(server: Server, head: str, body: Iterator[bytes]) -> tuple[int, bytes]:
    """Sends `head` and then `body` piece by piece while reading the answer; stops sending
    when the server has answered and closed. (bytes of body sent, raw answer)."""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    answer = bytearray()

    async def read() -> None:
        try:
            while chunk := await reader.read(1 << 16):
                answer.extend(chunk)
        except ConnectionError:
            pass

    reading = asyncio.create_task(read())
    sent = 0
    try:
        writer.write(head.encode())
        for piece in body:
            if reading.done():
                break
            writer.write(piece)
            await asyncio.wait_for(writer.drain(), 10)
            sent += len(piece)
    except ConnectionError:
        pass  # the server closed the connection: what we want
    await asyncio.wait_for(reading, 10)  # ends only when the server closes the connection
    writer.close()
    return sent, bytes(answer)


def parse_answer(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


def deleted_open_files() -> list[str]:
    """Files this process holds open that are already unlinked (spooled upload parts)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)"):
            found.append(target)
    return found


# -- 1. bodies are counted as they arrive, and reading stops at the limit -------------------


async def test_chunked_json_body_stops_at_the_small_limit(server):
    total = 400 << 20
    head = ("POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    tracemalloc.start()
    try:
        for _ in range(5):  # a try the kernel reset before the answer was read says nothing
            sent, raw = await push(server, head, chunked(repeat(b'{"client_name": "', b"a" * (64 << 10), total)))
            if raw:
                break
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    status, headers, body = parse_answer(raw)
    assert status == 413 and body == {"error": f"Request body is larger than {BODY_LIMIT} bytes"}
    assert headers["connection"] == "close" and headers["content-type"] == "application/json"
    # The client still had nearly all of its 400 MB to send; the server held about the limit.
    assert sent < BODY_LIMIT + (32 << 20), sent
    assert peak < 4 * BODY_LIMIT, peak


async def test_declared_length_over_the_limit_is_refused_unread(server):
    head = ("POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1 << 30}\r\n\r\n")
    for _ in range(5):  # a try the kernel reset before the answer was read says nothing
        sent, raw = await push(server, head, repeat(b"{", b" " * (64 << 10), 1 << 30))
        if raw:
            break
    status, headers, body = parse_answer(raw)
    assert status == 413 and body == {"error": f"Request body is larger than {BODY_LIMIT} bytes"}
    assert headers["connection"] == "close"
    assert sent < 64 << 20, sent


UPLOAD_LIMIT = 2 << 20  # [remote] max_download_bytes in the server below


@pytest.fixture
async def small_uploads(tmp_path: Path):
    async with serving(tmp_path / "small", extra=f"[remote]\nmax_download_bytes = {UPLOAD_LIMIT}\n") as s:
        yield s


async def test_chunked_multipart_upload_stops_at_the_upload_limit(small_uploads):
    server = small_uploads
    async with server.admin() as c:
        assert (await c.post(PACK, params={"name": "p"})).status_code == 200
    before = set(deleted_open_files())
    boundary = "emojidboundary"
    first = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"shortcode\"\r\n\r\nbig\r\n"
             f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
             "Content-Type: image/png\r\n\r\n").encode()
    head = (f"POST /api/v1/pleroma/emoji/packs/files?name=p HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {server.admin_token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n")
    # The server answers and closes while the client is still sending: the kernel may then
    # reset the connection before the client reads the answer. Such a try says nothing.
    for _ in range(5):
        sent, raw = await push(server, head, chunked(repeat(first, b"\0" * (64 << 10), 1 << 30,
                                                            f"\r\n--{boundary}--\r\n".encode())))
        if raw:
            break
    limit = UPLOAD_LIMIT + MULTIPART_OVERHEAD
    status, headers, body = parse_answer(raw)
    assert status == 413 and body == {"error": f"Request body is larger than {limit} bytes"}
    assert headers["connection"] == "close"
    assert sent < limit + (32 << 20), sent
    # The part spooled so far is closed with the request, not left open (and unlinked).
    await asyncio.sleep(0.05)
    assert set(deleted_open_files()) <= before
    assert not (server.packs_dir / "p" / "big.png").exists()
    # Within the limit, uploads and keep-alive go on as before.
    async with server.admin() as c:
        r = await c.post("/api/v1/pleroma/emoji/packs/files", params={"name": "p"},
                         files={"file": ("x.png", png_bytes(), "image/png")}, data={"shortcode": "x"})
        assert r.status_code == 200, r.text


async def test_small_bodies_keep_the_connection(server):
    app = {"client_name": "x" * (1 << 20), "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}
    async with server.anon() as c:
        for _ in range(2):
            r = await c.post("/api/v1/apps", json=app)
            assert r.status_code == 200, r.text
            assert r.headers.get("connection") != "close"
        # Refused before its body was read (no credentials): a small leftover is read and dropped.
        r = await c.post(PACK, params={"name": "x"}, json={"pad": "y" * 1000})
        assert_error(r, 401)
        assert r.headers.get("connection") != "close"


# -- 2. JSON that explodes when parsed; big parses off the event loop -------------------------


async def test_json_value_bomb_is_refused_before_parsing(server):
    body = b'{"x":[' + b",".join([b"{}"] * (MAX_JSON_VALUES + 10)) + b"]}"
    assert len(body) < BODY_LIMIT
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", content=body, headers={"content-type": "application/json"})
    assert_error(r, 413, f"The JSON body has more than {MAX_JSON_VALUES} values")


async def test_big_json_bodies_are_parsed_in_a_worker_thread(server, monkeypatch):
    threads: list[bool] = []
    parse = params_module.json_object

    def recording(text, name=None):
        threads.append(threading.current_thread() is threading.main_thread())
        return parse(text, name)

    monkeypatch.setattr(params_module, "json_object", recording)
    async with server.anon() as c:
        for size in (100, 200 << 10):
            r = await c.post("/api/v1/apps", json={"client_name": "x" * size, "redirect_uris": "urn:x"})
            assert r.status_code == 200, r.text
    assert threads == [True, False]  # the small one on the loop, the big one in a thread


# -- 3. login throttling counts before it checks, and hashing is bounded ----------------------


async def test_concurrent_wrong_passwords_stop_at_the_limit(server, monkeypatch):
    running, most, names = 0, 0, set()
    lock = threading.Lock()
    verify = accounts_module._verify

    def counting(password_hash, password):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            names.add(threading.current_thread().name)
        try:
            return verify(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(accounts_module, "_verify", counting)

    async def guess(i: int) -> int:
        async with http_client(base_url=server.url, auth=("admin", f"wrong{i}"), timeout=60) as c:
            return (await c.get("/api/oauth_tokens")).status_code

    statuses = await asyncio.gather(*(guess(i) for i in range(60)))
    assert statuses.count(401) == ratelimit.ACCOUNT_MAX_FAILURES, statuses
    assert statuses.count(429) == 60 - ratelimit.ACCOUNT_MAX_FAILURES, statuses
    # At most two argon2 computations at once, on argon2's own threads.
    assert most <= 2 and all(name.startswith("emojid-argon2") for name in names), (most, names)
    # The right password waits out the window like any other guess.
    async with http_client(base_url=server.url, auth=("admin", "adminpass")) as c:
        assert_error(await c.get("/api/oauth_tokens"), 429, "Throttled")


def test_an_attempt_is_counted_before_it_is_checked():
    now = [1000.0]
    limiter = LoginLimiter(account_max=2, address_max=3, window=60, clock=lambda: now[0])
    first = limiter.attempt("alice", "10.0.0.1")
    second = limiter.attempt("alice", "10.0.0.1")
    with pytest.raises(Throttled):
        limiter.attempt("alice", "10.0.0.1")  # two in flight: the budget is spent already
    limiter.passed(first)  # one was right: the account's count clears, the address keeps the other
    now[0] += 30
    limiter.missed(second)  # wrong: counted from when it was found wrong
    limiter.attempt("bob", "10.0.0.1")
    limiter.attempt("carol", "10.0.0.1")
    with pytest.raises(Throttled):
        limiter.attempt("dave", "10.0.0.1")  # the address: `second`, and two in flight
    now[0] += 59  # 89 s after `second` began, 59 s after it was found wrong: still counted
    with pytest.raises(Throttled):
        limiter.attempt("dave", "10.0.0.1")
    now[0] += 2
    limiter.attempt("dave", "10.0.0.1")


# -- 4. login sessions: scoped to their login, CSRF token for state changes -----------------


async def make_app(server: Server, scopes: str) -> dict:
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json={"client_name": "app", "redirect_uris": CALLBACK, "scopes": scopes})
    assert r.status_code == 200, r.text
    return r.json()


async def log_in(server: Server, scope: str, app_scopes: str = "read write follow admin") -> tuple[str, str]:
    """A browser logs the admin in on /oauth/authorize: (session key, its CSRF token, read off the
    consent page as a browser would see it)."""
    app = await make_app(server, app_scopes)
    async with http_client(base_url=server.url, timeout=30) as c:
        r = await c.post("/oauth/authorize", data={
            "authorization[name]": "admin", "authorization[password]": "adminpass",
            "authorization[client_id]": app["client_id"], "authorization[redirect_uri]": CALLBACK,
            "authorization[scope]": scope})
        assert r.status_code == 302, r.text
        key = c.cookies["_pleroma_key"]
        page = await c.get("/oauth/authorize", params={"client_id": app["client_id"], "redirect_uri": CALLBACK})
        csrf = re.search(r'name="authorization\[csrf\]" value="([0-9a-f]+)"', page.text)
        assert csrf is not None, page.text
    return key, csrf.group(1)


def session(server: Server, key: str, **kw) -> httpx.AsyncClient:
    return http_client(base_url=server.url, timeout=30, cookies={"_pleroma_key": key}, **kw)


async def test_read_only_login_session_cannot_use_admin_routes(server):
    key, csrf = await log_in(server, "read", app_scopes="read")
    async with session(server, key, headers={"x-csrf-token": csrf}) as c:
        assert (await c.get("/api/oauth_tokens")).status_code == 200
        assert (await c.get("/api/v1/accounts/verify_credentials")).status_code == 200
        assert_error(await c.post(PACK, params={"name": "nope"}), 403, "Insufficient permissions: admin:write.")
        assert_error(await c.get(IMPORT), 403, "Insufficient permissions: admin:write.")
        assert_error(await c.get("/api/v1/pleroma/emoji/sync"), 403, "Insufficient permissions: admin:read.")
        assert_error(await c.post("/api/v1/statuses", json={"status": "hi"}), 403)
    assert not (server.packs_dir / "nope").exists()


async def test_session_state_changes_need_the_csrf_token(server):
    key, csrf = await log_in(server, "read write admin")
    (server.packs_dir / "loose").mkdir()
    (server.packs_dir / "loose" / "a.png").write_bytes(png_bytes())
    async with session(server, key) as c:
        # Cross-site requests carry the cookie but cannot know the token.
        assert_error(await c.post(PACK, params={"name": "p"}), 403, CSRF_REFUSED)
        assert_error(await c.post(PACK, params={"name": "p"}, data={"_csrf_token": "0" * 64}), 403, CSRF_REFUSED)
        assert_error(await c.post(PACK, params={"name": "p"}, headers={"x-csrf-token": "nope"}), 403, CSRF_REFUSED)
        assert_error(await c.get(IMPORT), 403, CSRF_REFUSED)
        assert not (server.packs_dir / "p").exists() and not (server.packs_dir / "loose" / "pack.json").exists()
        # With it (header, form field or query parameter) the session may do what its login granted.
        assert (await c.post(PACK, params={"name": "p"}, headers={"x-csrf-token": csrf})).status_code == 200
        assert (await c.post(PACK, params={"name": "q"}, data={"_csrf_token": csrf})).status_code == 200
        assert_error(await c.delete(PACK, params={"name": "q"}), 403, CSRF_REFUSED)
        assert (await c.delete(PACK, params={"name": "q"}, headers={"x-csrf-token": csrf})).status_code == 200
        r = await c.get(IMPORT, params={"_csrf_token": csrf})
        assert r.status_code == 200 and "loose" in r.json(), r.text
        # The other GETs that write: new MFA backup codes, a new TOTP secret.
        for path in ("/api/pleroma/accounts/mfa/backup_codes", "/api/pleroma/accounts/mfa/setup/totp"):
            assert_error(await c.get(path), 403, CSRF_REFUSED)
            assert (await c.get(path, headers={"x-csrf-token": csrf})).status_code == 200
        # Reads need no token.
        entries = (await c.get("/api/oauth_tokens")).json()
        web = next(e for e in entries if e["app_name"] == "Web login")
        assert_error(await c.delete(f"/api/oauth_tokens/{web['id']}"), 403, CSRF_REFUSED)
        assert (await c.delete(f"/api/oauth_tokens/{web['id']}", headers={"x-csrf-token": csrf})).status_code == 200
        assert_error(await c.get("/api/oauth_tokens"), 401)
    assert (server.packs_dir / "p").is_dir() and not (server.packs_dir / "q").exists()


async def test_bearer_and_basic_need_no_csrf_token(server):
    for kw in ({"headers": {"authorization": f"Bearer {server.admin_token}"}}, {"auth": ("admin", "adminpass")},
               {"cookies": {"_pleroma_key": server.admin_token}}):  # a token in the cookie, as before sessions
        async with http_client(base_url=server.url, timeout=30, **kw) as c:
            name = f"p{int(time.monotonic() * 1e6)}"
            assert (await c.post(PACK, params={"name": name})).status_code == 200
            assert (await c.get(IMPORT)).status_code == 200
            assert (await c.delete(PACK, params={"name": name})).status_code == 200


async def test_session_scopes_cannot_be_edited_in_the_cookie(server):
    key, csrf = await log_in(server, "read", app_scopes="read")
    secret, _, _ = key.partition(".")
    forged = secret + "." + base64.urlsafe_b64encode(b"read write admin").rstrip(b"=").decode()
    async with session(server, forged, headers={"x-csrf-token": csrf}) as c:
        assert_error(await c.post(PACK, params={"name": "forged"}), 401)
    async with session(server, secret) as c:  # no scopes part at all
        assert_error(await c.get("/api/oauth_tokens"), 401)
