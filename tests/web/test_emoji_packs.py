"""Pack endpoints against a real server: listing, show, create, metadata, delete,
import, archives, the 2019 aliases and the auth matrix.

Every test checks the status, the JSON, and the effect (a second request or
the files on disk).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import shutil
import zipfile

from emojid.config import load
from emojid.emoji.packs import PackService
from emojid.emoji.web.lists import AnswerCache
from emojid.migrations import open_database
from tests.conftest import serving, wait_for, write_config
from tests.helpers import gif_bytes, png_bytes, sha256_upper, tree, write_pack

V1 = "/api/v1/pleroma"
OLD = "/api/pleroma"
PREFIXES = [V1, OLD]

NOT_SHARED = (
    "Pack {} cannot be downloaded from this instance, either pack sharing was disabled "
    "for this pack or some files are missing"
)


def read_pack_json(server, name: str) -> dict:
    return json.loads((server.packs_dir / name / "pack.json").read_text())


def zip_contents(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


async def listing(client, prefix: str = V1, **params) -> dict:
    r = await client.get(f"{prefix}/emoji/packs", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# -- GET /emoji/packs -----------------------------------------------------------


async def test_list_packs_pages_and_count(tmp_path):
    names = [f"pack{i:02d}" for i in range(55)]

    def prepare(config):
        for n in names:
            write_pack(config.packs_dir, n, {f"e_{n}": f"{n}.png"})

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        body = await listing(c)
        assert body["count"] == 55
        assert list(body["packs"]) == names[:50]  # page_size defaults to 50, sorted by name
        assert body["packs"]["pack07"]["files"] == {"e_pack07": "pack07.png"}
        assert body["packs"]["pack07"]["files_count"] == 1

        body = await listing(c, page=2)
        assert list(body["packs"]) == names[50:]
        assert body["count"] == 55

        body = await listing(c, page=3, page_size=2)
        assert list(body["packs"]) == ["pack04", "pack05"]
        assert body["count"] == 55

        # A page past the end: 200, no packs, the real total.
        body = await listing(c, page=99, page_size=10)
        assert body == {"packs": {}, "count": 55}
        body = await listing(c, page=10**25)
        assert body == {"packs": {}, "count": 55}
        body = await listing(c, page_size=10**25)
        assert list(body["packs"]) == names and body["count"] == 55

        for bad in ({"page": "abc"}, {"page_size": "many"}, {"page": "1.5"}):
            r = await c.get(f"{V1}/emoji/packs", params=bad)
            assert r.status_code == 400, (bad, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert isinstance(r.json()["error"], str)

        # Nothing on disk changed by reading.
        assert sorted(p.name for p in server.packs_dir.iterdir()) == names


async def test_listing_shows_every_file_unpaginated(tmp_path):
    files = {f"e{i:03d}": f"e{i:03d}.png" for i in range(45)}
    async with serving(tmp_path / "s", prepare=lambda cfg: write_pack(cfg.packs_dir, "big", files)) as server, \
            server.anon() as c:
        body = await listing(c)
        assert body["packs"]["big"]["files"] == files
        assert body["packs"]["big"]["files_count"] == 45
        # The show endpoint, in contrast, pages (default 30).
        r = await c.get(f"{V1}/emoji/pack", params={"name": "big"})
        assert r.status_code == 200
        assert len(r.json()["files"]) == 30
        assert r.json()["files_count"] == 45


async def test_listing_download_flags_and_sha(tmp_path):
    def prepare(config):
        root = config.packs_dir
        write_pack(root, "shared", {"a": "a.png", "b": "sub/b.gif"}, {"share-files": True, "license": "CC0"},
                   images={"a.png": png_bytes("red"), "sub/b.gif": gif_bytes()})
        write_pack(root, "private", {"c": "c.png"}, {"share-files": False})
        write_pack(root, "unsaid", {"d": "d.png"}, {"license": "MIT"})
        write_pack(root, "broken", {"e": "e.png", "gone": "gone.png"}, {"share-files": True})
        (root / "broken" / "gone.png").unlink()

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        packs = (await listing(c))["packs"]
        assert set(packs) == {"shared", "private", "unsaid", "broken"}

        meta = packs["shared"]["pack"]
        assert meta["can-download"] is True
        assert meta["license"] == "CC0"
        sha = meta["download-sha256"]
        assert len(sha) == 64 and sha == sha.upper() and all(ch in "0123456789ABCDEF" for ch in sha)
        r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "shared"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/zip"
        assert sha256_upper(r.content) == sha

        assert packs["private"]["pack"]["can-download"] is False
        assert "download-sha256" not in packs["private"]["pack"]
        assert packs["unsaid"]["pack"] == {"license": "MIT", "can-download": False}
        assert "download-sha256" not in packs["broken"]["pack"]
        assert packs["broken"]["pack"]["can-download"] is False

        for name in ("private", "unsaid", "broken"):
            r = await c.get(f"{V1}/emoji/packs/archive", params={"name": name})
            assert r.status_code == 403, r.text
            assert r.json() == {"error": NOT_SHARED.format(name)}

        # The show endpoint says the same.
        r = await c.get(f"{V1}/emoji/pack", params={"name": "shared"})
        assert r.json()["pack"]["download-sha256"] == sha
        r = await c.get(f"{V1}/emoji/pack", params={"name": "broken"})
        assert r.json()["pack"]["can-download"] is False
        # can-download is derived, never written into pack.json.
        assert "can-download" not in read_pack_json(server, "shared")["pack"]


async def test_unreadable_pack_json_never_breaks_the_listing(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "good", {"g": "g.png"})
        write_pack(config.packs_dir, "alsogood", {"h": "h.png"})
        bad = config.packs_dir / "bad"
        bad.mkdir()
        (bad / "pack.json").write_text('{"files": {"x": "x.png"}, "pack": {')  # cut short by hand
        notobj = config.packs_dir / "notobj"
        notobj.mkdir()
        (notobj / "pack.json").write_text("[1, 2, 3]")

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        body = await listing(c)
        assert set(body["packs"]) == {"good", "alsogood"}
        assert body["count"] == 2
        # Reported, not silently lost.
        r = await c.get(f"{V1}/healthcheck")
        assert set(r.json()["pack_errors"]) == {"bad", "notobj"}
        # The other routes keep working and the broken file is left as written.
        r = await c.get("/api/v1/custom_emojis")
        assert r.status_code == 200
        assert {e["shortcode"] for e in r.json()} == {"g", "h"}
        assert (server.packs_dir / "bad" / "pack.json").read_text().endswith('"pack": {')


# -- GET /emoji/pack ------------------------------------------------------------


async def test_show_pack_pages_sorted_files(tmp_path):
    shortcodes = [f"s{i:02d}" for i in range(35)]
    files = {s: f"{s}.png" for s in reversed(shortcodes)}  # written unsorted on purpose
    meta = {"description": "thirty-five", "share-files": False}

    async with serving(tmp_path / "s", prepare=lambda cfg: write_pack(cfg.packs_dir, "many", files, meta)) as server, \
            server.anon() as c:
        for prefix in PREFIXES:
            r = await c.get(f"{prefix}/emoji/pack", params={"name": "many"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert list(body["files"]) == shortcodes[:30]
            assert body["files"]["s00"] == "s00.png"
            assert body["files_count"] == 35
            assert body["pack"] == {"description": "thirty-five", "share-files": False, "can-download": False}

        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page": 2})
        assert list(r.json()["files"]) == shortcodes[30:]
        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page": 3, "page_size": 10})
        assert list(r.json()["files"]) == shortcodes[20:30]
        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page": 9})
        assert r.status_code == 200
        assert r.json()["files"] == {} and r.json()["files_count"] == 35
        # page_size=0: how Pleroma servers count before downloading.
        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page_size": 0})
        assert r.status_code == 200
        assert r.json()["files"] == {} and r.json()["files_count"] == 35
        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page_size": 100})
        assert list(r.json()["files"]) == shortcodes
        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page": 10**25, "page_size": 10**25})
        assert r.status_code == 200
        assert r.json()["files"] == {} and r.json()["files_count"] == 35

        r = await c.get(f"{V1}/emoji/pack", params={"name": "many", "page": "two"})
        assert r.status_code == 400
        assert "error" in r.json()
        # pack.json untouched by reads.
        assert read_pack_json(server, "many")["files"] == files


async def test_show_pack_errors(server):
    async with server.anon() as c:
        for prefix in PREFIXES:
            r = await c.get(f"{prefix}/emoji/pack", params={"name": "nope"})
            assert r.status_code == 404
            assert r.json() == {"error": "Pack nope does not exist"}
            for blank in ("", " ", "   "):
                r = await c.get(f"{prefix}/emoji/pack", params={"name": blank})
                assert r.status_code == 400
                assert r.json() == {"error": "pack name cannot be empty"}
            r = await c.get(f"{prefix}/emoji/pack")
            assert r.status_code == 400
            assert "error" in r.json()
    assert not (server.packs_dir / "nope").exists()


# -- POST /emoji/pack -----------------------------------------------------------


async def test_create_pack(server):
    async with server.admin() as c, server.anon() as anon:
        r = await c.post(f"{V1}/emoji/pack", params={"name": "fresh"})
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
        assert read_pack_json(server, "fresh") == {"files": {}, "pack": {}, "files_count": 0}
        assert sorted(p.name for p in (server.packs_dir / "fresh").iterdir()) == ["pack.json"]

        r = await anon.get(f"{V1}/emoji/pack", params={"name": "fresh"})
        assert r.status_code == 200
        assert r.json() == {"files": {}, "files_count": 0, "pack": {"can-download": False}}
        body = await listing(anon)
        assert body["count"] == 1 and "fresh" in body["packs"]

        before = (server.packs_dir / "fresh" / "pack.json").read_bytes()
        r = await c.post(f"{V1}/emoji/pack", params={"name": "fresh"})
        assert r.status_code == 409
        assert r.json() == {"error": 'A pack named "fresh" already exists'}
        assert (server.packs_dir / "fresh" / "pack.json").read_bytes() == before

        # The name may also come in the body.
        r = await c.post(f"{V1}/emoji/pack", json={"name": "viajson"})
        assert r.status_code == 200, r.text
        assert read_pack_json(server, "viajson") == {"files": {}, "pack": {}, "files_count": 0}

        for blank in ("", " "):
            r = await c.post(f"{V1}/emoji/pack", params={"name": blank})
            assert r.status_code == 400
            assert r.json() == {"error": "pack name cannot be empty"}
        r = await c.post(f"{V1}/emoji/pack")
        assert r.status_code == 400
    assert sorted(p.name for p in server.packs_dir.iterdir()) == ["fresh", "viajson"]


async def test_create_existing_pack_written_by_hand(server):
    (server.packs_dir / "hand").mkdir(parents=True)
    (server.packs_dir / "hand" / "pack.json").write_text('{"files": {}, "pack": {}}')
    async with server.admin() as c:
        r = await c.post(f"{V1}/emoji/pack", params={"name": "hand"})
        assert r.status_code == 409
        assert r.json() == {"error": 'A pack named "hand" already exists'}
    assert (server.packs_dir / "hand" / "pack.json").read_text() == '{"files": {}, "pack": {}}'


async def test_ten_simultaneous_creates(server):
    async with server.admin() as c:
        answers = await asyncio.gather(
            *[c.post(f"{V1}/emoji/pack", params={"name": "race"}) for _ in range(10)]
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] + [409] * 9, [r.text for r in answers]
        for r in answers:
            assert r.json() == ("ok" if r.status_code == 200 else {"error": 'A pack named "race" already exists'})
        assert read_pack_json(server, "race") == {"files": {}, "pack": {}, "files_count": 0}
        assert sorted(p.name for p in server.packs_dir.iterdir()) == ["race"]
        r = await c.get(f"{V1}/emoji/packs")
        assert r.json()["count"] == 1


HOSTILE = ["..", ".", "a/b", "../escape", ".hidden", "nul\0byte", "back\\slash", "/abs", "a/../b"]


async def test_hostile_pack_names(server):
    write_pack(server.packs_dir, "keep", {"k": "k.png"})
    snapshot = tree(server.root.parent)
    async with server.admin() as c:
        for name in HOSTILE:
            for method in ("POST", "PATCH", "DELETE"):
                kwargs = {"json": {"metadata": {"license": "x"}}} if method == "PATCH" else {}
                r = await c.request(method, f"{V1}/emoji/pack", params={"name": name}, **kwargs)
                assert r.status_code == 400, (method, name, r.text)
                assert "error" in r.json()
            for path in ("/emoji/pack", "/emoji/packs/archive"):
                r = await c.get(f"{V1}{path}", params={"name": name})
                assert r.status_code == 400, (path, name, r.text)
                assert "error" in r.json()
        # The 2019 route with an encoded `..` as the path segment.
        for raw in ("%2e%2e", "%2E%2E", ".hidden", "..%2fescape", "nul%00byte", "a%5cb"):
            for method in ("PUT", "DELETE"):
                r = await c.request(method, f"{OLD}/emoji/packs/{raw}")
                # 404 only where the router itself finds no route (an encoded "/").
                assert r.status_code in ((400, 404) if "%2f" in raw else (400,)), (method, raw, r.text)
    # Nothing created, nothing deleted, inside or outside the store.
    after = tree(server.root.parent)
    # Only the SQLite file may have changed; every other byte is as it was.
    assert {k: v for k, v in after.items() if "emojid.db" not in k} == \
        {k: v for k, v in snapshot.items() if "emojid.db" not in k}
    assert sorted(p.name for p in server.packs_dir.iterdir()) == ["keep"]


# -- PATCH /emoji/pack ------------------------------------------------------------


async def test_update_metadata_json(server):
    write_pack(server.packs_dir, "meta", {"m": "m.png"}, {"license": "old"})
    async with server.admin() as c:
        r = await c.get(f"{V1}/emoji/pack", params={"name": "meta"})
        assert r.status_code == 200 and r.json()["pack"] == {"license": "old", "can-download": False}
        new = {"license": "CC-BY-4.0", "homepage": "https://example.org", "description": "a pack",
               "share-files": True}
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "meta"}, json={"metadata": new})
        assert r.status_code == 200, r.text
        assert r.json() == new
        stored = read_pack_json(server, "meta")
        assert stored["pack"] == new
        assert stored["files"] == {"m": "m.png"} and stored["files_count"] == 1
        r = await c.get(f"{V1}/emoji/pack", params={"name": "meta"})
        shown = r.json()["pack"]
        assert {k: v for k, v in shown.items() if k not in ("can-download", "download-sha256")} == new
        assert shown["can-download"] is True

        # Replaces, not merges.
        r = await c.patch(f"{V1}/emoji/pack", json={"name": "meta", "metadata": {"license": "MIT"}})
        assert r.status_code == 200, r.text
        assert r.json() == {"license": "MIT"}
        assert read_pack_json(server, "meta")["pack"] == {"license": "MIT"}
        r = await c.get(f"{V1}/emoji/pack", params={"name": "meta"})
        assert r.json()["pack"] == {"license": "MIT", "can-download": False}


async def test_update_metadata_form_fields(server):
    async with server.admin() as c:
        assert (await c.post(f"{V1}/emoji/pack", params={"name": "form"})).status_code == 200
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "form"},
                          data={"metadata[license]": "CC0", "metadata[description]": "from a form",
                                "metadata[share-files]": "true"})
        assert r.status_code == 200, r.text
        expected = {"license": "CC0", "description": "from a form", "share-files": True}
        assert r.json() == expected
        assert read_pack_json(server, "form")["pack"] == expected
        # multipart too
        r = await c.patch(f"{OLD}/emoji/pack", params={"name": "form"},
                          files={"metadata[license]": (None, "MIT"), "metadata[share-files]": (None, "false")})
        assert r.status_code == 200, r.text
        assert r.json() == {"license": "MIT", "share-files": False}
        assert read_pack_json(server, "form")["pack"] == {"license": "MIT", "share-files": False}
        r = await c.get(f"{V1}/emoji/pack", params={"name": "form"})
        assert r.json()["pack"]["license"] == "MIT"


async def test_update_metadata_keeps_an_unchanged_fallback_src(server):
    # Nothing listens there: fetching it again would fail the request.
    meta = {"fallback-src": "http://127.0.0.1:9/pack.zip", "fallback-src-sha256": "AB" * 32, "license": "old"}
    write_pack(server.packs_dir, "fb", {"f": "f.png"}, meta)
    async with server.admin() as c:
        await wait_for(_count_is(c, 1))
        new = dict(meta, license="new")
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "fb"}, json={"metadata": new})
        assert r.status_code == 200, r.text
        assert r.json() == new
        assert read_pack_json(server, "fb")["pack"] == new
        r = await c.get(f"{V1}/emoji/pack", params={"name": "fb"})
        assert r.json()["pack"]["license"] == "new"


async def test_update_metadata_errors(server):
    async with server.admin() as c:
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "ghost"}, json={"metadata": {"license": "x"}})
        assert r.status_code == 404
        assert r.json() == {"error": "Pack ghost does not exist"}
        assert not (server.packs_dir / "ghost").exists()

        assert (await c.post(f"{V1}/emoji/pack", params={"name": "target"})).status_code == 200
        original = (server.packs_dir / "target" / "pack.json").read_bytes()
        for body in ({"metadata": "text"}, {"metadata": [1, 2]}, {"metadata": 7}, {"metadata": None},
                     {"metadata": {"share-files": "perhaps"}}):
            r = await c.patch(f"{V1}/emoji/pack", params={"name": "target"}, json=body)
            assert r.status_code == 400, (body, r.text)
            assert isinstance(r.json()["error"], str)
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "target"}, json={})
        assert r.status_code == 400
        assert "metadata" in r.json()["error"]
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "target"})
        assert r.status_code == 400
        r = await c.patch(f"{V1}/emoji/pack", params={"name": "target"}, content=b"{not json",
                          headers={"content-type": "application/json"})
        assert r.status_code == 400
        r = await c.patch(f"{V1}/emoji/pack", json={"metadata": {}})
        assert r.status_code == 400
        assert r.json() == {"error": "pack name cannot be empty"}
        assert (server.packs_dir / "target" / "pack.json").read_bytes() == original


# -- DELETE /emoji/pack ---------------------------------------------------------


async def test_delete_pack(server):
    write_pack(server.packs_dir, "doomed", {"a": "a.png", "b": "deep/b.png"})
    write_pack(server.packs_dir, "stays", {"s": "s.png"})
    async with server.admin() as c:
        await wait_for(_count_is(c, 2))
        r = await c.delete(f"{V1}/emoji/pack", params={"name": "doomed"})
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
        assert not (server.packs_dir / "doomed").exists()
        assert sorted(p.name for p in server.packs_dir.iterdir()) == ["stays"]
        r = await c.get(f"{V1}/emoji/pack", params={"name": "doomed"})
        assert r.status_code == 404
        body = await listing(c)
        assert list(body["packs"]) == ["stays"] and body["count"] == 1
        r = await c.get("/api/v1/custom_emojis")
        assert {e["shortcode"] for e in r.json()} == {"s"}

        r = await c.delete(f"{V1}/emoji/pack", params={"name": "doomed"})
        assert r.status_code == 404
        assert r.json() == {"error": "Pack doomed does not exist"}
        r = await c.delete(f"{V1}/emoji/pack", params={"name": " "})
        assert r.status_code == 400
        assert r.json() == {"error": "pack name cannot be empty"}
    assert (server.packs_dir / "stays" / "s.png").is_file()


def _count_is(client, n: int):
    async def check():
        r = await client.get(f"{V1}/emoji/packs")
        return r.status_code == 200 and r.json()["count"] == n
    return check


async def test_delete_folder_without_pack_json_is_not_a_pack(server):
    (server.packs_dir / "loose").mkdir(parents=True)
    (server.packs_dir / "loose" / "a.png").write_bytes(png_bytes())
    async with server.admin() as c:
        r = await c.delete(f"{V1}/emoji/pack", params={"name": "loose"})
        assert r.status_code == 404
        assert r.json() == {"error": "Pack loose does not exist"}
    assert (server.packs_dir / "loose" / "a.png").is_file()


# -- GET /emoji/packs/import --------------------------------------------------------


async def test_import_from_filesystem(server):
    root = server.packs_dir
    root.mkdir(parents=True, exist_ok=True)
    write_pack(root, "already", {"z": "z.png"}, {"license": "keep"})
    already = (root / "already" / "pack.json").read_bytes()

    plain = root / "plain"
    (plain / "sub").mkdir(parents=True)
    (plain / "alpha.png").write_bytes(png_bytes("red"))
    (plain / "beta.gif").write_bytes(gif_bytes())
    (plain / "sub" / "gamma.png").write_bytes(png_bytes("blue"))
    (plain / "notes.txt").write_text("not an emoji")

    listed = root / "listed"
    (listed / "img").mkdir(parents=True)
    (listed / "blob.png").write_bytes(png_bytes("green"))
    (listed / "img" / "cat.png").write_bytes(png_bytes("yellow"))
    (listed / "unlisted.png").write_bytes(png_bytes("black"))
    (listed / "emoji.txt").write_text(
        "blobby, /emoji/listed/blob.png, Blobs, Cute\n"
        "kitty, img/cat.png\n"
        "\n"
        "evil, ../../emojid.toml\n"
    )

    async with server.admin() as c, server.anon() as anon:
        r = await c.get(f"{V1}/emoji/packs/import")
        assert r.status_code == 200, r.text
        assert sorted(r.json()) == ["listed", "plain"]

        doc = json.loads((plain / "pack.json").read_text())
        assert doc == {"files": {"alpha": "alpha.png", "beta": "beta.gif", "gamma": "sub/gamma.png"},
                       "pack": {}, "files_count": 3}
        doc = json.loads((listed / "pack.json").read_text())
        assert doc["files"] == {"blobby": "blob.png", "kitty": "img/cat.png"}
        assert doc["files_count"] == 2
        assert (root / "already" / "pack.json").read_bytes() == already
        assert (server.root / "emojid.toml").is_file()

        r = await anon.get(f"{V1}/emoji/pack", params={"name": "listed"})
        assert r.status_code == 200
        assert r.json()["files"] == {"blobby": "blob.png", "kitty": "img/cat.png"}
        # The imported packs at once; the one that had its pack.json once the watcher read it.
        async def all_listed():
            return set((await listing(anon))["packs"]) == {"already", "listed", "plain"}

        await wait_for(all_listed)

        r = await anon.get(f"{V1}/emoji")
        emoji = r.json()
        assert emoji["blobby"] == {"image_url": "/emoji/listed/blob.png", "tags": ["pack:listed", "Blobs", "Cute"]}
        assert emoji["kitty"]["tags"] == ["pack:listed"]
        assert emoji["gamma"] == {"image_url": "/emoji/plain/sub/gamma.png", "tags": ["pack:plain"]}
        r = await anon.get("/emoji/listed/blob.png")
        assert r.status_code == 200 and r.content == (listed / "blob.png").read_bytes()

        # Nothing left to import.
        r = await c.get(f"{OLD}/emoji/packs/import")
        assert r.status_code == 200
        assert r.json() == []
        assert (await listing(anon))["count"] == 3


# -- GET /emoji/packs/archive -----------------------------------------------------


async def test_archive_contents_and_stability(server):
    images = {"a.png": png_bytes("red"), "sub/b.gif": gif_bytes(), "c.png": png_bytes("blue", 20)}
    write_pack(server.packs_dir, "zipme", {"a": "a.png", "b": "sub/b.gif", "c": "c.png"},
               {"share-files": True}, images=images)
    async with server.anon() as c:
        r1 = await wait_for(_archive_ok(c, "zipme"))
        assert r1.headers["content-type"] == "application/zip"
        contents = zip_contents(r1.content)
        assert sorted(contents) == ["a.png", "c.png", "pack.json", "sub/b.gif"]
        for name, data in images.items():
            assert contents[name] == data
        assert contents["pack.json"] == (server.packs_dir / "zipme" / "pack.json").read_bytes()

        assert r1.headers["content-disposition"] == 'attachment; filename="zipme.zip"'
        assert r1.headers["x-download-sha256"] == sha256_upper(r1.content)
        r2 = await c.get(f"{V1}/emoji/packs/archive", params={"name": "zipme"})
        assert r2.status_code == 200
        assert r2.content == r1.content
        r3 = await c.get(f"{OLD}/emoji/packs/archive", params={"name": "zipme"})
        assert r3.content == r1.content
        # The archive is built from disk; the listing is the index's, once the watcher has read the pack.
        sha = (await wait_for(lambda: _listed(c, "zipme")))["pack"]["download-sha256"]
        assert sha == sha256_upper(r1.content)


async def _listed(client, name: str) -> dict | None:
    """The pack's entry in the listing, once the watcher has indexed it (None before)."""
    return (await listing(client))["packs"].get(name)


