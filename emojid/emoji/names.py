"""Validation of every pack name, filename and shortcode before it touches disk.

Names come from HTTP requests, zip entries, hand-written pack.json files and
remote servers: all hostile until these checks pass.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata

from emojid.errors import BadRequest, Unprocessable

_MAX_NAME = 128
_MAX_PATH = 255
# What one path component may take on Linux filesystems (NAME_MAX), in bytes: a longer
# pack name or file name would fail with ENAMETOOLONG at the first open.
MAX_COMPONENT_BYTES = 255


def is_text(name: str) -> bool:
    """Whether `name` is Unicode text. A file name that is not UTF-8 reaches Python with
    its bad bytes as lone surrogates (PEP 383): SQLite, JSON and our messages cannot carry it."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(name: str) -> str:
    """`name` as text that can be logged and stored: bytes that are not UTF-8 as `\\xNN`."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _too_long(component: str) -> bool:
    return len(component.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_BYTES


def check_pack_name(name: str | None) -> str:
    """One path component: no separators, no `..`, no NUL, no leading dot."""
    if name is None or not name.strip():
        raise BadRequest("pack name cannot be empty")
    name = name.strip()
    if not is_text(name):
        raise BadRequest(f'Invalid pack name: "{shown(name)}" is not valid UTF-8')
    if _too_long(name):
        raise BadRequest(f"Invalid pack name: {name[:32]!r}... is longer than {MAX_COMPONENT_BYTES} bytes in UTF-8")
    if (
        len(name) > _MAX_NAME
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or any(unicodedata.category(c) == "Cc" for c in name)
    ):
        raise BadRequest(f"Invalid pack name: {name!r}")
    return name


# Unicode's control characters (category Cc) exactly: C0, DEL and C1. One regex search
# instead of a category lookup per character (pack.json can list 100k paths).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


# A file name with nothing to check part by part (most of them): printable ASCII, no
# slash or backslash, not starting with a dot. One match for pack.json's 100k paths.
_PLAIN_NAME = re.compile(r"[!-\-0-\[\]-~][ -.0-\[\]-~]{0,254}")


def safe_relpath(path: str) -> str | None:
    """`path` as a normalised relative POSIX path inside a pack, or None if unsafe."""
    if isinstance(path, str) and _PLAIN_NAME.fullmatch(path):
        return path
    if not isinstance(path, str) or not path or len(path) > _MAX_PATH:
        return None
    if "\\" in path or "\0" in path or path.startswith("/"):
        return None
    if _CONTROL.search(path) or not is_text(path):
        return None
    parts = path.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") or _too_long(p) for p in parts):
        return None
    return path  # already normal: no empty, "." or ".." part, no leading or doubled "/"


def check_filename(filename: str | None, allowed_extensions: list[str]) -> str:
    """A safe relative path with an allowed extension (422 when empty, 400 otherwise)."""
    if filename is None or filename == "":
        raise Unprocessable("pack name, shortcode or filename cannot be empty")
    safe = safe_relpath(filename)
    if safe is None:
        if any(_too_long(part) for part in filename.split("/")):
            raise BadRequest(f"Invalid filename: {filename[:32]!r}... (a file or folder name may be at most "
                             f"{MAX_COMPONENT_BYTES} bytes in UTF-8)")
        raise BadRequest(f"Invalid filename: {shown(filename)!r}")
    if extension(safe) not in allowed_extensions:
        raise BadRequest(
            f"Invalid filename: {filename!r} (allowed extensions: {', '.join(allowed_extensions)})"
        )
    return safe


def check_shortcode(shortcode: str | None, pattern: str) -> str:
    if shortcode is None or shortcode == "":
        raise Unprocessable("pack name, shortcode or filename cannot be empty")
    if not re.fullmatch(pattern, shortcode):
        raise BadRequest(f"Invalid shortcode: {shortcode!r} does not match {pattern}")
    return shortcode


def extension(filename: str) -> str:
    """posixpath.splitext's extension, lowercased: from the last dot of the last part, unless
    only dots come before it there (".png" has none). Without splitext: reindex asks 100k times."""
    dot = filename.rfind(".")
    start = filename.rfind("/") + 1
    if dot <= start or not filename[start:dot].strip("."):
        return ""
    return filename[dot:].lower()


def stem(filename: str) -> str:
    return posixpath.splitext(posixpath.basename(filename))[0]
