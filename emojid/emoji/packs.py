"""PackService: the one write path for packs.

API handlers, CLI commands and watcher events all come here. Each write runs
in a worker thread under the store's lock, then re-reads the touched packs
from disk into the index, so disk and index change the same way whoever
changed them. Archives are built once per pack version into cache_dir.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import anyio.to_thread

from emojid.config import Config
from emojid.db import Database
from emojid.emoji.facts import LOOSE, PACK, POOL_AFTER_FILES, FolderReader, Task, read_folders, scan_pack
from emojid.emoji.folder_scan import FolderScan
from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.files import FactsRow, FileFacts
from emojid.emoji.index.mirrors import Mirror
from emojid.emoji.index.origins import Origin
from emojid.emoji.index.packs import ArchiveRow, PackRow
from emojid.emoji.interchange.metadata import apply_update, parse_update
from emojid.emoji.names import check_filename, check_pack_name, check_shortcode, extension, shown, stem
from emojid.emoji.static_frames import StaticFrames
from emojid.emoji.store import LooseFolder, Pack, PackStore, PackUnreadable, Skipped
from emojid.emoji.zips import ZipLimits, checked_entries, extract_entry, looks_like_zip, open_zip
from emojid.errors import (
    BadRequest,
    Conflict,
    EmojidError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    Unprocessable,
)
from emojid.files import left_by_dead_process
from emojid.ids import now_iso
from emojid.images import verify_image
from emojid.progress import Meters, metered

if TYPE_CHECKING:  # the type only: the CLI does not load the HTTP side for reindex
    from emojid.http.uploads import Upload

log = logging.getLogger("emojid.packs")

T = TypeVar("T")


@dataclasses.dataclass
class _ReindexBatch:
    """Folders read by reindex_sync and not written yet."""

    packs: list[Pack] = dataclasses.field(default_factory=list)
    facts: list[tuple[str, list[FactsRow], list[str]]] = dataclasses.field(default_factory=list)
    files: int = 0


class PackService:
    def __init__(self, config: Config, index: EmojiIndex, store: PackStore) -> None:
        self.config = config
        self.index = index
        self.store = store
        self.archives_dir = config.cache_dir / "archives"
        self._archive_locks: dict[str, asyncio.Lock] = {}
        self._pending_archives: asyncio.Queue[str] | None = None
        self.static_frames = StaticFrames(config.cache_dir / "static", index, store)
        # Set by the server: (pack files, URL) -> SHA256 of a verified fallback archive.
        self.fallback_checker: Callable[[dict[str, str], str], Awaitable[str]] | None = None

    @classmethod
    def open(cls, config: Config, database: Database) -> PackService:
        store = PackStore(config.packs_dir, config.cache_dir / "store.lock", config.emoji.allowed_extensions,
                          config.emoji.shortcode_pattern)
        return cls(config, EmojiIndex(database), store)

    # -- keeping the index in step with disk ---------------------------

    def refresh_sync(self, name: str, fresh: Mapping[str, FactsRow] | None = None) -> bool:
        """Re-read one pack folder into the index; True when something changed. `fresh`:
        facts of its files taken as they were written (see scan_pack)."""
        problem = self.store.folder_problem(name)
        if problem is not None:
            return self._not_a_pack(name, problem)
        try:
            scan = FolderScan(self.store.pack_dir(name))  # one listing for the pack and its files
            pack = self.store.load(name, scan)
        except NotFound:
            removed = self.index.remove_pack(name)
            return self._refresh_loose(name) or removed
        except PackUnreadable as exc:
            # The last good state (if any) stays listed and served until the file is mended.
            changed = self.index.record_pack_error(name, str(exc))
            if changed:
                log.warning("%s", exc)
            return changed
        except EmojidError:
            return False  # not a valid pack name: never a pack
        facts_changed = self._refresh_facts(name, pack.files.values(), fresh, scan)
        changed = self.index.upsert_pack(pack)
        if changed and pack.shareable:
            self._queue_archive(name)
        return changed or facts_changed

    def _not_a_pack(self, name: str, problem: str) -> bool:
        """A folder that looks like a pack but is never read as one (a symlink, a name that
        is not UTF-8): whatever was indexed under its name goes, and the problem is kept as
        the pack error of its name as text (the healthcheck and lint show it)."""
        key = shown(name)
        changed = False
        if key == name:
            changed = self.index.remove_loose(name) | self._refresh_facts(name, None)
            if self.index.get_pack(name) is not None:
                changed = self.index.remove_pack(name) or changed
        if self.index.record_pack_error(key, problem):
            log.warning("%s", problem)
            changed = True
        return changed

    def _refresh_loose(self, name: str) -> bool:
        """A folder without pack.json: its emoji as Pleroma's loader has them, for the global lists."""
        folder = self.store.read_loose(name, self._shortcode_ok)
        facts_changed = self._refresh_facts(name, folder.files.values() if folder else None)
        if folder is None:
            return self.index.remove_loose(name) or facts_changed
        return self.index.upsert_loose(folder) or facts_changed

    def _refresh_facts(self, name: str, listed: Iterable[str] | None,
                       fresh: Mapping[str, FactsRow] | None = None, scan: FolderScan | None = None) -> bool:
        """The facts of the folder's files (emojid.emoji.facts), read again only where a
        file's size or mtime changed; None: the folder is gone. True when any changed."""
        old: dict[str, FileFacts] = {}

        def known() -> dict[str, FileFacts]:
            old.update(self.index.file_facts(name))
            return old

        stamps = self.index.file_stamps(name)
        new = [] if listed is None else scan_pack(self.store, name, listed, self.config.emoji.allowed_extensions,
                                                 stamps, known, fresh, scan)
        if new is None or not stamps and not new:
            return False
        if not old:
            known()
        if not self.index.put_file_facts(name, new):
            return False
        self.static_frames.changed(old.values(), new)
        return True

    async def refresh(self, name: str) -> bool:
        """Re-read one pack after a hand edit. Under the write lock: a read that
        began before an API write must not land in the index after it."""
        def locked() -> bool:
            with self.store.write_lock():
                return self.refresh_sync(name)

        return await anyio.to_thread.run_sync(locked)

    # Reindex writes the facts and packs of this many files per transaction (~0.3 s): few
    # commits, and the database free for the server's writes in between.
    _FACTS_BATCH = 20000

    def reindex_sync(self, progress: Meters | None = None, pool_after_files: int = POOL_AFTER_FILES) -> int:
        """Rebuild the pack tables from a fresh walk of the store; `progress` meters the packs read.

        Each folder is read as refresh_sync reads it (pack.json, the facts of its files,
        kept where size and mtime_ns are the same), past `pool_after_files` files by a
        pool of worker processes (`read_folders`); this process writes what they read as
        it comes, a batch of folders at a time (`_write_batch`), then drops what is gone
        (`finish_reindex`). A reader meanwhile sees each pack as it was or as it is."""
        packs: list[str] = []
        errors: dict[str, str] = {}
        loose: list[LooseFolder] = []
        names = self.store.pack_names()
        stamps = self.index.all_file_stamps()
        tasks: list[Task] = [(PACK, n, stamps.get(n, {})) for n in names]
        tasks += [(LOOSE, n, stamps.get(n, {})) for n in self.store.loose_names()]
        reader = FolderReader(self.store, self.config.emoji.allowed_extensions, self.config.emoji.shortcode_pattern)
        batch = _ReindexBatch()
        packs_done = 0
        # The writes run in a thread of their own (SQLite lets go of the GIL): this one
        # goes on handing folders to the workers meanwhile. At most two batches wait.
        writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reindex-writer")
        written: collections.deque[concurrent.futures.Future[None]] = collections.deque()
        with writer, metered(progress, "Reading packs", "packs") as meter:
            for read in read_folders(reader, tasks, pool_after_files):
                if read.pack is not None:
                    packs.append(read.name)
                    batch.packs.append(read.pack)
                elif read.error is not None:
                    errors[read.name] = read.error
                elif read.loose is not None:
                    loose.append(read.loose)
                if read.rows is not None:
                    batch.facts.append((read.name, read.rows, read.kept))
                    batch.files += read.files
                if batch.files >= self._FACTS_BATCH:
                    if len(written) == 2:
                        written.popleft().result()
                    written.append(writer.submit(self._write_batch, batch))
                    batch = _ReindexBatch()
                if read.kind == PACK:
                    packs_done += 1
                    if meter is not None:
                        meter(packs_done, len(names))
            written.append(writer.submit(self._write_batch, batch))
            for future in written:
                future.result()
        self.index.prune_file_facts({*packs, *errors, *(f.name for f in loose)})
        count = self.index.finish_reindex(packs, errors, loose)
        for name in self.store.odd_folders():
            self._not_a_pack(name, self.store.folder_problem(name) or "not a pack")
        return count

    def _write_batch(self, batch: _ReindexBatch) -> None:
        """What reindex_sync read of a batch of folders: file facts, then pack rows, a
        transaction each, while the workers read on."""
        if batch.facts:
            for old, new in self.index.put_folders_facts(batch.facts):
                self.static_frames.changed(old, new)
        self.index.reindex_packs(batch.packs)

    def sweep_leftovers(self, older_than: float = 3600) -> int:
        """Remove what a crash left behind: staging and trash folders in packs_dir,
        temp files in pack folders, downloads, archives and lists in cache_dir.
        In packs_dir, those of a process that is gone whatever their age (an
        upload it was placing is undone first); otherwise only old ones, in case
        another emojid process (a CLI sync) is still using fresh ones."""
        removed = self.store.sweep_leftovers(older_than)
        cutoff = time.time() - older_than
        cache = self.config.cache_dir
        patterns = ("downloads/download-*", "archives/*/.build-*", "archives/*/.tmp-*", "lists/.*",
                    "exports/.export-*", "imports/import-*")
        for pattern in patterns:
            for path in cache.glob(pattern):
                with contextlib.suppress(OSError):
                    # `<prefix><pid>-...`: a killed process's work goes at once, whatever its age.
                    dead = left_by_dead_process(path, path.name.partition("-")[0] + "-")
                    if dead or path.lstat().st_mtime < cutoff:
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                        removed += 1
        return removed

    def reconcile_sync(self, progress: Callable[[int, int], None] | None = None,
                       stop: threading.Event | None = None) -> int:
        """Bring the index up to date with the store: at start-up, edits made while stopped;
        after a lost watch, what it missed. Pack by pack, each under the write lock, not
        the whole walk: API writes, the CLI and the watcher go on meanwhile, and refresh_sync
        re-reads a pack under the lock, so one written since the walk began is read as it is
        now, never from a stale look. `progress(done, total)` after each name; `stop` ends
        the walk early (the server is shutting down). Returns the number of changes."""
        on_disk = set(self.store.pack_names())
        loose = set(self.store.loose_names())
        odd = set(self.store.odd_folders())  # symlinks, names that are not UTF-8: errors only
        # What the index has but the store lost goes the same way: refresh_sync of a folder
        # that is gone removes it (unless it is back by then).
        known = set(self.index.pack_names()) | {n for n, _count in self.index.loose_folders()}
        names = sorted(on_disk | loose | odd | known)
        changed = 0
        for done, name in enumerate(names, 1):
            if stop is not None and stop.is_set():
                return changed
            with self.store.write_lock():
                changed += self.refresh_sync(name)
            if progress is not None:
                progress(done, len(names))
        with self.store.write_lock():
            # The store listed again under the lock: a pack made during the walk keeps its
            # error and its file facts.
            on_disk = set(self.store.pack_names())
            odd_shown = {shown(n) for n in self.store.odd_folders()}
            # Errors of folders gone while stopped (or renamed away from a bad name) go too.
            for name in set(self.index.pack_errors()) - on_disk - odd_shown:
                changed += self.index.remove_pack(name)
            self.index.prune_file_facts(on_disk | set(self.store.loose_names()))
        return changed

    # -- writes -----------------------------------------------------------

    async def _write(self, fn: Callable[[], T], *touched: str) -> T:
        def locked() -> T:
            with self.store.write_lock():
                try:
                    return fn()
                finally:
                    for name in touched:
                        self.refresh_sync(name)

        return await anyio.to_thread.run_sync(locked)

    async def write_locked(self, fn: Callable[[], T], *touched: str) -> T:
        """`fn` in a worker thread under the store's write lock, then the `touched` packs
        re-read: the write path, for writes made of several store steps (imports)."""
        return await self._write(fn, *touched)

    def _shortcode_ok(self, shortcode: str) -> bool:
        return re.fullmatch(self.config.emoji.shortcode_pattern, shortcode) is not None

    def _claim_shortcode(self, shortcode: str) -> None:
        owner = self.index.shortcode_owner(shortcode)
        if owner is not None:
            raise Conflict(f'An emoji with the "{shortcode}" shortcode already exists')

    async def create(self, name: str) -> None:
        name = check_pack_name(name)
        await self._write(lambda: self.store.create(name), name)

    async def delete(self, name: str) -> None:
        name = check_pack_name(name)
        await self._write(lambda: self.store.delete(name), name)
        await anyio.to_thread.run_sync(self._drop_archives, name)
        await anyio.to_thread.run_sync(self.index.forget_origins, name)

    async def update_metadata(self, name: str, metadata: Any) -> dict[str, Any]:
        """Replace a pack's metadata; a new fallback-src is downloaded and checked first."""
        name = check_pack_name(name)
        if not isinstance(metadata, dict):
            raise BadRequest("metadata must be a JSON object")
        meta = normalise_metadata(metadata)
        current = await anyio.to_thread.run_sync(self.store.load, name)
        source = meta.get("fallback-src")
        if isinstance(source, str) and source and source != current.meta.get("fallback-src"):
            if self.fallback_checker is None:
                raise EmojidError("Checking a fallback-src needs the running server's remote client", status=503)
            meta["fallback-src-sha256"] = await self.fallback_checker(current.files, source)
        elif source and source == current.meta.get("fallback-src") and "fallback-src-sha256" not in meta:
            # Unchanged source: keep the checksum it was verified with, without fetching again.
            if current.meta.get("fallback-src-sha256"):
                meta["fallback-src-sha256"] = current.meta["fallback-src-sha256"]
        return await self._write(lambda: self.store.save_meta(name, meta).meta, name)

    async def update_emoji_meta(self, name: str, shortcode: str, fields: dict[str, Any]) -> None:
        """Change one emoji's licence, author, source or tags (emojid.emoji.interchange.metadata):
        only the fields given, checked by the same rules for the API, the UI and the CLI."""
        name = check_pack_name(name)
        update = parse_update(fields)

        def write() -> None:
            if not self.store.exists(name):
                raise NotFound(f'pack "{name}" is not found')
            pack = self.store.load(name)
            if shortcode not in pack.files:
                raise NotFound(f'Emoji "{shortcode}" does not exist in pack {name}')
            self.store.save_emoji_meta(name, shortcode, apply_update(pack.emoji_meta.get(shortcode, {}), update))

        await self._write(write, name)

    async def rename_pack(self, name: str, new_name: str) -> None:
        """Move a pack folder to a new name (sync keeps locally edited copies this way)."""
        name, new_name = check_pack_name(name), check_pack_name(new_name)

        def write() -> None:
            self.store.move_into_place(self.store.pack_dir(name), self.store.pack_dir(new_name), replace=False)
            self.index.forget_mirror(name)
            self.index.move_origins(name, new_name)

        await self._write(write, name, new_name)

    async def install_staged(self, staging: Path, name: str, replace: bool,
                             mirror: tuple[str, str, str] | None = None,
                             fresh: Mapping[str, FactsRow] | None = None) -> None:
        """Move a verified, unpacked pack folder into place in one rename.

        `mirror` is (source URL, remote name, archive SHA256), recorded so sync
        can tell a remote update from a local edit, and as the pack's origin.
        `fresh`: the facts of its files taken as they were unpacked (not read again).
        """
        def write() -> None:
            target = self.store.pack_dir(name)
            self.store.move_into_place(staging, target, replace)
            self.refresh_sync(name, fresh)
            if mirror:
                pack = self.store.load(name)
                self.index.record_mirror(Mirror(name, mirror[0], mirror[1], mirror[2], pack.fingerprint, now_iso()))
                self.index.record_origin(Origin(name, "mirror", mirror[0], mirror[1], "pleroma",
                                                mirror[2].upper(), len(pack.files), now_iso()), fresh=True)

        await self._write(write, name)

    async def add_file(self, name: str, upload: Upload, shortcode: str | None, filename: str | None) -> dict[str, str]:
        name = check_pack_name(name)
        if upload.size > max(self.config.emoji.max_file_bytes, self.config.remote.max_download_bytes):
            raise PayloadTooLarge(f"{upload.filename} is larger than the allowed size")
        if await anyio.to_thread.run_sync(_is_zip, upload):
            return await self._add_zip(name, upload)
        if filename is None:
            filename = upload.filename
        if shortcode is None:
            shortcode = stem(filename) if filename else None
        filename = check_filename(filename, self.config.emoji.allowed_extensions)
        shortcode = check_shortcode(shortcode, self.config.emoji.shortcode_pattern)
        if upload.size > self.config.emoji.max_file_bytes:
            raise PayloadTooLarge(
                f"{upload.filename} is {upload.size} bytes; the limit is {self.config.emoji.max_file_bytes}"
            )
        await anyio.to_thread.run_sync(verify_image, upload.path, upload.filename or filename)

        def write() -> dict[str, str]:
            if not self.store.exists(name):
                raise NotFound(f'pack "{name}" is not found')
            self._claim_shortcode(shortcode)
            return self.store.add_file(name, shortcode, filename, upload.path).sorted_files()

        return await self._write(write, name)

    async def _add_zip(self, name: str, upload: Upload) -> dict[str, str]:
        """Every image inside a zip: shortcode = file stem, filename = path in the zip."""
        limits = ZipLimits(
            max_total_bytes=self.config.remote.max_download_bytes,
            max_entry_bytes=self.config.emoji.max_file_bytes,
        )
        # Unpacked into a staging folder of the store, whose files are then linked into the
        # pack: a kill at any point leaves the pack as it was or with every file listed.
        with self.store.staging_folder() as staging:
            items = await anyio.to_thread.run_sync(self._unpack_upload, upload, limits, staging)

            def write() -> dict[str, str]:
                if not self.store.exists(name):
                    raise NotFound(f'pack "{name}" is not found')
                pack = self.store.load(name)
                taken_files = set(pack.files.values())
                accepted = []
                for shortcode, filename, path in items:
                    if self.index.shortcode_owner(shortcode) or shortcode in pack.files:
                        log.info("zip upload to %s: %s already exists, skipped", name, shortcode)
                        continue
                    if filename in taken_files or os.path.lexists(self.store.pack_dir(name) / filename):
                        log.info("zip upload to %s: file %s already exists, skipped", name, filename)
                        continue
                    taken_files.add(filename)
                    accepted.append((shortcode, filename, path))
                if not accepted:
                    return pack.sorted_files()
                return self.store.add_files(name, accepted, staged_in=staging).sorted_files()

            return await self._write(write, name)

    def _unpack_upload(self, upload: Upload, limits: ZipLimits, tmp: Path) -> list[tuple[str, str, Path]]:
        label = upload.filename or "the uploaded zip"
        items: list[tuple[str, str, Path]] = []
        seen: set[str] = set()
        with open_zip(upload.path, label) as zf:
            entries = checked_entries(zf, limits, label)
            for rel, info in sorted(entries.items()):
                shortcode = stem(rel)
                if extension(rel) not in self.config.emoji.allowed_extensions:
                    continue
                if not self._shortcode_ok(shortcode) or shortcode in seen:
                    log.info("zip upload: skipping %s (shortcode %r)", rel, shortcode)
                    continue
                if info.file_size > limits.max_entry_bytes:
                    log.info("zip upload: skipping %s (%d bytes)", rel, info.file_size)
                    continue
                target = tmp / f"{len(items)}{extension(rel)}"
                extract_entry(zf, info, target, limits.max_entry_bytes, label)
                try:
                    verify_image(target, rel)
                except EmojidError:
                    log.info("zip upload: skipping %s (not an image)", rel)
                    continue
                seen.add(shortcode)
                items.append((shortcode, rel, target))
        return items

    async def update_file(self, name: str, shortcode: str | None, new_shortcode: str | None,
                          new_filename: str | None, force: bool) -> dict[str, str]:
        name = check_pack_name(name)
        for field, value in (("shortcode", shortcode), ("new_shortcode", new_shortcode),
                             ("new_filename", new_filename)):
            if value is None:
                raise BadRequest(f"Missing field: {field}.")
        if not shortcode or not new_shortcode or not new_filename:
            raise Unprocessable("new_shortcode or new_filename cannot be empty")
        check_shortcode(new_shortcode, self.config.emoji.shortcode_pattern)
        new_filename = check_filename(new_filename, self.config.emoji.allowed_extensions)

        def write() -> dict[str, str]:
            if not self.store.exists(name):
                raise NotFound(f'pack "{name}" is not found')
            owner = self.index.shortcode_owner(new_shortcode)
            elsewhere = owner if owner not in (None, name) else None
            if elsewhere and not force:
                raise Conflict(
                    f'New shortcode "{new_shortcode}" is already used. If you want to override emoji use \'force\' option'
                )
            files = self.store.update_file(name, shortcode, new_shortcode, new_filename, force).sorted_files()
            if elsewhere:
                # Shortcodes are unique across packs: a forced rename replaces the other pack's emoji.
                with contextlib.suppress(NotFound, BadRequest):  # gone meanwhile: nothing to replace
                    self.store.remove_file(elsewhere, new_shortcode)
                self.refresh_sync(elsewhere)
            return files

        return await self._write(write, name)

    async def remove_file(self, name: str, shortcode: str | None) -> dict[str, str]:
        name = check_pack_name(name)
        if shortcode is None:
            raise BadRequest("Missing field: shortcode.")

        def write() -> dict[str, str]:
            # As Pleroma: an unknown pack is 404 before an empty shortcode is 422.
            if not self.store.exists(name):
                raise NotFound(f'pack "{name}" is not found')
            if not shortcode:
                raise Unprocessable("pack name or shortcode cannot be empty")
            return self.store.remove_file(name, shortcode).sorted_files()

        return await self._write(write, name)

    async def import_packs(self) -> tuple[list[str], list[Skipped]]:
        """pack.json for every folder without one: the imported names, and the files left
        out (the route logs them, the CLI prints them)."""
        def write() -> tuple[list[str], list[Skipped]]:
            names, skipped = self.store.import_candidates(self._shortcode_ok)
            for n in names:
                self.refresh_sync(n)
            return names, skipped

        return await self._write(write)

    # -- reads --------------------------------------------------------------

    async def list_page(self, page: int, page_size: int) -> tuple[list[PackRow], int]:
        offset = (page - 1) * page_size
        rows, count = await anyio.to_thread.run_sync(
            lambda: (self.index.list_packs(offset, page_size), self.index.count_packs())
        )
        return [await self._with_archive(r) for r in rows], count

    async def show(self, name: str, page: int, page_size: int) -> tuple[PackRow, dict[str, str]]:
        name = check_pack_name(name)
        row = await anyio.to_thread.run_sync(self.index.get_pack, name)
        if row is None:
            # The watcher may not have seen a pack written a moment ago by another process.
            await self.refresh(name)
            row = await anyio.to_thread.run_sync(self.index.get_pack, name)
        if row is None:
            # Never seen valid: not served, but say why rather than deny it is there.
            error = await anyio.to_thread.run_sync(self.index.pack_error, name)
            raise NotFound(error or f"Pack {name} does not exist")
        files = await anyio.to_thread.run_sync(self.index.pack_files, name, (page - 1) * page_size, page_size)
        return await self._with_archive(row), files

    async def _with_archive(self, row: PackRow) -> PackRow:
        if not row.shareable or row.archive_sha256:
            return row
        try:
            archive = await self.archive(row.name)
        except EmojidError:
            return row
        return PackRow(row.name, row.meta, row.files_json, row.files_count, row.fingerprint, row.shareable,
                       archive.sha256 if archive.fingerprint == row.fingerprint else None)

    # -- archives -------------------------------------------------------------

    async def archive(self, name: str) -> ArchiveRow:
        """The archive of the pack as it is on disk now, built if this version has none."""
        name = check_pack_name(name)
        lock = self._archive_locks.setdefault(name, asyncio.Lock())
        async with lock:
            # The pack is read under the lock: a caller that waited must see it as it is now.
            return await anyio.to_thread.run_sync(self._archive_sync, name)

    async def open_archive(self, name: str) -> tuple[ArchiveRow, BinaryIO]:
        """The current archive, already open.

        A newer build unlinks the superseded file, possibly right after it was
        chosen here: only an open file is safe to stream from.
        """
        for _ in range(5):
            row = await self.archive(name)
            try:
                return row, await anyio.to_thread.run_sync(open, row.path, "rb")
            except FileNotFoundError:
                continue  # superseded meanwhile: take the newer one
        raise Unavailable(f"Pack {name} keeps changing on disk; try again later")

    def _archive_sync(self, name: str) -> ArchiveRow:
        try:
            pack = self.store.load(name)
        except PackUnreadable:
            return self._last_good_archive(name)
        for _attempt in range(3):
            if not pack.shareable:
                raise _not_shareable(name)
            known = self._recorded_archive(name, pack.fingerprint)
            if known is not None:
                return known
            row = self._build_archive(pack)
            current = self.store.load(name)
            if current.fingerprint == pack.fingerprint:
                self.index.set_archive(name, row)
                self._remove_archives_but(name, Path(row.path))
                return row
            # A file changed while we zipped: this archive may mix versions; zip the new one.
            pack = current
        return row  # still changing: serve the last build, unrecorded

    def _recorded_archive(self, name: str, fingerprint: str) -> ArchiveRow | None:
        """The archive built from this version of the pack, if it is still on disk in this
        cache_dir. A row naming a file elsewhere (cache_dir moved, the database copied from
        another instance) holds where the same file is in ours; else the archive is built
        again: a file outside cache_dir is neither swept nor offloaded to nginx."""
        known = self.index.get_archive(name)
        if not known or known.fingerprint != fingerprint:
            return None
        ours = self.archives_dir / name / os.path.basename(known.path)
        if not os.path.isfile(ours):
            return None
        if known.path != str(ours):
            known = dataclasses.replace(known, path=str(ours))
            self.index.set_archive(name, known)
        return known

    def _last_good_archive(self, name: str) -> ArchiveRow:
        """A pack whose pack.json is broken is served as last indexed: with the archive
        built from that state (self-contained, so its SHA256 still holds)."""
        row = self.index.get_pack(name)
        if row is None:
            raise NotFound(f"Pack {name} does not exist")
        if not row.shareable:
            raise _not_shareable(name)
        known = self._recorded_archive(name, row.fingerprint)
        if known is not None:
            return known
        raise Unavailable(f"pack.json of {name} is invalid: its archive cannot be built until the file is fixed")

    def _build_archive(self, pack: Pack) -> ArchiveRow:
        directory = self.archives_dir / pack.name
        building = directory / f".build-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            sha = self.store.write_archive(pack, building)
            # Named by content: whichever file a reader opens, its bytes match its SHA256.
            target = directory / f"{sha.lower()}.zip"
            os.replace(building, target)
        except BaseException:
            with contextlib.suppress(OSError):
                building.unlink()
            raise
        return ArchiveRow(pack.fingerprint, sha, str(target), target.stat().st_size)

    def _remove_archives_but(self, name: str, keep: Path) -> None:
        """Superseded archives; builds in progress (dot files) are left alone."""
        with contextlib.suppress(OSError), os.scandir(self.archives_dir / name) as entries:
            for entry in entries:
                if entry.name.endswith(".zip") and not entry.name.startswith(".") and entry.path != str(keep):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _drop_archives(self, name: str) -> None:
        shutil.rmtree(self.archives_dir / name, ignore_errors=True)

    def _queue_archive(self, name: str) -> None:
        queue = self._pending_archives
        if queue is not None:
            self._loop.call_soon_threadsafe(queue.put_nowait, name)

    async def build_archives_forever(self) -> None:
        """Background task: build archives of changed shareable packs before anyone asks."""
        self._loop = asyncio.get_running_loop()
        self._pending_archives = asyncio.Queue()
        names = await anyio.to_thread.run_sync(self.index.pack_names)
        for name in names:
            self._pending_archives.put_nowait(name)
        while True:
            name = await self._pending_archives.get()
            try:
                row = await anyio.to_thread.run_sync(self.index.get_pack, name)
                if row and row.shareable and not row.archive_sha256:
                    await self.archive(name)
            except EmojidError:
                pass  # changed or removed meanwhile; the next event queues it again
            except Exception:
                log.exception("building the archive of %s failed", name)


def _is_zip(upload: Upload) -> bool:
    return looks_like_zip(upload.path, upload.content_type)


_BOOLEAN_KEYS = ("share-files",)


def normalise_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Form fields arrive as strings: `share-files=true` means the boolean."""
    meta = dict(metadata)
    for key in _BOOLEAN_KEYS:
        value = meta.get(key)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "1", "on", "yes"):
                meta[key] = True
            elif lowered in ("false", "0", "off", "no", ""):
                meta[key] = False
            else:
                raise BadRequest(f"metadata.{key} must be a boolean")
        elif value is not None and not isinstance(value, bool):
            raise BadRequest(f"metadata.{key} must be a boolean")
    return meta


def _not_shareable(name: str) -> Forbidden:
    # Pleroma's text, word for word.
    return Forbidden(f"Pack {name} cannot be downloaded from this instance, either pack sharing was disabled "
                     "for this pack or some files are missing")
