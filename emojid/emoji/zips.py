"""Reading untrusted zip files: every entry checked before anything is extracted."""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from emojid.emoji.names import safe_relpath
from emojid.errors import BadRequest, PayloadTooLarge

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


# What reading a damaged or hostile entry raises: a bad CRC or header (BadZipFile),
# an unknown compression method such as 99, AES (NotImplementedError), the encryption
# flag (RuntimeError), corrupt deflate data (zlib.error), data cut short (EOFError).
ZIP_READ_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error, EOFError, OSError, ValueError)


@dataclass(frozen=True)
class ZipLimits:
    max_total_bytes: int
    # Largest file taken out of an archive: `[emoji] max_file_bytes` for emoji, on every
    # path that installs them (`extract_entry` enforces it).
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


def extract_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_bytes: int,
                  label: str = "the zip archive") -> None:
    """Copy one entry out, never writing more than `max_bytes` whatever the header claims.

    PayloadTooLarge (413) when the header says more than `max_bytes`; BadRequest when
    the entry cannot be read (encrypted, an unknown method, a bad CRC, corrupt or cut
    short, bigger than its header says). What was written of `target` is removed.
    """
    if info.file_size > max_bytes:
        raise PayloadTooLarge(f"{info.filename} in {label} is {info.file_size} bytes; the limit is {max_bytes}")
    if info.flag_bits & 0x1:
        raise BadRequest(f"{label}: entry {info.filename!r} is encrypted")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0

    def unreadable(exc: BaseException) -> BadRequest:
        return BadRequest(f"{label}: entry {info.filename!r} cannot be read ({_reason(exc)})")

    try:
        try:
            src = zf.open(info)
        except ZIP_READ_ERRORS as exc:
            raise unreadable(exc) from None
        with src, open(target, "wb") as dst:
            while True:
                try:  # errors of reading the archive are the archive's; of writing, ours
                    chunk = src.read(1 << 16)
                except ZIP_READ_ERRORS as exc:
                    raise unreadable(exc) from None
                if not chunk:
                    break
                written += len(chunk)
                if written > max_bytes:
                    raise BadRequest(f"zip entry {info.filename!r} is larger than its header says")
                dst.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _reason(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return f"unsupported compression: {exc}"
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return "it is encrypted"
    if isinstance(exc, EOFError):
        return "the data is cut short"
    return str(exc) or exc.__class__.__name__


def open_zip(path: Path, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except ZIP_READ_ERRORS as exc:
        raise BadRequest(f"{label} is not a valid zip archive ({_reason(exc)})") from None


__all__ = ["ZIP_READ_ERRORS", "ZipLimits", "checked_entries", "extract_entry", "looks_like_zip", "open_zip"]
