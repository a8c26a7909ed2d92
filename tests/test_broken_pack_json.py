"""A pack.json made invalid by hand keeps the pack's last good state listed and served;
the error shows in the healthcheck; writes refuse rather than overwrite or delete;
fixing the file brings the new state in."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from emojid.cli import cli
from tests.conftest import serving, wait_for
from tests.helpers import png_bytes, sha256_upper, tree, write_pack

V1 = "/api/v1/pleroma"
FILES = f"{V1}/emoji/packs/files"
WITHIN = 1.5
TYPO = '{"files": {"a": "a.png", "b": "sub/b.png",}, "pack": {"share-files": true}}'  # a trailing comma
BROKEN = "pack.json of blobs is invalid: fix or remove it by hand ("


def publish(config) -> None:
    write_pack(config.packs_dir, "blobs", {"a": "a.png", "b": "sub/b.png"}, {"share-files": True},
               images={"a.png": png_bytes("red"), "sub/b.png": png_bytes("blue")})
    write_pack(config.packs_dir, "other", {"o": "o.png"})


async def health(c) -> dict:
    r = await c.get(f"{V1}/healthcheck")
    assert r.status_code == 200, r.text
    return r.json()


def assert_broken(r, name: str = "blobs") -> str:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error.startswith(f"pack.json of {name} is invalid: fix or remove it by hand ("), error
    return error


def run_cli(root, *args: str):
    env = {k: None for k in os.environ if k.startswith("EMOJID_")}
    return CliRunner().invoke(cli, ["--config", str(root / "emojid.toml"), *args], env=env, prog_name="emojid")


async def test_a_typo_keeps_the_last_good_state_and_refuses_writes(tmp_path):
    async with serving(tmp_path / "s", prepare=publish) as server, server.admin() as c:
        directory = server.packs_dir / "blobs"

        async def sha():
            r = await c.get(f"{V1}/emoji/packs")
            return r.json()["packs"]["blobs"]["pack"].get("download-sha256")

        good_sha = await wait_for(sha, timeout=5)
        good_listing = (await c.get(f"{V1}/emoji/packs")).json()
        good_show = (await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})).json()
        assert (await health(c))["status"] == "ok"

        (directory / "pack.json").write_text(TYPO)

        async def reported():
            return (await health(c))["pack_errors"].get("blobs")

        error = await wait_for(reported, timeout=WITHIN)
        assert error.startswith(BROKEN) and "not valid JSON" in error
        body = await health(c)
        assert body["healthy"] is True and body["status"] == "degraded" and set(body["pack_errors"]) == {"blobs"}

        # Listed and served as it last was.
        assert (await c.get(f"{V1}/emoji/packs")).json() == good_listing
        assert (await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})).json() == good_show
        r = await c.get("/emoji/blobs/sub/b.png")
        assert r.status_code == 200 and r.content == png_bytes("blue")
        r = await c.get(f"{V1}/emoji/packs/archive", params={"name": "blobs"})
        assert r.status_code == 200 and sha256_upper(r.content) == good_sha
        assert {e["shortcode"] for e in (await c.get("/api/v1/custom_emojis")).json()} == {"a", "b", "o"}
        assert set((await c.get(f"{V1}/emoji")).json()) == {"a", "b", "o"}

        # Every write names the broken file instead of overwriting or deleting it.
        before = tree(server.packs_dir)
        assert_broken(await c.post(FILES, params={"name": "blobs"},
                                   files={"file": ("new.png", png_bytes("green"), "image/png")}))
        assert_broken(await c.patch(FILES, json={"name": "blobs", "shortcode": "a", "new_shortcode": "aa",
                                                 "new_filename": "aa.png"}))
        assert_broken(await c.request("DELETE", FILES, params={"name": "blobs", "shortcode": "a"}))
        assert_broken(await c.patch(f"{V1}/emoji/pack", json={"name": "blobs", "metadata": {"license": "x"}}))
        assert_broken(await c.post(f"{V1}/emoji/pack", params={"name": "blobs"}))
        assert_broken(await c.delete(f"{V1}/emoji/pack", params={"name": "blobs"}))
        assert_broken(await c.delete("/api/pleroma/emoji/packs/blobs"))
        assert_broken(await c.post("/api/pleroma/emoji/packs/blobs/update_file",
                                   json={"action": "remove", "shortcode": "b"}))
        assert tree(server.packs_dir) == before
        assert (directory / "pack.json").read_text() == TYPO
        # A shortcode of its last good state is still taken.
        r = await c.post(FILES, params={"name": "other", "shortcode": "a"},
                         files={"file": ("x.png", png_bytes("green"), "image/png")})
        assert r.status_code == 409 and "already exists" in r.json()["error"]

        # Fixed by hand (and edited meanwhile): the new state comes in, the error goes.
        doc = json.loads(TYPO.replace(",}", "}"))
        doc["pack"]["description"] = "mended"
        del doc["files"]["b"]
        (directory / "pack.json").write_text(json.dumps(doc))

        async def mended():
            r = await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})
            return r.json()["pack"].get("description") == "mended"

        await wait_for(mended, timeout=WITHIN)
        body = await health(c)
        assert body["status"] == "ok" and body["pack_errors"] == {}
        assert (await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})).json()["files"] == {"a": "a.png"}
        assert set((await c.get(f"{V1}/emoji")).json()) == {"a", "o"}
        r = await c.delete(FILES, params={"name": "blobs", "shortcode": "a"})
        assert r.status_code == 200, r.text


async def test_a_pack_never_seen_valid_is_only_an_error(tmp_path):
    def prepare(config):
        publish(config)
        (config.packs_dir / "blobs" / "pack.json").write_text(TYPO)

    async with serving(tmp_path / "s", prepare=prepare) as server, server.admin() as c:
        body = await health(c)
        assert body["status"] == "degraded" and body["pack_errors"]["blobs"].startswith(BROKEN)
        r = await c.get(f"{V1}/emoji/packs")
        assert list(r.json()["packs"]) == ["other"] and r.json()["count"] == 1
        r = await c.get(f"{V1}/emoji/pack", params={"name": "blobs"})
        assert r.status_code == 404 and r.json()["error"].startswith(BROKEN)
        assert set((await c.get(f"{V1}/emoji")).json()) == {"o"}
        assert_broken(await c.post(f"{V1}/emoji/pack", params={"name": "blobs"}))
        assert_broken(await c.delete(f"{V1}/emoji/pack", params={"name": "blobs"}))
        assert sorted(p.name for p in (server.packs_dir / "blobs").rglob("*")) == ["a.png", "b.png", "pack.json",
                                                                                 "sub"]


def test_broken_while_stopped_and_after_reindex(tmp_path):
    """The server's start-up reconcile is the CLI's: a pack broken while nothing ran keeps
    its last good state; so does a full `emojid reindex`."""
    root = tmp_path / "s"
    root.mkdir()
    (root / "emojid.toml").write_text('[storage]\npacks_dir = "packs"\ndatabase = "emojid.db"\n'
                                      'cache_dir = "cache"\n[watch]\nenabled = false\n')

    class Config:
        packs_dir = root / "packs"

    publish(Config)
    listed = [["blobs", "2", "shared"], ["other", "1", "private"]]  # a table under a header line
    assert [line.split()[:3] for line in run_cli(root, "pack", "list").stdout.splitlines()[1:]] == listed
    good_show = json.loads(run_cli(root, "pack", "show", "blobs", "--json").stdout)
    (root / "packs" / "blobs" / "pack.json").write_text(TYPO)

    for _ in range(2):
        result = run_cli(root, "pack", "list")
        assert [line.split()[:3] for line in result.stdout.splitlines()[1:]] == listed, result.output
        assert json.loads(run_cli(root, "pack", "show", "blobs", "--json").stdout) == good_show
        # Deleting refuses, one line, the files kept.
        result = run_cli(root, "pack", "delete", "blobs")
        assert result.exit_code != 0 and result.stdout == ""
        assert result.stderr.startswith("emojid: " + BROKEN) and len(result.stderr.splitlines()) == 1
        assert sorted(p.name for p in (root / "packs" / "blobs").rglob("*")) == ["a.png", "b.png", "pack.json",
                                                                              "sub"]
        result = run_cli(root, "reindex")
        assert result.exit_code == 0 and result.stdout == "indexed 1 packs\n", result.output
