"""The one place an emoji's URLs are built: `{base_url}/emoji/{pack}/{filename}`, and for an
animated one its static frame at `{base_url}/emoji-static/{pack}/{filename}.png`."""

from __future__ import annotations

from urllib.parse import quote


def emoji_path(pack: str, filename: str) -> str:
    """The path emoji files are served at (`emojid.emoji.web.serve`), each part percent-encoded."""
    return f"/emoji/{quote(pack)}/{quote(filename)}"


def emoji_url(base_url: str, pack: str, filename: str) -> str:
    return base_url + emoji_path(pack, filename)


def static_path(pack: str, filename: str) -> str:
    """The path of an animated emoji's first frame as PNG (`emojid.emoji.web.static_frames`)."""
    return f"/emoji-static/{quote(pack)}/{quote(filename)}.png"


def static_url(base_url: str, pack: str, filename: str, animated: bool) -> str:
    """Mastodon's `static_url`: the static frame of an animated emoji, the emoji itself otherwise."""
    return base_url + (static_path(pack, filename) if animated else emoji_path(pack, filename))
