"""Hardening of what comes in (issue 10): NaN and Infinity in JSON (5), zip entries that
cannot be read (10), `[emoji] max_file_bytes` on every install path (12).
Real servers, stub remotes on 127.0.0.1, real zips and Pillow images."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.responses import Response

from emojid.cli import cli
from tests.conftest import serving, wait_for
from tests.helpers import png_bytes, sha256_upper, tree, write_pack, zip_bytes
from tests.remote.checks import DOWNLOAD, PRIVATE_OK, REMOTE, assert_error, assert_nothing_written, leftovers, noise_png
from tests.remote.stubs import FakePleroma, pack_json, serving_stub

V1 = "/api/v1/pleroma"
PACK = f"{V1}/emoji/pack"
FILES = f"{V1}/emoji/packs/files"


def strict(text: str | bytes) -> object:
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""
    def refuse(word: str) -> None:
        raise AssertionError(f"{word} in an answer")

    return json.loads(text, parse_constant=refuse)


def with_bare(doc: object, word: str) -> str:
    """`doc` as JSON text with every "@BARE@" string written as the bare `word` (NaN, 1e999...)."""
    return json.dumps(doc).replace('"@BARE@"', word)


async def health(c: httpx.AsyncClient) -> dict:
    r = await c.get(f"{V1}/healthcheck")
    assert r.status_code == 200, r.text
    return r.json()


async def all_answers_strict(c: httpx.AsyncClient) -> None:
    for path in (f"{V1}/emoji/packs", f"{V1}/emoji", "/api/v1/custom_emojis", f"{V1}/healthcheck"):
        r = await c.get(path)
        assert r.status_code == 200, (path, r.text)
        strict(r.text)


# -- 5. NaN and Infinity -------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_metadata_with_nan_or_infinity_is_refused(server, value):
    async with server.admin() as c:
        r = await c.post(PACK, params={"name": "blobs"})
        assert r.status_code == 200, r.text
        before = tree(server.packs_dir)
        body = with_bare({"metadata": {"license": "CC0", "description": "@BARE@"}}, value)
        for route in (f"{PACK}?name=blobs", "/api/pleroma/emoji/pack?name=blobs"):
            r = await c.patch(route, content=body, headers={"content-type": "application/json"})
            assert_error(r, 400, "Malformed JSON body")
        r = await c.post("/api/pleroma/emoji/packs/blobs/update_metadata", content=body,
                         headers={"content-type": "application/json"})
        assert_error(r, 400, "Malformed JSON body")
        assert tree(server.packs_dir) == before
        # Finite numbers are fine.
        r = await c.patch(f"{PACK}?name=blobs", content='{"metadata": {"version": 1.5e3}}',
                          headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        await all_answers_strict(c)


async def test_hand_written_pack_json_with_nan_is_invalid(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"}, {"share-files": True, "license": "CC0"})
        nan = write_pack(config.packs_dir, "nanpack", {"n": "n.png"})
        (nan / "pack.json").write_text('{"files": {"n": "n.png"}, "pack": {"weight": NaN}}')
        surrogate = write_pack(config.packs_dir, "surrogate", {"s": "s.png"})
        (surrogate / "pack.json").write_text('{"files": {"s": "s.png"}, "pack": {"description": "\\udcff"}}')

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        errors = (await health(c))["pack_errors"]
        assert errors["nanpack"].startswith("pack.json of nanpack is invalid: fix or remove it by hand"), errors
        assert "NaN" in errors["nanpack"]
        assert "surrogate" in errors["surrogate"], errors
        r = await c.get(f"{V1}/emoji/packs")
        assert set(strict(r.text)["packs"]) == {"blobs"}
        # A pack seen valid keeps its last good state when NaN is written into it by hand.
        path = server.packs_dir / "blobs" / "pack.json"
        path.write_text('{"files": {"blob": "blob.png"}, "pack": {"share-files": true, "license": Infinity}}')

        async def broken() -> bool:
            return "blobs" in (await health(c))["pack_errors"]

        await wait_for(broken, timeout=3)
        r = await c.get(f"{V1}/emoji/packs")
        assert strict(r.text)["packs"]["blobs"]["pack"]["license"] == "CC0"
        await all_answers_strict(c)
        async with server.admin() as admin:
            r = await admin.patch(PACK, params={"name": "blobs"}, json={"metadata": {"license": "x"}})
            assert r.status_code == 409, r.text
        assert "Infinity" in path.read_text()


def nan_listing(stub: FakePleroma, name: str, files: dict[str, str], archive: bytes) -> None:
    """The remote's pack.json says `"weight": NaN` in the pack's metadata (a sloppy JSON encoder)."""
    meta = {"share-files": True, "can-download": True, "download-sha256": sha256_upper(archive), "weight": "@BARE@"}
    raw = with_bare({"files": files, "pack": meta, "files_count": len(files)}, "NaN").encode()
    stub.route(FakePleroma.SHOW, lambda request: Response(raw, media_type="application/json"))
    listing = with_bare({"packs": {name: "@DOC@"}, "count": 1}, "").replace('"@DOC@"', raw.decode()).encode()
    stub.route(FakePleroma.LIST, lambda request: Response(listing, media_type="application/json"))


async def test_remote_json_with_nan_is_refused(tmp_path):
    files = {"a": "a.png"}
    archive = zip_bytes({"pack.json": pack_json(files, {"share-files": True}), "a.png": png_bytes()})
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path / "s", PRIVATE_OK) as local:
        remote.add("blobs", files, {"share-files": True}, archive)
        nan_listing(remote, "blobs", files, archive)
        before = tree(local.packs_dir)
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"})
            assert_error(r, 500, contains=("did not answer json",))
            r = await c.get(REMOTE, params={"url": remote.url})
            assert_error(r, 500, contains=("did not answer json",))
            strict(r.text)
        await assert_nothing_written(local, before, "blobs")


# -- 10. zip entries that cannot be read -----------------------------------------------


def _zip(method: int = zipfile.ZIP_STORED, data: bytes | None = None) -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        zf.writestr("a.png", data if data is not None else png_bytes("red"))
    return bytearray(buf.getvalue())


def _central(data: bytearray) -> int:
    return data.find(b"PK\x01\x02")


def bad_crc() -> bytes:
    data = _zip()
    at = data.find(b"\x89PNG")
    data[at + 20] ^= 0xFF
    return bytes(data)


def encrypted() -> bytes:
    data = _zip()
    data[6] |= 1  # general purpose flag bit 0, local header and central directory
    data[_central(data) + 8] |= 1
    return bytes(data)


def method_99() -> bytes:
    data = _zip()
    data[8:10] = struct.pack("<H", 99)  # AES, as WinZip writes it
    data[_central(data) + 10:_central(data) + 12] = struct.pack("<H", 99)
    return bytes(data)


def lying_size() -> bytes:
    """Deflated; both headers say half the real size."""
    data = _zip(zipfile.ZIP_DEFLATED)
    central = _central(data)
    real = struct.unpack("<I", data[central + 24:central + 28])[0]
    data[central + 24:central + 28] = struct.pack("<I", real // 2)
    data[22:26] = struct.pack("<I", real // 2)
    return bytes(data)


def corrupt_deflate() -> bytes:
    data = _zip(zipfile.ZIP_DEFLATED, png_bytes("red", 64))
    start = 30 + len("a.png")
    for i in range(start + 2, start + 12):
        data[i] ^= 0x55
    return bytes(data)


def truncated() -> bytes:
    data = _zip()
    return bytes(data[: len(data) // 2])


BAD_ZIPS = {"bad_crc": bad_crc, "encrypted": encrypted, "method_99": method_99, "lying_size": lying_size,
            "corrupt_deflate": corrupt_deflate, "truncated": truncated}


@pytest.mark.parametrize("kind", sorted(BAD_ZIPS))
async def test_unreadable_zip_upload_is_a_client_error(server, kind):
    async with server.admin() as c:
        r = await c.post(PACK, params={"name": "blobs"})
        assert r.status_code == 200, r.text
        before = tree(server.packs_dir)
        r = await c.post(FILES, params={"name": "blobs"},
                         files={"file": ("emoji.zip", BAD_ZIPS[kind](), "application/zip")})
        error = assert_error(r, 400)
        assert "emoji.zip" in error, error
        assert tree(server.packs_dir) == before
        assert leftovers(server) == []
        r = await c.get(PACK, params={"name": "blobs"})
        assert r.json()["files"] == {}


@pytest.mark.parametrize("kind", sorted(BAD_ZIPS))
async def test_unreadable_remote_archive_is_refused(tmp_path, kind):
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path / "s", PRIVATE_OK) as local:
        archive = BAD_ZIPS[kind]()
        remote.add("blobs", {"a": "a.png"}, {"share-files": True}, archive)
        before = tree(local.packs_dir)
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"})
        error = assert_error(r, 500)
        assert "archive of blobs" in error and "Internal server error" not in error, error
        await assert_nothing_written(local, before, "blobs")


# -- 12. max_file_bytes on every install path -------------------------------------------

SMALL = "[emoji]\nmax_file_bytes = 4096\n"


async def test_remote_install_applies_max_file_bytes(tmp_path):
    big = noise_png(64)  # ~12 KB: over the 4 KB limit
    files = {"big": "big.png", "ok": "ok.png"}
    archive = zip_bytes({"pack.json": pack_json(files, {"share-files": True}), "big.png": big, "ok.png": png_bytes()})
    async with serving_stub(FakePleroma()) as remote, serving(tmp_path / "s", PRIVATE_OK + SMALL) as local:
        remote.add("blobs", files, {"share-files": True}, archive)
        before = tree(local.packs_dir)
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "blobs"})
            error = assert_error(r, 500, contains=("big.png", "the limit is 4096"))
            assert str(len(big)) in error
            await assert_nothing_written(local, before, "blobs")
            # The same file uploaded: 413, as before.
            r = await c.post(PACK, params={"name": "up"})
            assert r.status_code == 200, r.text
            r = await c.post(FILES, params={"name": "up"}, files={"file": ("big.png", big, "image/png")})
            assert_error(r, 413)
        # Under the limit, the same pack installs.
        small = {"ok": "ok.png"}
        archive = zip_bytes({"pack.json": pack_json(small, {"share-files": True}), "ok.png": png_bytes()})
        remote.add("fine", small, {"share-files": True}, archive)
        async with local.admin() as c:
            r = await c.post(DOWNLOAD, json={"url": remote.url, "name": "fine"})
            assert r.status_code == 200, r.text


def test_manifest_install_applies_max_file_bytes(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "emojid.toml").write_text('[storage]\npacks_dir = "packs"\n[watch]\nenabled = false\n' + SMALL)
    big = noise_png(64)
    archive = zip_bytes({"big.png": big})
    (tmp_path / "big.zip").write_bytes(archive)
    (tmp_path / "manifest.json").write_text(json.dumps({"bigpack": {
        "src": "big.zip", "src_sha256": sha256_upper(archive), "files": {"big": "big.png"}, "license": "CC0"}}))
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("EMOJID_")}
    result = CliRunner().invoke(cli, ["--config", str(root / "emojid.toml"), "pack", "get-packs", "-m",
                                      str(tmp_path / "manifest.json"), "bigpack"], env=env, prog_name="emojid")
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.stderr
    assert "big.png" in result.stderr and "the limit is 4096" in result.stderr, result.stderr
    packs = root / "packs"
    assert not packs.exists() or os.listdir(packs) == []


def test_manifest_with_nan_is_refused(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "emojid.toml").write_text('[storage]\npacks_dir = "packs"\n[watch]\nenabled = false\n')
    archive = zip_bytes({"a.png": png_bytes()})
    (tmp_path / "a.zip").write_bytes(archive)
    (tmp_path / "manifest.json").write_text(with_bare(
        {"p": {"src": "a.zip", "src_sha256": sha256_upper(archive), "files": {"a": "a.png"}, "license": "@BARE@"}},
        "NaN"))
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("EMOJID_")}
    result = CliRunner().invoke(cli, ["--config", str(root / "emojid.toml"), "pack", "get-packs", "-m",
                                      str(tmp_path / "manifest.json"), "p"], env=env, prog_name="emojid")
    assert result.exit_code != 0, result.output
    assert "is not valid JSON" in result.stderr, result.stderr
    packs = root / "packs"
    assert not packs.exists() or os.listdir(packs) == []
