"""How a downloaded archive becomes a pack: the one path for remote downloads,
sync and manifests.

Only the files the pack lists are taken out of the archive (the whole archive
checked first), each must be a real image, and our own pack.json is written
beside them in a hidden staging folder inside packs_dir. One rename then
puts the pack in place; on any failure the staging folder is removed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import anyio.to_thread

from emojid.config import Config
from emojid.emoji.packs import PackService
from emojid.emoji.store import PACK_JSON, pack_json_document
from emojid.emoji.zips import ZipLimits, checked_entries, extract_entry, open_zip
from emojid.errors import BadRequest
from emojid.images import verify_image


def archive_limits(config: Config) -> ZipLimits:
    return ZipLimits(max_total_bytes=2 * config.remote.max_download_bytes,
                     max_entry_bytes=config.remote.max_download_bytes)


def unpack_listed(archive: Path, label: str, files: dict[str, str], meta: dict, staging: Path,
                  limits: ZipLimits) -> None:
    with open_zip(archive, label) as zf:
        entries = checked_entries(zf, limits, label)
        for filename in sorted(set(files.values())):
            info = entries.get(filename)
            if info is None:
                raise BadRequest(f"{label} lacks {filename}, which its pack.json lists")
            target = staging / filename
            extract_entry(zf, info, target, limits.max_entry_bytes)
            verify_image(target, f"{filename} in {label}")
    doc = pack_json_document(files, meta)
    (staging / PACK_JSON).write_text(json.dumps(doc, indent=2, ensure_ascii=False))


async def install_archive(service: PackService, archive: Path, label: str, files: dict[str, str], meta: dict,
                          local: str, replace: bool = False, mirror: tuple[str, str, str] | None = None) -> None:
    """Unpack `archive` as pack `local`; the caller has verified its SHA256 and removes it."""
    config = service.config
    config.packs_dir.mkdir(parents=True, exist_ok=True)
    staging: Path | None = Path(tempfile.mkdtemp(dir=config.packs_dir, prefix=".staging-"))
    try:
        await anyio.to_thread.run_sync(unpack_listed, archive, label, files, meta, staging, archive_limits(config))
        await service.install_staged(staging, local, replace=replace, mirror=mirror)
        staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
