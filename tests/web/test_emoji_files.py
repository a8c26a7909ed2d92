"""POST/PATCH/DELETE /api/v1/pleroma/emoji/packs/files and the 2019 update_file route.

Every test checks the status, the JSON body and the effect: pack.json and the
files on disk, and what the read endpoints (pack, custom_emojis, emoji) answer.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from tests.conftest import serving
from tests.helpers import gif_bytes, jpeg_bytes, png_bytes, tree, webp_bytes, write_pack, zip_bytes

FILES = "/api/v1/pleroma/emoji/packs/files"
PACK = "/api/v1/pleroma/emoji/pack"
LEGACY = "/api/pleroma/emoji/packs/{name}/update_file"

BLANK = png_bytes("white")
BLANK2 = png_bytes("black")


# -- helpers ------------------------------------------------------------------


@pytest.fixture
async def admin(server):
    async with server.admin() as c:
        yield c


async def seed(server, client, name: str = "test_pack", files: dict[str, str] | None = None,
               images: dict[str, bytes] | None = None) -> Path:
    """A pack written by hand as Pleroma lays it out, then seen by the server."""
    if files is None:
        files = {"blank": "blank.png", "blank2": "blank2.png"}
        images = {"blank.png": BLANK, "blank2.png": BLANK2}
    directory = write_pack(server.packs_dir, name, files, images=images)
    r = await client.get(PACK, params={"name": name, "page_size": 1000})
    assert r.status_code == 200, r.text
    assert r.json()["files"] == files
    return directory


def pack_json(server, name: str = "test_pack") -> dict:
    return json.loads((server.packs_dir / name / "pack.json").read_text())


async def custom_emojis(client) -> dict[str, dict]:
    r = await client.get("/api/v1/custom_emojis")
    assert r.status_code == 200
    return {e["shortcode"]: e for e in r.json()}


async def assert_pack(server, client, files: dict[str, str], name: str = "test_pack") -> None:
    """pack.json, the disk, GET pack, custom_emojis and /emoji all agree on `files`."""
    doc = pack_json(server, name)
    assert doc["files"] == files
    assert doc["files_count"] == len(files)
    for filename in files.values():
        assert (server.packs_dir / name / filename).is_file(), filename
    r = await client.get(PACK, params={"name": name, "page_size": 1000})
    assert r.status_code == 200, r.text
    assert r.json()["files"] == files
    assert r.json()["files_count"] == len(files)
    listed = {s: e for s, e in (await custom_emojis(client)).items() if e["category"] == name}
    assert set(listed) == set(files)
    for shortcode, filename in files.items():
        assert listed[shortcode]["url"] == f"{server.url}/emoji/{name}/{filename}"
        assert f"pack:{name}" in listed[shortcode]["tags"]
    r = await client.get("/api/v1/pleroma/emoji")
    assert r.status_code == 200
    mine = {s: e for s, e in r.json().items() if f"pack:{name}" in e["tags"]}
    assert {s: e["image_url"] for s, e in mine.items()} == {s: f"/emoji/{name}/{f}" for s, f in files.items()}


def files_on_disk(server, name: str = "test_pack") -> set[str]:
    """Every file and folder inside the pack folder (relative), pack.json included."""
    base = server.packs_dir / name
    return {p.relative_to(base).as_posix() for p in base.rglob("*")}


def outside_state(server) -> dict[str, bytes]:
    """Everything under the test's tmp root except the SQLite index and the cache."""
    ignored = (f"{server.root.name}/emojid.db", f"{server.root.name}/cache/")
    return tree(server.root.parent, skip=lambda rel: rel.startswith(ignored))


