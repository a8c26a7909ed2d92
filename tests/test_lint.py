"""Lint (GET /api/v1/emojid/lint, `emojid lint`): every code provoked on a real store, each
target's limits at the edge, the file facts it reads (recorded once per file version), and
bad files kept out of the global emoji lists."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from emojid.cli import cli
from emojid.cli.lint import TARGETS as CLI_TARGETS
from emojid.config import load
from emojid.emoji.lint import CODES, TARGETS, lint
from emojid.emoji.packs import PackService
from emojid.migrations import open_database
from tests.conftest import serving, wait_for, write_config
from tests.helpers import gif_bytes, jpeg_bytes, png_bytes, webp_bytes, write_pack

LINT = "/api/v1/emojid/lint"
V1 = "/api/v1/pleroma"


def sized_png(size: int, color: str = "red") -> bytes:
    """A valid PNG of exactly `size` bytes (bytes after IEND are ignored by every reader)."""
    data = png_bytes(color)
    assert size >= len(data)
    return data + b"\0" * (size - len(data))


def sized_file(path: Path, size: int) -> None:
    """A PNG header followed by a sparse tail: `size` bytes on disk without writing them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes())
    os.truncate(path, size)


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("1" if fmt == "PNG" else "P", (width, height)).save(buf, fmt)
    return buf.getvalue()


def run_cli(root: Path, *args: str):
    env = {k: None for k in os.environ if k.startswith("EMOJID_")}
    return CliRunner().invoke(cli, ["--config", str(root / "emojid.toml"), *args], env=env, prog_name="emojid")


def codes(findings: list[dict]) -> set[tuple[str, str | None, str]]:
    return {(f["code"], f["shortcode"], f["severity"]) for f in findings}


# -- every code, over HTTP -------------------------------------------------------------------


def problem_packs(config) -> None:
    packs = config.packs_dir
    write_pack(packs, "blobs", {
        "blobcat": "blobcat.png", "fake": "fake.png", "liar": "liar.png", "gone": "gone.png",
        "bad code": "bad.png", "twin": "twin.png", "big": "big.png", "huge": "huge.png", "shared": "shared.png",
    }, images={
        "blobcat.png": png_bytes("red"), "fake.png": b"this is not an image\n", "liar.png": gif_bytes(),
        "bad.png": png_bytes("blue"), "twin.png": png_bytes("red"), "big.png": sized_png(5001, "green"),
        "huge.png": image_bytes(4097, 4096), "shared.png": png_bytes("white"),
    })
    (packs / "blobs" / "gone.png").unlink()
    (packs / "blobs" / "stray.png").write_bytes(png_bytes("black"))
    (packs / "blobs" / "README.txt").write_text("not an emoji, not a finding")
    write_pack(packs, "other", {"shared": "s.png"}, images={"s.png": png_bytes("yellow")})
    write_pack(packs, "zcopy", {"copycat": "c.png"}, images={"c.png": png_bytes("red")})  # blobcat's bytes
    # An entry set aside (it leads outside the pack), and a pack.json never seen valid.
    doc = json.loads((packs / "other" / "pack.json").read_text())
    doc["files"]["escape"] = "../blobs/blobcat.png"
    (packs / "other" / "pack.json").write_text(json.dumps(doc))
    (packs / "broken").mkdir()
    (packs / "broken" / "pack.json").write_text("{not json")


