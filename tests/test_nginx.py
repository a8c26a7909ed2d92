"""deploy/nginx/emojid.conf in front of a real emojid: files and archives served by nginx
from disk (X-Accel-Redirect) only after emojid allowed them, 304s and Range through it.

Needs Debian's nginx (`apt-get install nginx-light`; .ci/run installs it); skipped without.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.nginx_conf import NGINX, SHIPPED, main_conf, nginx_cmd, on_loopback
from emojid.http.offload import redirect_target
from tests.conftest import Server, serving, wait_for
from tests.helpers import gif_bytes, http_client, png_bytes, sha256_upper, write_pack

V1 = "/api/v1/pleroma"

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx not installed (Debian package nginx-light)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Front:
    server: Server
    url: str

    def client(self, **kw) -> httpx.AsyncClient:
        return http_client(base_url=self.url, timeout=30, **kw)


def prepare(config) -> None:
    write_pack(config.packs_dir, "open", {"blob": "blob.png", "spin": "spin.gif", "odd": "odd name é.png"},
               meta={"share-files": True, "license": "CC0"},
               images={"blob.png": png_bytes("teal", 48), "spin.gif": gif_bytes(("red", "blue"), 24),
                       "odd name é.png": png_bytes("navy", 20)})
    write_pack(config.packs_dir, "closed", {"c": "c.png"}, meta={"share-files": False})


@contextlib.asynccontextmanager
async def nginx_in_front(tmp: Path, server: Server) -> AsyncIterator[str]:
    port = free_port()
    conf = main_conf(tmp, on_loopback(SHIPPED.read_text(), port, int(server.url.rsplit(":", 1)[1]), server.root))
    checked = subprocess.run(nginx_cmd(tmp, conf, "-t"), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(nginx_cmd(tmp, conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async def up() -> bool:
            assert proc.poll() is None, (tmp / "error.log").read_text(errors="replace")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return True
            return False
        await wait_for(up, timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
async def front(tmp_path: Path) -> AsyncIterator[Front]:
    if NGINX is None:
        pytest.skip("nginx not installed (Debian package nginx-light)")
    async with serving(tmp_path / "state", prepare=prepare) as server, \
            nginx_in_front(tmp_path / "nginx", server) as url:
        yield Front(server, url)


# -- the config itself -------------------------------------------------------------------


@needs_nginx
def test_the_shipped_config_passes_nginx_t_as_shipped(tmp_path):
    """Unchanged but for the certificate paths (a throwaway self-signed one) and the cache
    folder (nginx -t creates it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed: no certificate to test the ssl server with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=emoji.example", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    text = SHIPPED.read_text().replace("/etc/ssl/certs/emoji.example.pem", str(cert)) \
        .replace("/etc/ssl/private/emoji.example.key", str(key)) \
        .replace("/var/lib/nginx/emojid-cache ", f"{tmp_path}/cache ")
    conf = main_conf(tmp_path, text)
    checked = subprocess.run(nginx_cmd(tmp_path, conf, "-t"), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_shipped_config_sets_the_offload_headers_for_every_request():
    text = SHIPPED.read_text()
    assert "proxy_set_header X-Sendfile-Type X-Accel-Redirect;" in text
    assert "proxy_set_header X-Accel-Mapping /var/lib/emojid/=/_emojid_internal/;" in text
    bare = re.sub(r"#.*", "", text)
    server = bare[bare.index("server {"):]
    server_level = re.findall(r"^    proxy_set_header .*$", server, re.M)
    # A proxy_set_header inside a location drops the inherited ones: only the cached emoji
    # location has its own, and then the whole list again, with the offload offer emptied.
    for block in re.findall(r"location [^{]*\{[^}]*\}", server):
        if block.startswith("location ~ ^/emoji(-static)?/"):
            own = [line.strip() for line in re.findall(r"^\s+proxy_set_header .*$", block, re.M)]
            for line in server_level:
                name = line.split()[1]
                expected = f'proxy_set_header {name} "";' if name.startswith("X-Sendfile") or \
                    name.startswith("X-Accel") else line.strip()
                assert expected in own, (name, own)
        else:
            assert "proxy_set_header" not in block
    internal = re.search(r"location /_emojid_internal/ \{[^}]*\}", bare)
    assert internal and "internal;" in internal.group(0) and "alias /var/lib/emojid/;" in internal.group(0)
    assert "client_max_body_size" in text


# -- through nginx -----------------------------------------------------------------------


async def test_emoji_files_through_nginx(front):
    data = (front.server.packs_dir / "open" / "blob.png").read_bytes()
    async with front.client() as c, front.server.anon() as direct:
        r = await c.get("/emoji/open/blob.png")
        assert r.status_code == 200, r.text
        assert r.content == data
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "public" in r.headers["cache-control"] and "max-age=" in r.headers["cache-control"]
        plain = await direct.get("/emoji/open/blob.png")
        assert r.headers["etag"] == plain.headers["etag"]  # emojid's tag, not nginx's
        assert "x-accel-redirect" not in r.headers

        # emojid only named the file; nginx sent it.
        offered = await direct.get("/emoji/open/blob.png", headers={
            "x-sendfile-type": "X-Accel-Redirect", "x-accel-mapping": f"{front.server.root.resolve()}/=/_emojid_internal/"})
        assert offered.status_code == 200 and offered.content == b""
        assert offered.headers["x-accel-redirect"] == "/_emojid_internal/packs/open/blob.png"
        assert offered.headers["etag"] == plain.headers["etag"]
        assert offered.headers["content-type"] == "image/png"

        etag = r.headers["etag"]
        r = await c.get("/emoji/open/blob.png", headers={"if-none-match": etag})
        assert r.status_code == 304 and r.content == b""
        assert r.headers["etag"] == etag

        r = await c.get("/emoji/open/blob.png", headers={"range": "bytes=0-9"})
        assert r.status_code == 206
        assert r.content == data[:10]
        assert r.headers["content-range"] == f"bytes 0-9/{len(data)}"
        r = await c.get("/emoji/open/blob.png", headers={"range": "bytes=-7"})
        assert r.status_code == 206 and r.content == data[-7:]

        r = await c.head("/emoji/open/blob.png")
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-length"] == str(len(data)) and r.headers["etag"] == etag

        odd = (front.server.packs_dir / "open" / "odd name é.png").read_bytes()
        r = await c.get("/emoji/open/odd%20name%20%C3%A9.png")
        assert r.status_code == 200 and r.content == odd

        r = await c.get("/emoji/open/missing.png")
        assert r.status_code == 404 and r.json() == {"error": "Not found"}
        r = await c.get("/emoji/closed/c.png")  # files of unshared packs are public, as in Pleroma
        assert r.status_code == 200


async def test_emoji_files_come_from_nginx_cache_after_the_first(front):
    path = front.server.packs_dir / "open" / "blob.png"
    async with front.client() as c:
        first = await c.get("/emoji/open/blob.png")
        assert first.status_code == 200 and first.headers["x-cache-status"] == "MISS"
        again = await c.get("/emoji/open/blob.png")
        assert again.headers["x-cache-status"] == "HIT" and again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        r = await c.get("/emoji/open/blob.png", headers={"if-none-match": first.headers["etag"]})
        assert r.status_code == 304
        r = await c.get("/emoji/open/blob.png", headers={"range": "bytes=2-5"})
        assert r.status_code == 206 and r.content == first.content[2:6]
        # A client cannot ask for the offload: the cache would keep an empty body.
        r = await c.get("/emoji-static/open/spin.gif.png",
                        headers={"x-sendfile-type": "X-Accel-Redirect", "x-accel-mapping": "/=/_emojid_internal/"})
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG") and "x-accel-redirect" not in r.headers
        # Missing files are not cached: one added by hand is served at once.
        assert (await c.get("/emoji/open/late.png")).status_code == 404
        (path.parent / "late.png").write_bytes(png_bytes("olive", 12))
        r = await c.get("/emoji/open/late.png")
        assert r.status_code == 200 and r.content == png_bytes("olive", 12)


async def test_static_frames_through_nginx(front):
    async with front.client() as c:
        r = await c.get("/emoji-static/open/spin.gif.png")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert r.headers["cache-control"].startswith("public")
        etag = r.headers["etag"]
        r = await c.get("/emoji-static/open/spin.gif.png", headers={"if-none-match": etag})
        assert r.status_code == 304


async def test_archives_through_nginx_keep_the_sharing_rules(front):
    async with front.client() as c:
        async def built():
            r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "open"})
            return r if r.status_code == 200 else None
        r = await wait_for(built, timeout=10)
        sha = r.headers["x-download-sha256"]
        assert sha256_upper(r.content) == sha
        assert r.headers["content-type"] == "application/zip"
        assert r.headers["content-disposition"] == 'attachment; filename="open.zip"'
        assert r.headers["etag"] == f'"{sha.lower()}"'
        assert r.headers["cache-control"] == "public, max-age=0, must-revalidate"
        listed = (await c.get(f"{V1}/emoji/packs")).json()["packs"]["open"]["pack"]
        assert listed["download-sha256"] == sha

        r2 = await c.get(f"{V1}/emoji/packs/archive", params={"name": "open"},
                         headers={"if-none-match": r.headers["etag"]})
        assert r2.status_code == 304 and r2.content == b""
        r3 = await c.get(f"{V1}/emoji/packs/archive", params={"name": "open"}, headers={"range": "bytes=4-99"})
        assert r3.status_code == 206 and r3.content == r.content[4:100]
        r4 = await c.get("/api/pleroma/emoji/packs/open/download_shared")
        assert r4.status_code == 200 and r4.content == r.content

        for path in (f"{V1}/emoji/packs/archive?name=closed", "/api/pleroma/emoji/packs/closed/download_shared"):
            r = await c.get(path)
            assert r.status_code == 403, r.text
            assert r.headers["content-type"] == "application/json"
            assert "cannot be downloaded" in r.json()["error"]
        # A client cannot offer itself a different mapping: nginx overwrites both headers.
        r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "closed"},
                        headers={"x-sendfile-type": "X-Accel-Redirect", "x-accel-mapping": "/=/_emojid_internal/"})
        assert r.status_code == 403


