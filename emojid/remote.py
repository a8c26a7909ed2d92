"""The remote client: every fetch emojid makes of another server goes through here.

- The SSRF guard sits in the connection layer: each hostname is resolved by
  us, every address is checked, and the connection goes to the address that
  was checked. Redirect hops open new connections, so they are checked too,
  and nothing is ever sent to a refused address.
- An address is public only if every IPv4 address it leads to is public too:
  IPv4-mapped (::ffff:0:0/96) and NAT64 well-known-prefix (64:ff9b::/96)
  addresses are judged as the IPv4 address they carry; 6to4 (2002::/16, the
  IPv4 in bits 16-47), Teredo (2001::/32, the server IPv4 in bits 32-63 and the
  client IPv4 as the inverted last 32 bits) and ISATAP interface ids
  (::[02]00:5efe:a.b.c.d) are refused unless both the IPv6 address and every
  IPv4 address inside are public (Python counts Teredo's 2001::/32 as not
  global, so Teredo is refused whatever it carries); the deprecated
  IPv4-compatible block (::/96) and the local-use NAT64 prefix
  (64:ff9b:1::/48, whose IPv4 position depends on the operator's prefix
  length) are refused whole.
- Every request has a whole-request deadline, on top of httpx's per-read
  timeout (a remote dripping one byte a second never trips a per-read
  timeout): connecting, every redirect hop, the headers and the whole body
  must be done within it, or RemoteError ("... timed out ..."). A JSON fetch
  gets `timeout_seconds`; a download gets `timeout_seconds` plus one second
  per MiB it may be (`timeout_seconds + limit / DOWNLOAD_FLOOR_RATE`, the
  limit being `max_download_bytes` or the smaller per-call one): with the
  defaults 30 s for JSON and 130 s for an archive. So an archive at the size
  limit needs a remote serving about 1 MiB/s, a smaller one proportionally less.
- An operation of several requests (`RemoteClient.operation`: list a remote,
  look up a pack's files page by page, download it) is bounded as a whole
  too: each request ends by its own deadline or the operation's, whichever
  comes first, so a remote answering every page just in time cannot hold a
  call for ever.
- Downloads stream to a temporary file, hashing SHA256 on the way and
  stopping at `max_download_bytes`: no archive is ever held in memory, and
  the file is written once. Hashing and writing run in a thread of their
  own, one batch (WRITE_BATCH) behind the receiving loop.
- Statuses: a remote that fails (an error status, an answer that is not what
  was asked, a timeout, too large, a wrong SHA256) is RemoteError, 502; one
  that cannot be reached at all (refused, unresolvable) is RemoteUnreachable,
  the 500 Pleroma documents for its remote routes. The Pleroma pack routes
  answer 500 for every remote failure (emojid.emoji.remote_packs).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from emojid import __version__, strict_json
from emojid.config import RemoteConfig
from emojid.errors import BadRequest, EmojidError, ServerError
from emojid.files import pid_prefix

USER_AGENT = f"emojid/{__version__} (+https://github.com/emojid/emojid; emoji pack sync)"
MAX_REDIRECTS = 5
# A download's deadline grants this many bytes a second over its whole size limit (module docstring).
DOWNLOAD_FLOOR_RATE = 1 << 20
# A download's body goes to the hashing and writing thread in batches of about this size:
# few hand-overs, and at most two batches (one being written, one filling) in memory.
WRITE_BATCH = 1 << 20
# The most read from a connection at once (WideReads): what the event loop hands over in one go.
READ_BYTES = 256 << 10
# A batch of more chunks than this is joined before it is written (writev takes at most IOV_MAX, 1024).
GATHER_CHUNKS = 64


class RemoteError(ServerError):
    """A remote server failed: it answered badly, too slowly or too much (502, Bad Gateway)."""

    status = 502

    def __init__(self, message: str, remote_status: int | None = None, status: int | None = None) -> None:
        super().__init__(message, status)
        self.remote_status = remote_status


class RemoteUnreachable(RemoteError):
    """The remote cannot be reached at all (refused, unresolvable): Pleroma's documented 500."""

    status = 500