async def test_every_code_is_found_and_bad_files_stay_out_of_the_lists(tmp_path):
    extra = "\n[emoji]\nmax_file_bytes = 5000\n"
    async with serving(tmp_path / "s", extra, prepare=problem_packs) as server, server.admin() as c:
        r = await c.get(LINT)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        findings = r.json()["findings"]
        assert {f["code"] for f in findings} == set(CODES)
        for f in findings:
            assert set(f) == {"pack", "shortcode", "filename", "code", "severity", "target", "message"}
            assert f["target"] is None and f["severity"] in ("error", "warning") and f["message"]
        blobs = {(f["code"], f["shortcode"], f["filename"], f["severity"]) for f in findings if f["pack"] == "blobs"}
        assert blobs == {
            ("not_an_image", "fake", "fake.png", "error"),
            ("wrong_extension", "liar", "liar.png", "error"),
            ("missing_file", "gone", "gone.png", "error"),
            ("bad_shortcode", "bad code", None, "error"),  # set aside when pack.json is read
            ("unlisted_file", None, "bad.png", "warning"),  # so its file is used by no emoji
            ("duplicate_content", "twin", "twin.png", "warning"),
            ("too_large", "big", "big.png", "error"),
            ("too_many_pixels", "huge", "huge.png", "error"),
            ("duplicate_shortcode", "shared", None, "warning"),
            ("unlisted_file", None, "stray.png", "warning"),
        }
        duplicate = next(f for f in findings if f["code"] == "duplicate_content")
        assert ":blobcat:" in duplicate["message"] and "blobs/blobcat.png" in duplicate["message"]
        others = {(f["pack"], f["code"], f["shortcode"], f["severity"]) for f in findings if f["pack"] != "blobs"}
        assert others == {("other", "duplicate_shortcode", "shared", "warning"),
                          ("other", "bad_pack_json", "escape", "warning"),
                          ("broken", "bad_pack_json", None, "error"),
                          ("zcopy", "duplicate_content", "copycat", "warning")}

        # One pack; a target; the findings are sorted by pack.
        only = (await c.get(LINT, params={"name": "other"})).json()["findings"]
        assert {f["pack"] for f in only} == {"other"} and len(only) == 2
        # The first holder of some bytes may be in a pack not asked about.
        [copy] = (await c.get(LINT, params={"name": "zcopy"})).json()["findings"]
        assert copy["code"] == "duplicate_content" and "blobs/blobcat.png" in copy["message"]
        assert [f for f in findings if f["pack"] == "blobs"] == \
            (await c.get(LINT, params={"name": "blobs"})).json()["findings"]
        assert [f["pack"] for f in findings] == sorted(f["pack"] for f in findings)
        mastodon = (await c.get(LINT, params={"target": "mastodon"})).json()["findings"]
        assert {f["target"] for f in mastodon} == {"mastodon"}
        assert ("bad_shortcode", "bad code", "error") in codes(mastodon)

        # Bytes that are no image, or not of their extension, are not served as emoji.
        listed = {e["shortcode"] for e in (await c.get("/api/v1/custom_emojis")).json()}
        assert "fake" not in listed and "liar" not in listed and "blobcat" in listed
        assert "fake" not in (await c.get(f"{V1}/emoji")).json()

        health = (await c.get(f"{V1}/healthcheck")).json()
        errors = sum(f["severity"] == "error" for f in findings)
        assert health["lint"] == {"error": errors, "warning": len(findings) - errors}


async def test_lint_is_for_admins_and_checks_its_parameters(tmp_path):
    async with serving(tmp_path / "s", prepare=problem_packs) as server:
        async with server.anon() as c:
            assert (await c.get(LINT)).status_code == 401
        async with server.client(server.user_token) as c:
            assert (await c.get(LINT)).status_code == 403
        async with server.client(server.tokens["admin_read"]) as c:  # an admin, without the admin scope
            assert (await c.get(LINT)).status_code == 403
        async with server.admin() as c:
            r = await c.get(LINT, params={"target": "friendica"})
            assert r.status_code == 400 and "friendica" in r.json()["error"]
            r = await c.get(LINT, params={"name": "nope"})
            assert r.status_code == 404 and r.json() == {"error": "Pack nope does not exist"}
            r = await c.get(LINT, params={"name": "../etc"})
            assert r.status_code == 400
            assert (await c.get(LINT, params={"target": "GoToSocial", "name": "blobs"})).status_code == 200


async def test_a_fake_png_put_in_by_hand_is_found_and_not_served(server):
    write_pack(server.packs_dir, "hand", {"real": "real.png"})
    async with server.admin() as c:
        async def listed() -> set[str]:
            return {e["shortcode"] for e in (await c.get("/api/v1/custom_emojis")).json()}

        await wait_for(lambda: _contains(listed(), "real"))
        (server.packs_dir / "hand" / "fake.png").write_text("<html>not an emoji</html>")
        doc = json.loads((server.packs_dir / "hand" / "pack.json").read_text())
        doc["files"]["fake"] = "fake.png"
        (server.packs_dir / "hand" / "pack.json").write_text(json.dumps(doc))

        async def found():
            return [f for f in (await c.get(LINT)).json()["findings"] if f["code"] == "not_an_image"]

        [finding] = await wait_for(found)
        assert (finding["pack"], finding["shortcode"], finding["filename"]) == ("hand", "fake", "fake.png")
        assert await listed() == {"real"}
        shown = (await c.get(f"{V1}/emoji/pack", params={"name": "hand"})).json()
        assert shown["files"] == {"fake": "fake.png", "real": "real.png"}  # the pack API lists what pack.json says


async def _contains(values, wanted) -> bool:
    return wanted in await values


# -- the file facts ---------------------------------------------------------------------------


def open_service(root: Path, extra: str = "") -> PackService:
    config = load(write_config(root, 4000, extra), environ={})
    return PackService.open(config, open_database(config.database_path))


