"""Hardening of the remote client: a whole-request deadline, and IPv6 forms that carry an IPv4 address.

The deadline tests use a stub on 127.0.0.1 that drips its answer one byte at
a time, fast enough never to trip httpx's per-read timeout. The address tests
never connect anywhere but loopback: the guard's decision is checked on the
function itself, and through the real RemoteClient with a resolver that maps
test hostnames and a network backend that records every connection asked of
it and only ever really connects to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpcore
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emojid.config import RemoteConfig
from emojid.remote import (
    DOWNLOAD_FLOOR_RATE,
    IpAddress,
    RemoteClient,
    RemoteError,
    RemoteRefused,
    embedded_ipv4,
    public_address,
)
from tests.conftest import serving
from tests.helpers import png_bytes, tree, zip_bytes
from tests.remote.checks import DOWNLOAD, PRIVATE_OK, REMOTE, assert_error, assert_nothing_written
from tests.remote.stubs import FakePleroma, Stub, pack_json, serving_stub

# -- the whole-request deadline ------------------------------------------------------

TIMEOUT = 1  # [remote] timeout_seconds in these tests: the per-read timeout and the JSON deadline
LIMIT = 1 << 20  # max_download_bytes: a download's deadline is TIMEOUT + LIMIT / DOWNLOAD_FLOOR_RATE = 2 s
DRIPPING = PRIVATE_OK + f"timeout_seconds = {TIMEOUT}\nmax_download_bytes = {LIMIT}\n"
MARGIN = 1.5  # seconds allowed past a deadline (scheduling, the fast requests before the slow one)
EVERY = 0.1  # seconds between two bytes of a dripped answer: far below the per-read timeout


def drip(body: bytes, media_type: str = "application/json") -> Any:
    """A handler answering `body` one byte every EVERY seconds (a whole answer takes len(body) * EVERY)."""
    def handler(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(len(body)):
                await asyncio.sleep(EVERY)
                yield body[i:i + 1]
        return StreamingResponse(chunks(), media_type=media_type)
    return handler


def slow_json(document: object, seconds: float) -> bytes:
    """Valid JSON padded with leading spaces so that dripping it takes `seconds`."""
    text = json.dumps(document).encode()
    return b" " * max(0, int(seconds / EVERY) - len(text)) + text


async def test_remote_listing_from_a_dripping_remote_fails_within_the_deadline(tmp_path: Path) -> None:
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path, DRIPPING) as local:
        # Six seconds of nodeinfo, a byte every 0.1 s: no read ever waits a whole second.
        links = {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{remote.url}/nodeinfo/2.1.json"}]}
        remote.route("/.well-known/nodeinfo", drip(slow_json(links, 6)))
        async with local.admin() as c:
            started = time.monotonic()
            r = await c.get(REMOTE, params={"url": remote.url})
            elapsed = time.monotonic() - started
        assert_error(r, 500, contains=("timed out", "/.well-known/nodeinfo"))
        assert TIMEOUT - 0.2 <= elapsed < TIMEOUT + MARGIN, elapsed


async def test_download_of_a_dripping_archive_fails_within_its_deadline(tmp_path: Path) -> None:
    files = {"a": "a.png"}
    archive = zip_bytes({"pack.json": pack_json(files, {"share-files": True}), "a.png": png_bytes()})
    deadline = TIMEOUT + LIMIT / DOWNLOAD_FLOOR_RATE
    remote = FakePleroma()
    async with serving_stub(remote), serving(tmp_path, DRIPPING) as local:
        remote.add("blobs", files, {"share-files": True}, archive)
        # The real archive, but dripped: about 6 s for its first 60 bytes alone.
        remote.route(FakePleroma.ARCHIVE, drip(archive, "application/zip"))
        before = tree(local.packs_dir)
        async with local.admin() as c:
            started = time.monotonic()
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"})
            elapsed = time.monotonic() - started
        assert_error(r, 500, contains=("timed out",))
        assert deadline - 0.2 <= elapsed < deadline + MARGIN, elapsed
        assert remote.count(FakePleroma.ARCHIVE) == 1
        await assert_nothing_written(local, before, "blobs")


async def test_client_deadlines_leave_no_temp_file_and_the_client_usable(tmp_path: Path) -> None:
    stub = Stub()
    async with serving_stub(stub):
        stub.route("/slow.json", drip(slow_json({"fine": True}, 5)))
        stub.route("/slow.zip", drip(b"PK" * 40, "application/zip"))
        stub.json("/quick.json", {"quick": True})
        config = RemoteConfig(allow_private_addresses=True, timeout_seconds=TIMEOUT, max_download_bytes=LIMIT)
        async with RemoteClient(config) as client:
            started = time.monotonic()
            with pytest.raises(RemoteError, match="timed out") as failed:
                await client.get_json(stub.url + "/slow.json")
            assert time.monotonic() - started < TIMEOUT + MARGIN
            assert stub.url + "/slow.json" in str(failed.value)

            # A smaller per-call limit means a shorter deadline.
            small = 1 << 19
            assert client.download_deadline(small) == TIMEOUT + 0.5
            started = time.monotonic()
            with pytest.raises(RemoteError, match="timed out"):
                await client.download(stub.url + "/slow.zip", tmp_path / "downloads", max_bytes=small)
            assert TIMEOUT + 0.5 - 0.2 <= time.monotonic() - started < TIMEOUT + 0.5 + MARGIN
            assert list((tmp_path / "downloads").iterdir()) == []

            # The timed-out connections did not poison the pool.
            assert await client.get_json(stub.url + "/quick.json") == {"quick": True}


async def test_deadline_rule() -> None:
    async with RemoteClient(RemoteConfig()) as client:  # the defaults: 30 s, 100 MiB
        assert client.json_deadline() == 30
        assert client.download_deadline(RemoteConfig().max_download_bytes) == 30 + 100
        assert client.download_deadline(1 << 20) == 31


# -- IPv6 addresses carrying an IPv4 address -------------------------------------------


def teredo(server: str, client: str) -> str:
    """2001:0:<server>:<flags, port>:<client inverted>, as RFC 4380 lays it out (flags and port 0)."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64)
    return str(ipaddress.IPv6Address(value | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)))


