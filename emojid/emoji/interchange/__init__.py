"""Packs across fediverse software: formats, per-emoji metadata, provenance.

    metadata   per-emoji license, author, source and tags, kept in pack.json under
               the "emojid" key Pleroma's reader ignores (the store reads and writes it)
    names      shortcodes as Mastodon and Misskey accept them, rewritten when they do not
    tars       reading untrusted tar archives (the tar twin of emojid.emoji.zips)
    exporting  a pack as `pleroma` (zip), `mastodon` (tar.gz for tootctl) or `misskey` (zip + meta.json)
    importing  any of the three into a pack, through the store's staging and write paths

Only `metadata` is imported by the store; it depends on nothing but the errors.
"""

from __future__ import annotations

FORMATS = ("pleroma", "mastodon", "misskey")
# What an import takes (emojid.emoji.interchange.importing); here so the CLI's options
# can name them without importing the importer.
SOURCE_FORMATS = ("auto", *FORMATS)
ON_CONFLICT = ("skip", "rename", "replace")
