"""The one place an emoji's URL is built: `{base_url}/emoji/{pack}/{filename}`."""

from __future__ import annotations

from urllib.parse import quote


def emoji_path(pack: str, filename: str) -> str:
    """The path emoji files are served at (`emojid.emoji.web.serve`), each part percent-encoded."""
    return f"/emoji/{quote(pack)}/{quote(filename)}"


def emoji_url(base_url: str, pack: str, filename: str) -> str:
    return base_url + emoji_path(pack, filename)
