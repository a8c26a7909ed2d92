"""The filesystem pack store: the only code that touches `packs_dir`.

Layout is Pleroma's: `packs_dir/<pack>/pack.json` plus the files it lists.
Every method is synchronous (callers run it in a worker thread) and every
write is atomic: files land through a temporary name and `os.replace`, and
`pack.json` is fsynced before it replaces the old one. A full disk in a public
write (`@disk_space`) is InsufficientStorage (507), once the write has undone
itself as for any other error.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emojid import strict_json
from emojid.emoji.folder_scan import FolderScan
from emojid.emoji.interchange.metadata import EmojiMeta, read_extension, with_extension
from emojid.emoji.names import check_pack_name, extension, is_text, safe_relpath, shown, stem
from emojid.errors import NO_SPACE_ERRNOS, BadRequest, Conflict, EmojidError, NotFound, disk_space
from emojid.files import left_by_dead_process, make_temp_dir, make_temp_file, open_regular, pid_prefix

log = logging.getLogger("emojid.store")

PACK_JSON = "pack.json"
EMOJI_TXT = "emoji.txt"
# What an interrupted write leaves in packs_dir (sweep_leftovers takes them away).
WRITE_LEFTOVERS = (".staging-", ".deleting-", ".replacing-", ".tmp-")
# Beside a `.replacing-<pid>-<random>` folder: the name of the pack it holds.
REPLACING_MARKER = ".pack"
# In a staging folder whose files are being linked into a pack: what a start-up
# after a crash must take out again (`PackStore.roll_back`).
JOURNAL = "placing.json"
# Zip entries get this timestamp so an archive's bytes depend on content only.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackUnreadable(Conflict):
    """pack.json is there but cannot be used (not JSON, not Pleroma's shape, unreadable).

    The index keeps the pack's last good state meanwhile; writes to the pack
    refuse with this error (409) rather than overwrite or delete it.
    """

    def __init__(self, name: str, problem: str, detail: str) -> None:
        super().__init__(f"pack.json of {name} {problem}: fix or remove it by hand ({detail})")
        self.pack = name
        self.detail = detail


@dataclass(frozen=True)
class Skipped:
    """A file (or emoji.txt entry) of a folder without pack.json that import leaves out."""

    pack: str
    file: str
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.pack}/{self.file}: {self.reason}"


@dataclass
class LooseFolder:
    """A folder without pack.json, read as Pleroma's emoji loader reads it."""

    name: str
    files: dict[str, str]
    tags: dict[str, list[str]]
    skipped: list[Skipped]


@dataclass
class Pack:
    name: str
    meta: dict[str, Any]  # the "pack" object of pack.json
    files: dict[str, str]
    tags: dict[str, list[str]] = field(default_factory=dict)
    # Per-emoji license/author/source/tags (emojid.emoji.interchange.metadata), listed shortcodes only.
    emoji_meta: dict[str, EmojiMeta] = field(default_factory=dict)
    # Changes whenever pack.json or any listed file changes on disk.
    fingerprint: str = ""
    # Every listed file exists, so an archive can be made.
    complete: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def shareable(self) -> bool:
        return self.meta.get("share-files") is True and self.complete

    def sorted_files(self) -> dict[str, str]:
        return dict(sorted(self.files.items()))


def _pack_json_bytes(doc: dict[str, Any]) -> bytes:
    """pack.json as we write it; never with NaN or Infinity, which no strict parser reads."""
    try:
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False).encode()
    except ValueError:
        raise BadRequest("pack.json cannot hold NaN or Infinity (not JSON)") from None