REFUSED = {
    "6to4 of 127.0.0.1": "2002:7f00:1::",
    "6to4 of 127.0.0.1, host bits set": "2002:7f00:1:1234::1",
    "6to4 of 10.0.0.1": "2002:a00:1::",
    "6to4 of 192.168.1.1": "2002:c0a8:101::1",
    "6to4 of 169.254.169.254": "2002:a9fe:a9fe::",
    "6to4 of 0.0.0.0": "2002::1",
    "6to4 of 100.64.0.1 (shared)": "2002:6440:1::",
    "Teredo, client 127.0.0.1": teredo("8.8.8.8", "127.0.0.1"),
    "Teredo, server 10.0.0.1": teredo("10.0.0.1", "8.8.4.4"),
    "Teredo, both public": teredo("8.8.8.8", "8.8.4.4"),  # 2001::/32 is not global at all
    "NAT64 of 127.0.0.1": "64:ff9b::7f00:1",
    "NAT64 of 10.0.0.1": "64:ff9b::10.0.0.1",
    "NAT64 of 169.254.169.254": "64:ff9b::169.254.169.254",
    "local-use NAT64 of 127.0.0.1 (/96 layout)": "64:ff9b:1::7f00:1",
    "local-use NAT64 of 127.0.0.1 (/48 layout)": "64:ff9b:1:7f00:1::",
    "local-use NAT64 of 8.8.8.8": "64:ff9b:1::808:808",
    "IPv4-mapped 127.0.0.1": "::ffff:127.0.0.1",
    "IPv4-mapped 192.168.0.1": "::ffff:c0a8:1",
    "IPv4-compatible 127.0.0.1": "::127.0.0.1",
    "IPv4-compatible 8.8.8.8": "::8.8.8.8",
    "ISATAP of 127.0.0.1": "2606:4700::5efe:7f00:1",
    "ISATAP (u bit) of 10.0.0.1": "2606:4700::200:5efe:a00:1",
    "6to4 of 8.8.8.8 with an ISATAP id of 127.0.0.1": "2002:808:808::5efe:7f00:1",
}

ALLOWED = {
    "IPv4": "8.8.8.8",
    "IPv6": "2606:4700:4700::1111",
    "6to4 of 8.8.8.8": "2002:808:808::",
    "NAT64 of 8.8.8.8": "64:ff9b::8.8.8.8",
    "IPv4-mapped 8.8.8.8": "::ffff:8.8.8.8",
    "ISATAP of 8.8.8.8": "2606:4700::5efe:808:808",
}


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_ipv6_wrapping_a_non_public_ipv4_is_refused(address: str) -> None:
    assert not public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())