def noise_png(size: int) -> bytes:
    """A PNG that does not compress: random pixels."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buf, "PNG")
    return buf.getvalue()


def upload(data: bytes, filename: str = "blank.png", content_type: str = "image/png") -> dict:
    return {"file": (filename, data, content_type)}


# -- adding files -------------------------------------------------------------


async def test_upload_each_format_with_defaults(server, admin):
    await seed(server, admin)
    expected = {"blank": "blank.png", "blank2": "blank2.png"}
    images = {
        "cat.png": (png_bytes("red"), "image/png"),
        "dance.gif": (gif_bytes(), "image/gif"),
        "leaf.webp": (webp_bytes(), "image/webp"),
        "sun.jpeg": (jpeg_bytes(), "image/jpeg"),
        "moon.jpg": (jpeg_bytes("blue"), "image/jpeg"),
    }
    for filename, (data, ctype) in images.items():
        r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(data, filename, ctype))
        assert r.status_code == 200, r.text
        expected[filename.rsplit(".", 1)[0]] = filename
        assert r.json() == expected
        assert (server.packs_dir / "test_pack" / filename).read_bytes() == data
        served = await admin.get(f"/emoji/test_pack/{filename}")
        assert served.status_code == 200
        assert served.content == data
        assert served.headers["content-type"] == ctype
    await assert_pack(server, admin, expected)


async def test_upload_with_explicit_shortcode_and_subfolder(server, admin):
    await seed(server, admin)
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "blank3", "filename": "dir/blank.png"}, files=upload(BLANK))
    assert r.status_code == 200, r.text
    assert r.json() == {"blank": "blank.png", "blank2": "blank2.png", "blank3": "dir/blank.png"}
    assert (server.packs_dir / "test_pack" / "dir" / "blank.png").read_bytes() == BLANK
    # Shortcode defaults to the stem of an explicit filename, nested folders are made.
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"filename": "a/b/wave.png"}, files=upload(png_bytes("pink"), "upload.png"))
    assert r.status_code == 200, r.text
    assert r.json()["wave"] == "a/b/wave.png"
    # Shortcode given, filename from the upload.
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "hello"}, files=upload(png_bytes("blue"), "hi_there.png"))
    assert r.status_code == 200, r.text
    assert r.json()["hello"] == "hi_there.png"
    # Parameters may also come in the query string.
    r = await admin.post(FILES, params={"name": "test_pack", "shortcode": "q1", "filename": "q/one.png"},
                         files=upload(png_bytes("gray")))
    assert r.status_code == 200, r.text
    await assert_pack(server, admin, {
        "blank": "blank.png", "blank2": "blank2.png", "blank3": "dir/blank.png",
        "wave": "a/b/wave.png", "hello": "hi_there.png", "q1": "q/one.png",
    })
    assert not list((server.packs_dir / "test_pack").rglob(".tmp-*"))


async def test_shortcode_conflicts_in_same_and_other_pack(server, admin):
    await seed(server, admin)
    await seed(server, admin, "other", {"elsewhere": "e.png"})
    before = outside_state(server)
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "blank", "filename": "dir/blank.png"}, files=upload(BLANK))
    assert r.status_code == 409
    assert r.json() == {"error": 'An emoji with the "blank" shortcode already exists'}
    # Shortcodes are unique across every pack.
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "elsewhere"}, files=upload(png_bytes("red"), "new.png"))
    assert r.status_code == 409
    assert r.json() == {"error": 'An emoji with the "elsewhere" shortcode already exists'}
    # ... also when the shortcode comes from the file name.
    r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(png_bytes("red"), "elsewhere.png"))
    assert r.status_code == 409
    assert r.json() == {"error": 'An emoji with the "elsewhere" shortcode already exists'}
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})
    await assert_pack(server, admin, {"elsewhere": "e.png"}, name="other")


async def test_filename_used_by_another_emoji_is_not_overwritten(server, admin):
    await seed(server, admin)
    (server.packs_dir / "test_pack" / "stray.png").write_bytes(BLANK2)  # on disk, in no listing
    before = outside_state(server)
    for filename in ("blank.png", "stray.png"):
        r = await admin.post(FILES, params={"name": "test_pack"},
                             data={"shortcode": "newone", "filename": filename}, files=upload(png_bytes("red")))
        assert r.status_code == 409, r.text
        assert "already exists" in r.json()["error"]
        assert filename in r.json()["error"]
    # Defaulted from the uploaded name, too.
    r = await admin.post(FILES, params={"name": "test_pack"}, data={"shortcode": "newone"},
                         files=upload(png_bytes("red"), "blank2.png"))
    assert r.status_code == 409
    assert outside_state(server) == before
    assert (server.packs_dir / "test_pack" / "blank.png").read_bytes() == BLANK
    assert (server.packs_dir / "test_pack" / "blank2.png").read_bytes() == BLANK2
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


async def test_add_file_parameter_errors(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    for data in ({"shortcode": "blank3", "filename": ""}, {"shortcode": "", "filename": "x.png"},
                 {"shortcode": ""}, {"filename": ""}):
        r = await admin.post(FILES, params={"name": "test_pack"}, data=data, files=upload(png_bytes("red")))
        assert r.status_code == 422, (data, r.text)
        assert r.json() == {"error": "pack name, shortcode or filename cannot be empty"}
    r = await admin.post(FILES, files=upload(BLANK, "x.png"))
    assert r.status_code == 400
    assert r.json() == {"error": "pack name cannot be empty"}
    r = await admin.post(FILES, params={"name": "test_pack"}, data={"shortcode": "x", "filename": "x.png"})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: file."}
    r = await admin.post(FILES, params={"name": "test_pack"}, data={"shortcode": "x"},
                         files={"other": ("x.png", BLANK, "image/png")})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: file."}
    r = await admin.post(FILES, params={"name": "not_loaded"},
                         data={"shortcode": "blank3", "filename": "dir/blank.png"}, files=upload(BLANK))
    assert r.status_code == 404
    assert r.json() == {"error": 'pack "not_loaded" is not found'}
    assert outside_state(server) == before
    assert not (server.packs_dir / "not_loaded").exists()
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


async def test_non_image_bad_extension_and_malformed_bodies(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    cases = [
        (upload(b"this is not an image at all" * 10, "text.png", "image/png"), {}, (415, 400)),
        (upload(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.png", "image/svg+xml"), {}, (415, 400)),
        (upload(png_bytes()[:40], "trunc.png"), {}, (415, 400)),
        (upload(b"plain", "notes.txt", "text/plain"), {}, (400,)),
        (upload(png_bytes(), "pic.svg", "image/svg+xml"), {}, (400,)),
        (upload(png_bytes(), "pic.png"), {"filename": "pic.exe"}, (400,)),
        (upload(png_bytes(), "pic"), {}, (400,)),
        (upload(png_bytes(), "pic.png"), {"shortcode": "has space"}, (400,)),
    ]
    for files, data, statuses in cases:
        r = await admin.post(FILES, params={"name": "test_pack"}, data=data, files=files)
        assert r.status_code in statuses, (files["file"][0], data, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert isinstance(r.json()["error"], str)
    headers = {"content-type": "multipart/form-data"}  # no boundary
    bodies = [
        (headers, b"--x\r\ncontent-disposition: form-data; name=\"file\"\r\n\r\nabc"),
        ({"content-type": "multipart/form-data; boundary=zzz"}, b"--zzz\r\nbroken header line\r\n\r\n"),
        ({"content-type": "multipart/form-data; boundary=zzz"}, b"garbage without any boundary"),
        ({"content-type": "application/json"}, b"{not json"),
        ({"content-type": "application/json"}, b"[1, 2]"),
        ({"content-type": "application/octet-stream"}, png_bytes()),
    ]
    for hdrs, body in bodies:
        r = await admin.post(FILES, params={"name": "test_pack"}, content=body, headers=hdrs)
        assert 400 <= r.status_code < 500, (hdrs, body[:40], r.status_code, r.text)
        assert isinstance(r.json()["error"], str)
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


async def test_file_over_max_file_bytes_is_413(tmp_path):
    async with serving(tmp_path / "small", extra="[emoji]\nmax_file_bytes = 2000") as server:
        async with server.admin() as admin:
            await seed(server, admin)
            big = noise_png(64)
            assert len(big) > 2000
            before = outside_state(server)
            r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(big, "big.png"))
            assert r.status_code == 413, r.text
            assert isinstance(r.json()["error"], str)
            # A zip holding only an oversized image adds nothing.
            r = await admin.post(FILES, params={"name": "test_pack"},
                                 files=upload(zip_bytes({"big.png": big}), "e.zip", "application/zip"))
            assert r.status_code in (200, 413), r.text
            assert outside_state(server) == before
            assert not (server.packs_dir / "test_pack" / "big.png").exists()
            await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})
            small = png_bytes("red", size=8)
            assert len(small) <= 2000
            r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(small, "small.png"))
            assert r.status_code == 200, r.text
            await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png", "small": "small.png"})


# -- hostile names ------------------------------------------------------------


async def test_hostile_filenames_and_shortcodes(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    hostile_filenames = ["../x.png", "../../x.png", "dir/../../x.png", "/abs.png", "/tmp/abs.png", "a\\b.png",
                         "..\\x.png", ".hidden.png", "dir/.hidden/x.png", "nul\0.png", "./x.png", "dir//x.png",
                         "dir/", "..", "x.png/"]
    for filename in hostile_filenames:
        r = await admin.post(FILES, params={"name": "test_pack"}, data={"shortcode": "evil", "filename": filename},
                             files=upload(png_bytes("red")))
        assert 400 <= r.status_code < 500 and r.status_code != 409, (filename, r.status_code, r.text)
        assert isinstance(r.json()["error"], str)
    for shortcode in ["../evil", "a/b", "a\\b", "nul\0", ".", "..", "white space", "colon:colon"]:
        r = await admin.post(FILES, params={"name": "test_pack"}, data={"shortcode": shortcode, "filename": "ok.png"},
                             files=upload(png_bytes("red")))
        assert 400 <= r.status_code < 500, (shortcode, r.status_code, r.text)
    # Uploaded (not explicit) names that are unsafe as paths are refused, or reduced to a base name.
    for uploaded in ["a\\b.png", ".hidden.png"]:
        r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(png_bytes("red"), uploaded))
        assert 400 <= r.status_code < 500, (uploaded, r.status_code, r.text)
    # A folder part that is really a file, or a symlink leading out of the pack.
    outside = server.root.parent / "outside_dir"
    outside.mkdir()
    (server.packs_dir / "test_pack" / "escape_link").symlink_to(outside)
    before = outside_state(server)
    for filename in ["blank.png/x.png", "escape_link/x.png", "escape_link/../x.png"]:
        r = await admin.post(FILES, params={"name": "test_pack"}, data={"shortcode": "evil", "filename": filename},
                             files=upload(png_bytes("red")))
        assert 400 <= r.status_code < 500, (filename, r.status_code, r.text)
        r = await admin.patch(FILES, params={"name": "test_pack"},
                              data={"shortcode": "blank2", "new_shortcode": "blank2", "new_filename": filename})
        assert 400 <= r.status_code < 500, (filename, r.status_code, r.text)
    assert list(outside.iterdir()) == []
    assert outside_state(server) == before
    assert not Path("/abs.png").exists()
    r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(png_bytes("red"), "../../escape.png"))
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert r.json()["escape"] == "escape.png"
        assert (server.packs_dir / "test_pack" / "escape.png").is_file()
    assert not any("escape" in k for k in outside_state(server) if not k.startswith("local/packs/test_pack/"))
    # Hostile shortcodes never reach the listing.
    assert set(pack_json(server)["files"]) <= {"blank", "blank2", "escape"}


async def test_hostile_pack_names(server, admin):
    await seed(server, admin)
    (server.root / "outside").mkdir()
    write_pack(server.root, "outside", {})  # a pack.json outside packs_dir, reachable only by `../outside`
    before = outside_state(server)
    for name in ["..", "../outside", "/tmp", "test_pack/dir", "a\\b", ".hidden", "nul\0x"]:
        for method, kwargs in [
            ("POST", {"files": upload(png_bytes("red"), "evil.png")}),
            ("PATCH", {"data": {"shortcode": "blank", "new_shortcode": "evil", "new_filename": "evil.png"}}),
            ("DELETE", {"params": {"shortcode": "blank"}}),
        ]:
            params = {"name": name, **kwargs.pop("params", {})}
            r = await admin.request(method, FILES, params=params, **kwargs)
            assert 400 <= r.status_code < 500, (name, method, r.status_code, r.text)
            assert isinstance(r.json()["error"], str)
        r = await admin.post(LEGACY.format(name=quote(name, safe="")), data={"action": "add"},
                             files=upload(png_bytes("red"), "evil.png"))
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


# -- zip uploads --------------------------------------------------------------


async def test_zip_upload_adds_every_image(server, admin):
    await seed(server, admin)
    a, b, c, d = png_bytes("red"), gif_bytes(), webp_bytes(), jpeg_bytes()
    archive = zip_bytes({
        "128px/a_trusted_friend-128.png": a,
        "auroraborealis.png": png_bytes("green"),
        "1000px/baby_in_a_box.gif": b,
        "1000px/bear.webp": c,
        "128px/bear-128.jpg": d,
        "README.txt": b"not an emoji",
        "notes/info.json": b"{}",
        "fake.png": b"text pretending to be a png",
    })
    r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(archive, "emojis.zip", "application/zip"))
    assert r.status_code == 200, r.text
    expected = {
        "a_trusted_friend-128": "128px/a_trusted_friend-128.png",
        "auroraborealis": "auroraborealis.png",
        "baby_in_a_box": "1000px/baby_in_a_box.gif",
        "bear": "1000px/bear.webp",
        "bear-128": "128px/bear-128.jpg",
        "blank": "blank.png",
        "blank2": "blank2.png",
    }
    assert r.json() == expected
    assert (server.packs_dir / "test_pack" / "1000px/bear.webp").read_bytes() == c
    assert (server.packs_dir / "test_pack" / "128px/bear-128.jpg").read_bytes() == d
    on_disk = files_on_disk(server)
    assert "README.txt" not in on_disk and "notes" not in on_disk and "fake.png" not in on_disk
    assert not [p for p in on_disk if ".tmp-" in p]
    await assert_pack(server, admin, expected)


async def test_zip_detected_by_bytes_with_octet_stream(server, admin):
    await seed(server, admin)
    archive = zip_bytes({"sub/zipped.png": png_bytes("navy"), "blank.png": png_bytes("red")})
    r = await admin.post(FILES, params={"name": "test_pack"},
                         files=upload(archive, "upload.bin", "application/octet-stream"))
    assert r.status_code == 200, r.text
    # `blank` exists already: that entry is skipped, never overwritten.
    expected = {"blank": "blank.png", "blank2": "blank2.png", "zipped": "sub/zipped.png"}
    assert r.json() == expected
    assert (server.packs_dir / "test_pack" / "blank.png").read_bytes() == BLANK
    await assert_pack(server, admin, expected)


UNSAFE_ZIPS = {
    "traversal": ({"good.png": png_bytes(), "../evil.png": png_bytes("red")}, None),
    "nested-traversal": ({"good.png": png_bytes(), "sub/../../evil.png": png_bytes("red")}, None),
    "absolute": ({"good.png": png_bytes(), "/tmp/evil.png": png_bytes("red")}, None),
    "backslash": ({"good.png": png_bytes(), "sub\\..\\..\\evil.png": png_bytes("red")}, None),
    "dot-dir": ({"good.png": png_bytes(), "./../evil.png": png_bytes("red")}, None),
    "symlink-abs": ({"good.png": png_bytes()}, {"evil.png": "/etc/passwd"}),
    "symlink-rel": ({"good.png": png_bytes()}, {"link.png": "../../outside.png"}),
}


async def test_unsafe_or_corrupt_zip_is_refused_whole(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    for case, (entries, symlinks) in UNSAFE_ZIPS.items():
        archive = zip_bytes(entries, symlinks)
        for ctype in ("application/zip", "application/octet-stream"):
            r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(archive, "evil.zip", ctype))
            assert r.status_code == 400, (case, ctype, r.text)
            assert isinstance(r.json()["error"], str)
        # Not even the safe entry lands.
        assert outside_state(server) == before, case
    # Corrupt archives, whether named zips or recognised by their first bytes: 4xx.
    good = zip_bytes({"one.png": png_bytes()})
    for data, ctype in [
        (b"PK\x03\x04" + b"\x00" * 100, "application/octet-stream"),
        (b"definitely not a zip", "application/zip"),
        (good[: len(good) // 2], "application/zip"),
        (good[:-10], "application/octet-stream"),
    ]:
        r = await admin.post(FILES, params={"name": "test_pack"}, files=upload(data, "bad.zip", ctype))
        assert 400 <= r.status_code < 500, (ctype, r.status_code, r.text)
        assert isinstance(r.json()["error"], str)
    assert outside_state(server) == before
    assert not Path("/tmp/evil.png").exists() or Path("/tmp/evil.png").read_bytes() != png_bytes("red")
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


# -- renaming -----------------------------------------------------------------


async def test_rename_move_and_delete_prune_folders(server, admin):
    """Pleroma's "new with shortcode as file with update"."""
    await seed(server, admin)
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "blank4", "filename": "dir/blank.png"}, files=upload(png_bytes("red")))
    assert r.status_code == 200, r.text
    assert r.json() == {"blank": "blank.png", "blank4": "dir/blank.png", "blank2": "blank2.png"}
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank4", "new_shortcode": "blank3", "new_filename": "dir_2/blank_3.png"})
    assert r.status_code == 200, r.text
    assert r.json() == {"blank3": "dir_2/blank_3.png", "blank": "blank.png", "blank2": "blank2.png"}
    assert not (server.packs_dir / "test_pack" / "dir").exists()
    assert (server.packs_dir / "test_pack" / "dir_2" / "blank_3.png").read_bytes() == png_bytes("red")
    await assert_pack(server, admin, {"blank3": "dir_2/blank_3.png", "blank": "blank.png", "blank2": "blank2.png"})
    assert "blank4" not in await custom_emojis(admin)
    # Deep folders are pruned up to the pack root, not beyond.
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          json={"shortcode": "blank3", "new_shortcode": "blank3", "new_filename": "x/y/z/deep.png"})
    assert r.status_code == 200, r.text
    assert not (server.packs_dir / "test_pack" / "dir_2").exists()
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": "blank3"})
    assert r.status_code == 200, r.text
    assert r.json() == {"blank": "blank.png", "blank2": "blank2.png"}
    assert files_on_disk(server) == {"pack.json", "blank.png", "blank2.png"}
    assert (server.packs_dir / "test_pack").is_dir()
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