def test_facts_are_recorded_once_per_file_version(tmp_path):
    service = open_service(tmp_path / "s")
    try:
        packs = service.config.packs_dir
        write_pack(packs, "p", {"anim": "anim.gif", "still": "still.png", "pic": "pic.jpg", "w": "w.webp"},
                   images={"anim.gif": gif_bytes(size=24), "still.png": png_bytes(size=20), "pic.jpg": jpeg_bytes(),
                           "w.webp": webp_bytes()})
        service.reconcile_sync()
        facts = service.index.file_facts("p")
        assert {(f.filename, f.format, f.width, f.height, f.frames, f.problem) for f in facts.values()} == {
            ("anim.gif", "GIF", 24, 24, 2, None), ("still.png", "PNG", 20, 20, 1, None),
            ("pic.jpg", "JPEG", 16, 16, 1, None), ("w.webp", "WEBP", 16, 16, 1, None)}
        assert facts["still.png"].sha256 == hashlib.sha256(png_bytes(size=20)).hexdigest()
        assert facts["still.png"].size == len(png_bytes(size=20))

        # Unchanged size and mtime: the recorded row is kept, the file is not read again.
        conn = sqlite3.connect(service.config.database_path)
        conn.execute("UPDATE emoji_files SET sha256 = 'kept' WHERE filename = 'still.png'")
        conn.commit()
        service.reconcile_sync()
        assert service.index.file_fact("p", "still.png").sha256 == "kept"
        # A new version is read again.
        path = packs / "p" / "still.png"
        path.write_bytes(png_bytes("blue", size=20))
        service.reconcile_sync()
        assert service.index.file_fact("p", "still.png").sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        conn.close()

        # A pack gone while nobody watched takes its facts along; reindex keeps them in step.
        shutil.rmtree(packs / "p")
        service.reconcile_sync()
        assert service.index.file_facts("p") == {}
        write_pack(packs, "q", {"x": "x.png"})
        service.reindex_sync()
        assert set(service.index.file_facts("q")) == {"x.png"}
    finally:
        service.index.close()


# -- each target at the edge -----------------------------------------------------------------


_RUNS = itertools.count()


def lint_one(tmp_path: Path, target: str | None, filename: str, write, shortcode: str = "emoji_ok",
             loose: bool = False) -> set[tuple[str, str]]:
    """(code, severity) of the findings for one emoji written by `write(path)`."""
    service = open_service(tmp_path / f"{target}-{next(_RUNS)}")
    try:
        directory = service.config.packs_dir / "p"
        directory.mkdir(parents=True)
        write(directory / filename)
        if not loose:
            (directory / "pack.json").write_text(json.dumps({"files": {shortcode: filename}, "pack": {}}))
        service.reconcile_sync()
        return {(f.code, f.severity) for f in lint(service.index, service.config, target=target)}
    finally:
        service.index.close()


def of_size(size: int):
    return lambda path: sized_file(path, size)


def of_bytes(data: bytes):
    return lambda path: path.write_bytes(data)


# (target, size that passes, size that is too large, severity of the finding)
SIZE_EDGES = [
    (None, 1_048_576, 1_048_577, "error"),                 # [emoji] max_file_bytes default
    ("mastodon", 256 * 1024 - 1, 256 * 1024, "error"),     # size: { less_than: 256.kilobytes }
    ("gotosocial", 50 * 1024, 50 * 1024 + 1, "warning"),   # media-emoji-local-max-size
    ("gotosocial", 100 * 1024, 100 * 1024 + 1, "error"),   # media-emoji-remote-max-size
    ("pleroma", 16_000_000, 16_000_001, "warning"),        # :instance upload_limit
    ("akkoma", 16_000_000, 16_000_001, "warning"),
    ("misskey", 262_144_000, 262_144_001, "error"),        # maxFileSize
]


@pytest.mark.parametrize(("target", "fits", "over", "severity"), SIZE_EDGES)
def test_size_limits_at_the_edge(tmp_path, target, fits, over, severity):
    passing = lint_one(tmp_path, target, "e.png", of_size(fits))
    if target == "gotosocial" and fits > 50 * 1024:
        assert passing == {("too_large", "warning")}  # over the local limit, within the remote one
    else:
        assert passing == set()
    assert lint_one(tmp_path, target, "e.png", of_size(over)) == {("too_large", severity)}


# (target, pixels that pass, pixels that are too many, format)
PIXEL_EDGES = [
    (None, (4096, 4096), (4097, 4096), "PNG"),           # emojid.images.MAX_PIXELS
    ("mastodon", (1280, 720), (1281, 720), "GIF"),       # Attachmentable::GIF_MATRIX_LIMIT
    ("mastodon", (7680, 4320), (7681, 4320), "PNG"),     # Attachmentable::MAX_MATRIX_LIMIT
]