class RemoteRefused(BadRequest):
    """The SSRF guard refused a target before connecting to it."""


class AddressRefused(RemoteRefused):
    """The target is not a public address (`[remote] allow_private_addresses` lifts the guard)."""


class RemoteTooLarge(RemoteError):
    """A remote answer went past its byte limit (the remote's fault)."""


class ChecksumMismatch(RemoteError):
    """The bytes the remote sent are not the ones it announced."""


# The end (time.monotonic()) and length in seconds of the operation the current task is in.
_operation: ContextVar[tuple[float, float] | None] = ContextVar("emojid_remote_operation", default=None)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]

IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291), never routed
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215; operator-chosen layout
ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # bits 64-95 of an ISATAP address (RFC 5214)


def _globally_routable(ip: IpAddress) -> bool:
    return not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or not ip.is_global
    )


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a packet sent to `ip` may be delivered to, through a translator or tunnel.

    IPv4-mapped and IPv4-compatible (the last 32 bits), NAT64 with the
    well-known prefix (the last 32 bits), 6to4 (bits 16-47), Teredo (the server
    at bits 32-63 and the client, the inverted last 32 bits) and ISATAP (the
    last 32 bits). Empty for an address that carries none.
    """
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in IPV4_COMPATIBLE or ip in NAT64_WELL_KNOWN:
        found.append(low32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ((int(ip) >> 32) & 0xFFFFFFFF) in ISATAP_IDS:
        found.append(low32)
    return found


def public_address(ip: IpAddress) -> bool:
    """Only globally routable unicast addresses, and only ones that lead to public IPv4 addresses.

    IPv4-mapped and NAT64 well-known-prefix addresses are judged as the IPv4
    address they carry; any other address carrying IPv4 (6to4, Teredo, ISATAP)
    must be public itself and carry only public IPv4 addresses; IPv4-compatible
    and local-use NAT64 addresses are refused whole.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _globally_routable(ip)
    if ip.ipv4_mapped is not None:
        return _globally_routable(ip.ipv4_mapped)
    if ip in NAT64_WELL_KNOWN:
        return _globally_routable(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in IPV4_COMPATIBLE or ip in NAT64_LOCAL_USE:
        return False
    return _globally_routable(ip) and all(_globally_routable(v4) for v4 in embedded_ipv4(ip))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address itself (no DNS rebinding)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, allowed: Callable[[IpAddress], bool],
                 resolver: Resolver | None = None) -> None:
        self.inner = inner
        self.allowed = allowed
        self.resolver: Resolver = resolver or resolve

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolver(host, port)
        refused = [ip for ip in addresses if not self.allowed(ip)]
        if refused:
            raise AddressRefused(f"Refusing to connect to {host}: {refused[0]} is not a public address")
        stream = await self.inner.connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)
        return WideReads(stream)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise RemoteRefused("Refusing to connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class WideReads(httpcore.AsyncNetworkStream):
    """A connection read READ_BYTES at a time, whatever httpcore asks (64 KiB): a large body
    takes a quarter of the trips through h11 and httpx (h11 takes data of any size)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max(max_bytes, READ_BYTES), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return WideReads(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


async def resolve(host: str, port: int) -> list[IpAddress]:
    host = host.strip("[]").rstrip(".")
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RemoteUnreachable(f"Could not resolve {host}: {exc.strerror}") from None
    addresses = []
    for *_rest, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise RemoteUnreachable(f"Could not resolve {host}")
    return addresses


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, or RemoteRefused."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise RemoteRefused(f"Invalid URL: {url!r}") from None
    if parts.scheme not in ("http", "https"):
        raise RemoteRefused(f"Only http and https URLs can be fetched, not {url!r}")
    if not parts.hostname:
        raise RemoteRefused(f"URL has no host: {url!r}")
    try:
        httpx.URL(url)  # stricter than urlsplit: e.g. refuses the octal host 0177.0.0.1
    except httpx.InvalidURL as exc:
        raise RemoteRefused(f"Invalid URL: {url!r} ({exc})") from None
    return url


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str  # uppercase hex
    size: int
    content_type: str | None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one verifying TLS context of the process, shared by its remote clients: each
    build reads certifi's whole bundle (~20 ms), which every server start and every CLI
    command paid twice over."""
    return ssl.create_default_context(cafile=certifi.where())


class RemoteClient:
    """httpx with the guard, a timeout, bounded redirects and a clear User-Agent.

    Usage:
        async with RemoteClient(config.remote) as remote:
            packs = await remote.get_json("https://pleroma.example/api/v1/pleroma/emoji/packs")
    """

    def __init__(self, config: RemoteConfig, allowed: Callable[[IpAddress], bool] | None = None, *,
                 network_backend: httpcore.AsyncNetworkBackend | None = None,
                 resolver: Resolver | None = None) -> None:
        """`network_backend` (what connects to a checked address) and `resolver` are seams for tests."""
        self.config = config
        if allowed is None:
            allowed = (lambda ip: True) if config.allow_private_addresses else public_address
        transport = httpx.AsyncHTTPTransport(retries=0, verify=tls_context())
        # httpx has no public hook for the network backend; the pool is rebuilt with ours.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(),
            max_connections=20,
            network_backend=GuardedBackend(network_backend or httpcore.AnyIOBackend(), allowed, resolver),
        )
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,  # a proxy would make the guard check the proxy, not the target
            headers={"user-agent": USER_AGENT},
        )

    async def __aenter__(self) -> RemoteClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    def json_deadline(self) -> float:
        """Seconds a JSON fetch may take in all (module docstring)."""
        return float(self.config.timeout_seconds)

    def download_deadline(self, limit: int) -> float:
        """Seconds a download of at most `limit` bytes may take in all (module docstring)."""
        return self.config.timeout_seconds + limit / DOWNLOAD_FLOOR_RATE

    @contextlib.contextmanager
    def operation(self, seconds: float) -> Iterator[None]:
        """Every request made inside (by this task) ends within `seconds` from now in all.

        Nested operations never extend an outer one: the earlier end holds.
        """
        end = time.monotonic() + seconds
        outer = _operation.get()
        if outer is not None and outer[0] <= end:
            yield
            return
        token = _operation.set((end, seconds))
        try:
            yield
        finally:
            _operation.reset(token)

    @contextlib.asynccontextmanager
    async def _stream(self, url: str, accept: str, deadline: float) -> AsyncIterator[httpx.Response]:
        """The response to GET `url`; the caller's reading of the body counts against `deadline`
        too, and against the end of the operation it is part of, if that comes first."""
        check_url(url)
        seconds, whole = deadline, None
        op = _operation.get()
        if op is not None and op[0] - time.monotonic() < deadline:
            seconds, whole = max(op[0] - time.monotonic(), 0.0), op[1]
        try:
            async with asyncio.timeout(seconds):
                async with self.client.stream("GET", url, headers={"accept": accept}) as response:
                    yield response
        except EmojidError:
            raise
        except TimeoutError:
            if whole is not None:
                raise RemoteError(f"{url}: timed out, the whole operation took more than {whole:g} s") from None
            raise RemoteError(f"{url}: timed out, no complete answer within {deadline:g} s") from None
        except httpx.TooManyRedirects:
            raise RemoteError(f"{url}: too many redirects") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # Also a redirect to a URL that cannot be fetched: refused before connecting.
            raise RemoteRefused(f"{url}: {exc}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RemoteUnreachable(f"{url}: cannot be reached ({exc.__class__.__name__}: {exc})") from None
        except httpx.TimeoutException:
            raise RemoteError(f"{url}: timed out after {self.config.timeout_seconds} s") from None
        except httpx.HTTPError as exc:
            raise RemoteError(f"{url}: {exc.__class__.__name__}: {exc}") from None

    async def get_json(self, url: str, max_bytes: int = 16 << 20, accept: str = "application/json") -> Any:
        """GET a JSON document (bounded); RemoteError for any non-2xx or non-JSON answer."""
        max_bytes = min(max_bytes, self.config.max_download_bytes)
        async with self._stream(url, accept, self.json_deadline()) as response:
            if not response.is_success:
                raise RemoteError(f"{url} answered {response.status_code}", remote_status=response.status_code)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise RemoteTooLarge(f"{url}: answer larger than the limit of {max_bytes} bytes")
        try:
            return strict_json.loads(body)  # no NaN or Infinity: we would store and serve them
        except (ValueError, UnicodeDecodeError):
            raise RemoteError(f"{url} did not answer JSON") from None

    async def download(self, url: str, directory: Path, max_bytes: int | None = None,
                       progress: Callable[[int, int | None], None] | None = None) -> Downloaded:
        """Stream `url` into a new temp file in `directory`, hashing as it comes.

        `progress(bytes_so_far, declared_total_or_None)` is called after each batch.
        The whole download must be done within `download_deadline(limit)` seconds.
        """
        limit = min(max_bytes or self.config.max_download_bytes, self.config.max_download_bytes)
        directory.mkdir(parents=True, exist_ok=True)
        # The pid in the name: a start-up removes the download of a killed process at once.
        fd, name = tempfile.mkstemp(dir=directory, prefix=pid_prefix("download-"))
        path = Path(name)
        sink = _HashingWriter(fd)
        size = 0
        try:
            try:
                async with self._stream(url, "*/*", self.download_deadline(limit)) as response:
                    if not response.is_success:
                        raise RemoteError(f"Could not download {url}: it answered {response.status_code}",
                                          remote_status=response.status_code)
                    declared = response.headers.get("content-length")
                    total = int(declared) if declared and declared.isdigit() else None
                    if total is not None and total > limit:
                        raise RemoteTooLarge(f"{url} is {declared} bytes; the limit is {limit}")
                    if progress is not None:
                        progress(0, total)  # the size is known now, before the first MiB
                    batch: list[bytes] = []
                    batched = 0
                    # Decoded bytes: the limit also holds against a gzip bomb.
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise RemoteTooLarge(f"{url} is larger than the limit of {limit} bytes")
                        batch.append(chunk)
                        batched += len(chunk)
                        if batched >= WRITE_BATCH:
                            await sink.write(batch)
                            batch, batched = [], 0
                            if progress is not None:
                                progress(size, total)
                    await sink.write(batch)
                    await sink.drain()
                    content_type = response.headers.get("content-type")
            finally:
                sink.close()
            if progress is not None:
                progress(size, total)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return Downloaded(path, sink.digest.hexdigest().upper(), size, content_type)


class _HashingWriter:
    """Hashes and writes a download's batches, in order, in a thread of its own one batch
    behind the receiving loop: sha256 and write(2) release the GIL, so on two cores they
    overlap receiving instead of following it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.digest = hashlib.sha256()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="emojid-download")
        self._pending: asyncio.Future[None] | None = None

    def _write(self, chunks: list[bytes]) -> None:
        if len(chunks) > GATHER_CHUNKS:  # a dripping remote's crumbs: one buffer, and one hash update
            chunks = [b"".join(chunks)]
        for chunk in chunks:
            self.digest.update(chunk)
        # One writev of the chunks as they came: no copy to join them (it may write less: the rest goes again).
        views = [memoryview(chunk) for chunk in chunks]
        try:
            while views:
                written = os.writev(self.fd, views)
                while views and written >= len(views[0]):
                    written -= len(views.pop(0))
                if views:
                    views[0] = views[0][written:]
        except OSError as exc:  # our disk, not the remote: a 500 that says so (507 when full, by the cause)
            raise ServerError(f"Could not store a download: {exc.strerror or exc}") from exc

    async def write(self, chunks: list[bytes]) -> None:
        await self.drain()
        if chunks:
            self._pending = asyncio.get_running_loop().run_in_executor(self._pool, self._write, chunks)

    async def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    def close(self) -> None:
        """Closes the file once the batch in the thread is written (a timeout abandons the wait,
        not the write: the descriptor must not be closed under it)."""
        self._pool.shutdown(wait=True)
        os.close(self.fd)


def verify_sha256(downloaded: Downloaded, expected: str | None, url: str) -> None:
    if not expected or downloaded.sha256 != str(expected).strip().upper():
        raise ChecksumMismatch("SHA256 for the pack doesn't match the one sent by the server")
