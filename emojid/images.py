"""Pillow checks: an upload is stored only if it really is an allowed image."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from emojid.errors import UnsupportedMedia

FORMATS = {"PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp", "JPEG": "image/jpeg"}
# An emoji is small; refuse decompression bombs long before Pillow's own limit.
MAX_PIXELS = 4096 * 4096


_NOT_AN_IMAGE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                 Image.DecompressionBombWarning)


def verify_image(path: Path, label: str) -> str:
    """The image's MIME type, or UnsupportedMedia (415) naming `label`. The whole file is
    checked (Pillow's verify())."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = im.format
                width, height = im.size
                im.verify()
    except _NOT_AN_IMAGE:
        raise UnsupportedMedia(f"{label} is not a valid image") from None
    return _allowed(fmt, width, height, label)


def check_header(fmt: str | None, width: int | None, height: int | None, label: str) -> str:
    """verify_image by a header already read (emojid.emoji.facts.read_header; fmt None:
    no image Pillow reads): for files whose bytes a checksum vouches for already (the
    entries of a verified archive)."""
    if fmt is None or width is None or height is None:
        raise UnsupportedMedia(f"{label} is not a valid image")
    return _allowed(fmt, width, height, label)


def _allowed(fmt: str | None, width: int, height: int, label: str) -> str:
    if fmt not in FORMATS:
        raise UnsupportedMedia(f"{label} is a {fmt} image; allowed: {', '.join(FORMATS)}")
    if width * height > MAX_PIXELS:
        raise UnsupportedMedia(f"{label} is too large ({width}x{height} pixels)")
    return FORMATS[fmt]


def sniff_type(head: bytes) -> str | None:
    """MIME type from the first bytes of a file, for serving emoji files."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    return None
