"""How a downloaded archive becomes a pack: the one path for remote downloads,
sync and manifests.

Only the files the pack lists are taken out of the archive (the whole archive
checked first), each must be a real image, and our own pack.json is written
beside them in a hidden staging folder the store hands out. One rename then
puts the pack in place; on any failure the staging folder is removed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import anyio.to_thread

from emojid import strict_json
from emojid.config import Config
from emojid.emoji.interchange.metadata import EmojiMeta, read_extension
from emojid.emoji.packs import PackService
from emojid.emoji.store import PACK_JSON, PackStore
from emojid.emoji.zips import ZIP_READ_ERRORS, ZipLimits, checked_entries, extract_entry, open_zip
from emojid.errors import BadRequest
from emojid.images import verify_image
from emojid.progress import Meter, Meters, metered


def archive_limits(config: Config) -> ZipLimits:
    """The limits of every archive emoji are installed from (remote downloads, sync,
    manifests): each file at most `[emoji] max_file_bytes`, as an upload."""
    return ZipLimits(max_total_bytes=2 * config.remote.max_download_bytes,
                     max_entry_bytes=config.emoji.max_file_bytes)


def unpack_listed(store: PackStore, archive: Path, label: str, files: dict[str, str], meta: dict[str, Any],
                  staging: Path, limits: ZipLimits, progress: Meter | None = None) -> None:
    """`progress(files unpacked, files listed)` after each file."""
    with open_zip(archive, label) as zf:
        entries = checked_entries(zf, limits, label)
        emoji_meta = _archive_emoji_meta(zf, entries.get(PACK_JSON))
        wanted = sorted(set(files.values()))
        for done, filename in enumerate(wanted, 1):
            info = entries.get(filename)
            if info is None:
                raise BadRequest(f"{label} lacks {filename}, which its pack.json lists")
            target = staging / filename
            extract_entry(zf, info, target, limits.max_entry_bytes, label)
            verify_image(target, f"{filename} in {label}")
            if progress is not None:
                progress(done, len(wanted))
    store.write_staged_pack_json(staging, files, meta, emoji_meta)


def _archive_emoji_meta(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> dict[str, EmojiMeta]:
    """The per-emoji metadata of the archive's own pack.json (an emojid archive carries it, so
    it travels with mirrors); none when there is none or it cannot be read."""
    if info is None or info.file_size > 16 << 20:
        return {}
    try:
        doc = strict_json.loads(zf.read(info))
    except (UnicodeDecodeError, RecursionError, *ZIP_READ_ERRORS):
        return {}
    return read_extension(doc)[0] if isinstance(doc, dict) else {}


async def install_archive(service: PackService, archive: Path, label: str, files: dict[str, str], meta: dict[str, Any],
                          local: str, replace: bool = False, mirror: tuple[str, str, str] | None = None,
                          progress: Meters | None = None) -> None:
    """Unpack `archive` as pack `local`; the caller has verified its SHA256 and removes it."""
    with service.store.staging_folder() as staging:
        with metered(progress, f"Unpacking {local}", "files") as meter:
            await anyio.to_thread.run_sync(unpack_listed, service.store, archive, label, files, meta, staging,
                                           archive_limits(service.config), meter)
        await service.install_staged(staging, local, replace=replace, mirror=mirror)
