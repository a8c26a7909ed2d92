"""`emojid reindex` (PackService.reindex_sync) indexes a store exactly as the per-pack refresh
path does (refresh_sync: the watcher, API writes, start-up), whether it reads the folders
in this process or in its pool of worker processes; and the PNG headers it reads without
Pillow are the ones Pillow reads."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from emojid.config import load
from emojid.emoji.facts import (
    INLINE_BYTES,
    LOOSE,
    PACK,
    FolderReader,
    _pillow_header,
    _png_header,
    read_folders,
    read_header,
    workers_available,
)
from emojid.emoji.packs import PackService
from emojid.migrations import open_database
from tests.conftest import write_config
from tests.helpers import gif_bytes, jpeg_bytes, png_bytes, webp_bytes, write_pack


def saved(im: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def animated(fmt: str, size: int = 20, count: int = 3) -> bytes:
    frames = [Image.new("RGBA", (size, size), (40 * i, 0, 255 - 40 * i, 255)) for i in range(count)]
    return saved(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def palette_png(size: int) -> bytes:
    im = Image.new("P", (size, size), 1)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    return saved(im, transparency=0)


def text_png(size: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made for a test")
    return saved(Image.new("RGBA", (size, size), "teal"), pnginfo=info)


def bad_crc(data: bytes) -> bytes:
    return data[:29] + bytes([data[29] ^ 0xFF]) + data[30:]  # the IHDR's CRC


# Every kind of file a pack may hold: each (size) drawn a little differently.
KINDS = {
    "rgba.png": lambda n: png_bytes("red", size=n),
    "rgb.png": lambda n: saved(Image.new("RGB", (n, n + 1), "navy")),
    "gray.png": lambda n: saved(Image.new("L", (n + 2, n), 90)),
    "grayalpha.png": lambda n: saved(Image.new("LA", (n, n), (90, 200))),
    "deep.png": lambda n: saved(Image.new("I;16", (n, n), 300)),
    "bits.png": lambda n: saved(Image.new("1", (n, n), 1)),
    "palette.png": palette_png,
    "text.png": text_png,
    "apng.png": lambda n: animated("PNG", n),
    "party.gif": lambda n: animated("GIF", n, count=2 + n % 3),
    "still.gif": lambda n: gif_bytes(("lime",), size=n),
    "spin.webp": lambda n: animated("WEBP", n),
    "still.webp": lambda n: webp_bytes(size=n),
    "photo.jpg": lambda n: jpeg_bytes(size=n),
    "ispng.gif": lambda n: png_bytes("blue", size=n),  # wrong_extension
    "notes.png": lambda n: f"not an image {n}\n".encode(),  # not_an_image
    "empty.png": lambda n: b"",
    "cut.png": lambda n: png_bytes("red", size=n)[:40],
    "crc.png": lambda n: bad_crc(png_bytes("red", size=n)),
}


def fill_store(packs: Path) -> None:
    """A few hundred real images over packs, a folder without pack.json, and the odd ones."""
    for p in range(4):
        files: dict[str, str] = {}
        images: dict[str, bytes] = {}
        for copy in range(4):
            for kind, draw in KINDS.items():
                filename = f"{copy}_{kind}" if copy < 2 else f"sub{copy}/{kind}"
                files[f"p{p}_{copy}_{kind.replace('.', '_')}"] = filename
                images[filename] = draw(12 + p + copy)
        meta = {"share-files": True, "description": f"pack {p}"}
        write_pack(packs, f"pack{p}", files, meta=meta, images=images)
        extra = packs / f"pack{p}"
        (extra / "unlisted.png").write_bytes(png_bytes("purple", size=9 + p))  # lint's unlisted_file
        (extra / "readme.txt").write_text("not an emoji extension: no facts")
    # Tags and per-emoji metadata go into the emoji rows and the search tables.
    doc = json.loads((packs / "pack0" / "pack.json").read_text())
    doc["files"]["p0_tagged"] = "0_rgba.png"
    (packs / "pack0" / "pack.json").write_text(json.dumps(doc))
    (packs / "pack0" / "emoji.txt").write_text("p0_tagged, 0_rgba.png, Blobs, Cats\n")
    # Bigger than what is read into memory at once: hashed in chunks, Pillow reads the path.
    (packs / "pack1" / "big.png").write_bytes(png_bytes("red", size=30) + b"\0" * (INLINE_BYTES + 1))
    # A listed symlink inside the pack is followed; an unlisted one, a FIFO and an unsafe path are not.
    write_pack(packs, "links", {"real": "real.png", "linked": "linked.png", "pipe": "pipe.png",
                                "escape": "../pack0/0_rgba.png"}, images={"real.png": png_bytes("green")})
    (packs / "links" / "linked.png").unlink()
    (packs / "links" / "linked.png").symlink_to("real.png")
    (packs / "links" / "pipe.png").unlink()
    os.mkfifo(packs / "links" / "pipe.png")
    (packs / "links" / "stray.png").symlink_to("real.png")
    # A folder without pack.json: its images, as Pleroma's loader has them.
    loose = packs / "loose_folder"
    (loose / "deeper").mkdir(parents=True)
    for i, (kind, draw) in enumerate(KINDS.items()):
        (loose / ("deeper" if i % 2 else "") / kind).write_bytes(draw(10 + i))
    # pack.json that does not read: an error, no facts.
    (packs / "broken").mkdir()
    (packs / "broken" / "pack.json").write_text("{not json")
    (packs / "broken" / "a.png").write_bytes(png_bytes())


def service_for(root: Path, packs: Path | None = None) -> PackService:
    config = load(write_config(root, 4000), environ={})
    if packs is not None:  # another database over the same store
        config = config.replace(storage=dataclasses.replace(config.storage, packs_dir=str(packs)))
    return PackService.open(config, open_database(config.database_path))


def refresh_each(service: PackService) -> None:
    """The per-pack path: what the watcher and start-up do, one folder at a time."""
    for name in sorted({*service.store.pack_names(), *service.store.loose_names()}):
        service.refresh_sync(name)


QUERIES = {
    "facts": "SELECT pack, filename, size, mtime_ns, sha256, width, height, frames, format, problem "
             "FROM emoji_files ORDER BY pack, filename",
    "packs": "SELECT name, meta, files, files_count, fingerprint, shareable, problems FROM packs ORDER BY name",
    "emoji": "SELECT pack, shortcode, filename, tags, meta FROM emoji ORDER BY pack, shortcode",
    "errors": "SELECT name, error FROM pack_errors ORDER BY name",
    "loose": "SELECT name, fingerprint, emoji_count FROM loose_folders ORDER BY name",
    "loose_emoji": "SELECT folder, shortcode, filename, tags FROM loose_emoji ORDER BY folder, shortcode",
    "search": "SELECT loose, pack, shortcode, filename, tags FROM emoji_search_rows ORDER BY loose, pack, shortcode",
    "tags": "SELECT t.tag, r.pack, r.shortcode FROM emoji_search_tags t JOIN emoji_search_rows r ON r.id = t.row "
            "ORDER BY 1, 2, 3",
    "fts": "SELECT r.pack, r.shortcode FROM emoji_search s JOIN emoji_search_rows r ON r.id = s.rowid "
           "WHERE emoji_search MATCH 'rgba' ORDER BY 1, 2",
}


def tables(service: PackService) -> dict[str, list[tuple]]:
    with sqlite3.connect(service.config.database_path) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in QUERIES.items()}


class Recorded:
    """A Meters that keeps every (label, done, total) it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, label: str, unit: str = "bytes"):
        calls = self.calls

        class Meter:
            def __call__(self, done: int, total: int | None) -> None:
                calls.append((label, done, total))

            def close(self) -> None:
                pass

        return Meter()


