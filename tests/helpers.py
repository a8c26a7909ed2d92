"""Real test material: images drawn with Pillow, zips built with zipfile."""

from __future__ import annotations

import hashlib
import io
import json
import ssl
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

# httpx builds a TLS context for every client it makes (certifi's bundle, ~20 ms of CPU);
# the tests make thousands of clients, all over plain http to 127.0.0.1: one context will do.
_TLS = ssl.create_default_context()


def http_client(**kwargs) -> httpx.AsyncClient:
    """httpx.AsyncClient, with the one TLS context."""
    return httpx.AsyncClient(verify=_TLS, **kwargs)


def png_bytes(color: str = "red", size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


def gif_bytes(colors: tuple[str, ...] = ("red", "blue"), size: int = 16) -> bytes:
    frames = [Image.new("RGB", (size, size), c) for c in colors]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def webp_bytes(color: str = "green", size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "WEBP")
    return buf.getvalue()


def jpeg_bytes(color: str = "yellow", size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "JPEG")
    return buf.getvalue()


def zip_bytes(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """A zip of `entries` (name -> bytes); `symlinks` adds symlink entries (name -> target)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def sha256_upper(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest().upper()


def write_pack(packs_dir: Path, name: str, files: dict[str, str], meta: dict | None = None,
               images: dict[str, bytes] | None = None) -> Path:
    """A pack on disk as Pleroma lays it out; `images` defaults to a PNG per listed file."""
    directory = packs_dir / name
    directory.mkdir(parents=True, exist_ok=True)
    for filename in set(files.values()):
        path = directory / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((images or {}).get(filename, png_bytes()))
    doc = {"files": files, "pack": meta if meta is not None else {}, "files_count": len(files)}
    (directory / "pack.json").write_text(json.dumps(doc, indent=2))
    return directory


def tree(root: Path, skip: Callable[[str], bool] = lambda rel: False) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes): to assert nothing changed.

    `skip` leaves paths out before they are read: the server's background work
    (archives being built in cache/) comes and goes while we walk.
    """
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not skip(rel) and path.is_file():
            files[rel] = path.read_bytes()
    return files