def _archive_ok(client, name: str):
    async def fetch():
        r = await client.get(f"{V1}/emoji/packs/archive", params={"name": name})
        return r if r.status_code == 200 else None
    return fetch


async def test_archive_follows_an_image_replaced_by_hand(server):
    write_pack(server.packs_dir, "live", {"a": "a.png", "b": "b.png"}, {"share-files": True},
               images={"a.png": png_bytes("red"), "b.png": png_bytes("blue")})
    pack_json = (server.packs_dir / "live" / "pack.json").read_bytes()
    async with server.anon() as c:
        old = (await wait_for(_archive_ok(c, "live"))).content
        # The archive is built from disk; the listing is the index's, once the watcher has read the pack.
        old_sha = (await wait_for(lambda: _listed(c, "live")))["pack"]["download-sha256"]
        assert old_sha == sha256_upper(old)

        replacement = png_bytes("green")
        assert len(replacement) == len(png_bytes("red"))  # same size: only content differs
        (server.packs_dir / "live" / "a.png").write_bytes(replacement)

        async def changed():
            body = await listing(c)
            sha = body["packs"]["live"]["pack"].get("download-sha256")
            return sha if sha and sha != old_sha else None

        new_sha = await wait_for(changed, timeout=5)
        r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "live"})
        assert r.status_code == 200
        assert r.content != old
        assert sha256_upper(r.content) == new_sha
        assert zip_contents(r.content)["a.png"] == replacement
        assert (server.packs_dir / "live" / "pack.json").read_bytes() == pack_json