# Files read in this process first: none (all in the pool), a few (the rest of the first
# pack is shared out to the workers), all.
@pytest.mark.parametrize("in_process", [0, 5, 10**9], ids=["worker-processes", "first-pack-shared", "in-process"])
def test_reindex_indexes_as_the_per_pack_refresh_does(tmp_path, in_process, caplog):
    refreshed = service_for(tmp_path / "refreshed")
    packs = refreshed.config.packs_dir
    fill_store(packs)
    reindexed = service_for(tmp_path / "reindexed", packs)
    try:
        refresh_each(refreshed)
        expected = tables(refreshed)
        progress = Recorded()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            count = reindexed.reindex_sync(progress, pool_after_files=in_process)
        assert count == 5  # pack0..3 and links; broken is an error, loose_folder no pack
        assert tables(reindexed) == expected
        # The packs are metered as they are read, up to all of them.
        assert progress.calls[-1] == ("Reading packs", 6, 6)
        assert [done for _label, done, _total in progress.calls] == sorted(done for _, done, _ in progress.calls)

        facts = {(r[0], r[1]): r for r in expected["facts"]}
        by_file = {key: (r[8], r[5], r[6], r[7], r[9]) for key, r in facts.items()}  # format, size, frames, problem
        assert by_file["pack0", "0_apng.png"] == ("PNG", 12, 12, 3, None)
        assert by_file["pack0", "0_party.gif"] == ("GIF", 12, 12, 2, None)
        assert by_file["pack0", "0_spin.webp"] == ("WEBP", 12, 12, 3, None)
        assert by_file["pack0", "0_palette.png"] == ("PNG", 12, 12, 1, None)
        assert by_file["pack1", "sub3/rgb.png"] == ("PNG", 16, 17, 1, None)
        assert by_file["pack1", "big.png"] == ("PNG", 30, 30, 1, None)
        assert by_file["pack0", "0_ispng.gif"][-1] == "wrong_extension"
        for kind in ("notes.png", "empty.png", "cut.png", "crc.png"):
            assert by_file["pack2", f"1_{kind}"] == (None, None, None, None, "not_an_image")
        assert ("links", "linked.png") in facts and ("links", "pipe.png") not in facts
        assert ("links", "stray.png") not in facts and ("broken", "a.png") not in facts
        assert ("loose_folder", "deeper/rgb.png") in facts and ("pack3", "unlisted.png") in facts
        assert len(expected["facts"]) > 300

        # The store's warning about the unsafe path is logged once, from whichever process read it.
        unsafe = [r for r in caplog.records if "unsafe path" in r.getMessage()]
        assert len(unsafe) == 1
        if in_process == 0 and workers_available() > 1:
            assert unsafe[0].process != os.getpid()  # read in a worker, logged here
    finally:
        refreshed.index.close()
        reindexed.index.close()


