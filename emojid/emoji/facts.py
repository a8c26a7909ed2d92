"""What a pack's files are: size, SHA-256, and what Pillow reads in their headers.

Read when a pack is indexed (`PackService.refresh_sync`, `reindex_sync`) and kept in
the index (`EmojiFilesIndex`) while a file's size and mtime_ns stay the same, so a
restart stats 100k files rather than hashing them again. Lint, the static frames and
the emoji lists read the index, never the files.

Like `emojid.emoji.web.serve`, this only reads pack folders, through the store's
path checks (`PackStore.file_path`); writing them stays the store's.

`emojid reindex` reads every folder of the store at once (`FolderReader`,
`read_folders`): past a few thousand files, in a pool of worker processes, one per CPU.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import stat
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image, ImageFile, PngImagePlugin

from emojid.emoji.folder_scan import FolderScan
from emojid.emoji.index.files import NOT_AN_IMAGE, WRONG_EXTENSION, FactsRow, FileFacts
from emojid.emoji.names import extension, is_text
from emojid.emoji.store import EMOJI_TXT, PACK_JSON, LooseFolder, Pack, PackStore, PackUnreadable
from emojid.errors import EmojidError
from emojid.files import NotRegularFile

T = TypeVar("T")

# The format the bytes of each emoji extension must have (Pillow's names; APNG is PNG).
EXPECTED_FORMAT = {".png": "PNG", ".apng": "PNG", ".gif": "GIF", ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}
# Files up to this size are read once: hashed, and their header handed to Pillow from memory.
INLINE_BYTES = 4 << 20
# Non-blocking: a FIFO swapped in for a file must not block the reader (fstat refuses it).
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC

# (format, width, height, frames) as read_facts records them.
Header = tuple[str | None, int | None, int | None, int | None]


def read_facts(pack: str, filename: str, path: Path, st: os.stat_result) -> FileFacts:
    """Hash the file and read its image header (Pillow decodes no pixels for this)."""
    return FileFacts(*read_row(pack, filename, str(path), st))


def read_row(pack: str, filename: str, path: str, st: os.stat_result | None = None) -> FactsRow:
    """The facts of one file as a row; without `st`, the size and mtime_ns of the file
    opened (its fstat, which also refuses anything but a regular file)."""
    fd = os.open(path, _READ_FLAGS)
    try:
        own = os.fstat(fd)
        if not stat.S_ISREG(own.st_mode):
            raise NotRegularFile(path)
        if st is None:
            st = own
        source: bytes | str
        if st.st_size <= INLINE_BYTES:
            source = _read_to_end(fd, own.st_size)
            sha256 = hashlib.sha256(source).hexdigest()
        else:
            digest = hashlib.sha256()
            while chunk := os.read(fd, 1 << 20):
                digest.update(chunk)
            sha256 = digest.hexdigest()
            source = path
    finally:
        os.close(fd)
    return facts_row(pack, filename, st.st_size, st.st_mtime_ns, sha256, source)


def facts_row(pack: str, filename: str, size: int, mtime_ns: int, sha256: str, source: bytes | str) -> FactsRow:
    """The row of a file whose bytes were hashed (`sha256`): its image header read from
    `source`, its bytes or its path (read_row, and the installer as it unpacks)."""
    fmt, width, height, frames = read_header(source)
    problem = None
    if fmt is None:
        problem = NOT_AN_IMAGE
    elif EXPECTED_FORMAT.get(extension(filename), fmt) != fmt:
        problem = WRONG_EXTENSION
    return pack, filename, size, mtime_ns, sha256, width, height, frames, fmt, problem


def _read_to_end(fd: int, size: int) -> bytes:
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data  # a short read of a regular file is its end
    parts = [data]  # it grew since fstat
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def read_header(source: bytes | str) -> Header:
    """What Pillow reads in the header of the bytes (or the file at a path): a plain PNG
    is read here, the same way and ~10x faster (`_png_header`); anything else by Pillow."""
    if isinstance(source, bytes):
        plain = _png_header(source)
        if plain is not None:
            return plain
    return _pillow_header(source)


def _pillow_header(source: bytes | str) -> Header:
    width = height = frames = None
    fmt: str | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
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
    return fmt, width, height, frames


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHUNK = struct.Struct(">I4s")
_CRC = struct.Struct(">I")
_IHDR = struct.Struct(">II")
# Chunks Pillow's PNG reader only reads and checks (PLTE, tRNS) or does not know (passed
# over, CRC checked). Any other before the first IDAT (IHDR again, acTL of an APNG, text,
# colour profiles, ...) goes to Pillow itself.
_HANDLED = {name[len("chunk_"):].encode() for name in dir(PngImagePlugin.PngStream) if name.startswith("chunk_")}
_PASSED = frozenset({b"PLTE", b"tRNS"})
_TRNS_MIN = {"1": 2, "L": 2, "I;16": 2, "RGB": 6}


def _png_header(data: bytes) -> Header | None:
    """(format, width, height, frames) of a plain PNG as Pillow's PNG plugin reads it, or
    None: not plain (or not PNG), let Pillow read it. Plain: IHDR first, then only chunks in
    _PASSED or unknown to Pillow, each whole with a good CRC, up to an IDAT; a mode Pillow
    knows, and no more pixels than Pillow opens without a DecompressionBombWarning."""
    if not data.startswith(_PNG_MAGIC) or ImageFile.LOAD_TRUNCATED_IMAGES:
        return None
    end = len(data)
    pos = 8
    mode: str | None = None
    width = height = 0
    while True:
        if pos + 8 > end:
            return None
        length, cid = _CHUNK.unpack_from(data, pos)
        if cid == b"IDAT":
            break
        if not PngImagePlugin.is_cid(cid):
            return None
        body = pos + 8
        if body + length + 4 > end:
            return None
        # The CRC covers the chunk's type and data, which follow each other.
        if zlib.crc32(data[pos + 4:body + length]) != _CRC.unpack_from(data, body + length)[0]:
            return None
        if mode is None:
            if cid != b"IHDR" or length < 13 or data[body + 11]:
                return None
            width, height = _IHDR.unpack_from(data, body)
            known = PngImagePlugin._MODES.get((data[body + 8], data[body + 9]))
            if known is None:
                return None
            mode = known[0]
        elif cid == b"tRNS":
            if length < _TRNS_MIN.get(mode, 0):
                return None
        elif cid in _HANDLED and cid not in _PASSED:
            return None
        pos = body + length + 4
    if mode is None or width <= 0 or height <= 0:
        return None
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        return None
    return "PNG", width, height, 1


def pack_files(store: PackStore, name: str, listed: Iterable[str], extensions: Iterable[str],
               scan: FolderScan | None = None) -> dict[str, tuple[str, os.stat_result]]:
    """The regular files of a pack folder, with their stat: every listed one (its path was
    checked when pack.json was read), and every other one with an emoji extension (lint's
    unlisted_file). One lstat each (none where `scan`, the listing the pack was read with,
    has it already); a listed symlink (inside the pack) is followed."""
    found = _folder_files(store, name, listed, extensions, lstat=True, scan=scan)
    return {rel: (path, st) for rel, (path, st) in found.items() if st is not None}


def _folder_files(store: PackStore, name: str, listed: Iterable[str], extensions: Iterable[str],
                  lstat: bool, scan: FolderScan | None = None) -> dict[str, tuple[str, os.stat_result | None]]:
    """pack_files; without `lstat`, the files the folder listing says are regular come
    without a stat (None): read_row takes their fstat, one system call fewer per file.
    `scan`: the folder's listing, when the pack was read with it."""
    wanted = set(extensions)
    listed = set(listed)
    scan = scan or FolderScan(store.pack_dir(name))
    found: dict[str, tuple[str, os.stat_result | None]] = {}
    for folder, entries in scan.folders():
        for entry_name, entry in entries.items():
            rel = folder + entry_name
            if entry_name.startswith(".") or not is_text(entry_name):
                continue  # hidden, ours (.tmp-), or a name the store reports
            if rel not in listed and (extension(entry_name) not in wanted or rel in (PACK_JSON, EMOJI_TXT)):
                continue
            try:
                if not lstat:
                    if entry.is_file(follow_symlinks=False):  # the listing's file type: no stat
                        found[rel] = (entry.path, None)
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
              stamps: dict[str, tuple[int, int]], known: Callable[[], dict[str, FileFacts]],
              fresh: Mapping[str, FactsRow] | None = None, scan: FolderScan | None = None) -> list[FileFacts] | None:
    """Facts of every file of a pack, or None when every file has the size and mtime_ns
    `stamps` recorded (nothing read). A file that kept them keeps its recorded facts
    (`known()`, asked only then); so does one with the size and mtime_ns of its row in
    `fresh` (facts taken as the file was written: an install); the others are read."""
    files = pack_files(store, name, listed, extensions, scan)
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
        row = fresh.get(rel) if fresh else None
        if row is not None and row[2] == st.st_size and row[3] == st.st_mtime_ns:
            facts.append(FileFacts(name, *row[1:]))
            continue
        try:
            facts.append(read_facts(name, rel, Path(path), st))
        except OSError:
            continue  # gone or unreadable meanwhile: as if it were not there
    return facts


