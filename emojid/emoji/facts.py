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
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from emojid.emoji.index.files import NOT_AN_IMAGE, WRONG_EXTENSION, FileFacts
from emojid.emoji.names import extension
from emojid.emoji.store import EMOJI_TXT, PACK_JSON, PackStore

# The format the bytes of each emoji extension must have (Pillow's names; APNG is PNG).
EXPECTED_FORMAT = {".png": "PNG", ".apng": "PNG", ".gif": "GIF", ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}
# Files up to this size are read once: hashed, and their header handed to Pillow from memory.
INLINE_BYTES = 4 << 20
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def read_facts(pack: str, filename: str, path: Path, st: os.stat_result) -> FileFacts:
    """Hash the file and read its image header (Pillow decodes no pixels for this)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
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
                except _UNREADABLE:
                    frames = 1  # a header that reads, frames that do not: still one picture
    except _UNREADABLE:
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


def pack_files(store: PackStore, name: str, listed: Iterable[str], extensions: Iterable[str]) -> dict[str, tuple[Path, os.stat_result]]:
    """The regular files of a pack folder: every listed one, and every other one with an
    emoji extension (candidates for lint's unlisted_file), with their stat."""
    found: dict[str, tuple[Path, os.stat_result]] = {}
    for rel in set(listed):
        path = store.file_path(name, rel)  # None when it leads outside the pack
        if path is None:
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found[rel] = (path, st)
    wanted = set(extensions)
    directory = store.pack_dir(name)
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for filename in filenames:
            path = Path(dirpath) / filename
            rel = path.relative_to(directory).as_posix()
            if filename.startswith(".") or rel in found or rel in (PACK_JSON, EMOJI_TXT) \
                    or extension(rel) not in wanted:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[rel] = (path, st)
    return found


def scan_pack(store: PackStore, name: str, listed: Iterable[str], extensions: Iterable[str],
              known: dict[str, FileFacts]) -> list[FileFacts]:
    """Facts of every file of a pack; a file whose size and mtime_ns match `known` keeps
    its recorded facts (no read)."""
    facts = []
    for rel, (path, st) in sorted(pack_files(store, name, listed, extensions).items()):
        old = known.get(rel)
        if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            facts.append(old)
            continue
        try:
            facts.append(read_facts(name, rel, path, st))
        except OSError:
            continue  # gone or unreadable meanwhile: as if it were not there
    return facts
