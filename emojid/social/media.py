"""User media (attachments, avatars, banners, backgrounds, mascots): verified images under media_dir.

Only images Pillow can read and verify are kept, named `<id>.<ext>` after the
type Pillow found, never after what the client claimed; the served
Content-Type comes from that extension, so nothing uploaded can be served as
HTML or script.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from PIL import Image

from emojid.config import Config
from emojid.ids import new_id, now_iso
from emojid.images import verify_image
from emojid.social.index import SocialIndex
from emojid.social.index.profiles import MediaRow

EXTENSIONS = {"image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/jpeg": ".jpg"}
TYPES = {ext: mime for mime, ext in EXTENSIONS.items()}
MEDIA_NAME = re.compile(r"^[0-9]{1,20}\.(png|gif|webp|jpg)$")
# Pleroma's defaults: upload_limit, avatar_upload_limit, banner_upload_limit, background_upload_limit.
LIMITS = {"attachment": 16 << 20, "mascot": 16 << 20, "avatar": 2 << 20, "header": 4 << 20,
          "background": 4 << 20}


def _dimensions(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


class MediaStore:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.directory = config.media_dir
        self.base_url = config.public_url

    def store(self, account_id: str, source: Path, label: str, description: str = "",
              focus: str | None = None) -> MediaRow:
        """Verify `source` is an image (else 415) and keep a copy of it; its row."""
        mime = verify_image(source, label)
        width, height = _dimensions(source)
        media_id = new_id()
        filename = media_id + EXTENSIONS[mime]
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / filename
        tmp = self.directory / f".{filename}.tmp"
        shutil.copyfile(source, tmp)
        os.replace(tmp, final)
        row = MediaRow(media_id, account_id, filename, mime, final.stat().st_size, width, height,
                       description, focus, now_iso())
        try:
            self.index.insert_media(row)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        return row

    def remove(self, media_id: str | None) -> None:
        if media_id:
            filename = self.index.delete_media(media_id)
            if filename:
                self.remove_files([filename])

    def remove_files(self, filenames: list[str]) -> None:
        for filename in filenames:
            if MEDIA_NAME.match(filename):
                with contextlib.suppress(OSError):
                    (self.directory / filename).unlink()

    def path_of(self, filename: str) -> Path | None:
        """The file behind /media/<filename>, when it is one of ours and exists."""
        if not MEDIA_NAME.match(filename):
            return None
        path = self.directory / filename
        return path if path.is_file() else None

    def url(self, media_id: str | None) -> str | None:
        row = self.index.media_by_id(media_id) if media_id else None
        return self.url_of(row) if row else None

    def url_of(self, row: MediaRow) -> str:
        return f"{self.base_url}/media/{row.filename}"

    def attachment(self, row: MediaRow) -> dict:
        """A Mastodon media attachment entity, with Pleroma's `pleroma.mime_type`."""
        url = self.url_of(row)
        meta: dict = {"original": {"width": row.width, "height": row.height, "size": f"{row.width}x{row.height}",
                                   "aspect": round(row.width / row.height, 6) if row.height else None}}
        if row.focus:
            x, _, y = row.focus.partition(",")
            meta["focus"] = {"x": float(x), "y": float(y)}
        return {
            "id": row.id,
            "type": "image",
            "url": url,
            "preview_url": url,
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": url,
            "meta": meta,
            "description": row.description or None,
            "blurhash": None,
            "pleroma": {"mime_type": row.mime_type},
        }
