"""Packs on other servers: list them, download one, check a fallback source.

A download is verified before anything is unpacked, unpacked into a hidden
staging folder inside packs_dir (same filesystem, never watched as a pack),
then moved into place with one rename. Any failure removes the staging
folder and the temp file: the store and the index are left as they were.

Statuses: the operations behind Pleroma's remote pack routes (`list_remote`:
`packs/remote`, `list_from`; `download`: `packs/download`, `download_from`)
answer 500 for every failure of the remote, with what went wrong, as Pleroma's
docs say for downloads and its listing does. Elsewhere (a fallback source, a
file by URL) a remote that fails is a 502 and one that cannot be reached a 500
(emojid.remote). Each operation is bounded as a whole (`RemoteClient.operation`).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread

from emojid.emoji.installer import archive_limits, install_archive
from emojid.emoji.names import check_pack_name, extension, safe_relpath
from emojid.emoji.packs import PackService
from emojid.emoji.zips import checked_entries, open_zip
from emojid.errors import BadRequest, Conflict, EmojidError, NotFound, PayloadTooLarge, ServerError
from emojid.http.uploads import Upload
from emojid.progress import Meters, metered
from emojid.remote import (
    RemoteClient,
    RemoteError,
    RemoteRefused,
    RemoteTooLarge,
    check_url,
    verify_sha256,
)

log = logging.getLogger("emojid.remote_packs")

NOT_SHAREABLE = "The requested instance does not support sharing emoji packs"
NO_SOURCE = "The pack was not set as shared and there is no fallback src to download from"
INCOMPLETE = "The fallback archive does not have all files specified in pack.json"
# Keys a listing adds to a pack's metadata; they are not the pack's own.
COMPUTED_KEYS = ("can-download", "download-sha256")


@contextlib.contextmanager
def pleroma_status() -> Iterator[None]:
    """Any failure of the remote answers 500, Pleroma's status for its remote pack routes
    (documented for downloads); the message stays."""
    try:
        yield
    except RemoteError as exc:
        exc.status = 500
        raise


def origin(url: str) -> str:
    """scheme://host[:port] of an instance URL, as Pleroma's URI.merge uses it."""
    parts = urlsplit(check_url(url))
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class RemotePack:
    base: str
    name: str
    files: dict[str, str]
    meta: dict[str, Any]
    archive_url: str
    sha256: str
    fallback: bool