# -- the whole store at once (reindex) ------------------------------------------------

PACK, LOOSE = "pack", "loose"
# What reindex reads in this process before the rest goes to a pool of worker processes:
# this many files, or these many bytes (hashing runs at ~1 GB/s), whichever comes first.
POOL_AFTER_FILES = 2000
POOL_AFTER_BYTES = 64 << 20
# What a worker reads of one folder before the rest is shared out among the workers.
SPLIT_FILES = 2000
SPLIT_BYTES = 64 << 20
# One folder to read: (PACK or LOOSE, name, the (size, mtime_ns) recorded for its files).
Task = tuple[str, str, dict[str, tuple[int, int]]]
# A file to read: (name in the folder, path, its lstat or None: take the fstat).
FileToRead = tuple[str, str, os.stat_result | None]


@dataclass
class FolderRead:
    """One folder of the store as reindex reads it: a pack, its pack.json's error, or a
    folder without pack.json (all None: not one any more, or a name never read)."""

    kind: str
    name: str
    pack: Pack | None = None
    error: str | None = None
    loose: LooseFolder | None = None
    rows: list[FactsRow] | None = None  # the files read; None: the facts stay as they are
    kept: list[str] = field(default_factory=list)  # files whose recorded facts hold (same size, mtime_ns)
    pending: list[FileToRead] = field(default_factory=list)  # not read yet (the budget ran out)
    logs: list[logging.LogRecord] = field(default_factory=list)  # what a worker process logged meanwhile

    @property
    def files(self) -> int:
        return len(self.rows or ()) + len(self.kept)


