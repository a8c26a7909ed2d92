"""Assertions shared by the remote tests: the error answered, and that nothing was written."""

from __future__ import annotations

import io
import os
import zipfile

import httpx

from tests.helpers import tree

PRIVATE_OK = "[remote]\nallow_private_addresses = true\n"

PACKS = "/api/v1/pleroma/emoji/packs"
PACK = "/api/v1/pleroma/emoji/pack"
REMOTE = "/api/v1/pleroma/emoji/packs/remote"
DOWNLOAD = "/api/v1/pleroma/emoji/packs/download"
FILES = "/api/v1/pleroma/emoji/packs/files"
SYNC = "/api/v1/pleroma/emoji/sync"


def assert_error(r: httpx.Response, status: int, text: str | None = None, contains: tuple[str, ...] = ()) -> str:
    """The status, a JSON `{"error": ...}` body, its exact text or the words it must contain."""
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    if text is not None:
        assert body["error"] == text
    for word in contains:
        assert word.lower() in body["error"].lower(), body["error"]
    return body["error"]


def assert_client_error(r: httpx.Response) -> str:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


def leftovers(server) -> list[str]:
    """Staging folders in the store and temp files of downloads: traces of a failed fetch."""
    found = [p.name for p in server.packs_dir.iterdir() if p.name.startswith(".")] if server.packs_dir.exists() else []
    for sub in ("downloads", "tmp"):
        d = server.config.cache_dir / sub
        if d.exists():
            found += [f"{sub}/{n}" for n in os.listdir(d)]
    return found


async def listed(server, name: str) -> bool:
    async with server.admin() as c:
        r = await c.get(PACKS, params={"page_size": 10_000})
        assert r.status_code == 200, r.text
        return name in r.json()["packs"]


async def assert_nothing_written(server, before: dict[str, bytes], *names: str) -> None:
    """The store is byte for byte as it was, no staging or temp file is left, no pack appeared."""
    assert tree(server.packs_dir) == before
    assert leftovers(server) == []
    for name in names:
        assert not (server.packs_dir / name).exists()
        assert not await listed(server, name)


def noise_png(size: int = 64) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about size*size*3 bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buf, "PNG")
    return buf.getvalue()


def deflated_zip(entries: dict[str, bytes]) -> bytes:
    """A zip with compressed entries (helpers.zip_bytes stores them): for zip bombs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def raw_zip(names_and_data: list[tuple[str, bytes]]) -> bytes:
    """A zip whose entry names are written exactly as given (duplicates, `../`, absolute paths)."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names: that is the point
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in names_and_data:
                zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()