async def test_rename_shortcode_only_keeps_file(server, admin):
    await seed(server, admin)
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank", "new_shortcode": "renamed", "new_filename": "blank.png"})
    assert r.status_code == 200, r.text
    assert r.json() == {"renamed": "blank.png", "blank2": "blank2.png"}
    assert (server.packs_dir / "test_pack" / "blank.png").read_bytes() == BLANK
    await assert_pack(server, admin, {"renamed": "blank.png", "blank2": "blank2.png"})
    # Same shortcode, different file: a move; moving onto another emoji's file is refused.
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "renamed", "new_shortcode": "renamed", "new_filename": "blank2.png"})
    assert r.status_code == 409, r.text
    assert (server.packs_dir / "test_pack" / "blank2.png").read_bytes() == BLANK2
    await assert_pack(server, admin, {"renamed": "blank.png", "blank2": "blank2.png"})


async def test_rename_conflict_and_force(server, admin):
    await seed(server, admin)
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "blank3", "filename": "dir/blank.png"}, files=upload(png_bytes("red")))
    assert r.status_code == 200
    before = outside_state(server)
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank", "new_shortcode": "blank2", "new_filename": "dir_2/blank_3.png"})
    assert r.status_code == 409
    assert r.json() == {
        "error": "New shortcode \"blank2\" is already used. If you want to override emoji use 'force' option"
    }
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank", "new_shortcode": "blank2", "new_filename": "dir_2/blank_3.png",
                                "force": "false"})
    assert r.status_code == 409
    assert outside_state(server) == before
    # With force the old blank2 goes, and so does its file.
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank3", "new_shortcode": "blank2", "new_filename": "dir_2/blank_3.png",
                                "force": "true"})
    assert r.status_code == 200, r.text
    expected = {"blank": "blank.png", "blank2": "dir_2/blank_3.png"}
    assert r.json() == expected
    assert files_on_disk(server) == {"pack.json", "blank.png", "dir_2", "dir_2/blank_3.png"}
    assert (server.packs_dir / "test_pack" / "dir_2/blank_3.png").read_bytes() == png_bytes("red")
    await assert_pack(server, admin, expected)
    assert (await custom_emojis(admin))["blank2"]["url"].endswith("/emoji/test_pack/dir_2/blank_3.png")