@pytest.mark.parametrize(("target", "fits", "over", "fmt"), PIXEL_EDGES)
def test_pixel_limits_at_the_edge(tmp_path, target, fits, over, fmt):
    name = f"e.{fmt.lower()}"
    assert lint_one(tmp_path, target, name, of_bytes(image_bytes(*fits, fmt))) == set()
    assert lint_one(tmp_path, target, name, of_bytes(image_bytes(*over, fmt))) == {("too_many_pixels", "error")}


# (target, shortcodes taken, shortcodes refused)
SHORTCODE_EDGES = [
    (None, ["a", "blob-cat_2"], ["blob cat", "blob.cat", "blöb"]),
    ("mastodon", ["ab", "a" * 128, "Blob_2"], ["a", "a" * 129, "blob-cat"]),
    ("gotosocial", ["a", "a" * 30, "Blob_2"], ["a" * 31, "blob-cat"]),
    ("misskey", ["a", "Blob_cat2"], ["blob-cat", "blob.cat"]),
    ("pleroma", ["a", "blob-cat_2"], ["blob.cat", "blob cat"]),
    ("akkoma", ["a", "blob-cat_2"], ["blob.cat", "blob cat"]),
]


@pytest.mark.parametrize(("target", "good", "bad"), SHORTCODE_EDGES)
def test_shortcode_rules(tmp_path, target, good, bad):
    for shortcode in good:
        assert lint_one(tmp_path, target, "e.png", of_bytes(png_bytes()), shortcode) == set(), shortcode
    for shortcode in bad:
        found = lint_one(tmp_path, target, "e.png", of_bytes(png_bytes()), shortcode)
        # One the instance's own pattern refuses is set aside when pack.json is read: its file
        # is then unlisted too.
        assert ("bad_shortcode", "error") in found, shortcode
        assert found <= {("bad_shortcode", "error"), ("unlisted_file", "warning")}, shortcode


def test_formats_each_target_takes(tmp_path):
    jpeg = of_bytes(jpeg_bytes())
    assert lint_one(tmp_path, "mastodon", "e.jpg", jpeg) == {("wrong_extension", "error")}
    for target in (None, "misskey", "gotosocial", "pleroma", "akkoma"):
        assert lint_one(tmp_path, target, "e.jpg", jpeg) == set(), target
    for fmt, data in (("png", png_bytes()), ("gif", gif_bytes()), ("webp", webp_bytes())):
        assert lint_one(tmp_path, "mastodon", f"e.{fmt}", of_bytes(data)) == set(), fmt
    # Pleroma's loader takes only .png and .gif from a folder without pack.json.
    assert lint_one(tmp_path, "pleroma", "e.webp", of_bytes(webp_bytes()), "e", loose=True) == {
        ("wrong_extension", "warning")}
    assert lint_one(tmp_path, "pleroma", "e.gif", of_bytes(gif_bytes()), "e", loose=True) == set()
    # Bytes not of their extension, whatever the target.
    assert lint_one(tmp_path, "misskey", "e.webp", of_bytes(png_bytes())) == {("wrong_extension", "error")}


def test_cli_and_route_know_the_same_targets():
    assert set(CLI_TARGETS) == set(TARGETS) == {"pleroma", "akkoma", "mastodon", "misskey", "gotosocial"}


# -- the command line --------------------------------------------------------------------------


def test_cli_lint_table_json_and_exit_status(tmp_path):
    root = tmp_path / "s"
    config = load(write_config(root, 4000), environ={})
    write_pack(config.packs_dir, "clean", {"ok": "ok.png"})
    write_pack(config.packs_dir, "warned", {"dup": "dup.png"}, images={"dup.png": png_bytes()})
    (config.packs_dir / "warned" / "stray.png").write_bytes(png_bytes("blue"))

    r = run_cli(root, "lint", "clean")
    assert r.exit_code == 0 and r.output == ""
    r = run_cli(root, "lint", "warned")
    assert r.exit_code == 0, r.output  # warnings only
    lines = r.output.splitlines()
    assert lines[0].split() == ["SEVERITY", "CODE", "PACK", "SHORTCODE", "FILE", "MESSAGE"]
    assert any(line.split()[:2] == ["warning", "unlisted_file"] for line in lines[1:])
    header = lines[0]
    assert all(line.index("warning") == header.index("SEVERITY") for line in lines[1:])

    (config.packs_dir / "clean" / "ok.png").write_text("no image")
    r = run_cli(root, "lint")
    assert r.exit_code == 1
    r = run_cli(root, "lint", "--json", "--target", "Mastodon")
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert ("clean", "not_an_image", "error", "mastodon") in {
        (f["pack"], f["code"], f["severity"], f["target"]) for f in doc["findings"]}
    r = run_cli(root, "lint", "nope")
    assert r.exit_code == 1 and r.output.strip() == "emojid: Pack nope does not exist"
    r = run_cli(root, "lint", "--target", "bogus")
    assert r.exit_code == 2 and "bogus" in r.output
