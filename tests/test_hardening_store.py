"""Hardening of the pack store against what anyone may put in packs_dir (issue 10):
names that are not UTF-8 (4), symlinked pack folders and pack.json (6), FIFOs (8),
names longer than the filesystem takes (9), invalid shortcodes in a hand-written
pack.json (16). Real servers, real folders, real images."""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from pathlib import Path

import httpx
from starlette.applications import Starlette

from emojid.emoji.watcher import Watcher
from tests.conftest import serving, wait_for
from tests.helpers import http_client, png_bytes, tree, write_pack

V1 = "/api/v1/pleroma"
WITHIN = 3.0  # a hand edit after a watcher restart: the restart, then a re-read of the store


def bad(directory: Path, name: bytes) -> bytes:
    """The bytes path of `name` (not UTF-8) inside `directory`."""
    return os.path.join(os.fsencode(directory), name)


async def health(c: httpx.AsyncClient) -> dict:
    r = await c.get(f"{V1}/healthcheck")
    assert r.status_code == 200, r.text
    return r.json()


async def packs(c: httpx.AsyncClient) -> dict:
    r = await c.get(f"{V1}/emoji/packs", params={"page_size": 500})
    assert r.status_code == 200, r.text
    return strict(r.text)["packs"]


def strict(text: str) -> dict:
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""
    def refuse(word: str) -> None:
        raise AssertionError(f"{word} in an answer")

    return json.loads(text, parse_constant=refuse)


async def custom_emojis(c: httpx.AsyncClient) -> set[str]:
    r = await c.get("/api/v1/custom_emojis")
    assert r.status_code == 200, r.text
    return {e["shortcode"] for e in r.json()}


async def problems_page(c: httpx.AsyncClient, name: str) -> str:
    r = await c.get(f"/ui/packs/{name}")
    assert r.status_code == 200, r.text[:300]
    return r.text


async def archive_names(c: httpx.AsyncClient, name: str) -> set[str]:
    r = await c.get(f"{V1}/emoji/packs/archive", params={"name": name})
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        return set(zf.namelist())


# -- 4. names that are not UTF-8 ------------------------------------------------------


def plant_bad_names(packs_dir: Path) -> None:
    """A bad-named image inside pack blobs (and a bad-named sub-folder), a bad-named pack folder."""
    with open(bad(packs_dir / "blobs", b"\xff.png"), "wb") as fh:
        fh.write(png_bytes("red"))
    os.mkdir(bad(packs_dir / "blobs", b"sub\xfe"))
    with open(os.path.join(bad(packs_dir / "blobs", b"sub\xfe"), b"inner.png"), "wb") as fh:
        fh.write(png_bytes("blue"))
    folder = bad(packs_dir, b"bad\xfe")
    os.mkdir(folder)
    with open(os.path.join(folder, b"pack.json"), "w") as fh:
        json.dump({"files": {"evil": "evil.png"}, "pack": {}}, fh)
    with open(os.path.join(folder, b"evil.png"), "wb") as fh:
        fh.write(png_bytes("green"))


async def assert_bad_names_set_aside(c: httpx.AsyncClient) -> None:
    body = await health(c)
    assert body["watcher"] == "alive" and body["healthy"] is True, body
    assert body["status"] == "degraded", body
    assert "not valid UTF-8" in body["pack_errors"]["bad\\xfe"], body["pack_errors"]
    listed = await packs(c)
    assert set(listed) == {"blobs"}
    assert listed["blobs"]["files"] == {"blob": "blob.png"}
    assert await custom_emojis(c) == {"blob"}
    page = await problems_page(c, "blobs")
    assert ":\\xff.png:" in page and ":sub\\xfe:" in page
    assert page.count("the name is not valid UTF-8, ignored (rename it)") == 2