async def test_forced_rename_onto_the_replaced_file(server, admin):
    """force onto an emoji whose filename is the new filename: that file is replaced, the old folder
    pruned, and a file still listed under an alias is kept."""
    await seed(server, admin)
    r = await admin.post(FILES, params={"name": "test_pack"},
                         data={"shortcode": "blank3", "filename": "dir/three.png"}, files=upload(png_bytes("red")))
    assert r.status_code == 200
    r = await admin.patch(FILES, params={"name": "test_pack"}, json={
        "shortcode": "blank3", "new_shortcode": "blank2", "new_filename": "blank2.png", "force": True})
    assert r.status_code == 200, r.text
    expected = {"blank": "blank.png", "blank2": "blank2.png"}
    assert r.json() == expected
    assert (server.packs_dir / "test_pack" / "blank2.png").read_bytes() == png_bytes("red")
    assert files_on_disk(server) == {"pack.json", "blank.png", "blank2.png"}
    await assert_pack(server, admin, expected)

    await seed(server, admin, "aliases", files={"a": "shared.png", "b": "shared.png", "c": "c.png"},
               images={"shared.png": BLANK, "c.png": BLANK2})
    r = await admin.patch(FILES, params={"name": "aliases"}, json={
        "shortcode": "a", "new_shortcode": "c", "new_filename": "c.png", "force": True})
    assert r.status_code == 200, r.text
    expected = {"b": "shared.png", "c": "c.png"}
    assert r.json() == expected
    # `b` still needs shared.png; c.png now holds a's image.
    assert (server.packs_dir / "aliases" / "shared.png").read_bytes() == BLANK
    assert (server.packs_dir / "aliases" / "c.png").read_bytes() == BLANK
    assert files_on_disk(server, "aliases") == {"pack.json", "shared.png", "c.png"}
    await assert_pack(server, admin, expected, name="aliases")