async def test_archive_downloads_while_the_pack_keeps_changing(server):
    """A newer build replaces the archive file while older downloads are under way."""
    directory = write_pack(server.packs_dir, "busy", {"a": "a.png"}, {"share-files": True})
    colors = ["red", "blue", "green", "black", "white", "gray"]
    answers: list = []
    done = asyncio.Event()

    async def edit():
        for i in range(60):
            (directory / "a.png").write_bytes(png_bytes(colors[i % len(colors)], 16 + i % 5))
            await asyncio.sleep(0.01)
        done.set()

    async def download(c):
        while not done.is_set():
            answers.append(await c.get(f"{V1}/emoji/packs/archive", params={"name": "busy"}))

    async with server.anon() as c:
        await asyncio.gather(edit(), *[download(c) for _ in range(4)])
        assert answers
        for r in answers:
            assert r.status_code == 200, r.text
            assert sha256_upper(r.content) == r.headers["x-download-sha256"]
            assert int(r.headers["content-length"]) == len(r.content)
            assert sorted(zip_contents(r.content)) == ["a.png", "pack.json"]
        final = (directory / "a.png").read_bytes()

        async def settled():
            r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "busy"})
            sha = (await listing(c))["packs"]["busy"]["pack"].get("download-sha256")
            return r if zip_contents(r.content)["a.png"] == final and sha == sha256_upper(r.content) else None

        r = await wait_for(settled)
        head = await c.head(f"{V1}/emoji/packs/archive", params={"name": "busy"})
        assert head.status_code == 200
        assert head.headers["x-download-sha256"] == sha256_upper(r.content)
        assert int(head.headers["content-length"]) == len(r.content)
    # Superseded builds do not pile up in the cache.
    await wait_for(lambda: len(list((server.config.cache_dir / "archives" / "busy").glob("*.zip"))) == 1)


