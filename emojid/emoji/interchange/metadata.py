"""Per-emoji metadata: license, author, source and tags.

Kept in the pack's pack.json beside what Pleroma reads, under a top-level key
Pleroma's reader ignores, so it travels with archives and mirrors:

    {"files": {...}, "pack": {...}, "files_count": 2,
     "emojid": {"emoji": {"blobcat": {"license": "CC-BY-4.0", "author": "Feuerfuchs",
                                      "source": "https://example.org/blobcat", "tags": ["cat"]}}}}

Tags set here replace the emoji.txt tags of that emoji. What a hand-written or
remote pack.json holds is read leniently (a value of the wrong shape is left
out, never an error); what the API is sent is checked strictly.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from emojid.errors import BadRequest, Unprocessable

EXTENSION = "emojid"
TEXT_FIELDS = ("license", "author", "source")
FIELDS = (*TEXT_FIELDS, "tags")
MAX_TEXT = {"license": 1024, "author": 1024, "source": 2048}  # Misskey's emoji.license is varchar(1024)
MAX_TAGS = 32
MAX_TAG = 64

EmojiMeta = dict[str, Any]  # only the fields that are set: str values, "tags" a non-empty list of str


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def _tag_problem(tag: str) -> str | None:
    if not tag:
        return "a tag cannot be empty"
    if len(tag) > MAX_TAG:
        return f"a tag is longer than {MAX_TAG} characters"
    if "," in tag or _has_control(tag):
        return "a tag cannot hold commas or control characters"
    return None


def _unique(tags: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for tag in tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return out


def clean_entry(value: Any) -> EmojiMeta:
    """One stored entry, leniently: what is well-formed, the rest left out."""
    if not isinstance(value, dict):
        return {}
    entry: EmojiMeta = {}
    for key in TEXT_FIELDS:
        text = value.get(key)
        if isinstance(text, str) and text.strip() and len(text) <= MAX_TEXT[key] and not _has_control(text):
            entry[key] = text.strip()
    tags = value.get("tags")
    if isinstance(tags, list):
        kept = _unique([t.strip() for t in tags if isinstance(t, str) and _tag_problem(t.strip()) is None])
        if kept:
            entry["tags"] = kept[:MAX_TAGS]
    return entry


def read_extension(doc: dict[str, Any]) -> tuple[dict[str, EmojiMeta], list[str]]:
    """shortcode -> metadata from a pack.json document, and what was wrong with it."""
    ext = doc.get(EXTENSION)
    if ext is None:
        return {}, []
    emoji = ext.get("emoji") if isinstance(ext, dict) else None
    if emoji is None and isinstance(ext, dict):
        return {}, []
    if not isinstance(emoji, dict):
        return {}, [f'"{EXTENSION}" is not an object with an "emoji" object: per-emoji metadata ignored']
    found: dict[str, EmojiMeta] = {}
    for shortcode, value in emoji.items():
        entry = clean_entry(value)
        if entry:
            found[shortcode] = entry
    return found, []


def with_extension(extra: dict[str, Any], emoji_meta: dict[str, EmojiMeta], shortcodes: set[str]) -> dict[str, Any]:
    """The top-level keys beside files/pack/files_count, with our key holding `emoji_meta`
    for the listed `shortcodes` only (an emoji removed or renamed leaves nothing behind)."""
    out = dict(extra)
    old = out.pop(EXTENSION, None)
    ours = {k: v for k, v in old.items() if k != "emoji"} if isinstance(old, dict) else {}
    kept = {code: dict(entry) for code, entry in sorted(emoji_meta.items()) if entry and code in shortcodes}
    if kept:
        ours["emoji"] = kept
    if ours:
        out[EXTENSION] = ours
    return out


# -- what the API is sent -------------------------------------------------------------


def parse_tags(value: Any) -> list[str]:
    """A JSON list of strings, or one string of comma-separated tags (a form field)."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(t, str) for t in value):
        items = list(value)
    else:
        raise BadRequest("tags must be a list of strings")
    tags = [t.strip() for t in items]
    tags = [t for t in tags if t] if isinstance(value, str) else tags
    for tag in tags:
        problem = _tag_problem(tag)
        if problem:
            raise Unprocessable(f"Invalid tag {tag[:80]!r}: {problem}")
    tags = _unique(tags)
    if len(tags) > MAX_TAGS:
        raise Unprocessable(f"An emoji can have at most {MAX_TAGS} tags")
    return tags


def parse_update(params: dict[str, Any]) -> dict[str, Any]:
    """The fields a PATCH sets: field -> new value, None to clear. 400 for a value of the
    wrong type or no field at all, 422 for one that breaks a limit."""
    update: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        if key not in params:
            continue
        value = params[key]
        if value is None or value == "":
            update[key] = None
            continue
        if not isinstance(value, str):
            raise BadRequest(f"{key} must be a string")
        text = value.strip()
        if len(text) > MAX_TEXT[key]:
            raise Unprocessable(f"{key} is longer than {MAX_TEXT[key]} characters")
        if _has_control(text):
            raise Unprocessable(f"{key} cannot hold control characters")
        update[key] = text or None
    if "tags" in params:
        value = params["tags"]
        update["tags"] = (parse_tags(value) or None) if value is not None else None
    if not update:
        raise BadRequest(f"Give at least one of {', '.join(FIELDS)}")
    return update


def apply_update(entry: EmojiMeta, update: dict[str, Any]) -> EmojiMeta:
    out = dict(entry)
    for key, value in update.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# -- Misskey keeps one license text per emoji -------------------------------------------

_WITH_AUTHOR = re.compile(r"^(?P<license>.*?\S)?\s*\((?P<author>[^()]+)\)$", re.S)


def misskey_license(entry: EmojiMeta, pack_license: str | None) -> str | None:
    """`"CC-BY-4.0 (author)"` when both are known, else whichever is; the pack's licence
    stands in for an emoji without its own."""
    license_ = entry.get("license") or (pack_license.strip() if isinstance(pack_license, str) else None) or None
    author = entry.get("author")
    if license_ and author:
        return f"{license_} ({author})"
    if author:
        return f"({author})"
    return license_


def split_misskey_license(text: str) -> EmojiMeta:
    """The reverse, for imports: `"CC-BY-4.0 (author)"` -> license and author."""
    text = text.strip()
    match = _WITH_AUTHOR.match(text)
    raw: dict[str, Any] = {"license": text}
    if match:
        raw = {"license": match.group("license") or "", "author": match.group("author")}
    return clean_entry(raw)
