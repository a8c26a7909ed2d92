"""The remote client: every fetch emojid makes of another server goes through here.

- The SSRF guard sits in the connection layer: each hostname is resolved by
  us, every address is checked, and the connection goes to the address that
  was checked. Redirect hops open new connections, so they are checked too,
  and nothing is ever sent to a refused address.
- Downloads stream to a temporary file, hashing SHA256 on the way and
  stopping at `max_download_bytes`: no archive is ever held in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiofiles
import certifi
import httpcore
import httpx

from emojid import __version__
from emojid.config import RemoteConfig
from emojid.errors import BadRequest, EmojidError, ServerError

USER_AGENT = f"emojid/{__version__} (+https://github.com/emojid/emojid; emoji pack sync)"
MAX_REDIRECTS = 5


class RemoteError(ServerError):
    """A remote server could not be reached or answered badly (Pleroma says 500)."""

    def __init__(self, message: str, remote_status: int | None = None) -> None:
        super().__init__(message)
        self.remote_status = remote_status


class RemoteRefused(BadRequest):
    """The SSRF guard refused a target before connecting to it."""


class RemoteTooLarge(RemoteError):
    """A remote answer went past its byte limit (the remote's fault: 500, as Pleroma)."""


class ChecksumMismatch(ServerError):
    pass


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def public_address(ip: IpAddress) -> bool:
    """Only globally routable unicast addresses; IPv4-mapped IPv6 is judged as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or not ip.is_global
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address itself (no DNS rebinding)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, allowed: Callable[[IpAddress], bool]) -> None:
        self.inner = inner
        self.allowed = allowed

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port)
        refused = [ip for ip in addresses if not self.allowed(ip)]
        if refused:
            raise RemoteRefused(f"Refusing to connect to {host}: {refused[0]} is not a public address")
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
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
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

    def __init__(self, config: RemoteConfig, allowed: Callable[[IpAddress], bool] | None = None) -> None:
        self.config = config
        if allowed is None:
            allowed = (lambda ip: True) if config.allow_private_addresses else public_address
        transport = httpx.AsyncHTTPTransport(retries=0)
        # httpx has no public hook for the network backend; the pool is rebuilt with ours.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=20,
            network_backend=GuardedBackend(httpcore.AnyIOBackend(), allowed),
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

    @contextlib.asynccontextmanager
    async def _stream(self, url: str, accept: str) -> AsyncIterator[httpx.Response]:
        check_url(url)
        try:
            async with self.client.stream("GET", url, headers={"accept": accept}) as response:
                yield response
        except EmojidError:
            raise
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
        async with self._stream(url, accept) as response:
            if not response.is_success:
                raise RemoteError(f"{url} answered {response.status_code}", remote_status=response.status_code)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise RemoteTooLarge(f"{url}: answer larger than the limit of {max_bytes} bytes")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RemoteError(f"{url} did not answer JSON") from None

    async def download(self, url: str, directory: Path, max_bytes: int | None = None,
                       progress: Callable[[int, int | None], None] | None = None) -> Downloaded:
        """Stream `url` into a new temp file in `directory`, hashing as it comes.

        `progress(bytes_so_far, declared_total_or_None)` is called after each chunk.
        """
        limit = min(max_bytes or self.config.max_download_bytes, self.config.max_download_bytes)
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="download-")
        os.close(fd)
        path = Path(name)
        digest = hashlib.sha256()
        size = 0
        try:
            async with self._stream(url, "*/*") as response:
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