async def test_the_internal_location_is_not_reachable_from_outside(front):
    root = front.server.root
    outside = root.parent / "secret.txt"
    outside.write_text("not for you")
    (front.server.packs_dir / "open" / "leak.png").symlink_to(outside)
    archives = sorted((front.server.config.cache_dir / "archives").rglob("*.zip"))
    targets = ["/_emojid_internal/emojid.db", "/_emojid_internal/packs/open/blob.png",
               "/_emojid_internal/packs/open/pack.json", "/_emojid_internal/../secret.txt",
               "/%5Femojid_internal/emojid.db", "/emoji/../_emojid_internal/emojid.db",
               "/_emojid_internal//etc/passwd", "/_emojid_internal/packs/open/leak.png"]
    targets += [f"/_emojid_internal/{p.relative_to(root)}" for p in archives]
    async with front.client() as c:
        for target in targets:
            r = await c.get(target)
            assert r.status_code in (400, 404), (target, r.status_code)
            assert b"not for you" not in r.content and b"SQLite" not in r.content
        r = await c.get("/emoji/open/leak.png")  # a symlink out of the store: emojid says no
        assert r.status_code == 404


async def test_the_rest_is_proxied(front):
    async with front.client() as c:
        r = await c.get("/api/v1/custom_emojis")
        assert r.status_code == 200
        assert {e["shortcode"] for e in r.json()} >= {"blob", "spin"}
        assert r.headers["cache-control"] == "public, max-age=0, must-revalidate"
        r2 = await c.get("/api/v1/custom_emojis", headers={"if-none-match": r.headers["etag"]})
        assert r2.status_code == 304
        r = await c.post(f"{V1}/emoji/pack", params={"name": "new"},
                         headers={"authorization": f"Bearer {front.server.admin_token}"})
        assert r.status_code == 200, r.text