async def test_archive_never_leaks_or_deletes_outside_files(server):
    secret = server.root / "secret.png"
    secret_bytes = png_bytes("purple", 24)
    secret.write_bytes(secret_bytes)
    directory = write_pack(server.packs_dir, "sneaky", {"ok": "ok.png"}, {"share-files": True})
    (directory / "link.png").symlink_to(secret)
    doc = {"files": {"ok": "ok.png", "evil": "../../secret.png", "abs": str(secret), "linked": "link.png"},
           "pack": {"share-files": True}, "files_count": 4}
    (directory / "pack.json").write_text(json.dumps(doc))

    async with server.admin() as c:
        async def listed_with_pack_json_read():
            r = await c.get(f"{V1}/emoji/pack", params={"name": "sneaky"})
            return r.status_code == 200 and "evil" in (directory / "pack.json").read_text()

        await wait_for(listed_with_pack_json_read)
        r = await wait_for(_archive_ok(c, "sneaky"))
        contents = zip_contents(r.content)
        assert set(contents) <= {"pack.json", "ok.png"}
        assert "ok.png" in contents
        assert all(secret_bytes != data for data in contents.values())
        assert all("secret" not in n and ".." not in n and not n.startswith("/") for n in contents)

        # Static serving does not follow the entry either.
        for path in ("/emoji/sneaky/link.png", "/emoji/sneaky/..%2F..%2Fsecret.png"):
            r = await c.get(path)
            assert r.status_code == 404, path

        # Removing the emoji, or the whole pack, never deletes the outside file.
        for shortcode in ("evil", "abs", "linked"):
            r = await c.request("DELETE", f"{V1}/emoji/packs/files",
                                params={"name": "sneaky", "shortcode": shortcode})
            assert r.status_code in (400, 404), (shortcode, r.text)
        assert secret.read_bytes() == secret_bytes
        r = await c.delete(f"{V1}/emoji/pack", params={"name": "sneaky"})
        assert r.status_code == 200
        assert not directory.exists()
    assert secret.read_bytes() == secret_bytes


