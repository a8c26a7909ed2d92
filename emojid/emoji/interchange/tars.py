"""Reading untrusted tar archives (plain or gzip'd), the tar twin of `emojid.emoji.zips`.

One forward pass (tarfile's stream mode): each entry is checked as it comes and
the caller copies out the ones it wants into a work folder of its own; any
refusal raises, and the caller removes that folder, so a refused archive leaves
nothing anywhere. Refused, the whole archive: traversal, absolute paths,
backslashes, symlinks, hard links, devices and FIFOs, sparse files, duplicate
names, too many entries, and bombs: more bytes than the limits once
decompressed, an absurd compression ratio, or an oversized extended header
(GNU long names and pax records are read into memory by tarfile, so their size
is checked before they are). OS litter (`._x`, `__MACOSX/`) is skipped.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emojid.emoji.names import safe_relpath
from emojid.emoji.zips import ZipLimits, is_litter
from emojid.errors import BadRequest, PayloadTooLarge

GZIP_MAGIC = b"\x1f\x8b"
USTAR_MAGIC = b"ustar"
MAX_EXTENDED_HEADER = 64 << 10
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
             tarfile.SOLARIS_XHDTYPE)


def looks_like_tar(path: Path) -> bool:
    """A gzip stream (a .tar.gz, checked further when read) or a tar with a ustar header."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    return head[:2] == GZIP_MAGIC or head[257:262] == USTAR_MAGIC


class _HeaderTooLarge(Exception):
    pass


class _CheckedInfo(tarfile.TarInfo):
    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _CheckedInfo:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _EXTENDED and info.size > MAX_EXTENDED_HEADER:
            raise _HeaderTooLarge(f"an extended header of {info.size} bytes")
        return info


class _Capped:
    """The decompressed stream, cut off past `limit` bytes."""

    def __init__(self, inner: Any, limit: int, label: str) -> None:
        self.inner = inner
        self.limit = limit
        self.label = label
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size if size >= 0 else 1 << 20)
        self.total += len(data)
        if self.total > self.limit:
            raise PayloadTooLarge(f"{self.label}: more than {self.limit} bytes once decompressed")
        return data


@contextlib.contextmanager
def open_tar(path: Path, label: str, limits: ZipLimits) -> Iterator[tarfile.TarFile]:
    """The archive at `path` for one forward pass; BadRequest when it is no tar."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        # Uncompressed, a tar is its entries plus headers and padding: a little over their total.
        limit = limits.max_total_bytes + (limits.max_entries + 2) * 1024
        if compressed:
            limit = min(limit, max(16 << 20, limits.max_ratio * size))
        try:
            with tarfile.open(fileobj=_Capped(stream, limit, label), mode="r|",  # type: ignore[call-overload]
                              tarinfo=_CheckedInfo) as tf:
                yield tf
        except _HeaderTooLarge as exc:
            raise BadRequest(f"{label}: {exc}") from None
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise BadRequest(f"{label} is not a valid tar archive ({exc})") from None


def checked_members(tf: tarfile.TarFile, limits: ZipLimits, label: str) -> Iterator[tuple[str, tarfile.TarInfo]]:
    """(safe relative path, entry) for every regular file, in archive order. Read an
    entry's bytes (`copy_member`) before asking for the next one."""
    seen: set[str] = set()
    total = 0
    for count, info in enumerate(tf, 1):
        if count > limits.max_entries:
            raise BadRequest(f"{label}: too many entries (more than {limits.max_entries})")
        name = info.name
        while name.startswith("./"):
            name = name[2:]
        if not name or name == ".":
            continue
        if is_litter(name):
            continue
        if info.issym() or info.islnk():
            raise BadRequest(f"{label}: link entry {info.name!r}")
        if info.ischr() or info.isblk() or info.isfifo():
            raise BadRequest(f"{label}: device entry {info.name!r}")
        if info.isdir():
            if safe_relpath(name.rstrip("/")) is None:
                raise BadRequest(f"{label}: unsafe entry {info.name!r}")
            continue
        if not info.isreg() or info.issparse():
            raise BadRequest(f"{label}: unsupported entry {info.name!r} (type {info.type!r})")
        rel = safe_relpath(name)
        if rel is None:
            raise BadRequest(f"{label}: unsafe entry {info.name!r}")
        if rel in seen:
            raise BadRequest(f"{label}: duplicate entry {info.name!r}")
        seen.add(rel)
        total += info.size
        if total > limits.max_total_bytes:
            raise PayloadTooLarge(f"{label}: uncompressed size exceeds {limits.max_total_bytes} bytes")
        yield rel, info


def copy_member(tf: tarfile.TarFile, info: tarfile.TarInfo, target: Path, max_bytes: int) -> None:
    """Copy one entry out, never writing more than `max_bytes`."""
    source: Any = tf.extractfile(info)
    if source is None:
        raise BadRequest(f"tar entry {info.name!r} has no data")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with source, open(target, "wb") as out:
        while chunk := source.read(1 << 16):
            written += len(chunk)
            if written > max_bytes:
                raise PayloadTooLarge(f"tar entry {info.name!r} is larger than {max_bytes} bytes")
            out.write(chunk)


__all__ = ["checked_members", "copy_member", "looks_like_tar", "open_tar"]