def test_public_addresses_and_wrapped_public_ipv4_are_allowed(address: str) -> None:
    assert public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(("address", "carried"), [
    ("2002:7f00:1::", ["127.0.0.1"]),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", ["65.54.227.120", "192.0.2.45"]),  # RFC 4380's example
    (teredo("8.8.8.8", "127.0.0.1"), ["8.8.8.8", "127.0.0.1"]),
    ("64:ff9b::7f00:1", ["127.0.0.1"]),
    ("::ffff:127.0.0.1", ["127.0.0.1"]),
    ("::127.0.0.1", ["127.0.0.1"]),
    ("fe80::200:5efe:a00:1", ["10.0.0.1"]),
    ("2606:4700:4700::1111", []),
])
def test_embedded_ipv4_unwraps_each_form(address: str, carried: list[str]) -> None:
    ip = ipaddress.IPv6Address(address)
    assert embedded_ipv4(ip) == [ipaddress.IPv4Address(a) for a in carried]


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    """Records every connection asked of it; really connects only to 127.0.0.1, refuses the rest."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.asked: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.asked.append(host)
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"test backend: no connection to {host}")
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("test backend: no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


HOSTS = {
    "sixtofour.test": "2002:7f00:1::",
    "nat64.test": "64:ff9b::7f00:1",
    "teredo.test": teredo("8.8.8.8", "127.0.0.1"),
    "mixed.test": "2606:4700:4700::1111 2002:a9fe:a9fe::",  # one bad address refuses the host
    "public6to4.test": "2002:808:808::",
}


async def mapped_resolve(host: str, port: int) -> list[IpAddress]:
    """Test hostnames from HOSTS and IP literals; no name is ever looked up for real."""
    name = host.strip("[]").rstrip(".")
    if name in HOSTS:
        return [ipaddress.ip_address(a) for a in HOSTS[name].split()]
    return [ipaddress.ip_address(name)]


def guarded_for_loopback_stub(ip: IpAddress) -> bool:
    """The default policy, plus 127.0.0.1 itself so the stub can start a redirect."""
    return str(ip) == "127.0.0.1" or public_address(ip)


async def test_client_refuses_wrapped_loopback_before_connecting(tmp_path: Path) -> None:
    backend = LoopbackOnly()
    stub = Stub()
    async with serving_stub(stub):
        port = stub.url.rsplit(":", 1)[1]
        stub.redirect("/to-6to4", f"http://[2002:7f00:1::]:{port}/x")
        stub.redirect("/to-nat64-name", f"http://nat64.test:{port}/x", status=307)
        stub.json("/here", {"fine": True})
        async with RemoteClient(RemoteConfig(timeout_seconds=3), allowed=guarded_for_loopback_stub,
                                network_backend=backend, resolver=mapped_resolve) as client:
            assert await client.get_json(stub.url + "/here") == {"fine": True}  # the seam does connect
            targets = [f"http://[2002:7f00:1::]:{port}/x", f"http://[64:ff9b::7f00:1]:{port}/x",
                       f"http://[{teredo('8.8.8.8', '127.0.0.1')}]:{port}/x",
                       f"http://sixtofour.test:{port}/x", f"http://teredo.test:{port}/x", f"http://mixed.test:{port}/x",
                       stub.url + "/to-6to4", stub.url + "/to-nat64-name"]
            for url in targets:
                with pytest.raises(RemoteRefused, match="Refusing to connect"):
                    await client.get_json(url)
            with pytest.raises(RemoteRefused):
                await client.download(f"http://sixtofour.test:{port}/a.zip", tmp_path)
            assert list(tmp_path.iterdir()) == []

            # The control: a 6to4 address of a public IPv4 passes the guard and reaches the backend.
            with pytest.raises(RemoteError):
                await client.get_json(f"http://public6to4.test:{port}/x")
        # Only the stub (its connection may be reused) and the public control were asked for.
        assert "127.0.0.1" in backend.asked
        assert [host for host in backend.asked if host != "127.0.0.1"] == ["2002:808:808::"]
        assert [r.path for r in stub.requests] == ["/here", "/to-6to4", "/to-nat64-name"]