async def test_names_that_are_not_utf8_present_at_start(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"}, {"share-files": True})
        plant_bad_names(config.packs_dir)

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        await assert_bad_names_set_aside(c)
        assert await archive_names(c, "blobs") == {"pack.json", "blob.png"}
        # Hand edits are still seen.
        write_pack(server.packs_dir, "later", {"late": "late.png"})
        await wait_for(lambda: _has(c, "later"), timeout=WITHIN)
        # The bad names are left where they are: they are the admin's to rename.
        assert os.path.exists(bad(server.packs_dir / "blobs", b"\xff.png"))
        assert os.path.isdir(bad(server.packs_dir, b"bad\xfe"))


async def _has(c: httpx.AsyncClient, name: str) -> bool:
    return name in await packs(c)


async def test_names_that_are_not_utf8_appearing_while_running(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"}, {"share-files": True})

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        assert (await health(c))["status"] == "ok"
        plant_bad_names(server.packs_dir)

        async def recorded() -> bool:
            return "bad\\xfe" in (await health(c))["pack_errors"]

        await wait_for(recorded, timeout=WITHIN)
        await assert_bad_names_set_aside(c)
        # Still watching: a pack made by hand afterwards shows up, another bad name does not stop it.
        with open(bad(server.packs_dir / "blobs", b"again\xfd.png"), "wb") as fh:
            fh.write(png_bytes("yellow"))
        write_pack(server.packs_dir, "later", {"late": "late.png"})
        await wait_for(lambda: _has(c, "later"), timeout=WITHIN)
        assert (await health(c))["watcher"] == "alive"

        # Renamed to a good name, the folder becomes a pack and its error goes.
        os.rename(bad(server.packs_dir, b"bad\xfe"), os.fsencode(server.packs_dir / "mended"))

        async def mended() -> bool:
            return "mended" in await packs(c) and "bad\\xfe" not in (await health(c))["pack_errors"]

        await wait_for(mended, timeout=WITHIN)


async def test_the_watcher_polls_while_a_bad_name_is_there_then_watches_again(tmp_path, monkeypatch):
    monkeypatch.setattr(Watcher, "RECHECK_SECONDS", 1)
    apps: list[Starlette] = []

    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"})
        plant_bad_names(config.packs_dir)

    async with serving(tmp_path / "s", prepare=prepare, configure_app=apps.append) as server, server.anon() as c:
        watcher = apps[0].state.ctx.watcher
        await wait_for(lambda: watcher.polling, timeout=WITHIN)
        # Reading the bad-named files (a backup job would) does not disturb it.
        for _ in range(3):
            with open(bad(server.packs_dir / "blobs", b"\xff.png"), "rb") as fh:
                fh.read()
            await asyncio.sleep(0.1)
        write_pack(server.packs_dir, "while_polling", {"wp": "wp.png"})
        await wait_for(lambda: _has(c, "while_polling"), timeout=WITHIN)

        os.unlink(bad(server.packs_dir / "blobs", b"\xff.png"))
        os.unlink(os.path.join(bad(server.packs_dir / "blobs", b"sub\xfe"), b"inner.png"))
        os.rmdir(bad(server.packs_dir / "blobs", b"sub\xfe"))
        os.rename(bad(server.packs_dir, b"bad\xfe"), os.fsencode(server.packs_dir / "renamed"))
        await wait_for(lambda: not watcher.polling, timeout=10)
        write_pack(server.packs_dir, "with_inotify", {"wi": "wi.png"})
        await wait_for(lambda: _has(c, "with_inotify"), timeout=WITHIN)
        body = await health(c)
        assert body["status"] == "ok" and body["watcher"] == "alive", body
        assert "not valid UTF-8" not in await problems_page(c, "blobs")


# -- 6. symlinked pack folders and pack.json ----------------------------------------


def outside_folders(root: Path) -> Path:
    outside = root / "outside"
    write_pack(outside, "shared", {"stolen": "stolen.png"}, {"share-files": True})
    (outside / "loose").mkdir(parents=True)
    (outside / "loose" / "looseone.png").write_bytes(png_bytes("green"))
    (outside / "secret.json").write_text(json.dumps({"files": {"leak": "blob.png"}, "pack": {"share-files": True}}))
    return outside


async def assert_symlinks_not_followed(server, c: httpx.AsyncClient, outside: Path) -> None:
    listed = await packs(c)
    assert "evil" not in listed and "evil_loose" not in listed
    assert await custom_emojis(c) == {"blob"}
    for path in ("/emoji/evil/stolen.png", "/emoji/evil/pack.json", "/emoji/evil_loose/looseone.png"):
        r = await c.get(path)
        assert r.status_code == 404, (path, r.status_code)
    r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "evil"})
    assert r.status_code == 404, r.text
    r = await c.get(f"{V1}/emoji/pack", params={"name": "evil"})
    assert r.status_code == 404, r.text
    errors = (await health(c))["pack_errors"]
    assert "is a symbolic link" in errors["evil"], errors
    assert "is a symbolic link" in errors["evil_loose"], errors
    assert errors["linked"].startswith("pack.json of linked cannot be read"), errors
    assert "symbolic link" in errors["linked"]
    # Writes through the links are refused and change nothing outside.
    before = tree(outside)
    async with server.admin() as admin:
        r = await admin.post(f"{V1}/emoji/pack", params={"name": "evil_loose"})
        assert r.status_code == 409, r.text
        r = await admin.delete(f"{V1}/emoji/pack", params={"name": "evil"})
        assert r.status_code == 404, r.text
        r = await admin.patch(f"{V1}/emoji/pack", params={"name": "linked"},
                              json={"metadata": {"description": "x"}})
        assert r.status_code in (404, 409), r.text
        r = await admin.post(f"{V1}/emoji/packs/files", params={"name": "evil"},
                             files={"file": ("new.png", png_bytes(), "image/png")}, data={"shortcode": "new"})
        assert r.status_code == 404, r.text
    assert tree(outside) == before


