"""Reads over every emoji with its metadata and file facts: one pack's emoji a page at a
time, and the search over shortcodes and tags.

Search runs on tables the triggers of migration m0011 keep in step with `emoji` and
`loose_emoji` (so whatever writes those rows keeps the search current): an FTS5
trigram index over shortcodes for substrings, a NOCASE b-tree for exact and prefix
matches, and a table of (tag, emoji) for tags. Each tier is an indexed query that
stops at the limit; none walks the whole table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emojid.db import Tables

MIN_SUBSTRING = 3  # the trigram index needs three characters; shorter queries match exact, prefix and tag
# The highest code point: every string that starts with q sorts below q + this.
_TOP = "\U0010ffff"


@dataclass(frozen=True)
class EmojiRow:
    """One emoji of a pack, as the per-emoji listing shows it (facts None until indexed)."""

    pack: str
    shortcode: str
    filename: str
    tags: list[str]
    meta: dict[str, Any]  # license, author, source: those that are set
    sha256: str | None
    size: int | None
    width: int | None
    height: int | None
    frames: int | None
    problem: str | None

    @property
    def animated(self) -> bool:
        return self.problem is None and (self.frames or 1) > 1


@dataclass(frozen=True)
class SearchHit:
    shortcode: str
    pack: str
    filename: str
    tags: list[str]
    animated: bool


def _json(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


# A row of a folder without pack.json is hidden where a pack has its shortcode (as in the
# global lists), and a file lint found unservable is not offered.
_VISIBLE = ("NOT (r.loose = 1 AND EXISTS (SELECT 1 FROM emoji e WHERE e.shortcode = r.shortcode)) "
            "AND f.problem IS NULL")
_HIT = ("SELECT r.id, r.shortcode, r.pack, r.filename, r.tags, f.frames FROM {source} "
        "LEFT JOIN emoji_files f ON f.pack = r.pack AND f.filename = r.filename "
        "WHERE {where} AND " + _VISIBLE + " ORDER BY {order} LIMIT ?")


class CatalogIndex(Tables):
    def pack_emoji(self, pack: str, offset: int, limit: int) -> list[EmojiRow]:
        """One page of a pack's emoji, by shortcode, with metadata and file facts."""
        rows = self.execute(
            "SELECT e.pack, e.shortcode, e.filename, e.tags, e.meta, f.sha256, f.size, f.width, f.height, "
            "f.frames, f.problem FROM emoji e "
            "LEFT JOIN emoji_files f ON f.pack = e.pack AND f.filename = e.filename "
            "WHERE e.pack = ? ORDER BY e.shortcode LIMIT ? OFFSET ?",
            (pack, min(limit, 2**63 - 1), min(offset, 2**63 - 1)),
        )
        return [EmojiRow(r[0], r[1], r[2], _json(r[3], []), _json(r[4], {}), *r[5:]) for r in rows]

    def emoji_row(self, pack: str, shortcode: str) -> EmojiRow | None:
        rows = self.execute(
            "SELECT e.pack, e.shortcode, e.filename, e.tags, e.meta, f.sha256, f.size, f.width, f.height, "
            "f.frames, f.problem FROM emoji e "
            "LEFT JOIN emoji_files f ON f.pack = e.pack AND f.filename = e.filename "
            "WHERE e.pack = ? AND e.shortcode = ?",
            (pack, shortcode),
        )
        return EmojiRow(rows[0][0], rows[0][1], rows[0][2], _json(rows[0][3], []), _json(rows[0][4], {}),
                        *rows[0][5:]) if rows else None

    def pack_problems(self, pack: str) -> list[str]:
        """What reading the pack's pack.json set aside (unsafe paths, invalid shortcodes, bad names)."""
        rows = self.execute("SELECT problems FROM packs WHERE name = ?", (pack,))
        problems = _json(rows[0][0], []) if rows else []
        return [p for p in problems if isinstance(p, str)] if isinstance(problems, list) else []

    def pack_shortcodes(self, pack: str) -> list[str]:
        return [row[0] for row in self.execute("SELECT shortcode FROM emoji WHERE pack = ?", (pack,))]

    def search_emoji(self, query: str, limit: int) -> list[SearchHit]:
        """Emoji whose shortcode contains `query` (case-insensitively) or that carry it as a
        tag, best first: the exact shortcode, then prefixes, then substrings, then tags;
        alphabetical within each. A query under three characters matches no substrings."""
        found: dict[int, SearchHit] = {}
        for sql, params in search_queries(query, limit):
            if len(found) >= limit:
                break
            # `limit` rows a tier: those an earlier tier found may come back, the rest are new.
            for row_id, shortcode, pack, filename, tags, frames in self.execute(sql, params):
                if row_id not in found and len(found) < limit:
                    found[row_id] = SearchHit(shortcode, pack, filename, _json(tags, []), (frames or 1) > 1)
        return list(found.values())


def search_queries(query: str, limit: int) -> list[tuple[str, tuple[Any, ...]]]:
    """The SQL of each tier of a search, best first, with its parameters (each stops at `limit`)."""
    q = query.strip()
    if not q or limit <= 0:
        return []
    # (tables, condition, its parameters, order, its parameters)
    tiers: list[tuple[str, str, tuple[str, ...], str, tuple[str, ...]]] = [
        ("emoji_search_rows r", "r.shortcode = ? COLLATE NOCASE", (q,),
         "r.shortcode = ? DESC, r.shortcode COLLATE NOCASE, r.pack", (q,)),
        ("emoji_search_rows r", "r.shortcode >= ? COLLATE NOCASE AND r.shortcode < ? COLLATE NOCASE",
         (q, q + _TOP), "r.shortcode COLLATE NOCASE, r.pack", ()),
    ]
    if len(q) >= MIN_SUBSTRING and "\0" not in q:  # FTS5 query text ends at a NUL
        phrase = '"' + q.replace('"', '""') + '"'
        tiers.append(("emoji_search s JOIN emoji_search_rows r ON r.id = s.rowid", "emoji_search MATCH ?",
                      (phrase,), "r.shortcode COLLATE NOCASE, r.pack", ()))
    tiers.append(("emoji_search_tags t JOIN emoji_search_rows r ON r.id = t.row", "t.tag = ?", (q,),
                  "r.shortcode COLLATE NOCASE, r.pack", ()))
    return [(_HIT.format(source=source, where=where, order=order), (*where_params, *order_params, limit))
            for source, where, where_params, order, order_params in tiers]
