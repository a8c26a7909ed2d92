"""Reading untrusted zip files: every entry checked before anything is extracted."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from emojid.emoji.names import safe_relpath
from emojid.errors import BadRequest, PayloadTooLarge

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Bytes read from an entry at a time: few Python round trips, little memory per thread.
READ_SIZE = 1 << 20
# Threads taking entries out of one archive (extract_entries): reading, CRC32 and writing
# release the GIL, so two keep two cores busy; more only queue on them.
EXTRACT_THREADS = 2


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


class Extracted(NamedTuple):
    """An entry as extract_entry wrote it, when asked to `keep` what the index records of
    a file: the SHA-256 of its bytes, its size and mtime_ns once written, and the bytes
    themselves when there are at most `keep` (else None)."""

    sha256: str
    size: int
    mtime_ns: int
    data: bytes | None


def extract_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_bytes: int,
                  label: str = "the zip archive", keep: int | None = None) -> Extracted | None:
    """Copy one entry out, never writing more than `max_bytes` whatever the header claims.
    With `keep`, hashed as it is written: its Extracted (the file is not read again for its
    facts), else None.

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
    digest = hashlib.sha256() if keep is not None else None
    kept: list[bytes] | None = [] if keep is not None and info.file_size <= keep else None

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
                    chunk = src.read(READ_SIZE)
                except ZIP_READ_ERRORS as exc:
                    raise unreadable(exc) from None
                if not chunk:
                    break
                written += len(chunk)
                if written > max_bytes:
                    raise BadRequest(f"zip entry {info.filename!r} is larger than its header says")
                dst.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                if kept is not None:
                    kept.append(chunk)
            if digest is None:
                return None
            dst.flush()  # the last write made: the mtime it leaves
            st = os.fstat(dst.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    data = b"".join(kept) if kept is not None else None
    return Extracted(digest.hexdigest(), st.st_size, st.st_mtime_ns, data)


def extract_entries(path: Path, jobs: Sequence[tuple[zipfile.ZipInfo, Path]], max_bytes: int, label: str,
                    check: Callable[[zipfile.ZipInfo, Path, Extracted | None], None] | None = None,
                    progress: Callable[[int, int], None] | None = None, keep: int | None = None) -> None:
    """`extract_entry` for every (entry, target) of the archive at `path`, EXTRACT_THREADS at a
    time, each thread with its own handle on the archive; `check(entry, target, extracted)`
    after each one, in the same thread, and `progress(done, len(jobs))` in the caller's.

    The first failure in `jobs` order is raised, once no thread is writing any more: what
    was not started is not, what was started has finished (or removed its target).
    """
    local = threading.local()
    handles: list[zipfile.ZipFile] = []
    opening = threading.Lock()

    def one(info: zipfile.ZipInfo, target: Path) -> None:
        zf: zipfile.ZipFile | None = getattr(local, "zf", None)
        if zf is None:
            zf = local.zf = open_zip(path, label)
            with opening:
                handles.append(zf)
        extracted = extract_entry(zf, info, target, max_bytes, label, keep)
        if check is not None:
            check(info, target, extracted)

    try:
        with ThreadPoolExecutor(EXTRACT_THREADS, thread_name_prefix="emojid-unzip") as pool:
            futures = [pool.submit(one, info, target) for info, target in jobs]
            try:
                for done, future in enumerate(futures, 1):
                    future.result()
                    if progress is not None:
                        progress(done, len(futures))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        for zf in handles:
            zf.close()


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


__all__ = ["ZIP_READ_ERRORS", "Extracted", "ZipLimits", "checked_entries", "extract_entries", "extract_entry", "looks_like_zip",
           "open_zip"]
