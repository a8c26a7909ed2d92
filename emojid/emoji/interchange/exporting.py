"""A pack as another server's import takes it.

    pleroma   the pack's own archive (a zip of pack.json and the files), as /emoji/packs/archive
    mastodon  a gzip'd tar of regular files `<shortcode>.<ext>` at its top level, as
              `tootctl emoji export` writes them and `tootctl emoji import` reads them (it
              takes only .png and .gif entries: other images are converted to PNG, an
              animated one to APNG)
    misskey   a zip with the images at its root and meta.json, as Misskey's custom-emoji
              export writes it and its import reads it: {"metaVersion": 2, "host",
              "exportedAt", "emojis": [{"downloaded", "fileName", "emoji": {"name",
              "category", "aliases", "license", "isSensitive", "localOnly"}}]}; each record
              also carries our metadata under "emojid" (Misskey reads no other keys), so
              emojid -> misskey -> emojid keeps licences, authors, sources and shortcodes

Shortcodes the target refuses are rewritten (`emojid.emoji.interchange.names`) and
reported. The archive is written to a temp file in cache_dir and handed back open
(its name already unlinked): memory stays flat whatever the pack's size, and an error
is an error answer, never half an archive.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import anyio.to_thread
from PIL import Image

from emojid.emoji.interchange import FORMATS
from emojid.emoji.interchange.metadata import misskey_license
from emojid.emoji.interchange.names import MASTODON, MISSKEY, target_names
from emojid.emoji.names import check_pack_name
from emojid.emoji.packs import PackService
from emojid.emoji.store import ZIP_EPOCH, Pack
from emojid.errors import BadRequest, Conflict, Forbidden
from emojid.files import make_temp_file, open_regular
from emojid.images import sniff_type

MEDIA_TYPES = {"pleroma": "application/zip", "mastodon": "application/gzip", "misskey": "application/zip"}
TAR_EPOCH = 315532800  # 1980-01-01, as the zips: bytes that depend on content only
NOT_SHARED = ("Pack {} cannot be downloaded from this instance, either pack sharing was disabled "
              "for this pack or some files are missing")
_KINDS = {"image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/jpeg": "jpeg"}


@dataclass
class Export:
    """An export ready to send: `fh` is open at its start and closed by whoever sends it."""

    format: str
    filename: str
    media_type: str
    fh: BinaryIO
    size: int
    renamed: dict[str, str] = field(default_factory=dict)  # shortcode -> name in the archive
    converted: dict[str, str] = field(default_factory=dict)  # shortcode -> e.g. "webp -> png"
    skipped: dict[str, str] = field(default_factory=dict)  # shortcode -> why it is not in it
    sha256: str | None = None  # the pack archive's, for the pleroma format of a shared pack


def export_filename(name: str, fmt: str) -> str:
    return {"pleroma": f"{name}.zip", "mastodon": f"{name}.tar.gz", "misskey": f"{name}-misskey.zip"}[fmt]


def check_format(fmt: str | None) -> str:
    if fmt is None or not fmt.strip():
        raise BadRequest("Missing field: format.")
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt[:40]!r}")
    return fmt


async def export_pack(service: PackService, name: str, fmt: str, admin: bool) -> Export:
    """Pack `name` in format `fmt`. As the pack archive: anyone when the pack is shared
    (share-files and every file present), admins always (a complete pack)."""
    name = check_pack_name(name)
    fmt = check_format(fmt)
    if fmt == "pleroma" and not admin:
        row, fh = await service.open_archive(name)  # 404, 403 and a broken pack.json as the archive route
        return Export(fmt, export_filename(name, fmt), MEDIA_TYPES[fmt], fh, os.fstat(fh.fileno()).st_size,
                      sha256=row.sha256)
    pack = await anyio.to_thread.run_sync(service.store.load, name)
    if not pack.shareable and not admin:
        raise Forbidden(NOT_SHARED.format(name))
    if fmt == "pleroma" and pack.shareable:
        row, fh = await service.open_archive(name)
        return Export(fmt, export_filename(name, fmt), MEDIA_TYPES[fmt], fh, os.fstat(fh.fileno()).st_size,
                      sha256=row.sha256)
    if not pack.complete:
        raise Conflict(f"Pack {name} has listed files missing on disk; every file must be there to export it")
    return await anyio.to_thread.run_sync(_build, service, pack, fmt)


def _build(service: PackService, pack: Pack, fmt: str) -> Export:
    directory = service.config.cache_dir / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temp_file(dir=directory, prefix=".export-")
    os.close(fd)
    path = Path(tmp)
    try:
        export = Export(fmt, export_filename(pack.name, fmt), MEDIA_TYPES[fmt], io.BytesIO(), 0)
        try:
            if fmt == "pleroma":
                service.store.write_archive(pack, path)
            elif fmt == "mastodon":
                _write_mastodon(service, pack, path, export)
            else:
                _write_misskey(service, pack, path, export)
        except FileNotFoundError as exc:
            raise Conflict(f"A file of pack {pack.name} went away during the export ({exc.filename}); try again") from None
        export.fh = open(path, "rb")  # the caller closes it
        export.size = os.fstat(export.fh.fileno()).st_size
        return export
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _image_kind(path: Path) -> str | None:
    """The image type of a regular file (a FIFO named x.png would block the export: None)."""
    try:
        with open_regular(path) as fh:
            mime = sniff_type(fh.read(16))
    except OSError:
        return None
    return _KINDS.get(mime or "")


def _as_png(path: Path) -> bytes | None:
    """The image as PNG (APNG when animated); None when Pillow cannot read it."""
    out = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if getattr(im, "n_frames", 1) > 1:
                    im.save(out, "PNG", save_all=True)
                else:
                    im.save(out, "PNG")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    return out.getvalue()


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, TAR_EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _image(service: PackService, pack: Pack, code: str, export: Export) -> tuple[Path, str] | None:
    """The emoji's file and image kind, or None with the emoji set aside as "not an image"."""
    path = service.store.file_path(pack.name, pack.files[code])
    kind = _image_kind(path) if path is not None else None
    if path is None or kind is None:
        export.skipped[code] = "not an image"
        return None
    return path, kind