async def test_rename_across_packs_needs_force(server, admin):
    await seed(server, admin)
    await seed(server, admin, "other", {"taken": "taken.png"})
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank", "new_shortcode": "taken", "new_filename": "blank.png"})
    assert r.status_code == 409
    assert r.json() == {
        "error": "New shortcode \"taken\" is already used. If you want to override emoji use 'force' option"
    }
    await assert_pack(server, admin, {"taken": "taken.png"}, name="other")
    r = await admin.patch(FILES, params={"name": "test_pack"},
                          data={"shortcode": "blank", "new_shortcode": "taken", "new_filename": "blank.png",
                                "force": "true"})
    assert r.status_code == 200, r.text
    assert r.json() == {"taken": "blank.png", "blank2": "blank2.png"}
    await assert_pack(server, admin, {"taken": "blank.png", "blank2": "blank2.png"})
    await assert_pack(server, admin, {}, name="other")
    assert not (server.packs_dir / "other" / "taken.png").exists()
    emoji = await custom_emojis(admin)
    assert emoji["taken"]["category"] == "test_pack"


async def test_rename_errors(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    p = {"name": "test_pack"}
    r = await admin.patch(FILES, params=p,
                          data={"shortcode": "blank3", "new_shortcode": "blank4", "new_filename": "dir_2/blank_3.png"})
    assert r.status_code == 400
    assert r.json() == {"error": 'Emoji "blank3" does not exist'}
    r = await admin.patch(FILES, params=p, data={"shortcode": "blank", "new_filename": "dir_2/blank_3.png"})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: new_shortcode."}
    r = await admin.patch(FILES, params=p, data={"shortcode": "blank", "new_shortcode": "blank5"})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: new_filename."}
    r = await admin.patch(FILES, params=p, data={"new_shortcode": "blank5", "new_filename": "b5.png"})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: shortcode."}
    for data in ({"shortcode": "blank", "new_shortcode": "blank5", "new_filename": ""},
                 {"shortcode": "blank", "new_shortcode": "", "new_filename": "b5.png"}):
        r = await admin.patch(FILES, params=p, data=data)
        assert r.status_code == 422, (data, r.text)
        assert r.json() == {"error": "new_shortcode or new_filename cannot be empty"}
    r = await admin.patch(FILES, params={"name": "not_loaded"},
                          data={"shortcode": "blank4", "new_shortcode": "blank3", "new_filename": "dir_2/blank_3.png"})
    assert r.status_code == 404
    assert r.json() == {"error": 'pack "not_loaded" is not found'}
    r = await admin.patch(FILES, data={"shortcode": "blank", "new_shortcode": "b", "new_filename": "b.png"})
    assert r.status_code == 400
    for bad in ["../x.png", "/abs.png", "a\\b.png", ".h.png", "x.txt"]:
        r = await admin.patch(FILES, params=p, data={"shortcode": "blank", "new_shortcode": "b", "new_filename": bad})
        assert r.status_code == 400, (bad, r.text)
    r = await admin.patch(FILES, params=p, data={"shortcode": "blank", "new_shortcode": "../b", "new_filename": "b.png"})
    assert r.status_code == 400
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


# -- deleting -----------------------------------------------------------------


async def test_delete_file_and_aliases(server, admin):
    await seed(server, admin, files={"a": "sub/shared.png", "b": "sub/shared.png", "c": "c.png"},
               images={"sub/shared.png": BLANK, "c.png": BLANK2})
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": "a"})
    assert r.status_code == 200, r.text
    assert r.json() == {"b": "sub/shared.png", "c": "c.png"}
    assert (server.packs_dir / "test_pack" / "sub" / "shared.png").read_bytes() == BLANK
    await assert_pack(server, admin, {"b": "sub/shared.png", "c": "c.png"})
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": "b"})
    assert r.status_code == 200, r.text
    assert r.json() == {"c": "c.png"}
    assert files_on_disk(server) == {"pack.json", "c.png"}
    await assert_pack(server, admin, {"c": "c.png"})
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": "c"})
    assert r.status_code == 200
    assert r.json() == {}
    assert files_on_disk(server) == {"pack.json"}
    await assert_pack(server, admin, {})


async def test_delete_errors(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": "blank3"})
    assert r.status_code == 400
    assert r.json() == {"error": 'Emoji "blank3" does not exist'}
    r = await admin.delete(FILES, params={"name": "not_loaded", "shortcode": "blank3"})
    assert r.status_code == 404
    assert r.json() == {"error": 'pack "not_loaded" is not found'}
    r = await admin.delete(FILES, params={"name": "not_loaded", "shortcode": ""})
    assert r.status_code == 404
    assert r.json() == {"error": 'pack "not_loaded" is not found'}
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": ""})
    assert r.status_code == 422
    assert r.json() == {"error": "pack name or shortcode cannot be empty"}
    r = await admin.delete(FILES, params={"name": "test_pack"})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: shortcode."}
    r = await admin.delete(FILES, params={"shortcode": "blank"})
    assert r.status_code == 400
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})
    # A hand-written pack.json pointing outside its folder never deletes that file.
    victim = server.root / "victim.png"
    victim.write_bytes(BLANK)
    doc = pack_json(server)
    doc["files"]["evil"] = "../../victim.png"
    (server.packs_dir / "test_pack" / "pack.json").write_text(json.dumps(doc))
    r = await admin.delete(FILES, params={"name": "test_pack", "shortcode": "evil"})
    assert r.status_code == 400, r.text
    assert victim.read_bytes() == BLANK


