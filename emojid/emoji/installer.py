"""How a downloaded archive becomes a pack: the one path for remote downloads,
sync and manifests.

Only the files the pack lists are taken out of the archive (the whole archive
checked first), each must be a real image, and our own pack.json is written
beside them in a hidden staging folder the store hands out. One rename then
puts the pack in place; on any failure the staging folder is removed.

The archive is read once more after its download (which hashed it as it came),
from the page cache: each entry straight into the staging folder, its CRC-32
checked as it is read, by two threads; its image checked by what Pillow reads
in the header. The archive's SHA256 and the entry's CRC vouch for the rest of
its bytes, so no file is read again: what the index records of each file (its
SHA-256, its header) is taken from the bytes as they are written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import anyio.to_thread

from emojid import strict_json
from emojid.config import Config
from emojid.emoji.facts import INLINE_BYTES, facts_row
from emojid.emoji.index.files import FactsRow, FileFacts
from emojid.emoji.index.mirrors import Mirror
from emojid.emoji.index.origins import Origin
from emojid.emoji.interchange.metadata import EmojiMeta, read_extension
from emojid.emoji.packs import PackService
from emojid.emoji.store import PACK_JSON, PackStore
from emojid.emoji.zips import ZIP_READ_ERRORS, Extracted, ZipLimits, checked_entries, extract_entries, open_zip
from emojid.errors import BadRequest, EmojidError, disk_space
from emojid.ids import now_iso
from emojid.images import check_header
from emojid.progress import Meter, Meters, metered

log = logging.getLogger("emojid.installer")


def archive_limits(config: Config) -> ZipLimits:
    """The limits of every archive emoji are installed from (remote downloads, sync,
    manifests): each file at most `[emoji] max_file_bytes`, as an upload."""
    return ZipLimits(max_total_bytes=2 * config.remote.max_download_bytes,
                     max_entry_bytes=config.emoji.max_file_bytes)


def unpack_listed(store: PackStore, archive: Path, label: str, files: dict[str, str], meta: dict[str, Any],
                  staging: Path, limits: ZipLimits, progress: Meter | None = None) -> dict[str, FactsRow]:
    """`progress(files unpacked, files listed)` after each file. Returns each file's facts
    for the index, taken as it was written (its bytes hashed on the way, its header read
    from them): install_staged does not read the files again."""
    with open_zip(archive, label) as zf:
        entries = checked_entries(zf, limits, label)
        emoji_meta = _archive_emoji_meta(zf, entries.get(PACK_JSON))
    wanted = sorted(set(files.values()))
    for filename in wanted:  # refused before a byte is written
        if filename not in entries:
            raise BadRequest(f"{label} lacks {filename}, which its pack.json lists")

    fresh: dict[str, FactsRow] = {}  # their pack left blank: it is named where it lands

    def image_header(info: zipfile.ZipInfo, target: Path, extracted: Extracted | None) -> None:
        assert extracted is not None
        rel = target.relative_to(staging).as_posix()
        row = facts_row("", rel, extracted.size, extracted.mtime_ns, extracted.sha256,
                        str(target) if extracted.data is None else extracted.data)
        facts = FileFacts(*row)
        check_header(facts.format, facts.width, facts.height, f"{rel} in {label}")
        fresh[rel] = row  # one key per thread at a time: a dict's item assignment is atomic

    extract_entries(archive, [(entries[f], staging / f) for f in wanted], limits.max_entry_bytes, label,
                    image_header, progress, keep=INLINE_BYTES)
    store.write_staged_pack_json(staging, files, meta, emoji_meta)
    return fresh


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
        # A full disk while unpacking: 507 for the API, a failed pack (not a crash) for sync.
        with metered(progress, f"Unpacking {local}", "files") as meter, disk_space("packs_dir"):
            fresh = await anyio.to_thread.run_sync(unpack_listed, service.store, archive, label, files, meta,
                                                   staging, archive_limits(service.config), meter)
        journal = None
        if mirror is not None:
            journal = await anyio.to_thread.run_sync(_write_mirror_journal, service, staging, local, mirror)
        try:
            await service.install_staged(staging, local, replace=replace, mirror=mirror, fresh=fresh)
        except BaseException:
            if journal is not None and staging.exists():  # the pack did not land: nothing to record
                journal.unlink(missing_ok=True)
            raise
        if journal is not None:
            journal.unlink(missing_ok=True)


# -- mirror journals -------------------------------------------------------------------
#
# Sync tells a remote update from a local edit by each mirrored pack's record in SQLite:
# the archive's SHA256 and the pack's fingerprint as installed. The pack lands in one
# rename and its record a moment later; a kill in between would leave the new pack with
# the old record (or none), which reads as a local edit: a "conflict" at every sync from
# then on. So the record is first written to a journal in cache_dir, with the fingerprint
# the staged pack will have in place, and sync adopts it if the pack on disk has that
# fingerprint (the install landed), else drops it (it did not, or the pack was edited).

MIRROR_JOURNALS = "mirroring"


def _journal_path(config: Config, local: str) -> Path:
    # Named by a hash: a pack name may take 255 bytes, and more characters than a file name.
    return config.cache_dir / MIRROR_JOURNALS / f"{hashlib.sha256(local.encode()).hexdigest()}.json"


def _write_mirror_journal(service: PackService, staging: Path, local: str, mirror: tuple[str, str, str]) -> Path:
    fingerprint = service.store.load_staged(staging, local).fingerprint
    path = _journal_path(service.config, local)
    doc = {"pack": local, "source": mirror[0], "remote": mirror[1], "sha256": mirror[2], "fingerprint": fingerprint}
    # Not atomic, and need not be: it is complete before the pack is moved, and one cut
    # short by a kill (before the move, then) is dropped unread.
    with disk_space("cache_dir"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _adopt_mirror_journal(service: PackService, local: str) -> None:
    path = _journal_path(service.config, local)
    try:
        doc = strict_json.loads(path.read_bytes())
        source, remote, sha, fingerprint = (doc["source"], doc["remote"], doc["sha256"], doc["fingerprint"])
        if doc["pack"] != local or not all(isinstance(v, str) for v in (source, remote, sha, fingerprint)):
            raise ValueError("not a mirror journal")
    except FileNotFoundError:
        return
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        path.unlink(missing_ok=True)  # cut short by a kill before the move: nothing landed
        return
    try:
        pack = service.store.load(local)
    except EmojidError:
        pack = None
    if pack is not None and pack.fingerprint == fingerprint:
        service.index.record_mirror(Mirror(local, source, remote, sha, fingerprint, now_iso()))
        service.index.record_origin(Origin(local, "mirror", source, remote, "pleroma", sha.upper(), len(pack.files),
                                           now_iso()), fresh=True)
        log.warning("pack %s: recorded as mirrored from %s, its install was interrupted before that", local, source)
    path.unlink(missing_ok=True)


async def adopt_interrupted_mirror(service: PackService, local: str) -> None:
    """Finish the mirror record of an install of `local` a kill interrupted, if one did."""
    await service.write_locked(lambda: _adopt_mirror_journal(service, local))
