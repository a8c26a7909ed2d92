"""What a pack folder holds, listed once: one scandir per folder, with the entry types
the listing brings (no stat per file).

Reading a pack asks, for every listed file, whether a symlink on its path leads out of
the pack, and walks the folder for names that are not UTF-8; reindex then lists the
folder's files again. An lstat per path component was most of the time of reading a
100-emoji pack: the listing answers the same questions for the whole folder at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from emojid.emoji.names import is_text


class FolderScan:
    """The entries of a folder and of its subfolders, each listed on first use."""

    def __init__(self, top: str | os.PathLike[str]) -> None:
        self.top = os.fspath(top)
        self._listed: dict[str, dict[str, os.DirEntry[str]] | None] = {}

    def entries(self, folder: str = "") -> dict[str, os.DirEntry[str]] | None:
        """The entries of `folder` ("" is the top, else "sub/" with its slash) by name;
        None when it cannot be listed (gone, not a folder, no permission)."""
        if folder not in self._listed:
            try:
                with os.scandir(self.top + "/" + folder if folder else self.top) as found:
                    self._listed[folder] = {entry.name: entry for entry in found}
            except OSError:
                self._listed[folder] = None
        return self._listed[folder]

    def is_link(self, folder: str, name: str) -> bool | None:
        """Whether `folder`+`name` is a symbolic link (False when it is not there); None
        when the listing cannot tell (the caller asks the filesystem itself)."""
        entries = self.entries(folder)
        if entries is None:
            return None
        entry = entries.get(name)
        if entry is None:
            return False
        try:
            return entry.is_symlink()
        except OSError:
            return None

    def stat(self, rel: str) -> os.stat_result:
        """os.stat of the path `rel` (slashes) under the top. Taken from its entry when that
        is no symlink, and then kept there: the pack's fingerprint and the list of its files
        ask once between them."""
        folder, _slash, name = rel.rpartition("/")
        entry = (self.entries(folder + "/" if folder else "") or {}).get(name)
        if entry is not None and not entry.is_symlink():
            return entry.stat(follow_symlinks=False)
        return os.stat(f"{self.top}/{rel}")

    def folders(self) -> Iterator[tuple[str, dict[str, os.DirEntry[str]]]]:
        """(folder, its entries) for the top and every subfolder the way reading a pack
        sees them: real folders, neither hidden nor named in bytes that are not UTF-8."""
        pending = [""]
        while pending:
            folder = pending.pop()
            entries = self.entries(folder)
            if entries is None:
                continue
            yield folder, entries
            for name, entry in entries.items():
                try:
                    if entry.is_dir(follow_symlinks=False) and not name.startswith(".") and is_text(name):
                        pending.append(f"{folder}{name}/")
                except OSError:
                    continue

    def misnamed(self) -> list[str]:
        """Paths of the entries whose names are not UTF-8 (hidden ones aside)."""
        return [folder + name for folder, entries in self.folders() if not "".join(entries).isascii()
                for name in entries if not name.startswith(".") and not is_text(name)]