def pack_json_document(files: dict[str, str], meta: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """pack.json as Pleroma writes it: files, pack, files_count."""
    doc = dict(extra or {})
    doc.update(files=dict(sorted(files.items())), pack=meta, files_count=len(files))
    return doc


class PackStore:
    def __init__(self, packs_dir: Path, lock_file: Path, allowed_extensions: list[str],
                 shortcode_pattern: str = "^[A-Za-z0-9_-]+$") -> None:
        self.root = packs_dir
        self.lock_file = lock_file
        self.allowed_extensions = allowed_extensions
        # `[emoji] shortcode_pattern`: a hand-written pack.json is held to it as uploads are.
        self.shortcode_pattern = shortcode_pattern
        self._shortcode_re = re.compile(shortcode_pattern)

    # -- paths ---------------------------------------------------------

    def pack_dir(self, name: str) -> Path:
        return self.root / check_pack_name(name)

    def file_path(self, pack: str, filename: str) -> Path | None:
        """The path of `filename` inside the pack, or None when it escapes.

        The name is checked first (no `..`, no absolute path), so only a
        symlink below the pack folder can lead out: components are lstat'ed,
        and only a path that has a symlink pays for a full resolve().
        """
        rel = safe_relpath(filename)
        if rel is None:
            return None
        base = self.pack_dir(pack)
        if os.path.islink(base):
            return None  # a pack folder that is a symlink is no pack: nothing in it is ours
        return self._inside(base, rel)

    @staticmethod
    def _inside(base: Path, rel: str) -> Path | None:
        """`base / rel` for a checked `rel`, or None when a symlink in it leads out of `base`."""
        return None if PackStore._leads_out(base, rel) else base / rel

    @staticmethod
    def _leads_out(base: Path, rel: str, scan: FolderScan | None = None) -> bool:
        # Plain strings on the way: pathlib costs more than the lstat calls (a pack.json
        # of 5,000 emoji is checked on every read). With a `scan` of `base`, its listings
        # say which parts are links; an lstat only where they cannot.
        current = os.fspath(base)
        folder = ""
        for part in rel.split("/"):
            link = scan.is_link(folder, part) if scan is not None else None
            current = f"{current}/{part}"
            folder = f"{folder}{part}/"
            if link is None:
                link = os.path.islink(current)
            if link:
                try:
                    return not (base / rel).resolve().is_relative_to(base.resolve())
                except (OSError, RuntimeError):
                    return True
        return False

    # -- locking -------------------------------------------------------

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Serialises writers across threads and processes (serve beside the CLI).

        One lock for the whole store: shortcodes are unique across packs, so
        the check and the write must not interleave with another pack's.
        """
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- reading -------------------------------------------------------

    def pack_names(self) -> list[str]:
        """Folders holding a pack.json (whatever its state), sorted bytewise as Pleroma sorts
        them. Symlinked folders and names that are not UTF-8 are never packs (`odd_folders`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        names = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False) or not is_text(entry.name):
                    continue
                if os.path.lexists(os.path.join(entry.path, PACK_JSON)):
                    names.append(entry.name)
        return sorted(names)

    def odd_folders(self) -> list[str]:
        """Entries of packs_dir that look like pack folders but are never read as one
        (`folder_problem` says why), sorted."""
        self.root.mkdir(parents=True, exist_ok=True)
        with os.scandir(self.root) as entries:
            return sorted(entry.name for entry in entries
                          if not entry.name.startswith(".") and self.folder_problem(entry.name) is not None)

    def folder_problem(self, name: str) -> str | None:
        """Why the folder `name` of packs_dir is not read as a pack (nor as a folder without
        pack.json): a name that is not UTF-8, or a symlink (it would lead outside packs_dir)."""
        path = os.path.join(self.root, name)
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            if not os.path.isdir(path):
                return None  # a link to a file (or nowhere) does not look like a pack
            return f"packs_dir/{shown(name)} is a symbolic link: not read as a pack (emojid follows no links there)"
        if stat.S_ISDIR(st.st_mode) and not is_text(name):
            return f'the folder name "{shown(name)}" is not valid UTF-8: not read as a pack (rename it)'
        return None

    def exists(self, name: str) -> bool:
        directory = self.pack_dir(name)
        return not os.path.islink(directory) and os.path.lexists(directory / PACK_JSON)

    def _read_pack_json(self, name: str, directory: Path) -> bytes:
        """pack.json's bytes, read without following a symlink (the folder's or the
        file's) and only from a regular file (a FIFO would block the reader)."""
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"Pack {name} does not exist") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the pack folder is a symlink: no pack
                raise NotFound(f"Pack {name} does not exist") from None
            raise PackUnreadable(name, "cannot be read", exc.strerror or str(exc)) from None
        try:
            with open_regular(PACK_JSON, follow_symlinks=False, dir_fd=dir_fd) as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"Pack {name} does not exist") from None
        except OSError as exc:
            detail = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
            raise PackUnreadable(name, "cannot be read", detail) from None
        finally:
            os.close(dir_fd)

    def load(self, name: str, scan: FolderScan | None = None) -> Pack:
        """Read one pack from disk. NotFound without pack.json, PackUnreadable when broken.
        `scan`: of the pack's folder, when the caller lists it too (reindex)."""
        return self._load(name, self.pack_dir(name), scan)

    def load_staged(self, staging: Path, name: str) -> Pack:
        """A pack assembled in `staging`, read as `load(name)` will read it once it is moved
        into place: the same fingerprint (renaming its folder changes nothing in it)."""
        return self._load(name, staging)

    def _load(self, name: str, directory: Path, scan: FolderScan | None = None) -> Pack:
        raw = self._read_pack_json(name, directory)
        scan = scan or FolderScan(directory)
        try:
            # NaN and Infinity are refused: written back, they would make our JSON invalid.
            doc = strict_json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise PackUnreadable(name, "is invalid", f"not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise PackUnreadable(name, "is invalid", "not a JSON object")
        try:
            # "\udcff" is valid JSON but no Unicode text: nothing could store or show it.
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PackUnreadable(name, "is invalid", "a string in it has an unpaired surrogate") from None
        # Absent keys are empty (Pleroma writes both); a key of the wrong type is a broken file.
        meta = doc.get("pack") or {}
        if not isinstance(meta, dict):
            raise PackUnreadable(name, "is invalid", '"pack" is not a JSON object')
        raw_files = doc.get("files") or {}
        if not isinstance(raw_files, dict):
            raise PackUnreadable(name, "is invalid", '"files" is not a JSON object')

        pack = Pack(name=name, meta=meta, files={})
        for shortcode, filename in raw_files.items():
            rel = safe_relpath(filename) if isinstance(filename, str) else None
            if rel is None or self._leads_out(directory, rel, scan):
                pack.problems.append(f"{shortcode}: unsafe path {filename!r} ignored")
                continue
            if not self._shortcode_re.fullmatch(shortcode):
                pack.problems.append(f"{shortcode}: not a valid shortcode (does not match "
                                     f"{self.shortcode_pattern}), ignored")
                continue
            pack.files[shortcode] = rel
        pack.problems += self._misnamed(scan)
        emoji_meta, meta_problems = read_extension(doc)
        pack.emoji_meta = {code: entry for code, entry in emoji_meta.items() if code in pack.files}
        pack.problems += meta_problems
        if pack.problems:
            log.warning("pack %s: %s", name, "; ".join(pack.problems))
        pack.tags = self._emoji_txt_tags(directory, name)
        # Tags set through emojid replace the emoji.txt ones.
        pack.tags.update({code: entry["tags"] for code, entry in pack.emoji_meta.items() if "tags" in entry})
        pack.fingerprint, pack.complete = self._fingerprint(scan, raw, pack.files, pack.tags, pack.problems)
        return pack

    def _fingerprint(self, scan: FolderScan, pack_json: bytes, files: dict[str, str],
                     tags: dict[str, list[str]], problems: list[str] | None = None) -> tuple[str, bool]:
        digest = hashlib.sha256(pack_json)
        # emoji.txt tags are indexed too: editing them alone must count as a change.
        digest.update(json.dumps(tags, sort_keys=True).encode())
        # So are the problems (a file named in bytes that are not UTF-8 appearing, a
        # shortcode_pattern changed between runs): the index must show the new ones.
        digest.update(json.dumps(problems or []).encode())
        complete = True
        parts = []  # hashed at once: the same bytes as an update per file, less time
        for filename in sorted(set(files.values())):
            try:
                st = scan.stat(filename)
                if not stat.S_ISREG(st.st_mode):
                    raise OSError("not a regular file")  # a FIFO would block whoever reads it
                parts.append(f"\0{filename}\0{st.st_size}\0{st.st_mtime_ns}")
            except OSError:
                complete = False
                parts.append(f"\0{filename}\0missing")
        digest.update("".join(parts).encode())
        return digest.hexdigest(), complete

    @staticmethod
    def _misnamed(scan: FolderScan) -> list[str]:
        """Problems for the files and folders of a pack whose names are not UTF-8: left
        out of everything (indexing, serving, archives), named here so they can be renamed."""
        return sorted(f"{shown(rel)}: the name is not valid UTF-8, ignored (rename it)" for rel in scan.misnamed())

    def has_undecodable_names(self) -> bool:
        """Whether any file or folder in packs_dir has a name that is not UTF-8 (the
        watcher polls while one does: inotify events cannot name it)."""
        for _dirpath, dirnames, filenames in os.walk(self.root):
            if not all(map(is_text, dirnames)) or not all(map(is_text, filenames)):
                return True
        return False

    def _emoji_txt_tags(self, directory: Path, name: str) -> dict[str, list[str]]:
        """Tags written in emoji.txt (`shortcode, file, tag, ...`): Pleroma drops them, we keep them."""
        tags: dict[str, list[str]] = {}
        for shortcode, _file, extra in self._emoji_txt_lines(directory, name):
            if extra:
                tags[shortcode] = extra
        return tags

    def _emoji_txt_lines(self, directory: Path, name: str) -> Iterator[tuple[str, str, list[str]]]:
        try:
            with open_regular(directory / EMOJI_TXT) as fh:
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return
        prefix = f"/emoji/{name}/"
        for line in text.splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) < 2 or not parts[0] or not parts[1]:
                continue
            shortcode, file = parts[0], parts[1]
            # Pleroma and emoji downloaders write URL paths; they mean this pack's folder.
            if file.startswith(prefix):
                file = file[len(prefix):]
            yield shortcode, file, [t for t in parts[2:] if t]

    # -- writing -------------------------------------------------------

    def _write_pack_json(self, name: str, files: dict[str, str], meta: dict[str, Any],
                         emoji_meta: dict[str, EmojiMeta] | None = None) -> None:
        """pack.json with other top-level keys kept; per-emoji metadata as given (default: as it
        was), only for the listed shortcodes."""
        directory = self.pack_dir(name)
        target = directory / PACK_JSON
        extra: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            old = json.loads(target.read_bytes())
            if isinstance(old, dict):
                extra = {k: v for k, v in old.items() if k not in ("files", "pack", "files_count")}
        if emoji_meta is None:
            emoji_meta = read_extension(extra)[0]
        extra = with_extension(extra, emoji_meta, set(files))
        self._atomic_write(target, _pack_json_bytes(pack_json_document(files, meta, extra)))

    def _atomic_write(self, target: Path, data: bytes) -> None:
        fd, tmp = make_temp_file(dir=target.parent, prefix=pid_prefix(".tmp-"), suffix=".json")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @disk_space("packs_dir")
    def create(self, name: str) -> Pack:
        directory = self.pack_dir(name)
        self.root.mkdir(parents=True, exist_ok=True)
        made = False
        try:
            directory.mkdir()
            made = True
        except FileExistsError:
            if os.path.islink(directory):
                raise Conflict(f'packs_dir/{name} is a symbolic link: remove it by hand first') from None
            if os.path.lexists(directory / PACK_JSON):
                self.load(name)  # a broken pack.json says so (409), never "already exists"
                raise Conflict(f'A pack named "{name}" already exists') from None
            # A folder without pack.json (an import candidate) becomes the pack.
        try:
            self._write_pack_json(name, {}, {})
        except BaseException:
            if made:  # no empty folder left behind (it would be a folder without pack.json)
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise
        return self.load(name)

    @disk_space("packs_dir")
    def delete(self, name: str) -> None:
        directory = self.pack_dir(name)
        if not self.exists(name):
            raise NotFound(f"Pack {name} does not exist")
        # A broken pack.json refuses (409): its last good state is still served, and
        # deleting what cannot be read would take the images with it.
        self.load(name)
        # Move aside first so the pack vanishes in one step, then remove at leisure.
        # A short name (not the pack's: a 250-byte pack name would make it too long).
        trash = self.root / f"{pid_prefix('.deleting-')}{os.urandom(4).hex()}"
        os.rename(directory, trash)
        shutil.rmtree(trash, ignore_errors=True)

    @contextlib.contextmanager
    def staging_folder(self) -> Iterator[Path]:
        """A hidden folder inside packs_dir to assemble a pack in: on the same
        filesystem, so `move_into_place` puts it in place with one rename.
        Removed afterwards unless it was moved."""
        self.root.mkdir(parents=True, exist_ok=True)
        with disk_space("packs_dir"):
            staging = make_temp_dir(dir=self.root, prefix=pid_prefix(".staging-"))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @disk_space("packs_dir")
    def write_staged_pack_json(self, staging: Path, files: dict[str, str], meta: dict[str, Any],
                               emoji_meta: dict[str, EmojiMeta] | None = None) -> None:
        extra = with_extension({}, emoji_meta or {}, set(files))
        self._atomic_write(staging / PACK_JSON, _pack_json_bytes(pack_json_document(files, meta, extra)))

    @disk_space("packs_dir")
    def move_into_place(self, staging: Path, target: Path, replace: bool) -> None:
        """Rename a staged pack folder into the store; `replace` swaps out an existing pack."""
        if not replace and os.path.lexists(target):
            raise Conflict(f'A pack named "{target.name}" already exists')
        trash: Path | None = None
        marker: Path | None = None
        if replace and os.path.lexists(target):
            # The old pack is kept aside under a short name; the marker beside it names the
            # pack, so a start-up after a crash between the two renames can put it back.
            trash = self.root / f"{pid_prefix('.replacing-')}{os.urandom(4).hex()}"
            marker = trash.with_name(trash.name + REPLACING_MARKER)
            self._atomic_write(marker, target.name.encode())
            try:
                os.rename(target, trash)
            except BaseException:
                marker.unlink()
                raise
        try:
            os.rename(staging, target)
        finally:
            if trash is not None:
                if not os.path.lexists(target):
                    os.rename(trash, target)  # the staged pack did not land: the old one goes back
                shutil.rmtree(trash, ignore_errors=True)
            if marker is not None:
                with contextlib.suppress(OSError):
                    marker.unlink()

    @disk_space("packs_dir")
    def save_meta(self, name: str, meta: dict[str, Any]) -> Pack:
        pack = self.load(name)
        self._write_pack_json(name, pack.files, meta)
        return self.load(name)

    @disk_space("packs_dir")
    def save_emoji_meta(self, name: str, shortcode: str, entry: EmojiMeta) -> Pack:
        """Set (or, empty, clear) one emoji's license/author/source/tags in pack.json."""
        pack = self.load(name)
        if shortcode not in pack.files:
            raise NotFound(f'Emoji "{shortcode}" does not exist in pack {name}')
        emoji_meta = {**pack.emoji_meta, shortcode: entry}
        self._write_pack_json(name, pack.files, pack.meta, emoji_meta)
        return self.load(name)

    def add_file(self, name: str, shortcode: str, filename: str, source: Path) -> Pack:
        """Copy `source` to `filename` in the pack and list it under `shortcode`.

        Refuses (409) a shortcode already in the pack and a filename that
        another emoji uses or that exists on disk: nothing is ever overwritten.
        """
        return self.add_files(name, [(shortcode, filename, source)])

    @disk_space("packs_dir")
    def add_files(self, name: str, items: list[tuple[str, str, Path]], staged_in: Path | None = None) -> Pack:
        """Several files at once (a zip upload): all land, or none does, even when the
        process is killed midway. The files wait in a staging folder of this store
        (`staged_in`, where the caller unpacked them; else copies are made in one), a
        journal there names them, then they are linked into the pack and pack.json is
        written: a start-up after a kill takes out again what pack.json does not list
        (`roll_back`), so the pack is as it was before or as it is after."""
        if staged_in is None:
            with self.staging_folder() as staging:
                copies = []
                for number, (shortcode, filename, source) in enumerate(items):
                    copy = staging / f"{number}{extension(filename)}"
                    shutil.copyfile(source, copy)
                    copies.append((shortcode, filename, copy))
                return self.add_files(name, copies, staging)
        pack = self.load(name)
        base = self.pack_dir(name)
        files = dict(pack.files)
        plan: list[tuple[Path, Path]] = []
        for shortcode, filename, source in items:
            self._check_new(pack, shortcode, filename, files)
            target = self.file_path(name, filename)
            if target is None:
                raise Conflict(f"Invalid filename: {filename!r}")
            plan.append((target, source))
            files[shortcode] = filename
        journal = {"pack": name, "files": {target.relative_to(base).as_posix(): source.relative_to(staged_in).as_posix()
                                           for target, source in plan}}
        self._atomic_write(staged_in / JOURNAL, json.dumps(journal).encode())
        placed: list[Path] = []
        created: list[Path] = []
        try:
            for target, source in plan:
                created += self._make_parents(base, target)
                try:
                    # link() refuses to replace: a file that appeared meanwhile is never clobbered.
                    os.link(source, target)
                except FileExistsError:
                    raise Conflict(f'File "{target.name}" already exists') from None
                placed.append(target)
            self._write_pack_json(name, files, pack.meta)
        except BaseException:
            for path in placed:
                with contextlib.suppress(OSError):
                    path.unlink()
            self._remove_empty_dirs(created)
            raise
        return self.load(name)

    def roll_back(self, staging: Path) -> int:
        """Undo an `add_files` that was killed: of the files its journal names, those its
        pack's pack.json does not list (it was not written) and that are still the very
        files staged (same inode) are removed, with folders that were made for them.
        The number removed."""
        try:
            with open_regular(staging / JOURNAL, follow_symlinks=False) as fh:
                journal = strict_json.loads(fh.read())
            name, staged = journal["pack"], journal["files"]
            if not isinstance(name, str) or not isinstance(staged, dict):
                raise ValueError("not a journal")
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable journal, nothing undone (%s)", staging.name, exc)
            return 0
        try:
            listed = set(self.load(name).files.values())
        except NotFound:
            listed = set()
        except EmojidError as exc:
            log.warning("cannot undo an interrupted upload to %s: %s", name, exc)
            return 0
        removed = 0
        for filename, staged_name in staged.items():
            rel = safe_relpath(staged_name) if isinstance(staged_name, str) else None
            target = self.file_path(name, filename) if isinstance(filename, str) else None
            if filename in listed or rel is None or target is None:
                continue
            with contextlib.suppress(OSError):
                if os.path.samestat(os.lstat(target), os.lstat(staging / rel)):
                    os.unlink(target)
                    self._prune_dirs(name, filename)
                    removed += 1
        if removed:
            log.warning("pack %s: took out %d files of an upload that was interrupted", name, removed)
        return removed

    @disk_space("packs_dir")
    def merge_files(self, name: str, items: list[tuple[str, str, Path]], emoji_meta: dict[str, EmojiMeta]) -> Pack:
        """An import into an existing pack, all or nothing. Each (shortcode, filename, source)
        adds an emoji or, for a shortcode the pack has, replaces its image: over the same
        file name (the old bytes kept aside until pack.json is written), or under a new one
        (the old file goes afterwards unless an alias lists it). `emoji_meta` entries replace
        those of their shortcodes."""
        pack = self.load(name)
        base = self.pack_dir(name)
        files = dict(pack.files)
        placed: list[Path] = []
        created: list[Path] = []
        aside: list[tuple[str, Path]] = []
        superseded: list[str] = []
        try:
            for shortcode, filename, source in items:
                old = files.get(shortcode)
                target = self.file_path(name, filename)
                if target is None:
                    raise Conflict(f"Invalid filename: {filename!r}")
                if old == filename and os.path.lexists(target):
                    backup = self._temp_name(target)
                    os.link(target, backup)
                    aside.append((backup, target))
                    staged = self._temp_name(target)
                    try:
                        shutil.copyfile(source, staged)
                        os.replace(staged, target)
                    except BaseException:
                        with contextlib.suppress(OSError):
                            os.unlink(staged)
                        raise
                else:
                    if any(f == filename for s, f in files.items() if s != shortcode) or os.path.lexists(target):
                        raise Conflict(f'File "{filename}" already exists in pack {name}')
                    created += self._make_parents(base, target)
                    self._place(source, target)
                    placed.append(target)
                    if old is not None and old != filename:
                        superseded.append(old)
                files[shortcode] = filename
            self._write_pack_json(name, files, pack.meta, {**pack.emoji_meta, **emoji_meta})
        except BaseException:
            for backup, target in aside:
                with contextlib.suppress(OSError):
                    os.replace(backup, target)
            for path in placed:
                with contextlib.suppress(OSError):
                    path.unlink()
            self._remove_empty_dirs(created)
            raise
        for backup, _target in aside:
            with contextlib.suppress(OSError):
                os.unlink(backup)
        for filename in superseded:
            self._unlink_unused(name, filename, files)
        return self.load(name)

    def _check_new(self, pack: Pack, shortcode: str, filename: str, files: dict[str, str] | None = None) -> None:
        files = pack.files if files is None else files
        if shortcode in files:
            raise Conflict(f'An emoji with the "{shortcode}" shortcode already exists')
        user = next((s for s, f in files.items() if f == filename), None)
        if user is not None:
            raise Conflict(f'File "{filename}" already exists in pack {pack.name} (used by "{user}")')
        if os.path.lexists(self.pack_dir(pack.name) / filename):
            raise Conflict(f'File "{filename}" already exists in pack {pack.name}')

    def _place(self, source: Path, target: Path) -> None:
        fd, tmp = make_temp_file(dir=target.parent, prefix=pid_prefix(".tmp-"), suffix=extension(target.name))
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            # link() refuses to replace: a file that appeared meanwhile is never clobbered.
            os.link(tmp, target)
        except FileExistsError:
            raise Conflict(f'File "{target.name}" already exists') from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _make_parents(self, base: Path, target: Path) -> list[Path]:
        created: list[Path] = []
        parent = target.parent
        missing = []
        while parent != base and not os.path.lexists(parent):
            missing.append(parent)
            parent = parent.parent
        if not parent.is_dir():
            # `a.png/b.png` when a.png is a file (or a dangling link): refused, never a 500.
            raise Conflict(f'"{parent.relative_to(base).as_posix()}" already exists and is not a folder')
        try:
            for d in reversed(missing):
                d.mkdir()
                created.append(d)
        except OSError as exc:
            self._remove_empty_dirs(created)
            if exc.errno in NO_SPACE_ERRNOS:
                raise  # a full disk is no conflict (507)
            raise Conflict(f'Cannot create the folder "{d.relative_to(base).as_posix()}" ({exc.strerror})') from None
        return created

    def _remove_empty_dirs(self, dirs: list[Path]) -> None:
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()

    def _prune_dirs(self, name: str, filename: str) -> None:
        """Remove folders emptied by a delete or rename, up to the pack root."""
        base = self.pack_dir(name)
        parent = (base / filename).parent
        while parent != base and parent.is_relative_to(base):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def _unlink_unused(self, name: str, filename: str, files: dict[str, str]) -> None:
        # Aliases (two shortcodes, one file, as emoji.txt imports make) keep the file.
        if filename in files.values():
            return
        path = self.file_path(name, filename)
        if path is None:
            return  # never delete what lies outside the pack
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._prune_dirs(name, filename)

    @disk_space("packs_dir")
    def remove_file(self, name: str, shortcode: str) -> Pack:
        pack = self.load(name)
        filename = pack.files.get(shortcode)
        if filename is None:
            raise BadRequest(f'Emoji "{shortcode}" does not exist')
        files = dict(pack.files)
        del files[shortcode]
        self._write_pack_json(name, files, pack.meta)
        self._unlink_unused(name, filename, files)
        return self.load(name)

    @disk_space("packs_dir")
    def update_file(self, name: str, shortcode: str, new_shortcode: str, new_filename: str, force: bool) -> Pack:
        """Rename an emoji and/or move its file. `force` replaces an emoji named `new_shortcode`."""
        pack = self.load(name)
        filename = pack.files.get(shortcode)
        if filename is None or not os.path.exists(self.pack_dir(name) / filename):
            raise BadRequest(f'Emoji "{shortcode}" does not exist')
        files = dict(pack.files)
        del files[shortcode]
        replaced = None
        if new_shortcode in files:
            if not force:
                raise Conflict(
                    f'New shortcode "{new_shortcode}" is already used. If you want to override emoji use \'force\' option'
                )
            replaced = files.pop(new_shortcode)
        users = [s for s, f in files.items() if f == new_filename]
        if new_filename != filename and (users or (replaced != new_filename and os.path.lexists(self.pack_dir(name) / new_filename))):
            raise Conflict(f'File "{new_filename}" already exists in pack {name}')
        base = self.pack_dir(name)
        moved = new_filename != filename
        created: list[Path] = []
        backup: str | None = None
        if moved:
            target = self.file_path(name, new_filename)
            if target is None:
                raise Conflict(f"Invalid filename: {new_filename!r}")
            created = self._make_parents(base, target)
            try:
                if replaced == new_filename:
                    # The replaced emoji's file gives way, kept aside until pack.json is written.
                    aside = self._temp_name(target)
                    os.link(target, aside)
                    backup = aside
                    staged = self._temp_name(target)
                    os.link(base / filename, staged)
                    try:
                        os.replace(staged, target)
                    except OSError:
                        os.unlink(staged)
                        raise
                else:
                    os.link(base / filename, target)
            except OSError:
                if backup is not None:
                    os.replace(backup, target)
                self._remove_empty_dirs(created)
                raise
        files[new_shortcode] = new_filename
        # The metadata follows the emoji; a replaced emoji's goes with it.
        emoji_meta = {code: entry for code, entry in pack.emoji_meta.items() if code not in (shortcode, new_shortcode)}
        if shortcode in pack.emoji_meta:
            emoji_meta[new_shortcode] = pack.emoji_meta[shortcode]
        try:
            self._write_pack_json(name, files, pack.meta, emoji_meta)
        except BaseException:
            if backup is not None:
                os.replace(backup, base / new_filename)
            elif moved:
                with contextlib.suppress(OSError):
                    (base / new_filename).unlink()
                self._remove_empty_dirs(created)
            raise
        if backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup)
        # The old name goes (and its emptied folders) unless an alias still lists it.
        if moved:
            self._unlink_unused(name, filename, files)
        if replaced is not None and replaced != new_filename:
            self._unlink_unused(name, replaced, files)
        return self.load(name)

    @staticmethod
    def _temp_name(target: Path) -> str:
        return str(target.parent / f"{pid_prefix('.tmp-')}{os.urandom(6).hex()}{extension(target.name)}")

    # -- folders without pack.json -------------------------------------

    def loose_names(self, report_invalid: bool = False) -> list[str]:
        """Folders without pack.json (import candidates), sorted; hidden and misnamed ones
        aside (and logged, with `report_invalid`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        names = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                if os.path.lexists(os.path.join(entry.path, PACK_JSON)):
                    continue
                try:
                    check_pack_name(entry.name)
                except EmojidError:
                    if report_invalid:
                        log.warning("import: skipping folder with an invalid pack name: %r", shown(entry.name))
                    continue
                names.append(entry.name)
        return sorted(names)

    def read_loose(self, name: str, shortcode_ok: Callable[[str], bool]) -> LooseFolder | None:
        """A folder without pack.json read as Pleroma's emoji loader reads it: its emoji.txt
        (`shortcode, file, tag, ...`), else every image in its tree, shortcode = file stem.
        None when `name` is no such folder (a pack, a file, a symlink, gone)."""
        directory = self.pack_dir(name)
        if directory.is_symlink() or not directory.is_dir() or os.path.lexists(directory / PACK_JSON):
            return None
        folder = LooseFolder(name, {}, {}, [])

        def take(shortcode: str, file: str, tags: list[str]) -> None:
            rel = safe_relpath(file)
            if not is_text(file):
                folder.skipped.append(Skipped(name, shown(file), "the name is not valid UTF-8"))
            elif rel is None or self.file_path(name, rel) is None:
                folder.skipped.append(Skipped(name, file, "the path leads outside the folder"))
            elif not shortcode_ok(shortcode):
                folder.skipped.append(Skipped(name, file, f"not a valid shortcode ({shortcode!r})"
                                              if shortcode != stem(rel) else "not a valid shortcode"))
            elif shortcode in folder.files:
                folder.skipped.append(Skipped(name, file, f'shortcode "{shortcode}" already taken by '
                                                          f"{folder.files[shortcode]}"))
            else:
                folder.files[shortcode] = rel
                if tags:
                    folder.tags[shortcode] = tags

        if (directory / EMOJI_TXT).is_file():
            for shortcode, file, tags in self._emoji_txt_lines(directory, name):
                take(shortcode, file, tags)
        else:
            for path in sorted(self._walk_images(directory)):
                rel = path.relative_to(directory).as_posix()
                take(stem(rel), rel, [])
        return folder

    @disk_space("packs_dir")
    def import_candidates(self, shortcode_ok: Callable[[str], bool]) -> tuple[list[str], list[Skipped]]:
        """Write pack.json for every folder that lacks one: its names, and what each left out."""
        imported: list[str] = []
        skipped: list[Skipped] = []
        for name in self.loose_names(report_invalid=True):
            folder = self.read_loose(name, shortcode_ok)
            if folder is None:
                continue  # gained a pack.json (or went) meanwhile
            self._write_pack_json(name, folder.files, {})
            imported.append(name)
            skipped += folder.skipped
        return imported, skipped

    def _walk_images(self, directory: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in filenames:
                if not f.startswith(".") and extension(f) in self.allowed_extensions:
                    yield Path(dirpath) / f

    def glance(self) -> tuple[bool, int]:
        """(whether an earlier run was killed mid-write: packs_dir holds a staging folder, a
        pack set aside by a replace, ...; how many entries packs_dir holds). One listing of
        the top folder, however big the store."""
        try:
            with os.scandir(self.root) as entries:
                names = [entry.name for entry in entries]
        except OSError:
            return False, 0
        return any(name.startswith(WRITE_LEFTOVERS) for name in names), len(names)

    def sweep_leftovers(self, older_than: float) -> int:
        """`.staging-*`, `.deleting-*`, `.replacing-*` folders and `.tmp-*` files a crash left.

        Run at start-up. Those of a process that is gone (their names carry its pid)
        go whatever their age; others only when older than `older_than` seconds (another
        process may be using them). An upload killed while linking its files into a
        pack is undone first (`roll_back`), an interrupted replace put back.
        """
        removed = 0
        if not self.root.is_dir():
            return 0

        def gone(path: Path, age: float) -> bool:
            prefix = next(p for p in WRITE_LEFTOVERS if path.name.startswith(p))
            return left_by_dead_process(path, prefix) or path.lstat().st_mtime < time.time() - age

        with self.write_lock():
            for aside in self.root.glob(".replacing-*"):
                # A crash between the two renames of a replace: put the old pack back.
                with contextlib.suppress(OSError, EmojidError):
                    if aside.name.endswith(REPLACING_MARKER) or not aside.is_dir() or aside.is_symlink():
                        continue
                    marker = aside.with_name(aside.name + REPLACING_MARKER)
                    if os.path.lexists(marker):
                        name = marker.read_text(encoding="utf-8")
                    else:  # named as before the marker: .replacing-<name>-<random>
                        name = aside.name[len(".replacing-"):].rsplit("-", 1)[0]
                    if not os.path.lexists(self.pack_dir(name)) and gone(aside, 10):
                        os.rename(aside, self.pack_dir(name))
                        log.warning("restored pack %s, left aside by an interrupted replace", name)
            for staging in self.root.glob(".staging-*"):
                with contextlib.suppress(OSError):
                    if staging.is_dir() and not staging.is_symlink() and gone(staging, older_than):
                        self.roll_back(staging)
            candidates = [p for p in self.root.iterdir() if p.name.startswith(WRITE_LEFTOVERS)]
            candidates += list(self.root.glob("*/**/.tmp-*"))
            for path in candidates:
                with contextlib.suppress(OSError):
                    if gone(path, older_than):
                        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                        removed += 1
        return removed

    # -- archives ------------------------------------------------------

    @disk_space("cache_dir")
    def write_archive(self, pack: Pack, target: Path) -> str:
        """Zip pack.json and the listed files into `target`; returns the uppercase SHA256.

        Entries are sorted, stored (emoji images do not compress) and dated
        1980-01-01, so the bytes, and the SHA256, are a function of content.
        """
        directory = self.pack_dir(pack.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp_file(dir=target.parent, prefix=pid_prefix(".tmp-"), suffix=".zip")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for rel in [PACK_JSON] + sorted(set(pack.files.values()) - {PACK_JSON}):
                    path = directory / rel if rel == PACK_JSON else self.file_path(pack.name, rel)
                    if path is None:
                        continue
                    info = zipfile.ZipInfo(rel, date_time=ZIP_EPOCH)
                    info.external_attr = 0o100644 << 16
                    info.create_system = 3
                    # Regular files only (a FIFO would block the build), pack.json not through a link.
                    with open_regular(path, follow_symlinks=rel != PACK_JSON) as src, \
                            zf.open(info, "w", force_zip64=os.fstat(src.fileno()).st_size > 2**31) as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
            digest = hashlib.sha256()
            with open(tmp, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return digest.hexdigest().upper()