def test_a_second_reindex_reads_only_what_changed(tmp_path):
    refreshed = service_for(tmp_path / "refreshed")
    packs = refreshed.config.packs_dir
    fill_store(packs)
    reindexed = service_for(tmp_path / "reindexed", packs)
    try:
        reindexed.reindex_sync(pool_after_files=0)
        # A recorded row whose file kept its size and mtime stays as it is: not read again.
        with sqlite3.connect(reindexed.config.database_path) as conn:
            conn.execute("UPDATE emoji_files SET sha256 = 'kept' WHERE pack = 'pack0' AND filename = '0_rgb.png'")
            # A pack row or emoji row that is not what the folder says is written again.
            conn.execute("UPDATE emoji SET filename = 'elsewhere.png' WHERE pack = 'pack2' AND shortcode = 'p2_0_rgb_png'")
            conn.execute("UPDATE packs SET meta = '{}' WHERE name = 'pack3'")
        doc = json.loads((packs / "pack1" / "pack.json").read_text())
        doc["pack"]["description"] = "described again"
        del doc["files"]["p1_0_gray_png"]
        (packs / "pack1" / "pack.json").write_text(json.dumps(doc))
        (packs / "pack1" / "0_rgba.png").write_bytes(png_bytes("blue", size=40))  # changed
        (packs / "pack2" / "1_rgb.png").unlink()  # gone
        (packs / "pack3" / "new.png").write_bytes(animated("PNG", 22))  # new, unlisted
        generation = reindexed.index.generation()
        reindexed.reindex_sync(pool_after_files=0)
        assert reindexed.index.generation() > generation

        refresh_each(refreshed)
        everything = tables(refreshed)
        assert {k: v for k, v in tables(reindexed).items() if k != "facts"} == {
            k: v for k, v in everything.items() if k != "facts"}
        assert ("pack1", "p1_0_gray_png", "0_gray.png", "[]", "{}") not in everything["emoji"]
        expected = {(r[0], r[1]): r for r in everything["facts"]}
        got = {(r[0], r[1]): r for r in tables(reindexed)["facts"]}
        assert got.pop(("pack0", "0_rgb.png"))[4] == "kept"
        assert expected.pop(("pack0", "0_rgb.png"))
        assert got == expected
        assert got["pack1", "0_rgba.png"][5:9] == (40, 40, 1, "PNG")
        assert ("pack2", "1_rgb.png") not in got
        assert got["pack3", "new.png"][5:9] == (22, 22, 3, "PNG")
    finally:
        refreshed.index.close()
        reindexed.index.close()