# -- the offload decision ----------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "state"
    (root / "packs" / "p").mkdir(parents=True)
    (root / "packs" / "p" / "a b é.png").write_bytes(b"x")
    (tmp_path / "outside.png").write_bytes(b"y")
    yield root


def headers(mapping: str) -> dict[str, str]:
    return {"x-sendfile-type": "X-Accel-Redirect", "x-accel-mapping": mapping}


def test_offload_names_files_below_the_mapped_root_only(state):
    good = headers(f"{state}/=/_internal/")
    assert redirect_target(good, state / "packs/p/a b é.png") == "/_internal/packs/p/a%20b%20%C3%A9.png"
    assert redirect_target(headers(f"{state}=/_internal"), state / "packs/p/a b é.png") \
        == "/_internal/packs/p/a%20b%20%C3%A9.png"
    # No offer, no offload.
    assert redirect_target({}, state / "packs/p/a b é.png") is None
    assert redirect_target({"x-sendfile-type": "X-Sendfile", "x-accel-mapping": f"{state}/=/i/"},
                           state / "packs/p/a b é.png") is None
    # Outside the root, directly, by dot segments or through a symlink.
    assert redirect_target(good, state.parent / "outside.png") is None
    assert redirect_target(good, state / "packs/../../outside.png") is None
    (state / "packs" / "p" / "link.png").symlink_to(state.parent / "outside.png")
    assert redirect_target(good, state / "packs/p/link.png") is None
    # Not a file, or missing.
    assert redirect_target(good, state / "packs/p") is None
    assert redirect_target(good, state / "packs/p/none.png") is None


@pytest.mark.parametrize("mapping", [
    "/=/_internal/",                       # the whole filesystem
    "relative/=/_internal/",
    "{state}/=_internal/",
    "{state}/../=/_internal/",
    "{state}/=/_internal/../x/",
    "{state}/=/_internal/%2e%2e/",
    "{state}/=//evil.example/",
    "{state}/=/_internal/?x",
    "{state}/=/_internal/ x",
    "{state}/",
    "",
])
def test_offload_refuses_mapping_tricks(state, mapping):
    assert redirect_target(headers(mapping.format(state=state)), state / "packs/p/a b é.png") is None


def test_offload_takes_the_first_matching_pair(state):
    mapping = f"/nonexistent/=/a/, {state}/packs/=/b/, {state}/=/c/"
    assert redirect_target(headers(mapping), state / "packs/p/a b é.png") == "/b/p/a%20b%20%C3%A9.png"

