"""Packs across fediverse software, against real servers: export as pleroma, mastodon and
misskey, import of each (ours, and archives made the way Pleroma, tootctl and Misskey make
them), round trips, conflicts, dry runs, hostile archives, the CLI."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.conftest import serving
from tests.helpers import gif_bytes, jpeg_bytes, png_bytes, tree, webp_bytes, write_pack, zip_bytes
from tests.remote.checks import PRIVATE_OK, assert_error, deflated_zip, leftovers, raw_zip
from tests.test_cli import failed, ok, run, write_config

EXPORT = "/api/v1/emojid/packs/export"
IMPORT = "/api/v1/emojid/packs/import"
EMOJI = "/api/v1/emojid/packs/emoji"

ART_FILES = {"blob-cat": "blob-cat.png", "Party": "party.gif", "party": "party.png", "leaf": "leaf.webp",
             "x": "x.jpg", "deep": "sub/deep.png"}
ART_IMAGES = {"blob-cat.png": png_bytes("red", 20), "party.gif": gif_bytes(("red", "blue", "white"), 18),
              "party.png": png_bytes("blue", 21), "leaf.webp": webp_bytes("green", 22), "x.jpg": jpeg_bytes("yellow", 23),
              "sub/deep.png": png_bytes("purple", 24)}
ART_META = {"blob-cat": {"license": "CC-BY-4.0", "author": "Alice", "source": "https://a.example/blob",
                         "tags": ["cat", "blob"]},
            "Party": {"license": "CC0", "tags": ["dance"]}}


def art(config) -> None:
    write_pack(config.packs_dir, "art", ART_FILES, {"share-files": True, "license": "CC-BY-4.0",
                                                    "description": "Art"}, images=ART_IMAGES)
    path = config.packs_dir / "art" / "pack.json"
    doc = json.loads(path.read_text())
    doc["emojid"] = {"emoji": ART_META}
    path.write_text(json.dumps(doc))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGBA").tobytes()


def tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


async def emoji_of(client, name: str) -> dict[str, dict]:
    r = await client.get(EMOJI, params={"name": name, "page_size": 500})
    assert r.status_code == 200, r.text
    return {e["shortcode"]: e for e in r.json()["emoji"]}


def files_of(server, name: str) -> dict[str, bytes]:
    doc = json.loads((server.packs_dir / name / "pack.json").read_text())
    return {code: (server.packs_dir / name / filename).read_bytes() for code, filename in doc["files"].items()}


async def post_import(client, data: bytes, filename: str, **fields) -> object:
    form = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in fields.items()}
    return await client.post(IMPORT, data=form, files={"file": (filename, data, "application/octet-stream")})


# -- archives as the peers write them ------------------------------------------------------------


def tootctl_tar_gz(files: dict[str, bytes], gzipped: bool = True) -> bytes:
    """As `tootctl emoji export` writes it: Gem::Package::TarWriter (ustar, mode 0644, a
    regular file `<shortcode><ext>` per emoji, at the top) inside Zlib::GzipWriter."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uname, info.gname = len(data), 0o644, 1714557600, "wheel", "wheel"
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue()) if gzipped else raw.getvalue()


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors, as archiver's streaming zips have."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self.buf.write(data)


def misskey_zip(records: list[dict], files: dict[str, bytes]) -> bytes:
    """As Misskey's ExportCustomEmojisProcessorService writes it: meta.json written by hand
    (records joined with ",\\n"), the images beside it at the root, zipped by archiver as a stream."""
    meta = ('{"metaVersion":2,"host":"misskey.example","exportedAt":"Wed May 01 2024 12:00:00 GMT+0000 '
            '(Coordinated Universal Time)","emojis":[' + ",\n".join(json.dumps(r) for r in records) + "]}")
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=0) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("meta.json", meta)
    return out.buf.getvalue()