async def test_archive_errors(server):
    write_pack(server.packs_dir, "closed", {"a": "a.png"}, {"share-files": False})
    async with server.anon() as c:
        await wait_for(_count_is(c, 1))
        for prefix in PREFIXES:
            r = await c.get(f"{prefix}/emoji/packs/archive", params={"name": "closed"})
            assert r.status_code == 403
            assert r.json() == {"error": NOT_SHARED.format("closed")}
            r = await c.get(f"{prefix}/emoji/packs/archive", params={"name": "missing"})
            assert r.status_code == 404
            assert r.json() == {"error": "Pack missing does not exist"}
            r = await c.get(f"{prefix}/emoji/packs/archive", params={"name": ""})
            assert r.status_code == 400
            assert r.json() == {"error": "pack name cannot be empty"}
            r = await c.get(f"{prefix}/emoji/packs/archive")
            assert r.status_code == 400
    # No archive was built for a pack that is not shared.
    assert not list((server.config.cache_dir / "archives").glob("closed/*.zip"))


async def test_archive_of_a_pack_with_a_non_ascii_name(server):
    write_pack(server.packs_dir, 'Blöb "Pack"', {"b": "b.png"}, {"share-files": True})
    async with server.anon() as c:
        r = await c.get(f"{V1}/emoji/pack", params={"name": 'Blöb "Pack"'})
        assert r.status_code == 200
        r = await wait_for(_archive_ok(c, 'Blöb "Pack"'))
        assert r.headers["content-disposition"] == "attachment; filename*=utf-8''Bl%C3%B6b%20%22Pack%22.zip"
        assert sorted(zip_contents(r.content)) == ["b.png", "pack.json"]
        meta = (await listing(c))["packs"]['Blöb "Pack"']["pack"]
        assert meta["download-sha256"] == sha256_upper(r.content)


async def test_archive_forbidden_when_a_file_goes_missing(server):
    write_pack(server.packs_dir, "holey", {"a": "a.png", "b": "b.png"}, {"share-files": True})
    async with server.anon() as c:
        await wait_for(_archive_ok(c, "holey"))
        await wait_for(lambda: _listed(c, "holey"))
        (server.packs_dir / "holey" / "b.png").unlink()
        r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "holey"})
        assert r.status_code == 403
        assert r.json() == {"error": NOT_SHARED.format("holey")}

        async def flagged():
            meta = (await listing(c))["packs"]["holey"]["pack"]
            return meta["can-download"] is False and "download-sha256" not in meta

        await wait_for(flagged)


