"""Timeline paging as Mastodon clients do it: `max_id`, `since_id`, `min_id`, `limit`, and the Link header.

    page = Page.parse(params)               # 400 on a malformed id or limit
    rows = index.some_timeline(..., page)   # newest first, at most page.limit
    headers = link_header(request, [key_of(row) for row in rows])

`max_id` answers what is older than it, `since_id` the newest items newer than
it, `min_id` the items right after it (oldest of them first in the database,
newest first in the answer). The Link header carries `next` (older, `max_id`)
and `prev` (newer, `min_id`), with the request's other query parameters kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from emojid.errors import BadRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
_ID = re.compile(r"^[0-9]{1,20}$")
# SQLite integers stop at 2**63 - 1; a larger (still 20-digit) id is "after everything".
_INT_MAX = (1 << 63) - 1


def id_param(value: Any, name: str) -> int | None:
    """A paging or entity id: digits only (<= 20), as an int; None when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return min(value, _INT_MAX)
    if isinstance(value, str) and _ID.match(value.strip()):
        return min(int(value.strip()), _INT_MAX)
    raise BadRequest(f"Invalid {name}: expected a numeric id")


def parse_id(value: str | None) -> int | None:
    """A path id as an int, or None when it cannot name anything (so the caller answers 404)."""
    if value is None or not _ID.match(value):
        return None
    number = int(value)
    return number if number <= _INT_MAX else None


@dataclass(frozen=True)
class Page:
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def parse(cls, params: dict, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Page:
        raw = params.get("limit")
        if raw is None or raw == "":
            limit = default
        elif isinstance(raw, int) and not isinstance(raw, bool):
            limit = raw
        elif isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,9}", raw.strip()):
            limit = int(raw.strip())
        else:
            raise BadRequest("Invalid limit: expected an integer")
        raw_offset = params.get("offset")
        offset = 0
        if raw_offset not in (None, ""):
            if not (isinstance(raw_offset, str) and raw_offset.strip().isdigit() and len(raw_offset.strip()) < 10) \
                    and not (isinstance(raw_offset, int) and not isinstance(raw_offset, bool) and raw_offset >= 0):
                raise BadRequest("Invalid offset: expected a non-negative integer")
            offset = int(raw_offset)
        return cls(id_param(params.get("max_id"), "max_id"), id_param(params.get("since_id"), "since_id"),
                   id_param(params.get("min_id"), "min_id"), max(1, min(limit, maximum)), offset)

    def sql(self, key: str) -> tuple[str, list, str]:
        """(extra WHERE conditions, their parameters, ORDER BY ... LIMIT ...) for paging on `key`."""
        conditions, params = [], []
        if self.max_id is not None:
            conditions.append(f"{key} < ?")
            params.append(self.max_id)
        if self.since_id is not None:
            conditions.append(f"{key} > ?")
            params.append(self.since_id)
        if self.min_id is not None:
            conditions.append(f"{key} > ?")
            params.append(self.min_id)
        direction = "ASC" if self.min_id is not None else "DESC"
        where = "".join(f" AND {c}" for c in conditions)
        return where, params, f" ORDER BY {key} {direction} LIMIT {int(self.limit)} OFFSET {int(self.offset)}"

    def arrange(self, rows: list) -> list:
        """Rows fetched with sql(): newest first, whichever way they were read."""
        return list(reversed(rows)) if self.min_id is not None else rows


def link_header(request: Request, keys: list[int | str]) -> dict[str, str]:
    """`Link: <...max_id=oldest>; rel="next", <...min_id=newest>; rel="prev"`; no header for an empty page."""
    if not keys:
        return {}
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("max_id", "min_id", "since_id")]
    base = str(request.url.replace(query=""))

    def url(**extra: Any) -> str:
        return base + "?" + urlencode(kept + [(k, str(v)) for k, v in extra.items()])

    return {"link": f'<{url(max_id=keys[-1])}>; rel="next", <{url(min_id=keys[0])}>; rel="prev"'}