def misskey_record(name: str, file_name: str, aliases: list[str], license_: str | None, category: str | None = "Blobs",
                   downloaded: bool = True) -> dict:
    return {"fileName": file_name, "downloaded": downloaded, "emoji": {
        "id": "9tq0e6cs4v", "updatedAt": "2024-05-01T10:00:00.000Z", "name": name, "host": None,
        "category": category, "originalUrl": f"https://misskey.example/files/{file_name}",
        "publicUrl": f"https://misskey.example/files/{file_name}", "uri": None, "type": "image/png",
        "aliases": aliases, "license": license_, "localOnly": False, "isSensitive": False,
        "roleIdsThatCanBeUsedThisEmojiAsReaction": []}}


def pleroma_zip(files: dict[str, str], images: dict[str, bytes], meta: dict) -> bytes:
    """As Pleroma's /emoji/packs/archive builds it: pack.json and the listed files, deflated."""
    doc = {"files": files, "pack": meta, "files_count": len(files)}
    return deflated_zip({"pack.json": json.dumps(doc).encode(), **images})


# -- export -------------------------------------------------------------------------------------


async def test_export_formats_as_each_peer_reads_them(tmp_path):
    async with serving(tmp_path / "s", prepare=art) as server, server.anon() as c:
        r = await c.get(EXPORT, params={"name": "art", "format": "pleroma"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip"
        assert r.headers["content-disposition"] == 'attachment; filename="art.zip"'
        archive = await c.get("/api/v1/pleroma/emoji/packs/archive", params={"name": "art"})
        assert r.content == archive.content  # the pack's own archive, byte for byte
        assert r.headers["x-download-sha256"] == archive.headers["x-download-sha256"]

        r = await c.get(EXPORT, params={"name": "art", "format": "mastodon"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/gzip"
        assert r.headers["content-disposition"] == 'attachment; filename="art.tar.gz"'
        assert int(r.headers["content-length"]) == len(r.content)
        assert r.content[:2] == b"\x1f\x8b"
        renamed = json.loads(r.headers["x-emojid-renamed"])
        assert renamed == {"blob-cat": "blob_cat", "party": "party_2", "x": "x_"}
        assert r.headers["x-emojid-renamed-count"] == "3"
        assert json.loads(r.headers["x-emojid-converted"]) == {"leaf": "webp -> png", "x": "jpeg -> png"}
        with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tf:
            members = tf.getmembers()
            assert all(m.isreg() and "/" not in m.name and m.mode == 0o644 for m in members)
            assert all(m.name.endswith((".png", ".gif")) for m in members)  # all that tootctl imports
        got = tar_members(r.content)
        assert sorted(got) == ["Party.gif", "blob_cat.png", "deep.png", "leaf.png", "party_2.png", "x_.png"]
        assert all(re.fullmatch(r"[A-Za-z0-9_]{2,}", name.rsplit(".", 1)[0]) for name in got)
        assert got["Party.gif"] == ART_IMAGES["party.gif"] and got["blob_cat.png"] == ART_IMAGES["blob-cat.png"]
        assert pixels(got["leaf.png"]) == pixels(ART_IMAGES["leaf.webp"])
        again = await c.get(EXPORT, params={"name": "art", "format": "mastodon"})
        assert again.content == r.content  # deterministic

        r = await c.get(EXPORT, params={"name": "art", "format": "misskey"})
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == 'attachment; filename="art-misskey.zip"'
        assert json.loads(r.headers["x-emojid-renamed"]) == {"blob-cat": "blob_cat"}
        got = zip_members(r.content)
        meta = json.loads(got.pop("meta.json"))
        assert meta["metaVersion"] == 2 and meta["host"] == server.url.split("://")[1] and meta["exportedAt"]
        records = {rec["emoji"]["name"]: rec for rec in meta["emojis"]}
        assert sorted(records) == ["Party", "blob_cat", "deep", "leaf", "party", "x"]
        for rec in meta["emojis"]:
            assert rec["downloaded"] is True and rec["fileName"] in got
            assert set(rec["emoji"]) == {"name", "category", "aliases", "license", "isSensitive", "localOnly"}
            assert rec["emoji"]["category"] == "art" and rec["emoji"]["isSensitive"] is False
        assert records["blob_cat"]["emoji"]["license"] == "CC-BY-4.0 (Alice)"
        assert records["blob_cat"]["emoji"]["aliases"] == ["cat", "blob"]
        assert records["Party"]["emoji"]["license"] == "CC0"
        assert records["deep"]["emoji"]["license"] == "CC-BY-4.0"  # the pack's
        assert records["x"]["fileName"] == "x.jpeg" and got["x.jpeg"] == ART_IMAGES["x.jpg"]
        assert got["leaf.webp"] == ART_IMAGES["leaf.webp"]


async def test_export_follows_the_archive_rules(tmp_path):
    def prepare(config):
        art(config)
        write_pack(config.packs_dir, "private", {"p": "p.png"}, {"share-files": False})
        write_pack(config.packs_dir, "broken", {"b": "b.png", "gone": "gone.png"}, {"share-files": True})
        (config.packs_dir / "broken" / "gone.png").unlink()

    async with serving(tmp_path / "s", prepare=prepare) as server:
        async with server.anon() as c, server.client(server.user_token) as u, \
                server.client(server.tokens["admin_read"]) as ar:
            for fmt in ("pleroma", "mastodon", "misskey"):
                for client in (c, u, ar):
                    assert_error(await client.get(EXPORT, params={"name": "private", "format": fmt}), 403)
                assert_error(await c.get(EXPORT, params={"name": "nope", "format": fmt}), 404)
            assert_error(await c.get(EXPORT, params={"name": "art", "format": "discord"}), 400)
            assert_error(await c.get(EXPORT, params={"name": "art"}), 400)
            assert_error(await c.get(EXPORT, params={"format": "pleroma"}), 400)
        async with server.admin() as a:
            for fmt in ("pleroma", "mastodon", "misskey"):
                r = await a.get(EXPORT, params={"name": "private", "format": fmt})
                assert r.status_code == 200, r.text
                assert_error(await a.get(EXPORT, params={"name": "broken", "format": fmt}), 409)
            private = zip_members((await a.get(EXPORT, params={"name": "private", "format": "pleroma"})).content)
            assert sorted(private) == ["p.png", "pack.json"]
            r = await a.head(EXPORT, params={"name": "art", "format": "misskey"})
            assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 0
    assert not list((server.config.cache_dir / "exports").glob("*"))  # temp files gone


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pleroma", "mastodon", "misskey"])
async def test_round_trip_keeps_bytes_and_metadata(tmp_path, fmt):
    async with serving(tmp_path / "a", prepare=art) as a_server, serving(tmp_path / "b") as b_server:
        async with a_server.anon() as c:
            exported = await c.get(EXPORT, params={"name": "art", "format": fmt})
            assert exported.status_code == 200, exported.text
        renamed = json.loads(exported.headers.get("x-emojid-renamed", "{}"))
        async with b_server.admin() as b:
            r = await post_import(b, exported.content, exported.headers["content-disposition"].split('"')[1])
            assert r.status_code == 200, r.text
            report = r.json()
            assert report["pack"] == "art" and report["format"] == fmt and report["dry_run"] is False
            assert report["replaced"] == [] and report["renamed"] == {} and report["skipped"] == []
            got = files_of(b_server, "art")
            listed = await emoji_of(b, "art")
            [origin] = (await b.get(EMOJI, params={"name": "art"})).json()["provenance"]
        assert origin["kind"] == "import" and origin["format"] == fmt and origin["emoji"] == 6
        assert origin["source"].startswith("art") and origin["sha256"] == sha(exported.content).upper()
        if fmt == "mastodon":
            # Mastodon's names; its PNG/GIF bytes as they were, the rest the same pixels as PNG.
            expected = {renamed.get(code, code): ART_IMAGES[f] for code, f in ART_FILES.items()}
            assert sorted(got) == sorted(expected)
            for code, data in expected.items():
                assert got[code] == data if data[:4] in (b"\x89PNG", b"GIF8") else pixels(got[code]) == pixels(data)
            return
        assert sorted(got) == sorted(ART_FILES)
        for code, filename in ART_FILES.items():
            assert got[code] == ART_IMAGES[filename], code
        for code in ART_FILES:
            entry = {k: listed[code][k] for k in ("license", "author", "source", "tags") if listed[code][k]}
            assert entry == ART_META.get(code, {}), code
        if fmt == "pleroma":
            pack = json.loads((b_server.packs_dir / "art" / "pack.json").read_text())["pack"]
            assert pack == {"share-files": True, "license": "CC-BY-4.0", "description": "Art"}


# -- archives made by the peers -----------------------------------------------------------------


async def test_import_of_a_tootctl_export(tmp_path):
    files = {"blobcat.png": png_bytes("red"), "blobfox.gif": gif_bytes(), "._blobcat.png": b"\x00\x05\x16\x07mac",
             "README.txt": b"not an emoji"}
    async with serving(tmp_path / "s") as server, server.admin() as a:
        r = await post_import(a, tootctl_tar_gz(files), "export.tar.gz")
        assert r.status_code == 200, r.text
        assert r.json() == {"pack": "export", "format": "mastodon", "dry_run": False, "added": ["blobcat", "blobfox"],
                            "replaced": [], "renamed": {}, "skipped": []}
        assert files_of(server, "export") == {"blobcat": files["blobcat.png"], "blobfox": files["blobfox.gif"]}
        # The older tootctl wrote a plain tar; entries in a folder count by their file name.
        old = tootctl_tar_gz({"emoji/wave.png": png_bytes("blue")}, gzipped=False)
        r = await post_import(a, old, "old.tar", name="export")
        assert r.status_code == 200 and r.json()["added"] == ["wave"], r.text
        assert sorted(files_of(server, "export")) == ["blobcat", "blobfox", "wave"]


async def test_import_of_a_misskey_export(tmp_path):
    records = [misskey_record("blobcat", "blobcat.png", ["cat", "blob"], "CC-BY-4.0 (Volpeon)"),
               misskey_record("neofox", "neofox.gif", [], "CC0"),
               misskey_record("lost", "lost.png", [], None, downloaded=False)]
    files = {"blobcat.png": png_bytes("red"), "neofox.gif": gif_bytes()}
    async with serving(tmp_path / "s") as server, server.admin() as a:
        r = await post_import(a, misskey_zip(records, files), "custom-emojis-2024-05-01-12-00-00.zip")
        assert r.status_code == 200, r.text
        assert r.json() == {"pack": "Blobs", "format": "misskey", "dry_run": False, "added": ["blobcat", "neofox"],
                            "replaced": [], "renamed": {}, "skipped": [{"shortcode": "lost", "reason": "not_downloaded"}]}
        listed = await emoji_of(a, "Blobs")
        assert (listed["blobcat"]["license"], listed["blobcat"]["author"]) == ("CC-BY-4.0", "Volpeon")
        assert listed["blobcat"]["tags"] == ["cat", "blob"]
        assert (listed["neofox"]["license"], listed["neofox"]["author"]) == ("CC0", None)
        assert files_of(server, "Blobs") == {"blobcat": files["blobcat.png"], "neofox": files["neofox.gif"]}


async def test_import_of_pleroma_archives(tmp_path):
    images = {"blobs/blobcat.png": png_bytes("red"), "blobs/blobfox.png": png_bytes("blue")}
    made = pleroma_zip({"blobcat": "blobs/blobcat.png", "blobfox": "blobs/blobfox.png", "bad name": "blobs/blobcat.png",
                        "svg": "x.svg"}, images, {"license": "CC0", "can-download": True, "download-sha256": "AB"})
    async with serving(tmp_path / "s") as server, server.admin() as a:
        r = await post_import(a, made, "blobs.zip")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["pack"] == "blobs" and body["format"] == "pleroma" and body["added"] == ["blobcat", "blobfox"]
        assert sorted(body["skipped"], key=str) == [{"shortcode": "bad name", "reason": "invalid_shortcode"},
                                                    {"shortcode": "svg", "reason": "unsupported_type"}]
        doc = json.loads((server.packs_dir / "blobs" / "pack.json").read_text())
        assert doc["files"] == {"blobcat": "blobs/blobcat.png", "blobfox": "blobs/blobfox.png"}
        assert doc["pack"] == {"license": "CC0"}  # what a listing adds is not the pack's own
        # An emoji-index pack: a zip of images, shortcode = file stem.
        bare = deflated_zip({"finmoji/sauna.png": png_bytes("white"), "finmoji/LICENSE": b"CC0"})
        r = await post_import(a, bare, "finmoji.zip")
        assert r.status_code == 200 and r.json()["added"] == ["sauna"], r.text
        assert files_of(server, "finmoji") == {"sauna": png_bytes("white")}


async def test_import_from_a_url_takes_the_remote_client(tmp_path):
    async with serving(tmp_path / "a", PRIVATE_OK, art) as a_server, serving(tmp_path / "b", PRIVATE_OK) as b_server, \
            serving(tmp_path / "c") as guarded:
        url = f"{a_server.url}{EXPORT}?name=art&format=misskey"
        async with b_server.admin() as b:
            r = await b.post(IMPORT, data={"url": url, "dry_run": "true"})
            assert r.status_code == 200, r.text
            assert r.json()["pack"] == "art" and r.json()["dry_run"] is True and len(r.json()["added"]) == 6
            assert not (b_server.packs_dir / "art").exists()
            r = await b.post(IMPORT, json={"url": url, "name": "fromurl"})
            assert r.status_code == 200, r.text
            [origin] = (await b.get(EMOJI, params={"name": "fromurl"})).json()["provenance"]
            assert origin["source"] == url and origin["format"] == "misskey"
        async with guarded.admin() as g:
            before = tree(guarded.packs_dir)
            assert_error(await g.post(IMPORT, data={"url": url}), 400, contains=("not a public address",))
            assert_error(await g.post(IMPORT, data={"url": "file:///etc/passwd"}), 400)
            assert_error(await g.post(IMPORT, data={}), 400)
            assert tree(guarded.packs_dir) == before and leftovers(guarded) == []


# -- conflicts and dry runs ------------------------------------------------------------------------


def owned(config) -> None:
    write_pack(config.packs_dir, "mine", {"same": "same.png", "differs": "differs.png", "ext": "ext.png"},
               images={"same.png": png_bytes("red"), "differs.png": png_bytes("blue"), "ext.png": png_bytes("green")})
    write_pack(config.packs_dir, "other", {"theirs": "theirs.png"}, images={"theirs.png": png_bytes("white")})


INCOMING = {"same.png": png_bytes("red"), "differs.png": png_bytes("black"), "ext.gif": gif_bytes(),
            "theirs.png": png_bytes("orange"), "new.png": png_bytes("yellow"), "differs_2.png": png_bytes("pink")}


@pytest.mark.parametrize("on_conflict", ["skip", "rename", "replace"])
async def test_on_conflict_and_dry_run(tmp_path, on_conflict):
    archive = tootctl_tar_gz(INCOMING)
    async with serving(tmp_path / "s", prepare=owned) as server, server.admin() as a:
        before = tree(server.packs_dir)
        dry = await post_import(a, archive, "in.tar.gz", name="mine", on_conflict=on_conflict, dry_run=True)
        assert dry.status_code == 200, dry.text
        assert tree(server.packs_dir) == before and leftovers(server) == []
        assert not list((server.config.cache_dir / "imports").glob("*"))
        assert (await a.get(EMOJI, params={"name": "mine"})).json()["provenance"] == []

        real = await post_import(a, archive, "in.tar.gz", name="mine", on_conflict=on_conflict)
        assert real.status_code == 200, real.text
        report = real.json()
        assert {**dry.json(), "dry_run": False} == report  # the dry run said exactly this
        skipped = {s["shortcode"]: s["reason"] for s in report["skipped"]}
        got = files_of(server, "mine")
        assert skipped["same"] == "identical" and got["same"] == png_bytes("red")
        assert got["new"] == png_bytes("yellow") and got["differs_2"] == png_bytes("pink")
        assert files_of(server, "other") == {"theirs": png_bytes("white")}  # never another pack's emoji
        if on_conflict == "skip":
            assert report["added"] == ["differs_2", "new"] and report["replaced"] == []
            assert skipped == {"same": "identical", "differs": "exists", "ext": "exists", "theirs": "exists"}
            assert got["differs"] == png_bytes("blue")
        elif on_conflict == "rename":
            assert report["renamed"] == {"differs": "differs_3", "ext": "ext_2", "theirs": "theirs_2"}
            assert report["added"] == ["differs_2", "differs_3", "ext_2", "new", "theirs_2"]
            assert got["differs"] == png_bytes("blue") and got["differs_3"] == png_bytes("black")
            assert got["ext_2"] == gif_bytes() and got["theirs_2"] == png_bytes("orange")
        else:
            assert report["replaced"] == ["differs", "ext"] and report["added"] == ["differs_2", "new"]
            assert skipped == {"same": "identical", "theirs": "in_other_pack"}
            assert got["differs"] == png_bytes("black") and got["ext"] == gif_bytes()
            doc = json.loads((server.packs_dir / "mine" / "pack.json").read_text())
            assert doc["files"]["differs"] == "differs.png" and doc["files"]["ext"] == "ext.gif"
            assert not (server.packs_dir / "mine" / "ext.png").exists()  # the old image went
        provenance = (await a.get(EMOJI, params={"name": "mine"})).json()["provenance"]
        assert [p["kind"] for p in provenance] == ["import"] and provenance[0]["source"] == "in.tar.gz"
        assert leftovers(server) == []


async def test_import_options_are_checked(tmp_path):
    archive = tootctl_tar_gz({"a1.png": png_bytes()})
    async with serving(tmp_path / "s", prepare=owned) as server:
        before = tree(server.packs_dir)
        async with server.anon() as c:
            assert_error(await post_import(c, archive, "x.tar.gz"), 401)
        async with server.client(server.user_token) as u:
            assert_error(await post_import(u, archive, "x.tar.gz"), 403)
        async with server.admin() as a:
            for fields in ({"format": "discord"}, {"on_conflict": "merge"}, {"dry_run": "maybe"}, {"name": "../x"},
                           {"format": "misskey"}, {"format": "pleroma"}):
                assert_error(await post_import(a, archive, "x.tar.gz", **fields), 400)
            # A folder without pack.json is no pack to import into.
            (server.packs_dir / "loose").mkdir()
            before = tree(server.packs_dir)
            assert_error(await post_import(a, archive, "x.tar.gz", name="loose"), 409)
            assert_error(await post_import(a, archive, "x.tar.gz", name="loose", dry_run=True), 409)
        assert tree(server.packs_dir) == before


# -- hostile archives -----------------------------------------------------------------------------

SMALL_LIMITS = "[emoji]\nmax_file_bytes = 20000\n[remote]\nmax_download_bytes = 300000\n"


def tar_with(entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None, fmt=tarfile.GNU_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        tar.addfile(_info("ok.png", len(png_bytes())), io.BytesIO(png_bytes()))
        for info in entries:
            tar.addfile(info, io.BytesIO((data or {}).get(info.name, b"")) if info.isreg() else None)
    return gzip.compress(raw.getvalue())


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, link
    return info


def hostile_archives() -> list[tuple[str, bytes, int]]:
    png = png_bytes()
    zeros = b"\0" * 5_000_000
    meta_ok = misskey_record("a", "a.png", [], None)
    return [
        ("zip traversal", raw_zip([("ok.png", png), ("../evil.png", png)]), 400),
        ("zip absolute", raw_zip([("ok.png", png), ("/tmp/evil.png", png)]), 400),
        ("zip symlink", zip_bytes({"ok.png": png}, symlinks={"link.png": "/etc/passwd"}), 400),
        ("zip duplicate", raw_zip([("ok.png", png), ("ok.png", png)]), 400),
        ("zip bomb", deflated_zip({"ok.png": png, "bomb.png": zeros}), 400),
        ("zip non-image", raw_zip([("ok.png", png), ("fake.png", b"just some text, really")]), 415),
        ("tar traversal", tar_with([_info("../evil.png", len(png))], {"../evil.png": png}), 400),
        ("tar absolute", tar_with([_info("/etc/evil.png", len(png))], {"/etc/evil.png": png}), 400),
        ("tar symlink", tar_with([_info("link.png", kind=tarfile.SYMTYPE, link="/etc/passwd")]), 400),
        ("tar hardlink", tar_with([_info("hard.png", kind=tarfile.LNKTYPE, link="ok.png")]), 400),
        ("tar char device", tar_with([_info("dev.png", kind=tarfile.CHRTYPE)]), 400),
        ("tar fifo", tar_with([_info("fifo.png", kind=tarfile.FIFOTYPE)]), 400),
        ("tar duplicate", tar_with([_info("ok.png", len(png))], {"ok.png": png}), 400),
        ("tar long name header", tar_with([_info("a" * 100_000 + ".png", len(png))], {"a" * 100_000 + ".png": png}), 400),
        ("tar bomb, one entry", tar_with([_info("bomb.png", len(zeros))], {"bomb.png": zeros}), 413),
        ("tar bomb, in all", tar_with([_info(f"z{i}.txt", 19_000) for i in range(40)],
                                      {f"z{i}.txt": b"\0" * 19_000 for i in range(40)}), 413),
        ("tar non-image", tar_with([_info("fake.png", 5)], {"fake.png": b"hello"}), 415),
        ("not an archive", b"hello, this is text", 400),
        ("truncated tar.gz", tar_with([])[:60], 400),
        ("meta.json not an object", deflated_zip({"meta.json": b"[1, 2]"}), 400),
        ("meta.json emojis not a list", deflated_zip({"meta.json": b'{"emojis": {"a": 1}}'}), 400),
        ("meta.json fileName a number", misskey_zip([{**meta_ok, "fileName": 5}], {"a.png": png}), 400),
        ("meta.json aliases a string", misskey_zip([{**meta_ok, "emoji": {**meta_ok["emoji"], "aliases": "cat"}}],
                                                   {"a.png": png}), 400),
        ("meta.json downloaded a string", misskey_zip([{**meta_ok, "downloaded": "yes"}], {"a.png": png}), 400),
        ("meta.json name missing", misskey_zip([{**meta_ok, "emoji": {"category": "x"}}], {"a.png": png}), 400),
        ("meta.json traversal", misskey_zip([{**meta_ok, "fileName": "../a.png"}], {"a.png": png}), 400),
        ("meta.json file missing", misskey_zip([meta_ok], {}), 400),
        ("meta.json not JSON", deflated_zip({"meta.json": b"{nope", "a.png": png}), 400),
        ("pack.json unsafe path", pleroma_zip({"a": "../a.png"}, {"a.png": png}, {}), 400),
        ("pack.json files a list", deflated_zip({"pack.json": b'{"files": ["a.png"]}', "a.png": png}), 400),
        ("pack.json lists a missing file", pleroma_zip({"a": "a.png", "b": "b.png"}, {"a.png": png}, {}), 400),
    ]


async def test_hostile_archives_are_refused_and_write_nothing(tmp_path):
    async with serving(tmp_path / "s", SMALL_LIMITS, prepare=owned) as server, server.admin() as a:
        before = tree(server.packs_dir)
        for label, data, status in hostile_archives():
            for name in ("mine", "fresh"):  # into an existing pack, and as a new one
                r = await post_import(a, data, "x.bin", name=name)
                assert r.status_code == status, (label, name, r.status_code, r.text)
                assert r.headers["content-type"].startswith("application/json"), label
                assert isinstance(r.json()["error"], str), label
                assert tree(server.packs_dir) == before, label
                assert leftovers(server) == [], label
        r = await post_import(a, b"x" * 400_000, "big.tar.gz")  # over max_download_bytes
        assert r.status_code == 413 and tree(server.packs_dir) == before
        assert (await a.get(EMOJI, params={"name": "mine"})).json()["provenance"] == []


# -- the command line -----------------------------------------------------------------------------


def test_cli_export_import_show_and_set(tmp_path: Path, monkeypatch):
    config = write_config(tmp_path / "site")
    art(SimpleNamespace(packs_dir=config.parent / "packs"))
    out = tmp_path / "art.tar.gz"
    result = run(config, "pack", "export", "art", "--format", "mastodon", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "emojid: renamed blob-cat: blob_cat" in result.stderr
    assert "emojid: converted leaf: webp -> png" in result.stderr
    assert sorted(tar_members(out.read_bytes())) == ["Party.gif", "blob_cat.png", "deep.png", "leaf.png",
                                                     "party_2.png", "x_.png"]
    piped = run(config, "-q", "pack", "export", "art", "--format", "mastodon", "-o", "-")
    assert piped.exit_code == 0 and piped.stderr == "" and piped.stdout_bytes == out.read_bytes()
    monkeypatch.chdir(tmp_path)  # without -o: art.tar.gz here, which is there already
    assert "art.tar.gz exists already" in failed(run(config, "pack", "export", "art", "--format", "mastodon"))

    misskey = tmp_path / "art-misskey.zip"
    assert run(config, "-q", "pack", "export", "art", "--format", "misskey", "-o", str(misskey)).exit_code == 0
    report = json.loads(ok(run(config, "pack", "import-file", str(misskey), "--name", "copy", "--dry-run", "--json")))
    assert report["dry_run"] is True and report["pack"] == "copy" and report["skipped"] == [
        {"shortcode": code, "reason": "identical"} for code in sorted(ART_FILES)]
    assert not (config.parent / "packs" / "copy").exists()

    fresh = write_config(tmp_path / "other")
    lines = ok(run(fresh, "pack", "import-file", str(misskey), "--name", "copy"))
    assert lines.splitlines()[0].split() == ["RESULT", "SHORTCODE", "DETAIL"]
    assert "copy (misskey): 6 added (0 renamed), 0 replaced, 0 skipped" in lines
    shown = ok(run(fresh, "pack", "show", "copy"))
    assert "Came from:" in shown and "art-misskey.zip, import of a misskey archive, 6 emoji" in shown
    assert "CC-BY-4.0  Alice" in shown
    assert ok(run(fresh, "pack", "set", "copy", "--emoji", "leaf", "--author", "Dee", "--tags", "green,plant")) == "ok\n"
    doc = json.loads((tmp_path / "other" / "packs" / "copy" / "pack.json").read_text())
    assert doc["emojid"]["emoji"]["leaf"] == {"author": "Dee", "tags": ["green", "plant"]}
    assert "--emoji" in failed(run(fresh, "pack", "set", "copy", "--author", "Dee"))
    assert "does not exist" in failed(run(fresh, "pack", "set", "copy", "--emoji", "nope", "--license", "x"))
    assert "no such file" in failed(run(fresh, "pack", "import-file", str(tmp_path / "missing.zip")))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(raw_zip([("../evil.png", png_bytes())]))
    assert "unsafe entry" in failed(run(fresh, "pack", "import-file", str(bad)))