class FolderReader:
    """Reads folders of the store as refresh_sync does (pack.json, or a folder without
    one, then the facts of its files), in this process or in a worker (picklable)."""

    def __init__(self, store: PackStore, extensions: Sequence[str], shortcode_pattern: str) -> None:
        self.store = store
        self.extensions = tuple(extensions)
        self.shortcode_pattern = shortcode_pattern

    def _shortcode_ok(self, shortcode: str) -> bool:
        return re.fullmatch(self.shortcode_pattern, shortcode) is not None

    def read(self, task: Task, budget: list[int] | None = None) -> FolderRead:
        """The folder; with a `budget` ([files, bytes], spent as files are read), the files
        left when it runs out are `pending`."""
        kind, name, stamps = task
        result = FolderRead(kind, name)
        try:
            scan = FolderScan(self.store.pack_dir(name))  # one listing for the pack and its files
        except EmojidError:
            return result  # not a valid pack name: never a pack
        listed: Iterable[str]
        if kind == PACK:
            try:
                result.pack = self.store.load(name, scan)
            except PackUnreadable as exc:
                result.error = str(exc)  # its facts stay those of its last good state
                return result
            except EmojidError:
                return result  # not a valid pack name: never a pack
            listed = result.pack.files.values()
        else:
            result.loose = self.store.read_loose(name, self._shortcode_ok)
            if result.loose is None:
                return result
            listed = result.loose.files.values()
        # Without facts recorded (a first index) nothing can be kept: no stat before the read.
        files = _folder_files(self.store, name, listed, self.extensions, lstat=bool(stamps), scan=scan)
        todo: list[FileToRead] = []
        for rel, (path, st) in sorted(files.items()):
            if st is not None and stamps.get(rel) == (st.st_size, st.st_mtime_ns):
                result.kept.append(rel)
            else:
                todo.append((rel, path, st))
        if budget is None:
            result.rows = self.read_files(name, todo)
            return result
        result.rows = []
        for done, file in enumerate(todo):
            if budget[0] <= 0 or budget[1] <= 0:
                result.pending = todo[done:]
                break
            rows = self.read_files(name, [file])
            result.rows += rows
            budget[0] -= 1
            budget[1] -= sum(row[2] for row in rows)
        return result

    @staticmethod
    def read_files(name: str, files: Iterable[FileToRead]) -> list[FactsRow]:
        rows = []
        for rel, path, st in files:
            try:
                rows.append(read_row(name, rel, path, st))
            except OSError:
                continue  # gone or unreadable meanwhile: as if it were not there
        return rows


# In a worker process: the reader, and what the folder being read logged.
_worker_reader: FolderReader | None = None
_worker_logs: list[logging.LogRecord] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None  # plain text: picklable
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        _worker_logs.append(record)


def _start_worker(reader: FolderReader) -> None:
    global _worker_reader
    _worker_reader = reader
    # Ctrl-C is the parent's to handle (it stops the pool); a parent killed outright must
    # not leave its workers waiting for tasks forever.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Below the parent, whose one writer thread is what reindex waits for at the end (the
    # workers fill whatever CPU it leaves), and below a server running beside the CLI.
    os.nice(10)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    # Records go back to the parent with the folder's result, which logs them: a worker
    # never writes to the terminal (the parent's progress bars own it).
    root = logging.getLogger()
    root.handlers = [_Collect()]
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.handlers = []
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__  # not the bars' proxies (Pillow's warnings)


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _read_chunk(tasks: list[Task], split_files: int) -> list[FolderRead]:
    assert _worker_reader is not None
    results = []
    for task in tasks:
        # A folder larger than this comes back with the rest of its files pending, for the
        # parent to share out among the workers: a big pack is not read by one alone.
        result = _worker_reader.read(task, [split_files, SPLIT_BYTES])
        result.logs, _worker_logs[:] = list(_worker_logs), []
        results.append(result)
    return results


