"""Modes of the files and folders emojid publishes: the process umask decides.

emojid writes atomically: a file is written under a temporary name made by
`tempfile.mkstemp` (or a pack is assembled in a `tempfile.mkdtemp` folder)
and then renamed or linked into place. Those two functions create 0600 files
and 0700 folders on purpose, and the mode survives the rename: the pack
store, archives, emoji lists, media and gen-pack manifests would be readable
by emojid's own user only, so Pleroma, nginx or a backup job running as
another user could not read them. What emojid publishes is therefore given
the mode a plain `open()` / `mkdir()` would have given it: 0666 / 0777
minus the umask (0644 / 0755 under umask 022). Tighten it with the service's
`UMask=`, as for any other program.

Temporary files that never leave cache_dir (request bodies being received,
downloads being checked) and account backups stay private: they do not use
these helpers.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

_lock = threading.Lock()


def _umask_from_proc() -> int | None:
    """Linux (4.7+) shows the umask in /proc/self/status without changing it."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_by_setting() -> int:
    # os.umask can only be read by setting it. Done once, at import, before other
    # threads create files; a file made in that instant would only be more private.
    with _lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


# Read once at import, as a fallback where /proc is not available.
_proc_umask = _umask_from_proc()
_UMASK_AT_IMPORT: int = _umask_by_setting() if _proc_umask is None else _proc_umask


def umask() -> int:
    """The process umask now (from /proc where it can be read without changing it)."""
    current = _umask_from_proc()
    return _UMASK_AT_IMPORT if current is None else current


def file_mode() -> int:
    """What `open(path, "w")` would give a new file: 0644 under umask 022."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """What `mkdir` would give a new folder: 0755 under umask 022."""
    return 0o777 & ~umask()


def make_temp_file(dir: Path | str, prefix: str = "", suffix: str = "") -> tuple[int, str]:
    """`tempfile.mkstemp`, but the file gets the umask's mode (it is meant to be renamed into place)."""
    fd, path = tempfile.mkstemp(dir=dir, prefix=prefix, suffix=suffix)
    try:
        os.fchmod(fd, file_mode())
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    return fd, path


def make_temp_dir(dir: Path | str, prefix: str = "") -> Path:
    """`tempfile.mkdtemp`, but the folder gets the umask's mode (it is meant to be renamed into place)."""
    path = Path(tempfile.mkdtemp(dir=dir, prefix=prefix))
    try:
        os.chmod(path, dir_mode())
    except BaseException:
        os.rmdir(path)
        raise
    return path


# -- leftovers of killed writers ----------------------------------------------
#
# Temp files and staging folders carry the writer's pid after their prefix
# (`.staging-<pid>-...`, `upload-<pid>-...`): at start-up, those of a process that
# is no longer running are removed whatever their age (a `kill -9` mid-upload
# leaves them), while fresh ones of a live process (a CLI command beside
# `serve`) are kept.


def pid_prefix(prefix: str) -> str:
    """`prefix` followed by this process's pid: what temp names start with."""
    return f"{prefix}{os.getpid()}-"


def writer_pid(name: str, prefix: str) -> int | None:
    """The pid a temp name made with `pid_prefix(prefix)` carries; None for other names."""
    if not name.startswith(prefix):
        return None
    digits, dash, _rest = name[len(prefix):].partition("-")
    return int(digits) if dash and digits.isdigit() and 0 < len(digits) <= 10 else None


# When this process began (near enough: emojid.files is imported at start-up). A temp
# name carrying our own pid was made by an earlier process with the same pid (pids are
# reused; a container's main process has the same one on every start) only if it is older.
STARTED = time.time()


def left_by_dead_process(path: Path, prefix: str) -> bool:
    """Whether the temp file or folder at `path` (its name made with `pid_prefix(prefix)`)
    was made by a process that has gone. Our own work in progress never is: the start-up
    sweeps run while this process already serves (uploads, downloads, archive builds)."""
    pid = writer_pid(path.name, prefix)
    if pid is None:
        return False
    if pid == os.getpid():
        try:
            return path.lstat().st_mtime < STARTED
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # EPERM: alive, another user's
    return False


# -- reading files anyone may have put there ----------------------------------


class NotRegularFile(OSError):
    """A FIFO, socket, device or folder where a file was expected."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(errno.EINVAL, "not a regular file", str(path))


def open_regular(path: str | Path, follow_symlinks: bool = True, dir_fd: int | None = None) -> BinaryIO:
    """`open(path, "rb")` for regular files only: a FIFO named `x.png` would block the
    reader until a writer comes, so the file is opened non-blocking and checked with
    fstat before a byte is read (NotRegularFile otherwise). Without `follow_symlinks`,
    a symlink is refused too (ELOOP)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(path)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")