def _write_mastodon(service: PackService, pack: Pack, target: Path, export: Export) -> None:
    names = target_names(pack.files, MASTODON)
    # Emoji images are compressed already: deflate would gain a percent or two at 25 MB/s (level 1,
    # on the bench machine); stored blocks (level 0) are still gzip for tootctl, at disk speed.
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=0, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for code in sorted(pack.files):
            if (image := _image(service, pack, code, export)) is None:
                continue
            path, kind = image
            if kind in ("png", "gif"):
                with open(path, "rb") as src:
                    tar.addfile(_tar_info(f"{names[code]}.{kind}", os.fstat(src.fileno()).st_size), src)
                continue
            data = _as_png(path)
            if data is None:
                export.skipped[code] = "not an image"
                continue
            tar.addfile(_tar_info(f"{names[code]}.png", len(data)), io.BytesIO(data))
            export.converted[code] = f"{kind} -> png"
    export.renamed = {code: new for code, new in names.items() if code != new and code not in export.skipped}


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    return info


def _write_misskey(service: PackService, pack: Pack, target: Path, export: Export) -> None:
    names = target_names(pack.files, MISSKEY)
    host = urlsplit(service.config.public_url).netloc
    pack_license = pack.meta.get("license") if isinstance(pack.meta.get("license"), str) else None
    records: list[dict[str, Any]] = []
    files: list[tuple[str, Path]] = []
    for code in sorted(pack.files):
        if (image := _image(service, pack, code, export)) is None:
            continue
        path, kind = image
        entry = pack.emoji_meta.get(code, {})
        file_name = f"{names[code]}.{kind}"
        record: dict[str, Any] = {
            "downloaded": True,
            "fileName": file_name,
            "emoji": {"name": names[code], "category": pack.name, "aliases": list(pack.tags.get(code, [])),
                      "license": misskey_license(entry, pack_license), "isSensitive": False, "localOnly": False},
        }
        # Ours, as it is (Misskey reads no other keys): emojid -> misskey -> emojid loses nothing.
        record["emojid"] = {k: v for k, v in entry.items() if k != "tags"}
        if code != names[code]:
            record["emojid"]["shortcode"] = code
        records.append(record)
        files.append((file_name, path))
    meta = {"metaVersion": 2, "host": host, "exportedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "emojis": records}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_zip_entry("meta.json"), json.dumps(meta, ensure_ascii=False, indent=1))
        for file_name, path in files:
            with open(path, "rb") as src, zf.open(_zip_entry(file_name), "w",
                                                   force_zip64=os.fstat(src.fileno()).st_size > 2**31) as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    export.renamed = {code: new for code, new in names.items() if code != new and code not in export.skipped}