def plant_symlinks(packs_dir: Path, outside: Path) -> None:
    os.symlink(outside / "shared", packs_dir / "evil")
    os.symlink(outside / "loose", packs_dir / "evil_loose")
    linked = packs_dir / "linked"
    linked.mkdir()
    (linked / "blob.png").write_bytes(png_bytes())
    os.symlink(outside / "secret.json", linked / "pack.json")


async def test_symlinked_pack_folders_and_pack_json_at_start(tmp_path):
    outside = outside_folders(tmp_path)

    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"})
        plant_symlinks(config.packs_dir, outside)

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        await assert_symlinks_not_followed(server, c, outside)


async def test_symlinked_pack_folders_appearing_while_running(tmp_path):
    outside = outside_folders(tmp_path)

    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"})
        write_pack(config.packs_dir, "evil", {"was": "was.png"})  # a real pack, then swapped for a link

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        assert "evil" in await packs(c)
        os.rename(server.packs_dir / "evil", tmp_path / "evil-aside")
        plant_symlinks(server.packs_dir, outside)

        async def recorded() -> bool:
            errors = (await health(c))["pack_errors"]
            return {"evil", "evil_loose", "linked"} <= set(errors) and "evil" not in await packs(c)

        await wait_for(recorded, timeout=WITHIN)
        await assert_symlinks_not_followed(server, c, outside)
        # The link gone, its error goes with it.
        os.unlink(server.packs_dir / "evil")

        async def cleared() -> bool:
            return "evil" not in (await health(c))["pack_errors"]

        await wait_for(cleared, timeout=WITHIN)


# -- 8. FIFOs --------------------------------------------------------------------------


async def test_fifos_are_never_opened_for_reading(tmp_path):
    def prepare(config):
        directory = write_pack(config.packs_dir, "blobs", {"ok": "ok.png"}, {"share-files": True})
        os.mkfifo(directory / "x.png")  # unlisted
        write_pack(config.packs_dir, "piped", {"p": "p.png", "x": "x.png"}, {"share-files": True})
        os.unlink(config.packs_dir / "piped" / "x.png")
        os.mkfifo(config.packs_dir / "piped" / "x.png")  # listed
        loose = config.packs_dir / "loosefifo"
        loose.mkdir()
        (loose / "l.png").write_bytes(png_bytes())
        os.mkfifo(loose / "emoji.txt")
        broken = config.packs_dir / "fifojson"
        broken.mkdir()
        os.mkfifo(broken / "pack.json")

    async with serving(tmp_path / "s", prepare=prepare) as server:
        async with http_client(base_url=server.url, timeout=5,
                                     limits=httpx.Limits(max_connections=100)) as c:
            # More GETs at once than the server has worker threads.
            answers = await asyncio.gather(*(c.get(f"/emoji/{pack}/x.png")
                                             for pack in ("blobs", "piped") for _ in range(30)))
            assert {r.status_code for r in answers} == {404}
            body = await health(c)
            assert body["healthy"] is True
            assert "not a regular file" in body["pack_errors"]["fifojson"], body["pack_errors"]
            r = await c.get("/emoji/blobs/ok.png")
            assert r.status_code == 200 and r.content == png_bytes()
            listed = await packs(c)
            # A listed FIFO counts as missing: the pack cannot be shared (nor its archive built).
            assert listed["piped"]["pack"]["can-download"] is False
            r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "piped"})
            assert r.status_code == 403, r.text
            assert await archive_names(c, "blobs") == {"pack.json", "ok.png"}
            assert {"ok", "p", "x", "l"} <= await custom_emojis(c)


