"""Pleroma emoji-index manifests, as `mix pleroma.emoji` reads and writes them.

A manifest is a JSON object, pack name -> entry:

    {"finmoji": {"src": "https://…/finland-emojis.zip",
                 "src_sha256": "384025A1…",
                 "files": "finmoji.json",        # a files map next to the manifest (or inline)
                 "homepage": "…", "description": "…", "license": "…"}}

and a files map is a JSON object shortcode -> path inside the archive.

A manifest location is a local path or an http(s) URL (Pleroma: anything
starting with "http"). Files maps are found next to the manifest: beside a
local file, or relative to the manifest URL. Everything fetched over the
network goes through RemoteClient, so the SSRF guard and [remote] limits hold.

Installing follows the same path as a pack download from another server:
download to a temp file (hashing on the way), verify the SHA256, unpack only
the mapped files (every entry of the archive checked first) into a hidden
staging folder inside packs_dir, write pack.json, then one rename into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio.to_thread

from emojid import strict_json
from emojid.config import Config
from emojid.emoji.installer import install_archive
from emojid.emoji.names import check_pack_name, safe_relpath
from emojid.emoji.packs import PackService
from emojid.emoji.zips import ZipLimits, checked_entries, open_zip
from emojid.errors import BadRequest, Conflict, EmojidError, NotFound, PayloadTooLarge
from emojid.files import make_temp_file
from emojid.progress import Meter, Meters
from emojid.remote import ChecksumMismatch, Downloaded, RemoteClient, RemoteError

# Pleroma's `config :pleroma, :emoji, default_manifest:`.
DEFAULT_MANIFEST = "https://git.pleroma.social/pleroma/emoji-index/raw/master/index.json"
DEFAULT_EXTENSIONS = [".png", ".gif"]
MAX_JSON_BYTES = 16 << 20

Say = Callable[[str], None]
Progress = Callable[[int, int | None], None]


# A download's progress (bytes so far, total or None), then closed; the factory makes one
# per step from a label and a unit (emojid.progress).
ProgressHandle = Meter
ProgressFactory = Meters


def _quiet(_: str) -> None:
    pass


def is_url(location: str) -> bool:
    return urlsplit(location).scheme.lower() in ("http", "https")


def resolve_beside(manifest: str, ref: str) -> str:
    """`ref` (a files map, a src) taken relative to the manifest's location.

    An absolute URL stays as it is. Beside a manifest URL, `ref` is a relative
    URL (so a remote manifest can never name a local file); beside a local
    manifest, a relative path is a path in the manifest's folder.
    """
    if is_url(ref):
        return ref
    if is_url(manifest):
        return urljoin(manifest, ref)
    return str(Path(manifest).parent / ref)


def resolve_src(manifest: str, src: str) -> str:
    """Where an entry's archive is: a URL, or (for a local manifest) a local file.

    Pleroma reads a non-http src as a path from its working directory; that is
    tried first, then the manifest's folder. Beside a manifest URL, src is a URL.
    """
    if is_url(src) or is_url(manifest):
        return resolve_beside(manifest, src)
    if Path(src).is_file():
        return src
    return resolve_beside(manifest, src)


async def fetch_json(remote: RemoteClient, location: str) -> Any:
    """A JSON document from a URL (through the guarded client) or a local file."""
    if is_url(location):
        try:
            return await remote.get_json(location, max_bytes=MAX_JSON_BYTES)
        except RemoteError as exc:
            if location in str(exc):
                raise
            raise RemoteError(f"{location} cannot be fetched: {exc}", remote_status=exc.remote_status) from None

    def read() -> bytes:
        try:
            with open(location, "rb") as fh:
                data = fh.read(MAX_JSON_BYTES + 1)
        except OSError as exc:
            raise EmojidError(f"{location} cannot be read: {exc.strerror or exc}") from None
        if len(data) > MAX_JSON_BYTES:
            raise PayloadTooLarge(f"{location} is larger than {MAX_JSON_BYTES} bytes")
        return data

    data = await anyio.to_thread.run_sync(read)
    try:
        return strict_json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"{location} is not valid JSON") from None


async def fetch_archive(remote: RemoteClient, location: str, directory: Path,
                        progress: Progress | None = None) -> Downloaded:
    """An archive from a URL (guarded, size-limited) or a local file, copied to a temp file and hashed."""
    if is_url(location):
        return await remote.download(location, directory, progress=progress)
    limit = remote.config.max_download_bytes

    def copy() -> Downloaded:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="download-")
        path = Path(name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    src = open(location, "rb")
                except OSError as exc:
                    raise EmojidError(f"{location} cannot be read: {exc.strerror or exc}") from None
                with src:
                    total = os.fstat(src.fileno()).st_size
                    while chunk := src.read(1 << 20):
                        size += len(chunk)
                        if size > limit:
                            raise PayloadTooLarge(f"{location} is larger than the limit of {limit} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(size, total)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return Downloaded(path, digest.hexdigest().upper(), size, None)

    return await anyio.to_thread.run_sync(copy)


# -- reading manifests ------------------------------------------------------


@dataclass
class Manifest:
    location: str
    packs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def entry(self, name: str) -> dict[str, Any]:
        info = self.packs.get(name)
        if info is None:
            raise NotFound(f'No pack named "{name}" found')
        return info


async def load_manifest(remote: RemoteClient, location: str) -> Manifest:
    doc = await fetch_json(remote, location)
    if not isinstance(doc, dict):
        raise BadRequest(f"{location} is not a manifest (expected a JSON object of packs)")
    packs: dict[str, dict[str, Any]] = {}
    for name, info in doc.items():
        if not isinstance(info, dict):
            raise BadRequest(f"{location}: the entry for {name!r} is not a JSON object")
        packs[name] = info
    return Manifest(location, packs)


def describe_lines(name: str, info: dict[str, Any]) -> list[tuple[str, str]]:
    """The fields `ls-packs` prints, in Pleroma's order."""
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return [
        ("Name", name),
        ("Homepage", text(info.get("homepage"))),
        ("Description", text(info.get("description"))),
        ("License", text(info.get("license"))),
        ("Source", text(info.get("src"))),
    ]


