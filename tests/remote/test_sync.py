"""The sync daemon: [[sync]] jobs run by `serve` at start-up and by `emojid sync --once`.

The local server's scheduler runs each job once when it starts (then waits an
hour); later passes are `emojid sync --once` against the same config while the
server keeps running, so what they install must show in the running API.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.responses import StreamingResponse

from emojid.cli import cli
from emojid.emoji.index import EmojiIndex
from emojid.migrations import open_database
from tests.conftest import serving, wait_for
from tests.helpers import png_bytes, tree, write_pack, zip_bytes
from tests.remote.checks import FILES, PACK, PRIVATE_OK, SYNC, assert_error, leftovers, listed
from tests.remote.stubs import FakePleroma, pack_json, serving_stub, sha256_hex

A, B, C = png_bytes("red"), png_bytes("green"), png_bytes("blue")
BLOBS = {"a": "a.png", "b": "sub/b.png"}


def sync_jobs(*jobs: dict) -> str:
    out = [PRIVATE_OK]
    for job in jobs:
        out.append("[[sync]]")
        job = {"packs": ["*"], "interval_seconds": 3600, **job}
        out += [f"{key} = {json.dumps(value)}" for key, value in job.items()]
    return "\n".join(out) + "\n"


def remote_blobs(config) -> None:
    write_pack(config.packs_dir, "blobs", BLOBS, {"share-files": True, "license": "CC0"},
               images={"a.png": A, "sub/b.png": B})
    write_pack(config.packs_dir, "private", {"p": "p.png"}, {"share-files": False})


async def statuses(local) -> list[dict]:
    async with local.admin() as c:
        r = await c.get(SYNC)
        assert r.status_code == 200, r.text
        return r.json()["jobs"]


async def first_run_done(local) -> list[dict]:
    async def done():
        jobs = await statuses(local)
        return jobs if all(j["result"] for j in jobs) else None

    return await wait_for(done, timeout=10)


async def sync_cli(local, *args: str):
    """`emojid --config <the server's config> sync ...`, beside the running server."""
    argv = ["--config", str(local.root / "emojid.toml"), "sync", *args]
    return await asyncio.to_thread(CliRunner().invoke, cli, argv, catch_exceptions=False)


async def add_emoji(server, pack: str, shortcode: str, image: bytes) -> None:
    async with server.admin() as c:
        r = await c.post(FILES, params={"name": pack, "shortcode": shortcode},
                         files={"file": (f"{shortcode}.png", image, "image/png")})
        assert r.status_code == 200, r.text


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def without_pack_json(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k != "pack.json"}


# -- first run, unchanged packs -----------------------------------------------------------


async def test_first_run_installs_and_unchanged_packs_are_not_downloaded_again(tmp_path: Path):
    fallback = zip_bytes({"f.png": C})
    archive = zip_bytes({"pack.json": pack_json(BLOBS, {"share-files": True}), "a.png": A, "sub/b.png": B})
    async with serving_stub(FakePleroma()) as remote:
        remote.add("shared", BLOBS, {"share-files": True}, archive)
        src = remote.publish("/fb.zip", fallback)
        remote.add("fb", {"f": "f.png"}, {"fallback-src": src, "fallback-src-sha256": sha256_hex(fallback)})
        remote.add("private", {"p": "p.png"}, {"share-files": False})  # neither shared nor with a fallback

        async with serving(tmp_path, sync_jobs({"url": remote.url, "as": "m_"})) as local:
            [job] = await first_run_done(local)
            assert job["url"] == remote.url
            assert job["result"] == "ok", job
            assert job["error"] is None and job["failures"] == 0
            assert sorted(job["updated"]) == ["m_fb", "m_shared"]
            assert await listed(local, "m_shared") and await listed(local, "m_fb")
            assert not await listed(local, "m_private") and not (local.packs_dir / "m_private").exists()
            assert without_pack_json(tree(local.packs_dir / "m_shared")) == {"a.png": A, "sub/b.png": B}
            assert without_pack_json(tree(local.packs_dir / "m_fb")) == {"f.png": C}
            assert remote.count(FakePleroma.ARCHIVE) == 1 and remote.count("/fb.zip") == 1
            # Where each mirror came from, in the index.
            index = EmojiIndex(open_database(local.config.database_path))
            try:
                shared, fb = index.mirror("m_shared"), index.mirror("m_fb")
            finally:
                index.close()
            assert (shared.source_url, shared.remote_name, shared.sha256) == (remote.url, "shared", sha256_hex(archive))
            assert (fb.source_url, fb.remote_name, fb.sha256) == (remote.url, "fb", sha256_hex(fallback))
            stamps = {p: (local.packs_dir / p / "pack.json").stat().st_mtime_ns for p in ("m_shared", "m_fb")}
            seen = len(remote.requests)

            result = await sync_cli(local, "--once")
            assert result.exit_code == 0, result.output
            assert f"{remote.url}: ok" in result.output
            # Unchanged: the nodeinfo check and one listing request; no pack.json, no archive.
            second_pass = [r.path for r in remote.requests[seen:]]
            assert second_pass.count(FakePleroma.LIST) == 1, second_pass
            assert set(second_pass) <= {FakePleroma.LIST, "/.well-known/nodeinfo", "/nodeinfo/2.1.json"}, second_pass
            assert remote.count(FakePleroma.ARCHIVE) == 1 and remote.count("/fb.zip") == 1
            assert {p: (local.packs_dir / p / "pack.json").stat().st_mtime_ns for p in stamps} == stamps
            [job] = await statuses(local)
            assert job["result"] == "ok" and job["updated"] == []
            assert leftovers(local) == []

            result = await sync_cli(local, "--status", "--json")
            assert result.exit_code == 0, result.output
            assert remote.url in result.output and '"ok"' in result.output


async def test_every_pack_is_seen_when_the_remote_caps_its_page_size(tmp_path: Path):
    archive = zip_bytes({"a.png": A})
    async with serving_stub(FakePleroma()) as remote:
        remote.max_page_size = 10
        for i in range(25):
            remote.add(f"p{i:02d}", {"a": "a.png"}, {"share-files": True}, archive)
        async with serving(tmp_path, sync_jobs({"url": remote.url})) as local:
            [job] = await first_run_done(local)
            assert job["result"] == "ok", job
            assert sorted(job["updated"]) == [f"p{i:02d}" for i in range(25)]
            assert sorted(p.name for p in local.packs_dir.iterdir()) == [f"p{i:02d}" for i in range(25)]


# -- a changed remote pack ------------------------------------------------------------------


async def test_changed_remote_pack_is_updated(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, remote_blobs) as remote, \
            serving(tmp_path / "local", sync_jobs({"url": remote.url, "packs": ["blobs"]})) as local:
        [job] = await first_run_done(local)
        assert job["result"] == "ok" and job["updated"] == ["blobs"], job
        assert without_pack_json(tree(local.packs_dir / "blobs")) == {"a.png": A, "sub/b.png": B}

        await add_emoji(remote, "blobs", "c", C)
        result = await sync_cli(local, "--once")
        assert result.exit_code == 0, result.output
        assert "updated=blobs" in result.output
        assert without_pack_json(tree(local.packs_dir / "blobs")) == {"a.png": A, "sub/b.png": B, "c.png": C}
        # The running server shows what `sync --once` installed.
        async def shows_c():
            async with local.anon() as c:
                r = await c.get(PACK, params={"name": "blobs"})
                return r.json()["files"].get("c") == "c.png"
        await wait_for(shows_c)
        [job] = await statuses(local)
        assert job["result"] == "ok" and job["updated"] == ["blobs"] and job["conflicts"] == []


# -- local edits: on_conflict --------------------------------------------------------------


@pytest.mark.parametrize("on_conflict", ["skip", "replace", "rename"])
async def test_locally_edited_mirror_follows_on_conflict(tmp_path: Path, on_conflict: str):
    job_toml = {"url": "", "packs": ["blobs"], "on_conflict": on_conflict}
    async with serving(tmp_path / "remote", PRIVATE_OK, remote_blobs) as remote:
        job_toml["url"] = remote.url
        async with serving(tmp_path / "local", sync_jobs(job_toml)) as local:
            [job] = await first_run_done(local)
            assert job["result"] == "ok", job

            local_only = png_bytes("white")
            await add_emoji(local, "blobs", "local_only", local_only)  # edited here...
            await add_emoji(remote, "blobs", "c", C)                   # ...and changed there
            edited = tree(local.packs_dir / "blobs")

            result = await sync_cli(local, "--once")
            assert result.exit_code == 0, result.output
            assert "conflict=blobs" in result.output
            [job] = await statuses(local)
            assert job["result"] == "conflict" and job["conflicts"] == ["blobs"], job
            assert "conflict" in json.dumps(job)
            status_cli = await sync_cli(local, "--status")
            assert status_cli.exit_code == 0 and remote.url in status_cli.output
            assert "conflict" in status_cli.output

            packs = sorted(p.name for p in local.packs_dir.iterdir() if not p.name.startswith("."))
            current = without_pack_json(tree(local.packs_dir / "blobs"))
            if on_conflict == "skip":
                assert tree(local.packs_dir / "blobs") == edited
                assert packs == ["blobs"]
                assert job["updated"] == []
            else:
                assert current == {"a.png": A, "sub/b.png": B, "c.png": C}
                assert job["updated"] == ["blobs"]
            if on_conflict == "replace":
                assert packs == ["blobs"]
            if on_conflict == "rename":
                [aside] = [p for p in packs if p != "blobs"]
                assert aside.startswith("blobs")
                assert tree(local.packs_dir / aside) == edited
                assert await listed(local, aside)
                async with local.anon() as c:
                    r = await c.get(PACK, params={"name": aside})
                    assert r.json()["files"]["local_only"] == "local_only.png"
            assert await listed(local, "blobs")
            assert leftovers(local) == []

            # Next pass, nothing new anywhere.
            result = await sync_cli(local, "--once")
            assert result.exit_code == 0, result.output
            [job] = await statuses(local)
            if on_conflict == "skip":
                assert job["result"] == "conflict" and tree(local.packs_dir / "blobs") == edited
            else:
                assert job["result"] == "ok" and job["updated"] == [] and job["conflicts"] == []


# -- failures ---------------------------------------------------------------------------------


async def test_remote_down_for_a_run_is_recovered_on_the_next(tmp_path: Path):
    archive = zip_bytes({"a.png": A, "sub/b.png": B})
    async with serving_stub(FakePleroma()) as flaky, serving_stub(FakePleroma()) as steady:
        flaky.add("flaky", BLOBS, {"share-files": True}, archive)
        steady.add("steady", BLOBS, {"share-files": True}, archive)
        flaky.down = True
        jobs = sync_jobs({"url": flaky.url}, {"url": steady.url})
        async with serving(tmp_path, jobs) as local:
            bad, good = await first_run_done(local)
            assert bad["url"] == flaky.url and good["url"] == steady.url
            assert bad["result"] == "failed" and bad["failures"] == 1 and "503" in bad["error"], bad
            # Retried with backoff, long before the job's hour-long interval.
            assert 0 < seconds_between(bad["last_run"], bad["next_run"]) <= 120, bad
            # One bad remote never stops the others.
            assert good["result"] == "ok" and good["updated"] == ["steady"], good
            assert await listed(local, "steady") and not await listed(local, "flaky")
            async with local.anon() as c:
                stats = (await c.get("/api/v1/pleroma/healthcheck")).json()["job_queue_stats"]
            assert stats["sync_jobs"] == 2 and stats["sync_ok"] == 1 and stats["sync_failed"] == 1

            result = await sync_cli(local, "--once")  # still down: exit 1
            assert result.exit_code == 1, result.output
            assert f"{flaky.url}: failed" in result.output
            bad, good = await statuses(local)
            assert bad["failures"] == 2 and good["result"] == "ok"
            assert 0 < seconds_between(bad["last_run"], bad["next_run"]) <= 240, bad
            assert leftovers(local) == []

            flaky.down = False
            result = await sync_cli(local, "--once")
            assert result.exit_code == 0, result.output
            bad, good = await statuses(local)
            assert bad["result"] == "ok" and bad["failures"] == 0 and bad["error"] is None
            assert bad["updated"] == ["flaky"]
            assert seconds_between(bad["last_run"], bad["next_run"]) >= 3500, bad  # back to the interval
            assert without_pack_json(tree(local.packs_dir / "flaky")) == {"a.png": A, "sub/b.png": B}
            assert await listed(local, "flaky")
            async with local.anon() as c:
                stats = (await c.get("/api/v1/pleroma/healthcheck")).json()["job_queue_stats"]
            assert stats["sync_jobs"] == 2 and stats["sync_ok"] == 2 and stats["sync_failed"] == 0

            # Who may read job status.
            async with local.anon() as c:
                assert_error(await c.get(SYNC), 401)
            async with local.client(local.user_token) as c:
                assert_error(await c.get(SYNC), 403)
            async with local.client(local.tokens["admin_read"]) as c:
                assert_error(await c.get(SYNC), 403)
            async with local.admin() as c:
                r = await c.get("/api/pleroma/emoji/sync")
                assert r.status_code == 200 and [j["url"] for j in r.json()["jobs"]] == [flaky.url, steady.url]


async def test_a_named_pack_that_cannot_be_mirrored_fails_the_job(tmp_path: Path):
    async with serving(tmp_path / "remote", PRIVATE_OK, remote_blobs) as remote, \
            serving(tmp_path / "local", sync_jobs({"url": remote.url, "packs": ["blobs", "private", "nope"]})) as local:
        [job] = await first_run_done(local)
        assert job["result"] == "failed", job
        assert "private" in job["error"] and "nope" in job["error"]
        assert job["updated"] == ["blobs"]  # the good one is still mirrored
        assert await listed(local, "blobs") and not await listed(local, "private")
        result = await sync_cli(local, "--once")
        assert result.exit_code == 1, result.output


# -- killed mid-download ------------------------------------------------------------------------


async def test_sync_killed_mid_download_leaves_the_previous_version(tmp_path: Path):
    v1 = zip_bytes({"a.png": A, "sub/b.png": B})
    v2_files = {**BLOBS, "c": "c.png"}
    v2 = zip_bytes({"a.png": png_bytes("black"), "sub/b.png": B, "c.png": C})
    release = asyncio.Event()
    started = asyncio.Event()

    def stalled(request):
        async def body():
            yield v2[:1000]
            started.set()
            await release.wait()
            yield v2[1000:]
        return StreamingResponse(body(), media_type="application/zip")

    async with serving_stub(FakePleroma()) as remote:
        remote.add("blobs", BLOBS, {"share-files": True}, v1)
        async with serving(tmp_path, sync_jobs({"url": remote.url})) as local:
            [job] = await first_run_done(local)
            assert job["result"] == "ok", job
            installed = tree(local.packs_dir / "blobs")

            remote.add("blobs", v2_files, {"share-files": True}, v2)
            remote.route(FakePleroma.ARCHIVE, stalled)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "emojid", "--config", str(local.root / "emojid.toml"), "sync", "--once",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                await asyncio.wait_for(started.wait(), 15)
                await asyncio.sleep(0.1)
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), 10) != 0
            finally:
                if proc.returncode is None:
                    proc.kill()
                release.set()

            assert tree(local.packs_dir / "blobs") == installed
            async with local.anon() as c:
                r = await c.get(PACK, params={"name": "blobs"})
                assert r.json()["files"] == BLOBS
            assert [p.name for p in local.packs_dir.iterdir()] == ["blobs"]  # no staging folder either

            # The next pass completes the update.
            remote.route(FakePleroma.ARCHIVE, remote._archive)
            result = await sync_cli(local, "--once")
            assert result.exit_code == 0, result.output
            assert without_pack_json(tree(local.packs_dir / "blobs")) == {
                "a.png": png_bytes("black"), "sub/b.png": B, "c.png": C}
