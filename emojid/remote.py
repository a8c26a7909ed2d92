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
  must be done within it, or RemoteError ("... timed out ...", a 500 as any
  other remote failure). A JSON fetch gets `timeout_seconds`; a download gets
  `timeout_seconds` plus one second per MiB it may be
  (`timeout_seconds + limit / DOWNLOAD_FLOOR_RATE`, the limit being
  `max_download_bytes` or the smaller per-call one): with the defaults 30 s
  for JSON and 130 s for an archive. So an archive at the size limit needs
  a remote serving about 1 MiB/s, a smaller one proportionally less.
- Downloads stream to a temporary file, hashing SHA256 on the way and
  stopping at `max_download_bytes`: no archive is ever held in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiofiles
import certifi
import httpcore
import httpx

from emojid import __version__, strict_json
from emojid.config import RemoteConfig
from emojid.errors import BadRequest, EmojidError, ServerError

USER_AGENT = f"emojid/{__version__} (+https://github.com/emojid/emojid; emoji pack sync)"
MAX_REDIRECTS = 5
# A download's deadline grants this many bytes a second over its whole size limit (module docstring).
DOWNLOAD_FLOOR_RATE = 1 << 20


class RemoteError(ServerError):
    """A remote server could not be reached or answered badly (Pleroma says 500)."""

    def __init__(self, message: str, remote_status: int | None = None) -> None:
        super().__init__(message)
        self.remote_status = remote_status


class RemoteRefused(BadRequest):
    """The SSRF guard refused a target before connecting to it."""


class AddressRefused(RemoteRefused):
    """The target is not a public address (`[remote] allow_private_addresses` lifts the guard)."""


class RemoteTooLarge(RemoteError):
    """A remote answer went past its byte limit (the remote's fault: 500, as Pleroma)."""


class ChecksumMismatch(ServerError):
    pass


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
        return await self.inner.connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise RemoteRefused("Refusing to connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def resolve(host: str, port: int) -> list[IpAddress]:
    host = host.strip("[]").rstrip(".")
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RemoteError(f"Could not resolve {host}: {exc.strerror}") from None
    addresses = []
    for *_rest, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise RemoteError(f"Could not resolve {host}")
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
        transport = httpx.AsyncHTTPTransport(retries=0)
        # httpx has no public hook for the network backend; the pool is rebuilt with ours.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
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

    @contextlib.asynccontextmanager
    async def _stream(self, url: str, accept: str, deadline: float) -> AsyncIterator[httpx.Response]:
        """The response to GET `url`; the caller's reading of the body counts against `deadline` too."""
        check_url(url)
        try:
            async with asyncio.timeout(deadline):
                async with self.client.stream("GET", url, headers={"accept": accept}) as response:
                    yield response
        except EmojidError:
            raise
        except TimeoutError:
            raise RemoteError(f"{url}: timed out, no complete answer within {deadline:g} s") from None
        except httpx.TooManyRedirects:
            raise RemoteError(f"{url}: too many redirects") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # Also a redirect to a URL that cannot be fetched: refused before connecting.
            raise RemoteRefused(f"{url}: {exc}") from None
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

        `progress(bytes_so_far, declared_total_or_None)` is called after each chunk.
        The whole download must be done within `download_deadline(limit)` seconds.
        """
        limit = min(max_bytes or self.config.max_download_bytes, self.config.max_download_bytes)
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="download-")
        os.close(fd)
        path = Path(name)
        digest = hashlib.sha256()
        size = 0
        try:
            async with self._stream(url, "*/*", self.download_deadline(limit)) as response:
                if not response.is_success:
                    raise RemoteError(f"Could not download {url}: it answered {response.status_code}", remote_status=response.status_code)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise RemoteTooLarge(f"{url} is {declared} bytes; the limit is {limit}")
                async with aiofiles.open(path, "wb") as out:
                    # Decoded bytes: the limit also holds against a gzip bomb.
                    async for chunk in response.aiter_bytes(1 << 20):
                        size += len(chunk)
                        if size > limit:
                            raise RemoteTooLarge(f"{url} is larger than the limit of {limit} bytes")
                        digest.update(chunk)
                        await out.write(chunk)
                        if progress is not None:
                            progress(size, int(declared) if declared and declared.isdigit() else None)
                content_type = response.headers.get("content-type")
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return Downloaded(path, digest.hexdigest().upper(), size, content_type)


def verify_sha256(downloaded: Downloaded, expected: str | None, url: str) -> None:
    if not expected or downloaded.sha256 != str(expected).strip().upper():
        raise ChecksumMismatch("SHA256 for the pack doesn't match the one sent by the server")