# -- concurrency --------------------------------------------------------------


async def test_concurrent_uploads_of_one_shortcode(server, admin):
    await seed(server, admin)

    async def one(i: int):
        return await admin.post(FILES, params={"name": "test_pack"},
                                data={"shortcode": "race", "filename": f"race{i}.png"},
                                files=upload(png_bytes("red"), f"race{i}.png"))

    results = await asyncio.gather(*(one(i) for i in range(20)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [409] * 19, statuses
    for r in results:
        if r.status_code == 409:
            assert r.json() == {"error": 'An emoji with the "race" shortcode already exists'}
    doc = pack_json(server)
    winner = doc["files"]["race"]
    expected = {"blank": "blank.png", "blank2": "blank2.png", "race": winner}
    assert doc["files"] == expected
    assert files_on_disk(server) == {"pack.json", "blank.png", "blank2.png", winner}
    await assert_pack(server, admin, expected)


async def test_concurrent_uploads_of_different_shortcodes(server, admin):
    await seed(server, admin)

    async def one(i: int):
        return await admin.post(FILES, params={"name": "test_pack"},
                                files=upload(png_bytes("red", size=8 + i), f"e{i:02}.png"))

    results = await asyncio.gather(*(one(i) for i in range(20)))
    assert [r.status_code for r in results] == [200] * 20, [r.text for r in results if r.status_code != 200]
    expected = {"blank": "blank.png", "blank2": "blank2.png"} | {f"e{i:02}": f"e{i:02}.png" for i in range(20)}
    assert pack_json(server)["files"] == expected
    assert files_on_disk(server) == {"pack.json", *expected.values()}
    await assert_pack(server, admin, expected)


# -- auth ---------------------------------------------------------------------


async def test_auth_matrix(server, admin):
    await seed(server, admin)
    before = outside_state(server)
    requests = [
        ("POST", {"params": {"name": "test_pack"}, "files": upload(png_bytes("red"), "nope.png")}),
        ("PATCH", {"params": {"name": "test_pack"},
                   "data": {"shortcode": "blank", "new_shortcode": "nope", "new_filename": "nope.png"}}),
        ("DELETE", {"params": {"name": "test_pack", "shortcode": "blank"}}),
    ]
    legacy = ("POST", {"data": {"action": "remove", "shortcode": "blank"}})
    clients = [
        (server.anon(), 401),
        (server.client(server.user_token), 403),
        (server.client(server.tokens["admin_read"]), 403),
        (server.client("not-a-token"), 401),
        (server.client(None, auth=("admin", "wrongpass")), 401),
        (server.client(None, auth=("user", "userpass")), 403),
    ]
    for client, status in clients:
        async with client:
            for method, kwargs in requests:
                r = await client.request(method, FILES, **kwargs)
                assert r.status_code == status, (method, status, r.text)
                assert isinstance(r.json()["error"], str)
            r = await client.request(legacy[0], LEGACY.format(name="test_pack"), **legacy[1])
            assert r.status_code == status, r.text
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})
    # HTTP Basic with the admin's password is enough.
    async with server.client(None, auth=("admin", "adminpass")) as basic:
        r = await basic.post(FILES, params={"name": "test_pack"}, files=upload(png_bytes("red"), "basic.png"))
        assert r.status_code == 200, r.text
        assert r.json() == {"blank": "blank.png", "blank2": "blank2.png", "basic": "basic.png"}
        r = await basic.delete(FILES, params={"name": "test_pack", "shortcode": "basic"})
        assert r.status_code == 200, r.text
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png"})