# -- the 2019 routes ------------------------------------------------------------------


async def test_legacy_routes(server):
    async with server.admin() as c, server.anon() as anon:
        r = await c.put(f"{OLD}/emoji/packs/oldie")
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
        assert read_pack_json(server, "oldie") == {"files": {}, "pack": {}, "files_count": 0}
        r = await c.put(f"{OLD}/emoji/packs/oldie")
        assert r.status_code == 409
        assert r.json() == {"error": 'A pack named "oldie" already exists'}

        r = await c.post(f"{OLD}/emoji/packs/oldie/update_file",
                         data={"action": "add", "shortcode": "first"},
                         files={"file": ("first.png", png_bytes("red"), "image/png")})
        assert r.status_code == 200, r.text
        assert r.json() == {"first": "first.png"}
        assert (server.packs_dir / "oldie" / "first.png").read_bytes() == png_bytes("red")

        r = await c.post(f"{OLD}/emoji/packs/oldie/update_file",
                         data={"action": "update", "shortcode": "first", "new_shortcode": "second",
                               "new_filename": "second.png"})
        assert r.status_code == 200, r.text
        assert r.json() == {"second": "second.png"}
        assert not (server.packs_dir / "oldie" / "first.png").exists()
        assert (server.packs_dir / "oldie" / "second.png").is_file()

        new_data = {"license": "CC0", "share-files": True, "description": "2019"}
        r = await c.post(f"{OLD}/emoji/packs/oldie/update_metadata", json={"new_data": new_data})
        assert r.status_code == 200, r.text
        assert r.json() == new_data
        assert read_pack_json(server, "oldie")["pack"] == new_data
        r = await c.post(f"{OLD}/emoji/packs/oldie/update_metadata", json={"new_data": "x"})
        assert r.status_code == 400
        r = await c.post(f"{OLD}/emoji/packs/oldie/update_metadata", json={})
        assert r.status_code == 400
        r = await c.post(f"{OLD}/emoji/packs/ghost/update_metadata", json={"new_data": {}})
        assert r.status_code == 404

        body = await listing(anon, OLD)
        assert set(body) == {"packs", "count"}
        assert body["count"] == 1
        meta = body["packs"]["oldie"]["pack"]
        assert meta["can-download"] is True

        r = await anon.get(f"{OLD}/emoji/packs/oldie/download_shared")
        assert r.status_code == 200
        assert sha256_upper(r.content) == meta["download-sha256"]
        assert sorted(zip_contents(r.content)) == ["pack.json", "second.png"]
        r = await anon.get(f"{OLD}/emoji/packs/ghost/download_shared")
        assert r.status_code == 404
        assert r.json() == {"error": "Pack ghost does not exist"}

        r = await c.post(f"{OLD}/emoji/packs/oldie/update_file", data={"action": "remove", "shortcode": "second"})
        assert r.status_code == 200, r.text
        assert r.json() == {}
        assert not (server.packs_dir / "oldie" / "second.png").exists()
        r = await c.post(f"{OLD}/emoji/packs/oldie/update_file", data={"action": "explode"})
        assert r.status_code == 400

        r = await c.delete(f"{OLD}/emoji/packs/oldie")
        assert r.status_code == 200
        assert r.json() == "ok"
        assert not (server.packs_dir / "oldie").exists()
        r = await c.delete(f"{OLD}/emoji/packs/oldie")
        assert r.status_code == 404
        assert r.json() == {"error": "Pack oldie does not exist"}
        assert (await listing(anon, OLD)) == {"packs": {}, "count": 0}


async def test_current_routes_under_old_prefix(server):
    async with server.admin() as c:
        r = await c.post(f"{OLD}/emoji/pack", params={"name": "both"})
        assert r.status_code == 200 and r.json() == "ok"
        r = await c.patch(f"{OLD}/emoji/pack", params={"name": "both"}, json={"metadata": {"share-files": True}})
        assert r.status_code == 200 and r.json() == {"share-files": True}
        r = await c.post(f"{OLD}/emoji/packs/files", params={"name": "both"},
                         files={"file": ("wave.png", png_bytes(), "image/png")})
        assert r.status_code == 200 and r.json() == {"wave": "wave.png"}
        r = await c.get(f"{OLD}/emoji/pack", params={"name": "both"})
        assert r.status_code == 200 and r.json()["files"] == {"wave": "wave.png"}
        body = await listing(c, OLD)
        sha = body["packs"]["both"]["pack"]["download-sha256"]
        r = await c.get(f"{OLD}/emoji/packs/archive", params={"name": "both"})
        assert r.status_code == 200 and sha256_upper(r.content) == sha
        r = await c.get(f"{OLD}/emoji")
        assert r.json()["wave"]["tags"] == ["pack:both"]
        r = await c.patch(f"{OLD}/emoji/packs/files", params={"name": "both"},
                          data={"shortcode": "wave", "new_shortcode": "waves", "new_filename": "waves.png"})
        assert r.status_code == 200, r.text
        assert r.json() == {"waves": "waves.png"}
        assert read_pack_json(server, "both")["files"] == {"waves": "waves.png"}
        r = await c.request("DELETE", f"{OLD}/emoji/packs/files", params={"name": "both", "shortcode": "waves"})
        assert r.status_code == 200 and r.json() == {}
        assert sorted(p.name for p in (server.packs_dir / "both").iterdir()) == ["pack.json"]
        (server.packs_dir / "imported").mkdir()
        (server.packs_dir / "imported" / "x.png").write_bytes(png_bytes())
        r = await c.get(f"{OLD}/emoji/packs/import")
        assert r.status_code == 200 and r.json() == ["imported"]
        r = await c.delete(f"{OLD}/emoji/pack", params={"name": "both"})
        assert r.status_code == 200 and r.json() == "ok"
        assert sorted(p.name for p in server.packs_dir.iterdir()) == ["imported"]


# -- auth ---------------------------------------------------------------------


ADMIN_CALLS = [
    ("POST", "/emoji/pack", {"params": {"name": "authpack"}}),
    ("PATCH", "/emoji/pack", {"params": {"name": "existing"}, "json": {"metadata": {"license": "stolen"}}}),
    ("DELETE", "/emoji/pack", {"params": {"name": "existing"}}),
    ("GET", "/emoji/packs/import", {}),
]
LEGACY_CALLS = [
    ("PUT", "/emoji/packs/authpack", {}),
    ("DELETE", "/emoji/packs/existing", {}),
    ("POST", "/emoji/packs/existing/update_metadata", {"json": {"new_data": {"license": "stolen"}}}),
]