class RemotePacks:
    def __init__(self, service: PackService, remote: RemoteClient) -> None:
        self.service = service
        self.remote = remote
        self.config = service.config

    # -- discovery -----------------------------------------------------

    async def check_shareable(self, base: str) -> None:
        links = await self.remote.get_json(f"{base}/.well-known/nodeinfo")
        try:
            href = links["links"][-1]["href"]
            info = await self.remote.get_json(href)
            features = info["metadata"]["features"]
        except (KeyError, IndexError, TypeError):
            raise RemoteError(NOT_SHAREABLE) from None
        if "shareable_emoji_packs" not in features:
            raise RemoteError(NOT_SHAREABLE)

    def _json_operation(self) -> contextlib.AbstractContextManager[None]:
        """A listing or a pack's description: every JSON request of it within one timeout_seconds
        more than one may take alone."""
        return self.remote.operation(2 * self.remote.json_deadline())

    async def list_remote(self, url: str, page: int, page_size: int, check: bool = True) -> Any:
        base = origin(url)
        with pleroma_status(), self._json_operation():
            return await self._list_remote(base, page, page_size, check)

    async def _list_remote(self, base: str, page: int, page_size: int, check: bool) -> Any:
        if check:
            await self.check_shareable(base)
        try:
            return await self.remote.get_json(f"{base}/api/v1/pleroma/emoji/packs?page={page}&page_size={page_size}")
        except RemoteError as exc:
            if exc.remote_status != 404:
                raise
        # A 2019 Pleroma: one unpaginated map of packs.
        packs = await self.remote.get_json(f"{base}/api/pleroma/emoji/packs")
        if isinstance(packs, dict) and "packs" not in packs:
            names = sorted(packs)
            chosen = names[(page - 1) * page_size: page * page_size]
            return {"packs": {n: packs[n] for n in chosen}, "count": len(names)}
        return packs

    async def _pack_document(self, base: str, name: str) -> tuple[dict[str, Any], bool]:
        """The remote pack.json with ALL its files, and whether the remote is a 2019 Pleroma."""
        show = f"{base}/api/v1/pleroma/emoji/pack?name={quote(name)}"
        try:
            head = await self.remote.get_json(f"{show}&page_size=0")
        except RemoteError as exc:
            if exc.remote_status != 404:
                raise
            return await self._old_pack_document(base, name), True
        total = head.get("files_count") if isinstance(head, dict) else None
        if not isinstance(total, int) or total < 0:
            raise RemoteError(f"{base} sent a malformed pack listing for {name}")
        # Ask for everything in one page, then page on if the remote caps page sizes.
        files: dict[str, str] = {}
        page, page_size = 1, max(total, 1)
        doc: dict[str, Any] = head
        while len(files) < total:
            doc = await self.remote.get_json(f"{show}&page={page}&page_size={page_size}")
            chunk = doc.get("files") if isinstance(doc, dict) else None
            if not isinstance(chunk, dict) or not chunk:
                break
            files.update(chunk)
            if page == 1 and len(chunk) < total:
                page_size = len(chunk)
            page += 1
        if len(files) != total:
            raise RemoteError(f"{base} listed {len(files)} of the {total} files of {name}")
        return {"files": files, "pack": doc.get("pack") or head.get("pack") or {}}, False

    async def _old_pack_document(self, base: str, name: str) -> dict[str, Any]:
        packs = await self.remote.get_json(f"{base}/api/pleroma/emoji/packs")
        if isinstance(packs, dict) and isinstance(packs.get("packs"), dict):
            packs = packs["packs"]
        doc = packs.get(name) if isinstance(packs, dict) else None
        if not isinstance(doc, dict):
            raise NotFound(f"Pack {name} does not exist on {base}")
        return doc

    async def describe(self, url: str, name: str, check: bool = True) -> RemotePack:
        base = origin(url)
        with self._json_operation():
            if check:
                await self.check_shareable(base)
            doc, old = await self._pack_document(base, name)
        files = doc.get("files")
        meta = doc.get("pack")
        if not isinstance(files, dict) or not isinstance(meta, dict):
            raise RemoteError(f"{base} sent a malformed pack.json for {name}")
        allowed = self.config.emoji.allowed_extensions
        pattern = re.compile(self.config.emoji.shortcode_pattern)
        for shortcode, filename in files.items():
            if not pattern.fullmatch(shortcode):
                raise RemoteError(f"Remote pack {name} has the shortcode {shortcode!r}, which does not match "
                                  f"{self.config.emoji.shortcode_pattern}")
            if not isinstance(filename, str) or safe_relpath(filename) != filename:
                raise RemoteError(f"Remote pack {name} lists an unsafe file path {filename!r} for {shortcode}")
            if extension(filename) not in allowed:
                raise RemoteError(f"Remote pack {name} lists {filename!r} for {shortcode}, which is not an allowed "
                                  f"emoji file type ({', '.join(allowed)})")
        if meta.get("share-files") is True and meta.get("can-download") is True and meta.get("download-sha256"):
            archive = (f"{base}/api/pleroma/emoji/packs/{quote(name)}/download_shared" if old
                       else f"{base}/api/v1/pleroma/emoji/packs/archive?name={quote(name)}")
            return RemotePack(base, name, files, meta, archive, str(meta["download-sha256"]), False)
        if isinstance(meta.get("fallback-src"), str) and meta.get("fallback-src-sha256"):
            return RemotePack(base, name, files, meta, meta["fallback-src"], str(meta["fallback-src-sha256"]), True)
        raise RemoteError(NO_SOURCE)

    # -- download ------------------------------------------------------

    async def download(self, url: str, name: str, as_name: str | None = None, progress: Meters | None = None) -> str:
        """Install remote pack `name` as `as_name` (default: same name); returns the local name.

        `progress` meters the archive's download (bytes) and unpacking (files)."""
        if not name:
            raise BadRequest("Missing field: name.")
        local = check_pack_name(as_name or name)
        if await anyio.to_thread.run_sync(self.service.store.exists, local):
            raise Conflict(f'A pack named "{local}" already exists')
        # The description within its own bound; the whole within one timeout_seconds more than the archive.
        whole = self.remote.json_deadline() + self.remote.download_deadline(self.config.remote.max_download_bytes)
        with pleroma_status(), self.remote.operation(whole):
            pack = await self.describe(url, name)
            await self.install(pack, local, progress=progress)
        return local

    async def install(self, pack: RemotePack, local: str, replace: bool = False,
                      progress: Meters | None = None) -> None:
        try:
            await self._install(pack, local, replace, progress)
        except (Conflict, RemoteRefused, ServerError):
            raise
        except EmojidError as exc:
            # A bad or oversized archive is the remote's failure, not a bad request; the reason stays.
            raise RemoteError(exc.message) from None
        except OSError as exc:  # our disk: a 500 that says so, not an unexplained one
            raise ServerError(f"Could not install {pack.name} as {local}: {exc.strerror or exc}") from exc

    async def _install(self, pack: RemotePack, local: str, replace: bool, progress: Meters | None = None) -> None:
        with metered(progress, f"Downloading {pack.name}") as meter:
            archive = await self.remote.download(pack.archive_url, self.config.cache_dir / "downloads", progress=meter)
        try:
            verify_sha256(archive, pack.sha256, pack.archive_url)
            meta = {k: v for k, v in pack.meta.items() if k not in COMPUTED_KEYS}
            await install_archive(self.service, archive.path, f"the archive of {pack.name}", pack.files, meta,
                                  local, replace=replace, mirror=(pack.base, pack.name, archive.sha256),
                                  progress=progress)
        finally:
            # A thread: unlinking a 1 GB file takes ext4 a while, the event loop must not wait on it.
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(archive.path.unlink)

    # -- fallback sources and files by URL ----------------------------------

    async def fallback_sha256(self, files: dict[str, str], url: str) -> str:
        """Download a fallback archive, check it holds every file; its uppercase SHA256."""
        archive = await self.remote.download(url, self.config.cache_dir / "downloads")
        try:
            def holds_all() -> bool:
                with open_zip(archive.path, "the fallback archive") as zf:
                    entries = checked_entries(zf, archive_limits(self.config), "the fallback archive")
                return set(files.values()) <= set(entries)

            if not await anyio.to_thread.run_sync(holds_all):
                raise BadRequest(INCOMPLETE)
            return archive.sha256
        finally:
            with contextlib.suppress(OSError):
                archive.path.unlink()

    async def fetch_file(self, url: str) -> Upload:
        """A remote emoji file as an Upload (the caller removes it)."""
        limit = self.config.emoji.max_file_bytes
        try:
            got = await self.remote.download(url, self.config.cache_dir / "tmp", max_bytes=limit)
        except RemoteTooLarge as exc:
            raise PayloadTooLarge(exc.message) from None  # as an uploaded file over the limit
        filename = Path(urlsplit(url).path).name
        return Upload(got.path, filename, got.content_type, got.size)