def test_big_folders_are_shared_out_among_the_workers(tmp_path):
    """Read in workers, each folder split past a few files: the same reads as in-process
    (in the order they are done, folders after a big one not waiting for it)."""
    service = service_for(tmp_path / "s")
    try:
        fill_store(service.config.packs_dir)
        store = service.store
        reader = FolderReader(store, service.config.emoji.allowed_extensions, service.config.emoji.shortcode_pattern)
        tasks = [(PACK, n, {}) for n in store.pack_names()] + [(LOOSE, n, {}) for n in store.loose_names()]

        def summary(reads):
            return sorted((r.kind, r.name, r.pack and r.pack.fingerprint, r.error, r.loose and r.loose.files,
                           r.rows and sorted(r.rows), r.kept, r.pending) for r in reads)

        alone = summary(read_folders(reader, tasks, pool_after_files=0, workers=1))
        assert summary(read_folders(reader, tasks, pool_after_files=3, workers=2, split_files=7)) == alone
        assert summary(read_folders(reader, tasks, pool_after_files=0, workers=3, split_files=1)) == alone
        assert sum(len(rows or ()) for *_, rows, _kept, _pending in alone) > 300
    finally:
        service.index.close()


# -- PNG headers read without Pillow ----------------------------------------------------------


def chunk(cid: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(cid)))


PLAIN = [png_bytes("red", size=7), palette_png(5), *(KINDS[k](9) for k in
                                                      ("rgb.png", "gray.png", "grayalpha.png", "deep.png",
                                                       "bits.png"))]
# A private chunk (unknown to Pillow) before IDAT: passed over, its CRC checked.
PLAIN.append(PLAIN[0][:33] + chunk(b"prVt", b"anything") + PLAIN[0][33:])
OTHERS = [text_png(6), animated("PNG", 8), gif_bytes(), webp_bytes(), jpeg_bytes(),
          PLAIN[0][:33] + chunk(b"IHDR", PLAIN[0][16:29]) + PLAIN[0][33:],  # a second IHDR
          PLAIN[2][:33] + chunk(b"tRNS", b"\0\0") + PLAIN[2][33:]]  # too short for RGB


def test_plain_pngs_are_read_without_pillow_as_pillow_reads_them():
    for data in PLAIN:
        assert _png_header(data) is not None
        assert _png_header(data) == _pillow_header(data) == read_header(data)
    for data in OTHERS:  # not plain: Pillow reads them
        assert _png_header(data) is None
        assert read_header(data) == _pillow_header(data)


def test_damaged_pngs_read_as_pillow_reads_them():
    """Every byte of the headers flipped, every length cut: either Pillow's answer, or
    none from the fast path (then Pillow is asked)."""
    seen = set()
    for data in PLAIN:
        end = data.index(b"IDAT") + 8
        variants = [data[:cut] for cut in range(end + 1)]
        variants += [data[:i] + bytes([data[i] ^ flip]) + data[i + 1:] for i in range(end) for flip in (0x01, 0x80)]
        for variant in variants:
            fast = _png_header(variant)
            seen.add(fast is None)
            if fast is not None:
                assert fast == _pillow_header(variant), variant
    assert seen == {True, False}


def test_more_pixels_than_pillow_opens_quietly_go_to_pillow():
    huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0))
    huge += chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    assert _png_header(huge) is None
    assert read_header(huge) == _pillow_header(huge)