async def test_admin_routes_need_an_admin(server):
    write_pack(server.packs_dir, "existing", {"e": "e.png"}, {"license": "mine"})
    (server.packs_dir / "importable").mkdir()
    (server.packs_dir / "importable" / "i.png").write_bytes(png_bytes())
    snapshot = tree(server.packs_dir)
    calls = [(m, p + path, kw) for p in PREFIXES for m, path, kw in ADMIN_CALLS]
    calls += [(m, OLD + path, kw) for m, path, kw in LEGACY_CALLS]
    clients = {
        401: [server.anon(), server.client("not-a-real-token")],
        403: [server.client(server.user_token), server.client(server.tokens["admin_read"])],
    }
    try:
        for status, group in clients.items():
            for client in group:
                for method, url, kw in calls:
                    r = await client.request(method, url, **kw)
                    assert r.status_code == status, (method, url, r.text)
                    assert isinstance(r.json()["error"], str)
    finally:
        for group in clients.values():
            for client in group:
                await client.aclose()
    assert tree(server.packs_dir) == snapshot
    assert not (server.packs_dir / "authpack").exists()
    assert not (server.packs_dir / "importable" / "pack.json").exists()
    # The reading routes need no one.
    async with server.anon() as c:
        assert (await c.get(f"{V1}/emoji/pack", params={"name": "existing"})).status_code == 200


# -- cached answers: ETag, 304, a new answer after every kind of write ---------------------

REVALIDATE = "public, max-age=0, must-revalidate"


