"""The SSRF guard, on by default: private targets are refused before any connection.

A stub listens on 127.0.0.1 and counts requests: with the guard on it must see
none, whichever spelling of a private address reaches emojid, and whichever
endpoint takes the URL (remote listing, download, fallback-src, upload by URL).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emojid.config import RemoteConfig
from emojid.remote import RemoteClient, RemoteError, RemoteRefused
from tests.conftest import serving
from tests.helpers import png_bytes, tree, write_pack, zip_bytes
from tests.remote.checks import (
    DOWNLOAD,
    FILES,
    PACK,
    PRIVATE_OK,
    REMOTE,
    assert_client_error,
    assert_nothing_written,
    leftovers,
)
from tests.remote.stubs import FakePleroma, Stub, serving_stub

TARGETS = [
    "http://127.0.0.1:{port}",
    "http://127.1:{port}",
    "http://public.example@127.0.0.1:{port}",
    "http://2130706433:{port}",
    "http://0.0.0.0:{port}",
    "http://0:{port}",
    "http://0177.0.0.1:{port}",
    "http://0x7f.1:{port}",
    "http://localhost:{port}",
    "http://LOCALHOST.:{port}",
    "http://[::ffff:127.0.0.1]:{port}",
    "http://[::1]:{port}",
    "http://10.0.0.1:{port}",
    "http://172.16.0.1:{port}",
    "http://192.168.1.1:{port}",
    "http://169.254.169.254:{port}",
    "http://[fd00::1]:{port}",
    "file:///etc/passwd",
    "ftp://127.0.0.1:{port}/",
    "gopher://127.0.0.1:{port}/",
]
# A bug must fail fast, not wait for an unroutable address to time out.
GUARDED = "[remote]\ntimeout_seconds = 3\n"


def mine(config) -> None:
    write_pack(config.packs_dir, "mine", {"a": "a.png"}, {"license": "x"})


def under(target: str, path: str) -> str:
    return target + path if target.startswith("http") else target


async def attempts(c, target: str) -> dict[str, object]:
    """Every way a URL reaches the remote client, and what each answered."""
    return {
        "remote listing": await c.get(REMOTE, params={"url": target}),
        "2019 list_from": await c.post("/api/pleroma/emoji/packs/list_from", json={"instance_address": target}),
        "download": await c.post(DOWNLOAD, json={"url": target, "name": "blobs"}),
        "2019 download_from": await c.post("/api/pleroma/emoji/packs/download_from",
                                           json={"instance_address": target, "pack_name": "blobs"}),
        "fallback-src": await c.patch(PACK, params={"name": "mine"},
                                      json={"metadata": {"fallback-src": under(target, "/fb.zip")}}),
        "upload by URL": await c.post(FILES, params={"name": "mine"}, data={"file": under(target, "/b.png")}),
    }


def publish_everything(stub: FakePleroma) -> None:
    """What an unguarded fetch would find on the stub: a pack, a fallback archive, an image."""
    archive = zip_bytes({"a.png": png_bytes()})
    stub.add("blobs", {"a": "a.png"}, {"share-files": True}, archive)
    stub.publish("/fb.zip", archive)
    stub.publish("/b.png", png_bytes("blue"))


async def test_private_targets_are_refused_before_connecting(tmp_path: Path, subtests):
    async with serving_stub(FakePleroma()) as stub, serving(tmp_path, GUARDED, mine) as local:
        publish_everything(stub)
        port = stub.url.rsplit(":", 1)[1]
        before = tree(local.packs_dir)
        async with local.admin() as c:
            for pattern in TARGETS:
                target = pattern.format(port=port)
                with subtests.test(target):
                    for what, r in (await attempts(c, target)).items():
                        error = assert_client_error(r).lower()
                        assert any(w in error for w in ("refusing to connect", "only http and https", "invalid url")), \
                            (what, error)
                    assert stub.requests == [], [s.path for s in stub.requests]
        await assert_nothing_written(local, before, "blobs")
        async with local.admin() as c:
            r = await c.get(PACK, params={"name": "mine"})
            assert r.json()["files"] == {"a": "a.png"}
            assert "fallback-src" not in r.json()["pack"]


async def test_the_same_requests_reach_the_stub_when_private_addresses_are_allowed(tmp_path: Path):
    """The control: without the guard, the stub above is reachable and does get asked."""
    async with serving_stub(FakePleroma()) as stub, serving(tmp_path, PRIVATE_OK, mine) as local:
        publish_everything(stub)
        port = stub.url.rsplit(":", 1)[1]
        async with local.admin() as c:
            answers = await attempts(c, f"http://localhost:{port}")
        assert answers["remote listing"].status_code == 200, answers["remote listing"].text
        assert answers["download"].status_code == 200, answers["download"].text
        assert answers["fallback-src"].status_code == 200, answers["fallback-src"].text
        assert answers["upload by URL"].status_code == 200, answers["upload by URL"].text
        assert stub.count(FakePleroma.ARCHIVE) == 1
        assert stub.count("/fb.zip") == 1 and stub.count("/b.png") == 1
        assert leftovers(local) == []


# -- redirects ------------------------------------------------------------------------


def only_127_0_0_1(ip) -> bool:
    return str(ip) == "127.0.0.1"


async def test_redirect_to_a_refused_address_is_not_followed(tmp_path: Path):
    """The real RemoteClient with a narrower policy: 127.0.0.1 allowed, 127.0.0.2 not."""
    first, second = Stub(), Stub()
    async with serving_stub(second, host="127.0.0.2"), serving_stub(first, host="127.0.0.1"):
        second.json("/target", {"secret": True})
        second.bytes("/archive.zip", b"PK\x05\x06" + b"\0" * 18)
        first.redirect("/start", second.url + "/target")
        first.redirect("/archive", second.url + "/archive.zip", status=307)
        first.json("/here", {"fine": True})
        first.redirect("/local-hop", first.url + "/here", status=301)
        first.redirect("/to-file", "file:///etc/passwd")

        async with RemoteClient(RemoteConfig(timeout_seconds=3), allowed=only_127_0_0_1) as client:
            # Sanity: the policy lets 127.0.0.1 through, redirects included.
            assert await client.get_json(first.url + "/here") == {"fine": True}
            assert await client.get_json(first.url + "/local-hop") == {"fine": True}

            with pytest.raises(RemoteRefused) as refused:
                await client.get_json(first.url + "/start")
            assert "127.0.0.2" in str(refused.value)

            with pytest.raises(RemoteRefused):
                await client.get_json(second.url + "/target")

            downloads = tmp_path
            before = sorted(p.name for p in downloads.iterdir())
            with pytest.raises(RemoteRefused):
                await client.download(first.url + "/archive", downloads)
            assert sorted(p.name for p in downloads.iterdir()) == before

            with pytest.raises((RemoteRefused, RemoteError)):
                await client.get_json(first.url + "/to-file")

        assert second.requests == []
        assert [r.path for r in first.requests].count("/start") == 1
        assert [r.path for r in first.requests].count("/archive") == 1


async def test_default_policy_refuses_every_loopback_address():
    stub = Stub()
    async with serving_stub(stub, host="127.0.0.1"):
        stub.json("/x", {})
        async with RemoteClient(RemoteConfig(timeout_seconds=3)) as client:
            for url in (stub.url + "/x", stub.url.replace("127.0.0.1", "localhost") + "/x"):
                with pytest.raises(RemoteRefused):
                    await client.get_json(url)
        assert stub.requests == []