# -- the 2019 route -----------------------------------------------------------


async def test_legacy_update_file(server, admin):
    await seed(server, admin)
    url = LEGACY.format(name="test_pack")
    r = await admin.post(url, data={"action": "add", "shortcode": "blank3", "filename": "dir/blank.png"},
                         files=upload(png_bytes("red")))
    assert r.status_code == 200, r.text
    assert r.json() == {"blank": "blank.png", "blank2": "blank2.png", "blank3": "dir/blank.png"}
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png", "blank3": "dir/blank.png"})
    r = await admin.post(url, data={"action": "add", "shortcode": "blank"}, files=upload(png_bytes("red"), "o.png"))
    assert r.status_code == 409
    assert r.json() == {"error": 'An emoji with the "blank" shortcode already exists'}
    r = await admin.post(url, data={"action": "update", "shortcode": "blank3", "new_shortcode": "blank4",
                                    "new_filename": "dir_2/blank_4.png"})
    assert r.status_code == 200, r.text
    assert r.json() == {"blank": "blank.png", "blank2": "blank2.png", "blank4": "dir_2/blank_4.png"}
    assert not (server.packs_dir / "test_pack" / "dir").exists()
    await assert_pack(server, admin, {"blank": "blank.png", "blank2": "blank2.png", "blank4": "dir_2/blank_4.png"})
    r = await admin.post(url, data={"action": "update", "shortcode": "blank4", "new_shortcode": "blank",
                                    "new_filename": "x.png"})
    assert r.status_code == 409
    r = await admin.post(url, data={"action": "update", "shortcode": "blank4", "new_shortcode": "blank",
                                    "new_filename": "x.png", "force": "true"})
    assert r.status_code == 200, r.text
    assert r.json() == {"blank": "x.png", "blank2": "blank2.png"}
    assert files_on_disk(server) == {"pack.json", "x.png", "blank2.png"}
    r = await admin.post(url, data={"action": "remove", "shortcode": "blank"})
    assert r.status_code == 200, r.text
    assert r.json() == {"blank2": "blank2.png"}
    assert files_on_disk(server) == {"pack.json", "blank2.png"}
    await assert_pack(server, admin, {"blank2": "blank2.png"})
    # Zips go through the same code.
    r = await admin.post(url, data={"action": "add"},
                         files=upload(zip_bytes({"z/zz.png": png_bytes("red")}), "z.zip", "application/zip"))
    assert r.status_code == 200, r.text
    assert r.json() == {"blank2": "blank2.png", "zz": "z/zz.png"}
    # Errors as on the current routes.
    before = outside_state(server)
    for data, status in [({"action": "remove", "shortcode": "nope"}, 400), ({"action": "explode"}, 400),
                         ({}, 400), ({"action": "update", "shortcode": "zz"}, 400)]:
        r = await admin.post(url, data=data)
        assert r.status_code == status, (data, r.text)
        assert isinstance(r.json()["error"], str)
    r = await admin.post(LEGACY.format(name="not_loaded"), data={"action": "remove", "shortcode": "x"})
    assert r.status_code == 404
    assert r.json() == {"error": 'pack "not_loaded" is not found'}
    r = await admin.post(url, data={"action": "add"})
    assert r.status_code == 400
    assert r.json() == {"error": "Missing field: file."}
    assert outside_state(server) == before
    await assert_pack(server, admin, {"blank2": "blank2.png", "zz": "z/zz.png"})