async def _answer(client, path: str, **params):
    r = await client.get(f"{V1}{path}", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == REVALIDATE
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    return r


async def test_listing_and_show_carry_a_stable_etag_and_answer_304(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blobcat": "blobcat.png", "blobfox": "blobfox.png"},
                   {"description": "blobs", "share-files": False})
        write_pack(config.packs_dir, "cats", {"cat": "cat.png"})

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c, server.admin() as admin:
        for path, params in (("/emoji/packs", {}), ("/emoji/pack", {"name": "blobs"})):
            first = await _answer(c, path, **params)
            second = await _answer(c, path, **params)
            assert second.headers["etag"] == first.headers["etag"]
            assert second.content == first.content
            # The same answer for an admin (nothing in it depends on who asks), and under the old prefix.
            by_admin = await _answer(admin, path, **params)
            assert (by_admin.headers["etag"], by_admin.content) == (first.headers["etag"], first.content)
            old = await c.get(f"{OLD}{path}", params=params)
            assert (old.status_code, old.headers["etag"], old.content) == (200, first.headers["etag"], first.content)

            etag = first.headers["etag"]
            for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                r = await c.get(f"{V1}{path}", params=params, headers={"if-none-match": header})
                assert r.status_code == 304, (path, header)
                assert r.content == b""
                assert r.headers["etag"] == etag and r.headers["cache-control"] == REVALIDATE
            r = await c.get(f"{V1}{path}", params=params, headers={"if-none-match": '"not-this-one"'})
            assert r.status_code == 200 and r.content == first.content

        listing_body = (await _answer(c, "/emoji/packs")).json()
        assert listing_body == {
            "packs": {
                "blobs": {"files": {"blobcat": "blobcat.png", "blobfox": "blobfox.png"}, "files_count": 2,
                          "pack": {"description": "blobs", "share-files": False, "can-download": False}},
                "cats": {"files": {"cat": "cat.png"}, "files_count": 1, "pack": {"can-download": False}},
            },
            "count": 2,
        }
        # Other parameters, another answer (and ETag); the same ones again, the same.
        paged = await _answer(c, "/emoji/packs", page_size=1)
        assert paged.json() == {"packs": {"blobs": listing_body["packs"]["blobs"]}, "count": 2}
        assert paged.headers["etag"] != (await _answer(c, "/emoji/packs")).headers["etag"]
        assert (await _answer(c, "/emoji/packs", page_size="1", page="1")).headers["etag"] == paged.headers["etag"]
        shown = await _answer(c, "/emoji/pack", name="blobs", page_size=1)
        assert shown.json() == {"files": {"blobcat": "blobcat.png"}, "files_count": 2,
                                "pack": {"description": "blobs", "share-files": False, "can-download": False}}
        other = await _answer(c, "/emoji/pack", name="cats")
        assert other.headers["etag"] != shown.headers["etag"]
        # Errors are not kept: a pack that appears later is shown.
        r = await c.get(f"{V1}/emoji/pack", params={"name": "later"})
        assert r.status_code == 404
        write_pack(server.packs_dir, "later", {"late": "late.png"})
        r = await wait_for(lambda: _shown(c, "later"))
        assert r.json()["files"] == {"late": "late.png"}


async def _shown(client, name: str):
    r = await client.get(f"{V1}/emoji/pack", params={"name": name})
    return r if r.status_code == 200 else None


async def test_listing_and_show_follow_every_write(server):
    write_pack(server.packs_dir, "live", {"a": "a.png"}, {"license": "CC0"})
    async with server.anon() as c, server.admin() as admin:
        async def both() -> tuple[dict, str, dict, str]:
            listed = await _answer(c, "/emoji/packs")
            shown = await _answer(c, "/emoji/pack", name="live")
            return listed.json(), listed.headers["etag"], shown.json(), shown.headers["etag"]

        async def changed_from(etags: tuple[str, str]):
            now = await both()
            return now if now[1] != etags[0] and now[3] != etags[1] else None

        await wait_for(lambda: _shown(c, "live"))
        state = await both()
        assert state[0]["packs"]["live"]["files"] == {"a": "a.png"}

        # An emoji added through the API.
        r = await admin.post(f"{V1}/emoji/packs/files", params={"name": "live"},
                             files={"file": ("b.png", png_bytes("blue"), "image/png")}, data={"shortcode": "b"})
        assert r.status_code == 200 and r.json() == {"a": "a.png", "b": "b.png"}
        before = state
        state = await changed_from((before[1], before[3]))
        assert state is not None, "the answers did not change after an upload"
        assert state[0]["packs"]["live"]["files"] == {"a": "a.png", "b": "b.png"}
        assert state[2]["files"] == {"a": "a.png", "b": "b.png"} and state[2]["files_count"] == 2
        # A client holding the old answer gets the new one, not a 304.
        r = await c.get(f"{V1}/emoji/packs", headers={"if-none-match": before[1]})
        assert r.status_code == 200 and r.json() == state[0]

        # Metadata changed through the API.
        r = await admin.patch(f"{V1}/emoji/pack", params={"name": "live"},
                              json={"metadata": {"license": "MIT", "description": "patched"}})
        assert r.status_code == 200
        before = state
        state = await changed_from((before[1], before[3]))
        assert state is not None, "the answers did not change after a metadata update"
        assert state[0]["packs"]["live"]["pack"] == {"license": "MIT", "description": "patched",
                                                     "can-download": False}
        assert state[2]["pack"] == state[0]["packs"]["live"]["pack"]

        # A hand edit, picked up by the watcher.
        write_pack(server.packs_dir, "live", {"a": "a.png", "b": "b.png", "c": "c.png"},
                   {"license": "MIT", "description": "by hand"},
                   images={"a.png": png_bytes(), "b.png": png_bytes("blue"), "c.png": png_bytes("green")})
        before = state
        state = await wait_for(lambda: changed_from((before[1], before[3])))
        assert state[0]["packs"]["live"]["files"] == {"a": "a.png", "b": "b.png", "c": "c.png"}
        assert state[2]["pack"]["description"] == "by hand"

        # Shared: its archive is built and its SHA256 listed.
        r = await admin.patch(f"{V1}/emoji/pack", params={"name": "live"},
                              json={"metadata": {"license": "MIT", "share-files": True}})
        assert r.status_code == 200
        before = state
        state = await changed_from((before[1], before[3]))
        assert state is not None
        archive = await c.get(f"{V1}/emoji/packs/archive", params={"name": "live"})
        assert archive.status_code == 200
        assert state[0]["packs"]["live"]["pack"] == {"license": "MIT", "share-files": True, "can-download": True,
                                                     "download-sha256": archive.headers["x-download-sha256"]}
        assert sha256_upper(archive.content) == archive.headers["x-download-sha256"]
        # An image replaced by hand: a new archive, a new SHA256 in both answers.
        (server.packs_dir / "live" / "c.png").write_bytes(png_bytes("purple"))
        before = state

        async def rebuilt():
            now = await changed_from((before[1], before[3]))
            return now if now and now[0]["packs"]["live"]["pack"].get("download-sha256") not in (
                None, before[0]["packs"]["live"]["pack"]["download-sha256"]) else None

        state = await wait_for(rebuilt)
        archive = await c.get(f"{V1}/emoji/packs/archive", params={"name": "live"})
        assert state[0]["packs"]["live"]["pack"]["download-sha256"] == archive.headers["x-download-sha256"]
        assert state[2]["pack"]["download-sha256"] == archive.headers["x-download-sha256"]
        assert zip_contents(archive.content)["c.png"] == png_bytes("purple")


async def test_an_archive_built_moves_the_pack_generation_not_the_emoji_lists(tmp_path):
    """The answers show download-sha256, so a recorded archive is a new generation of them;
    the emoji lists (megabytes) do not show it and keep theirs."""
    config = load(write_config(tmp_path / "s", 4000), environ={})
    write_pack(config.packs_dir, "shared", {"s": "s.png"}, {"share-files": True})
    database = open_database(config.database_path)
    try:
        service = PackService.open(config, database)
        assert service.reconcile_sync() == 1
        emoji_generation, pack_generation = service.index.generation(), service.index.pack_generation()
        assert service.index.get_pack("shared").archive_sha256 is None
        archive = await service.archive("shared")
        assert service.index.get_pack("shared").archive_sha256 == archive.sha256
        assert service.index.pack_generation() > pack_generation
        assert service.index.pack_generation()[0] == emoji_generation == service.index.generation()
    finally:
        database.close()


async def test_an_archive_recorded_outside_cache_dir_is_taken_from_ours(tmp_path):
    """The database copied from another instance, or cache_dir moved: a recorded archive
    is served from this cache_dir (the same file by its name there, else built again),
    never from the other place, which nothing sweeps and nginx's mapping does not cover."""
    config = load(write_config(tmp_path / "s", 4000), environ={})
    write_pack(config.packs_dir, "shared", {"s": "s.png"}, {"share-files": True})
    write_pack(config.packs_dir, "other", {"o": "o.png"}, {"share-files": True})
    database = open_database(config.database_path)
    try:
        service = PackService.open(config, database)
        service.reconcile_sync()
        first = {name: await service.archive(name) for name in ("shared", "other")}
    finally:
        database.close()
    moved = tmp_path / "moved-cache"
    shutil.copytree(config.cache_dir, moved)  # the old cache stays where it was
    (moved / "archives" / "other" / os.path.basename(first["other"].path)).unlink()
    config = config.replace(storage=dataclasses.replace(config.storage, cache_dir=str(moved)))
    database = open_database(config.database_path)
    try:
        service = PackService.open(config, database)
        shared, other = await service.archive("shared"), await service.archive("other")
        assert shared.path == str(moved / "archives" / "shared" / os.path.basename(first["shared"].path))
        assert shared.sha256 == first["shared"].sha256
        assert service.index.get_archive("shared").path == shared.path  # recorded there from now on
        assert other.path.startswith(str(moved / "archives" / "other")) and os.path.isfile(other.path)
        assert other.sha256 == first["other"].sha256  # built again, the same bytes
        row, fh = await service.open_archive("shared")
        with fh:
            assert os.path.realpath(fh.name).startswith(str(moved.resolve()))
    finally:
        database.close()


def test_the_answer_cache_is_bounded_and_keeps_one_generation():
    cache = AnswerCache(entries=3, max_bytes=800)
    kept = [cache.put((1, 0), ("packs", page, 50), b"x" * 10) for page in range(1, 5)]
    assert len(cache) == 3 and cache.get((1, 0), ("packs", 1, 50)) is None  # least recently used, out
    assert cache.get((1, 0), ("packs", 4, 50)) == kept[3]
    assert kept[3].etag == kept[0].etag  # by content
    assert cache.put((1, 0), ("big",), b"y" * 101).body == b"y" * 101  # over an eighth: answered, not kept
    assert cache.get((1, 0), ("big",)) is None
    for page in range(3):
        cache.put((1, 0), ("mid", page), b"z" * 100)
    assert len(cache) == 3
    by_bytes = AnswerCache(entries=100, max_bytes=800)
    for page in range(9):
        by_bytes.put((1, 0), ("page", page), b"z" * 100)
    assert len(by_bytes) == 8 and by_bytes.get((1, 0), ("page", 0)) is None  # 900 bytes > 800: the oldest out
    # An answer built from an older index is not kept over a newer one; a newer index drops the rest.
    cache.put((2, 0), ("packs", 1, 50), b"new")
    assert len(cache) == 1
    cache.put((1, 5), ("packs", 1, 50), b"old")
    assert cache.get((2, 0), ("packs", 1, 50)).body == b"new"
    assert cache.get((1, 5), ("packs", 1, 50)) is None