# -- 9. names longer than a file name may be -------------------------------------


async def test_long_utf8_names_are_refused_or_handled(server):
    long_pack = "あ" * 80  # 240 bytes in UTF-8, 80 characters
    too_long_pack = "あ" * 86  # 258 bytes
    too_long_file = "あ" * 90 + ".png"  # 274 bytes
    async with server.admin() as c:
        r = await c.post(f"{V1}/emoji/pack", params={"name": long_pack})
        assert r.status_code == 200, r.text
        r = await c.post(f"{V1}/emoji/packs/files", params={"name": long_pack},
                         files={"file": ("e.png", png_bytes(), "image/png")}, data={"shortcode": "e"})
        assert r.status_code == 200, r.text
        r = await c.get(f"/emoji/{long_pack}/e.png")
        assert r.status_code == 200
        r = await c.delete(f"{V1}/emoji/pack", params={"name": long_pack})
        assert r.status_code == 200, r.text
        assert os.listdir(server.packs_dir) == []

        r = await c.post(f"{V1}/emoji/pack", params={"name": too_long_pack})
        assert r.status_code == 400, r.text
        assert "longer than 255 bytes" in r.json()["error"]
        assert os.listdir(server.packs_dir) == []

        r = await c.post(f"{V1}/emoji/pack", params={"name": "blobs"})
        assert r.status_code == 200, r.text
        r = await c.post(f"{V1}/emoji/packs/files", params={"name": "blobs"},
                         files={"file": (too_long_file, png_bytes(), "image/png")}, data={"shortcode": "longone"})
        assert r.status_code == 400, r.text
        assert "at most 255 bytes" in r.json()["error"]
        r = await c.post(f"{V1}/emoji/packs/files", params={"name": "blobs"},
                         files={"file": ("ok.png", png_bytes(), "image/png")}, data={"shortcode": "ok"})
        assert r.status_code == 200, r.text
        r = await c.patch(f"{V1}/emoji/packs/files", params={"name": "blobs"},
                          json={"shortcode": "ok", "new_shortcode": "ok", "new_filename": f"sub/{too_long_file}"})
        assert r.status_code == 400, r.text
        assert "at most 255 bytes" in r.json()["error"]
        assert sorted(os.listdir(server.packs_dir / "blobs")) == ["ok.png", "pack.json"]

        for path in (f"/emoji/blobs/{too_long_file}", f"/emoji/{too_long_pack}/ok.png",
                     f"/emoji/blobs/{'a' * 300}.png"):
            r = await c.get(path)
            assert r.status_code == 404, (path, r.status_code, r.text)
        r = await c.get(f"{V1}/emoji/pack", params={"name": too_long_pack})
        assert r.status_code == 400, r.text


# -- 16. shortcodes of a hand-written pack.json ----------------------------------------


async def test_invalid_shortcodes_in_a_hand_written_pack_json_are_set_aside(tmp_path):
    files = {"ok": "ok.png", "../x": "x.png", "<script>": "s.png", "a b": "ab.png"}

    def prepare(config):
        write_pack(config.packs_dir, "blobs", files, {"share-files": True})

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        listed = await packs(c)
        assert listed["blobs"]["files"] == {"ok": "ok.png"}
        assert listed["blobs"]["files_count"] == 1
        r = await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})
        assert r.json()["files"] == {"ok": "ok.png"}
        assert await custom_emojis(c) == {"ok"}
        r = await c.get(f"{V1}/emoji")
        assert set(r.json()) == {"ok"}
        assert await archive_names(c, "blobs") == {"pack.json", "ok.png"}
        page = await problems_page(c, "blobs")
        for shortcode in ("../x", "a b", "&lt;script&gt;"):
            assert f"{shortcode}" in page
        assert "not a valid shortcode" in page
        assert "<script>" not in page

        # The same rule as uploads: a pattern that takes them lets them in.
        server.packs_dir.joinpath("blobs", "pack.json").write_text(
            json.dumps({"files": {"ok": "ok.png", "fine_too": "x.png"}, "pack": {"share-files": True}}))

        async def updated() -> bool:
            return (await packs(c))["blobs"]["files"] == {"fine_too": "x.png", "ok": "ok.png"}

        await wait_for(updated, timeout=WITHIN)
