"""How a downloaded archive becomes a pack: the one path for remote downloads,
sync and manifests.

Only the files the pack lists are taken out of the archive (the whole archive
checked first), each must be a real image, and our own pack.json is written
beside them in a hidden staging folder the store hands out. One rename then
puts the pack in place; on any failure the staging folder is removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread

from emojid.config import Config
from emojid.emoji.packs import PackService
from emojid.emoji.store import PackStore
from emojid.emoji.zips import ZipLimits, checked_entries, extract_entry, open_zip
from emojid.errors import BadRequest
from emojid.images import verify_image
from emojid.progress import Meter, Meters, metered


def archive_limits(config: Config) -> ZipLimits:
    return ZipLimits(max_total_bytes=2 * config.remote.max_download_bytes,
                     max_entry_bytes=config.remote.max_download_bytes)


def unpack_listed(store: PackStore, archive: Path, label: str, files: dict[str, str], meta: dict[str, Any],
                  staging: Path, limits: ZipLimits, progress: Meter | None = None) -> None:
    """`progress(files unpacked, files listed)` after each file."""
    with open_zip(archive, label) as zf:
        entries = checked_entries(zf, limits, label)
        wanted = sorted(set(files.values()))
        for done, filename in enumerate(wanted, 1):
            info = entries.get(filename)
            if info is None:
                raise BadRequest(f"{label} lacks {filename}, which its pack.json lists")
            target = staging / filename
            extract_entry(zf, info, target, limits.max_entry_bytes)
            verify_image(target, f"{filename} in {label}")
            if progress is not None:
                progress(done, len(wanted))
    store.write_staged_pack_json(staging, files, meta)


async def install_archive(service: PackService, archive: Path, label: str, files: dict[str, str], meta: dict[str, Any],
                          local: str, replace: bool = False, mirror: tuple[str, str, str] | None = None,
                          progress: Meters | None = None) -> None:
    """Unpack `archive` as pack `local`; the caller has verified its SHA256 and removes it."""
    with service.store.staging_folder() as staging:
        with metered(progress, f"Unpacking {local}", "files") as meter:
            await anyio.to_thread.run_sync(unpack_listed, service.store, archive, label, files, meta, staging,
                                           archive_limits(service.config), meter)
        await service.install_staged(staging, local, replace=replace, mirror=mirror)