def workers_available() -> int:
    """CPUs this process may run on, at most 8 (past that this process's SQLite writes
    are the bottleneck); 1 without fork (the pool's workers are forked)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return min(cpus, 8)


def _chunks(items: Sequence[T], workers: int, most: int) -> list[Sequence[T]]:
    """Small enough to keep every worker busy to the end, large enough that IPC stays a fraction."""
    size = max(1, min(most, len(items) // (workers * 4)))
    return [items[i:i + size] for i in range(0, len(items), size)]


def read_folders(reader: FolderReader, tasks: Sequence[Task], pool_after_files: int,
                 workers: int | None = None, split_files: int = SPLIT_FILES) -> Iterator[FolderRead]:
    """Each task's FolderRead, as it is done. In this process until `pool_after_files`
    files (or POOL_AFTER_BYTES) were read (0: none), then the rest in a pool of `workers`
    processes (default: one per CPU), chunks of folders; the files left of a big folder
    (past the budget here, past `split_files` in a worker) are shared out among the workers,
    and the folders after it come meanwhile. A small store never pays for the pool; one CPU
    never starts one."""
    workers = workers_available() if workers is None else workers
    budget = [pool_after_files, POOL_AFTER_BYTES] if workers > 1 else None
    done = 0
    partial = None
    while done < len(tasks) and (budget is None or (budget[0] > 0 and budget[1] > 0)):
        result = reader.read(tasks[done], budget)
        done += 1
        if result.pending:
            partial = result
            break
        yield result
    if partial is None and done == len(tasks):
        return
    # fork: the workers start in milliseconds with everything imported; they only read
    # files and run the reader (no database, no threads, no terminal: see _start_worker).
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                                  initializer=_start_worker, initargs=(reader,))
    # A few chunks of folders in flight, not all.
    chunks = iter(_chunks(tasks[done:], workers, 16))
    reading: set[concurrent.futures.Future[list[FolderRead]]] = set()
    # Folders whose files were shared out: how many parts, and those handed to the pool.
    shared: dict[int, tuple[FolderRead, int, list[concurrent.futures.Future[list[FactsRow]]]]] = {}
    # Parts not handed out yet. They wait for the folders not read yet: those come back
    # with many rows for the caller to write meanwhile, a big folder's parts with few.
    later: collections.deque[tuple[list[concurrent.futures.Future[list[FactsRow]]], str,
                                   Sequence[FileToRead]]] = collections.deque()
    parts_out: set[concurrent.futures.Future[list[FactsRow]]] = set()

    def share_out(result: FolderRead) -> None:
        parts: list[concurrent.futures.Future[list[FactsRow]]] = []
        pieces = _chunks(result.pending, workers, 256)
        later.extend((parts, result.name, piece) for piece in pieces)
        shared[id(result)] = (result, len(pieces), parts)
        result.pending = []

    def hand_out() -> None:
        while len(reading) + len(parts_out) < 2 * workers:
            if (chunk := next(chunks, None)) is not None:
                reading.add(pool.submit(_read_chunk, list(chunk), split_files))
            elif later:
                parts, name, piece = later.popleft()
                parts.append(pool.submit(FolderReader.read_files, name, piece))
                parts_out.add(parts[-1])
            else:
                return

    def finished(result: FolderRead) -> FolderRead:
        for record in result.logs:
            logging.getLogger(record.name).handle(record)
        return result

    try:
        if partial is not None:
            share_out(partial)
        while True:
            hand_out()
            if not reading and not parts_out:
                return
            waited: set[concurrent.futures.Future[Any]] = {*reading, *parts_out}
            concurrent.futures.wait(waited, return_when=concurrent.futures.FIRST_COMPLETED)
            parts_out.difference_update([f for f in parts_out if f.done()])
            for future in [f for f in reading if f.done()]:
                reading.discard(future)
                for result in future.result():
                    if result.pending:
                        share_out(result)
                    else:
                        yield finished(result)
            for key, (result, count, parts) in list(shared.items()):
                if len(parts) == count and all(part.done() for part in parts):
                    del shared[key]
                    assert result.rows is not None
                    for part in parts:  # in the folder's order
                        result.rows += part.result()
                    yield finished(result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
