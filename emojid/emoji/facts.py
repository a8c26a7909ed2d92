"""What a pack's files are: size, SHA-256, and what Pillow reads in their headers.

Read when a pack is indexed (`PackService.refresh_sync`, `reindex_sync`) and kept in
the index (`EmojiFilesIndex`) while a file's size and mtime_ns stay the same, so a
restart stats 100k files rather than hashing them again. Lint, the static frames and
the emoji lists read the index, never the files.

Like `emojid.emoji.web.serve`, this only reads pack folders, through the store's
path checks (`PackStore.file_path`); writing them stays the store's.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from emojid.emoji.index.files import NOT_AN_IMAGE, WRONG_EXTENSION, FileFacts
from emojid.emoji.names import extension, is_text
from emojid.emoji.store import EMOJI_TXT, PACK_JSON, PackStore
from emojid.files import open_regular

# The format the bytes of each emoji extension must have (Pillow's names; APNG is PNG).
EXPECTED_FORMAT = {".png": "PNG", ".apng": "PNG", ".gif": "GIF", ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}
# Files up to this size are read once: hashed, and their header handed to Pillow from memory.
INLINE_BYTES = 4 << 20


def read_facts(pack: str, filename: str, path: Path, st: os.stat_result) -> FileFacts:
    """Hash the file and read its image header (Pillow decodes no pixels for this)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:  # stat said regular; a FIFO swapped in since must not block
        source: BinaryIO | Path
        if st.st_size <= INLINE_BYTES:
            data = fh.read()
            digest.update(data)
            source = io.BytesIO(data)
        else:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
            source = path
    width = height = frames = None
    fmt: str | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                fmt = im.format
                width, height = im.size
                try:
                    frames = int(getattr(im, "n_frames", 1))
                except Exception:
                    frames = 1  # a header that reads, frames that do not: still one picture
    except Exception:  # hostile bytes make Pillow raise all sorts: not an image we can serve
        fmt = None
    if fmt == "MPO":  # a camera JPEG with a second picture: a JPEG, not an animation
        fmt, frames = "JPEG", 1
    problem = None
    if fmt is None:
        problem = NOT_AN_IMAGE
    elif EXPECTED_FORMAT.get(extension(filename), fmt) != fmt:
        problem = WRONG_EXTENSION
    return FileFacts(pack, filename, st.st_size, st.st_mtime_ns, digest.hexdigest(), width, height, frames,
                     fmt, problem)


def pack_files(store: PackStore, name: str, listed: Iterable[str],
               extensions: Iterable[str]) -> dict[str, tuple[str, os.stat_result]]:
    """The regular files of a pack folder, with their stat: every listed one (its path was
    checked when pack.json was read), and every other one with an emoji extension (lint's
    unlisted_file). One lstat each; a listed symlink (inside the pack) is followed."""
    wanted = set(extensions)
    listed = set(listed)
    top = str(store.pack_dir(name))
    found: dict[str, tuple[str, os.stat_result]] = {}
    pending = [("", top)]
    while pending:
        prefix, directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not is_text(entry.name):
                continue  # hidden, ours (.tmp-), or a name the store reports
            rel = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((rel + "/", entry.path))
                    continue
                if rel not in listed and (extension(rel) not in wanted or rel in (PACK_JSON, EMOJI_TXT)):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[rel] = (entry.path, st)
    for rel in listed - found.keys():  # through a symlink, or gone
        path = store.file_path(name, rel)
        if path is None:
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found[rel] = (str(path), st)
    return found


def scan_pack(store: PackStore, name: str, listed: Iterable[str], extensions: Iterable[str],
              stamps: dict[str, tuple[int, int]], known: Callable[[], dict[str, FileFacts]]) -> list[FileFacts] | None:
    """Facts of every file of a pack, or None when every file has the size and mtime_ns
    `stamps` recorded (nothing read). A file that kept them keeps its recorded facts
    (`known()`, asked only then); the others are read."""
    files = pack_files(store, name, listed, extensions)
    if files.keys() == stamps.keys() and all(stamps[rel] == (st.st_size, st.st_mtime_ns)
                                             for rel, (_path, st) in files.items()):
        return None
    recorded = known()
    facts = []
    for rel, (path, st) in sorted(files.items()):
        old = recorded.get(rel)
        if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            facts.append(old)
            continue
        try:
            facts.append(read_facts(name, rel, Path(path), st))
        except OSError:
            continue  # gone or unreadable meanwhile: as if it were not there
    return facts