# -- get-packs ---------------------------------------------------------------


def check_files_map(name: str, files: Any) -> dict[str, str]:
    """shortcode -> safe relative path, or BadRequest."""
    if not isinstance(files, dict):
        raise BadRequest(f"The file list of {name} is not a JSON object of shortcode -> file")
    checked: dict[str, str] = {}
    for shortcode, filename in files.items():
        if not isinstance(shortcode, str) or not shortcode.strip():
            raise BadRequest(f"The file list of {name} has an empty shortcode")
        if not isinstance(filename, str) or safe_relpath(filename) != filename:
            raise BadRequest(f"The file list of {name} has an unsafe file path {filename!r} for {shortcode}")
        checked[shortcode] = filename
    return checked


class ManifestInstaller:
    """Installs packs named in a manifest into the local store."""

    def __init__(self, service: PackService, remote: RemoteClient, say: Say = _quiet,
                 progress: ProgressFactory | None = None) -> None:
        self.service = service
        self.remote = remote
        self.config = service.config
        self.say = say
        self.progress = progress

    async def install(self, manifest: Manifest, name: str) -> None:
        """Download, verify and install one pack; raises EmojidError, leaving the store as it was."""
        info = manifest.entry(name)
        local = check_pack_name(name)
        if await anyio.to_thread.run_sync(os.path.lexists, self.service.store.pack_dir(local)):
            raise Conflict(f'A pack named "{local}" already exists')
        src, expected, files_ref = info.get("src"), info.get("src_sha256"), info.get("files")
        if not isinstance(src, str) or not src.strip():
            raise BadRequest(f"The manifest entry for {name} has no src")
        if not isinstance(expected, str) or not expected.strip():
            raise BadRequest(f"The manifest entry for {name} has no src_sha256")
        if not isinstance(files_ref, (str, dict)) or not files_ref:
            raise BadRequest(f"The manifest entry for {name} has no files")
        location = resolve_src(manifest.location, src.strip())

        self.say(f"Downloading {name} from {src}")
        archive = await self._fetch(location, name)
        try:
            if archive.sha256 != expected.strip().upper():
                self.say(f"SHA256 of {name} source file is BAD")
                raise ChecksumMismatch(f"Bad SHA256 for {name}")
            self.say(f"SHA256 of {name} source file is OK")

            if isinstance(files_ref, str):
                files_loc = resolve_beside(manifest.location, files_ref)
                self.say(f"Fetching the file list for {name} from {files_loc}")
                raw_files = await fetch_json(self.remote, files_loc)
            else:
                raw_files = files_ref
            files = check_files_map(name, raw_files)

            meta = {key: info[key] for key in ("license", "homepage", "description") if info.get(key) is not None}
            if is_url(location):
                # Pleroma copies src and src_sha256 into fallback-src(-sha256). Only a URL
                # is a source other servers can use; a local archive is not recorded.
                meta.update({"fallback-src": location, "fallback-src-sha256": archive.sha256})
            meta["share-files"] = True
            # Pleroma's progress lines; both steps happen inside install_archive.
            self.say(f"Unpacking {name}")
            self.say(f"Writing pack.json for {name}")
            await install_archive(self.service, archive.path, f"the archive of {name}", files, meta, local,
                                  progress=self.progress)
        finally:
            with contextlib.suppress(OSError):
                archive.path.unlink()

    async def _fetch(self, location: str, name: str) -> Downloaded:
        handle = self.progress(f"Downloading {name}") if self.progress else None
        try:
            return await fetch_archive(self.remote, location, self.config.cache_dir / "downloads", handle)
        finally:
            if handle is not None:
                handle.close()


