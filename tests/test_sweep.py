"""A crash leaves staging folders and temp files; the next start removes the old ones."""

import os
import time

from emojid.files import STARTED
from tests.conftest import serving
from tests.helpers import png_bytes, write_pack


async def test_old_leftovers_are_swept_fresh_ones_kept(tmp_path):
    old = time.time() - 7200

    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"}, {"share-files": True})
        stale = config.packs_dir / ".staging-crashed"
        stale.mkdir()
        (stale / "half.png").write_bytes(png_bytes())
        stale_tmp = config.packs_dir / "blobs" / ".tmp-abc.png"
        stale_tmp.write_bytes(b"partial")
        fresh = config.packs_dir / ".staging-running"
        fresh.mkdir()
        upload = config.cache_dir / "tmp" / "upload-old"
        upload.parent.mkdir(parents=True)
        upload.write_bytes(b"x")
        for path in (stale / "half.png", stale, stale_tmp, upload):
            os.utime(path, (old, old))

    async with serving(tmp_path / "s", prepare=prepare) as server:
        packs = server.packs_dir
        assert not (packs / ".staging-crashed").exists()
        assert not (packs / "blobs" / ".tmp-abc.png").exists()
        assert not (server.config.cache_dir / "tmp" / "upload-old").exists()
        assert (packs / ".staging-running").is_dir()  # another process may still be using it
        assert (packs / "blobs" / "blob.png").exists()
        async with server.anon() as c:
            r = await c.get("/api/v1/pleroma/emoji/packs")
            assert r.status_code == 200
            assert list(r.json()["packs"]) == ["blobs"]


async def test_interrupted_replace_puts_the_old_pack_back(tmp_path):
    old = time.time() - 60

    def prepare(config):
        aside = write_pack(config.packs_dir, ".replacing-blobs-0a1b2c3d", {"blob": "blob.png"}, {"share-files": True})
        os.utime(aside, (old, old))

    async with serving(tmp_path / "s", prepare=prepare) as server:
        assert (server.packs_dir / "blobs" / "pack.json").is_file()
        assert not list(server.packs_dir.glob(".replacing-*"))
        async with server.anon() as c:
            r = await c.get("/api/v1/pleroma/emoji/pack", params={"name": "blobs"})
            assert r.status_code == 200
            assert r.json()["files"] == {"blob": "blob.png"}


async def test_the_start_up_sweep_keeps_this_process_s_own_work_in_progress(tmp_path):
    """The start-up pass sweeps while the server already answers: temp names carrying our
    own pid are an earlier process's (same pid, from before this one began) only when older
    than this process; an upload spool, a staging folder or an archive build of ours that is
    in progress stays. (The servers of the tests run in the test process: its pid is theirs.)"""
    pid = os.getpid()
    before = STARTED - 60  # before this process began, yet younger than the hour the age rule waits

    def prepare(config):
        write_pack(config.packs_dir, "blobs", {"blob": "blob.png"})
        (config.cache_dir / "tmp").mkdir(parents=True)
        (config.cache_dir / "archives" / "blobs").mkdir(parents=True)
        for name, when in (("earlier", before), ("ours", None)):
            made = [config.cache_dir / "tmp" / f"upload-{pid}-{name}",
                    config.cache_dir / "archives" / "blobs" / f".build-{pid}-{name}",
                    config.packs_dir / f".staging-{pid}-{name}"]
            made[0].write_bytes(b"x")
            made[1].write_bytes(b"x")
            made[2].mkdir()
            for path in made:
                os.utime(path, (when, when) if when else None)

    async with serving(tmp_path / "s", prepare=prepare) as server:
        cache, packs = server.config.cache_dir, server.packs_dir
        for name, kept in (("earlier", False), ("ours", True)):
            for path in (cache / "tmp" / f"upload-{pid}-{name}", cache / "archives" / "blobs" / f".build-{pid}-{name}",
                         packs / f".staging-{pid}-{name}"):
                assert path.exists() is kept, path
