"""Folders without pack.json (an emoji.txt, or bare images) are in /api/v1/custom_emojis and
/api/v1/pleroma/emoji as Pleroma's emoji loader has them, and enter the pack API once
imported; `pack import` names every file it leaves out."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from click.testing import CliRunner

from emojid.cli import cli
from tests.conftest import serving, wait_for
from tests.helpers import gif_bytes, png_bytes, write_pack

V1 = "/api/v1/pleroma"
WITHIN = 1.5


def loose_folders(packs: Path) -> None:
    bare = packs / "bare"
    (bare / "sub").mkdir(parents=True)
    (bare / "one.png").write_bytes(png_bytes("red"))  # a real pack holds :one: too: the pack's wins
    (bare / "solo.png").write_bytes(png_bytes("white"))
    (bare / "sub" / "two.gif").write_bytes(gif_bytes())
    (bare / "Three Words.png").write_bytes(png_bytes("blue"))  # not a shortcode: left out
    (bare / "notes.txt").write_text("not an emoji")
    listed = packs / "listed"
    listed.mkdir()
    (listed / "img.png").write_bytes(png_bytes("green"))
    (listed / "other.png").write_bytes(png_bytes("yellow"))
    (listed / "unlisted.png").write_bytes(png_bytes("black"))  # emoji.txt decides: not an emoji
    (listed / "emoji.txt").write_text("greenie, img.png, Green, Nice\n"
                                      "yellow, /emoji/listed/other.png\n"
                                      "bad code, img.png\n"
                                      "escape, ../bare/one.png\n")


async def test_folders_without_pack_json_are_in_the_global_lists(tmp_path):
    def prepare(config):
        write_pack(config.packs_dir, "real", {"one": "one.png"})
        loose_folders(config.packs_dir)

    async with serving(tmp_path / "s", prepare=prepare) as server, server.anon() as c:
        base = server.url
        r = await c.get("/api/v1/custom_emojis")
        assert r.status_code == 200
        by_code = {e["shortcode"]: e for e in r.json()}
        assert sorted(by_code) == ["greenie", "one", "solo", "two", "yellow"]
        assert [e["shortcode"] for e in r.json()].count("one") == 1
        assert by_code["one"]["category"] == "real"
        assert by_code["two"] == {"shortcode": "two", "url": f"{base}/emoji/bare/sub/two.gif",
                                  # two frames: its static_url is its first frame (INTERFACE.md)
                                  "static_url": f"{base}/emoji-static/bare/sub/two.gif.png", "visible_in_picker": True,
                                  "tags": ["pack:bare"], "category": "bare"}
        assert by_code["greenie"]["tags"] == ["pack:listed", "Green", "Nice"]
        assert by_code["greenie"]["url"] == f"{base}/emoji/listed/img.png"
        assert by_code["yellow"]["url"] == f"{base}/emoji/listed/other.png"

        r = await c.get(f"{V1}/emoji")
        assert r.json() == {
            "greenie": {"image_url": "/emoji/listed/img.png", "tags": ["pack:listed", "Green", "Nice"]},
            "one": {"image_url": "/emoji/real/one.png", "tags": ["pack:real"]},
            "solo": {"image_url": "/emoji/bare/solo.png", "tags": ["pack:bare"]},
            "two": {"image_url": "/emoji/bare/sub/two.gif", "tags": ["pack:bare"]},
            "yellow": {"image_url": "/emoji/listed/other.png", "tags": ["pack:listed"]},
        }
        r = await c.get("/emoji/bare/sub/two.gif")
        assert r.status_code == 200 and r.content == gif_bytes() and r.headers["content-type"] == "image/gif"

        # Not packs (yet).
        r = await c.get(f"{V1}/emoji/packs")
        assert list(r.json()["packs"]) == ["real"] and r.json()["count"] == 1
        for name in ("bare", "listed"):
            r = await c.get(f"{V1}/emoji/pack", params={"name": name})
            assert r.status_code == 404 and r.json() == {"error": f"Pack {name} does not exist"}

        # Hand edits show up, as for packs.
        (server.packs_dir / "bare" / "solo.png").unlink()
        (server.packs_dir / "bare" / "sub" / "three.png").write_bytes(png_bytes("purple"))

        async def edited():
            return set((await c.get(f"{V1}/emoji")).json()) == {"greenie", "one", "three", "two", "yellow"}

        await wait_for(edited, timeout=WITHIN)
        shutil.rmtree(server.packs_dir / "listed")

        async def removed():
            return set((await c.get(f"{V1}/emoji")).json()) == {"one", "three", "two"}

        await wait_for(removed, timeout=WITHIN)

        # A real pack that loses its pack.json is read the loader's way: every image in it.
        (server.packs_dir / "real" / "extra.png").write_bytes(png_bytes("pink"))
        (server.packs_dir / "real" / "pack.json").unlink()

        async def unpacked():
            r = await c.get(f"{V1}/emoji")
            return r.json().get("extra") == {"image_url": "/emoji/real/extra.png", "tags": ["pack:real"]}

        await wait_for(unpacked, timeout=WITHIN)
        assert (await c.get(f"{V1}/emoji/packs")).json() == {"packs": {}, "count": 0}


async def test_import_brings_them_into_the_pack_api_and_logs_each_skip(tmp_path, caplog):
    async with serving(tmp_path / "s", prepare=lambda config: loose_folders(config.packs_dir)) as server, \
            server.admin() as c:
        before = (await c.get(f"{V1}/emoji")).json()
        assert set(before) == {"greenie", "one", "solo", "two", "yellow"}
        with caplog.at_level(logging.WARNING, logger="emojid"):
            r = await c.get(f"{V1}/emoji/packs/import")
        assert r.status_code == 200, r.text
        assert r.json() == ["bare", "listed"]
        warnings = sorted(rec.getMessage() for rec in caplog.records
                          if rec.levelno == logging.WARNING and rec.getMessage().startswith("import:"))
        assert warnings == [
            "import: pack bare: skipped Three Words.png: not a valid shortcode",
            "import: pack listed: skipped ../bare/one.png: the path leads outside the folder",
            "import: pack listed: skipped img.png: not a valid shortcode ('bad code')",
        ]
        assert json.loads((server.packs_dir / "bare" / "pack.json").read_text())["files"] == {
            "one": "one.png", "solo": "solo.png", "two": "sub/two.gif"}
        r = await c.get(f"{V1}/emoji/packs")
        assert sorted(r.json()["packs"]) == ["bare", "listed"]
        r = await c.get(f"{V1}/emoji/pack", params={"name": "listed"})
        assert r.json()["files"] == {"greenie": "img.png", "yellow": "other.png"}
        # The global lists say the same as before.
        assert (await c.get(f"{V1}/emoji")).json() == before


def test_cli_lists_importable_folders_and_names_skips(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    config = root / "emojid.toml"
    config.write_text('[storage]\npacks_dir = "packs"\ndatabase = "emojid.db"\ncache_dir = "cache"\n'
                      "[watch]\nenabled = false\n")
    packs = root / "packs"
    write_pack(packs, "real", {"r": "r.png"}, {"share-files": True})
    loose_folders(packs)
    (packs / "empty").mkdir()
    env = {k: None for k in os.environ if k.startswith("EMOJID_")}

    def run(*args: str):
        return CliRunner().invoke(cli, ["--config", str(config), *args], env=env, prog_name="emojid")

    def listed() -> list[tuple[str, int, str]]:
        result = run("pack", "list", "--json")
        assert result.exit_code == 0 and result.stderr == "", result.output
        return [(p["name"], p["files_count"], p["state"]) for p in json.loads(result.stdout)]

    assert listed() == [("real", 1, "shared"), ("bare", 3, "importable"), ("empty", 0, "importable"),
                        ("listed", 2, "importable")]
    table = run("pack", "list").stdout.splitlines()
    assert [line.split()[:3] for line in table[1:]] == [["real", "1", "shared"], ["bare", "3", "importable"],
                                                        ["empty", "0", "importable"], ["listed", "2", "importable"]]

    result = run("pack", "import")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["bare", "empty", "listed"]
    assert result.stderr.splitlines() == [
        "skipped bare/Three Words.png: not a valid shortcode",
        "skipped listed/img.png: not a valid shortcode ('bad code')",
        "skipped listed/../bare/one.png: the path leads outside the folder",
    ]
    assert listed() == [("bare", 3, "private"), ("empty", 0, "private"), ("listed", 2, "private"),
                        ("real", 1, "shared")]
    result = run("pack", "import")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
