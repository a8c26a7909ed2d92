"""Reading untrusted zip files: every entry checked before anything is extracted."""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from emojid.emoji.names import safe_relpath
from emojid.errors import BadRequest

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class ZipLimits:
    max_total_bytes: int
    max_entry_bytes: int
    max_entries: int = 10_000
    max_ratio: int = 100  # uncompressed/compressed, per entry


def looks_like_zip(path: Path, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().lower() in ("application/zip", "application/x-zip-compressed"):
        return True
    with open(path, "rb") as fh:
        return fh.read(4) in ZIP_MAGIC


def is_litter(name: str) -> bool:
    """OS litter (__MACOSX/, ._resource forks, .DS_Store) is skipped, not refused.

    Only names that are otherwise safe count: traversal, absolute paths and
    backslashes are never litter, whatever they look like.
    """
    parts = name.rstrip("/").split("/")
    if "\\" in name or "\0" in name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return False
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def checked_entries(zf: zipfile.ZipFile, limits: ZipLimits, label: str) -> dict[str, zipfile.ZipInfo]:
    """Safe relative path -> entry for every file entry; refuses the whole archive otherwise.

    Refused: traversal, absolute paths, backslashes, symlinks, duplicate names,
    too many entries, and zip bombs (total size or compression ratio).
    Skipped: OS litter such as __MACOSX/ folders and dot-files.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise BadRequest(f"{label}: too many entries ({len(infos)})")
    entries: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        if is_litter(info.filename):
            continue
        if info.is_dir():
            if safe_relpath(info.filename.rstrip("/")) is None:
                raise BadRequest(f"{label}: unsafe entry {info.filename!r}")
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BadRequest(f"{label}: symlink entry {info.filename!r}")
        rel = safe_relpath(info.filename)
        if rel is None:
            raise BadRequest(f"{label}: unsafe entry {info.filename!r}")
        if rel in entries:
            raise BadRequest(f"{label}: duplicate entry {info.filename!r}")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise BadRequest(f"{label}: uncompressed size exceeds {limits.max_total_bytes} bytes")
        if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise BadRequest(f"{label}: entry {info.filename!r} has an absurd compression ratio")
        entries[rel] = info
    return entries


def extract_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_bytes: int) -> None:
    """Copy one entry out, never writing more than `max_bytes` whatever the header claims."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with zf.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 16):
            written += len(chunk)
            if written > max_bytes:
                raise BadRequest(f"zip entry {info.filename!r} is larger than its header says")
            dst.write(chunk)


def open_zip(path: Path, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadRequest(f"{label} is not a valid zip archive ({exc})") from None


__all__ = ["ZipLimits", "checked_entries", "extract_entry", "looks_like_zip", "open_zip"]