# -- gen-pack ----------------------------------------------------------------


def proposed_name(src: str) -> str:
    """Pleroma: `Path.basename(src) |> Path.rootname()` (of the URL's path)."""
    path = urlsplit(src).path if is_url(src) else src
    base = posixpath.basename(path.rstrip("/"))
    root, _ext = posixpath.splitext(base)
    return root or base


def parse_extensions(text: str) -> list[str]:
    """".png .gif", ".png,.gif" or "png gif" -> [".png", ".gif"] (order kept, no duplicates)."""
    exts: list[str] = []
    for part in text.replace(",", " ").split():
        ext = part if part.startswith(".") else f".{part}"
        if ext not in exts:
            exts.append(ext)
    if not exts:
        raise BadRequest("No emoji file extensions given")
    if set(exts) == set(DEFAULT_EXTENSIONS):
        return list(DEFAULT_EXTENSIONS)
    return exts


def emoji_map(entries: list[str], exts: list[str]) -> tuple[dict[str, str], list[str]]:
    """shortcode (file stem) -> path for entries with one of `exts`; and the paths skipped as duplicates."""
    wanted = {e.lower() for e in exts}
    found: dict[str, str] = {}
    duplicates: list[str] = []
    for path in sorted(entries):
        if posixpath.splitext(path)[1].lower() not in wanted:
            continue
        shortcode = posixpath.splitext(posixpath.basename(path))[0]
        if shortcode in found:
            duplicates.append(path)
            continue
        found[shortcode] = path
    return dict(sorted(found.items())), duplicates


def write_json(path: Path, doc: Any) -> None:
    """Pretty JSON (two spaces, as Jason's `pretty: true`), written atomically."""
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temp_file(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_manifest_file(path: Path) -> dict[str, Any] | None:
    """The manifest already at `path` (gen-pack updates it), or None when there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EmojidError(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"{path} exists and is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"{path} exists and is not a manifest (a JSON object)")
    return doc


@dataclass
class GenPackResult:
    name: str
    sha256: str
    files_path: Path
    files: dict[str, str]
    manifest_path: Path
    created: bool
    duplicates: list[str]


async def gen_pack(config: Config, remote: RemoteClient, src: str, name: str, license: str, homepage: str,
                   description: str, files_path: str | Path, exts: list[str], manifest_path: str | Path,
                   say: Say = _quiet, progress: ProgressFactory | None = None) -> GenPackResult:
    """Download `src`, hash it, list its emoji into `files_path`, write the manifest entry."""
    name = check_pack_name(name)
    manifest_path = Path(manifest_path)
    files_path = Path(files_path)
    existing = await anyio.to_thread.run_sync(_read_manifest_file, manifest_path)

    say("Downloading the pack and generating SHA256")
    handle = progress(f"Downloading {name}") if progress else None
    try:
        archive = await fetch_archive(remote, src, config.cache_dir / "downloads", handle)
    finally:
        if handle is not None:
            handle.close()
    try:
        say(f"SHA256 is {archive.sha256}")
        limits = ZipLimits(max_total_bytes=2 * config.remote.max_download_bytes,
                           max_entry_bytes=config.remote.max_download_bytes)

        def listing() -> list[str]:
            label = f"the archive at {src}"
            with open_zip(archive.path, label) as zf:
                return list(checked_entries(zf, limits, label))

        found, duplicates = emoji_map(await anyio.to_thread.run_sync(listing), exts)
    finally:
        with contextlib.suppress(OSError):
            archive.path.unlink()

    # The manifest names the files map relative to itself (get-packs looks beside the manifest);
    # with both in one folder, as by default, that is just the file name, as Pleroma writes it.
    files_ref = Path(os.path.relpath(files_path.absolute(), manifest_path.absolute().parent)).as_posix()
    # Key order as Jason encodes Pleroma's (small, atom-keyed) map: sorted.
    entry = {
        "description": description,
        "files": files_ref,
        "homepage": homepage,
        "license": license,
        "src": src,
        "src_sha256": archive.sha256,
    }
    await anyio.to_thread.run_sync(write_json, files_path, found)
    doc = dict(existing or {})
    doc[name] = entry  # replaces a pack of the same name, as Map.merge does
    await anyio.to_thread.run_sync(write_json, manifest_path, doc)
    created = existing is None
    return GenPackResult(name, archive.sha256, Path(files_path), found, manifest_path, created, duplicates)


__all__ = [
    "DEFAULT_EXTENSIONS",
    "DEFAULT_MANIFEST",
    "GenPackResult",
    "Manifest",
    "ManifestInstaller",
    "describe_lines",
    "fetch_archive",
    "fetch_json",
    "gen_pack",
    "load_manifest",
    "parse_extensions",
    "proposed_name",
    "resolve_beside",
    "resolve_src",
]
