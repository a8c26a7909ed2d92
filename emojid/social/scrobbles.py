"""Scrobbles: what an account is listening to (Pleroma's `Listen` activities of `Audio` objects).

Each scrobble has a visibility like a status: the owner sees all of theirs,
followers also the `private` ones, everyone else `public` and `unlisted`.
"""

from __future__ import annotations

import html
import re
from typing import Any

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest
from emojid.http.params import text_param
from emojid.ids import new_id, now_iso
from emojid.social.entities.accounts import AccountView, masto_date
from emojid.social.index import SocialIndex
from emojid.social.index.relationships import BLOCK
from emojid.social.index.scrobbles import ScrobbleRow
from emojid.social.paging import Page

VISIBILITIES = ("public", "unlisted", "private", "direct")
MAX_TEXT = 1000
MAX_LENGTH = 10 ** 15 - 1  # as many digits as a text `length` may have; SQLite stores it
_TAG = re.compile(r"<[^>]*>")


def strip_tags(text: str | None) -> str | None:
    return None if text is None else html.unescape(_TAG.sub("", text))


def _text(params: dict, name: str) -> str | None:
    return text_param(params, name, MAX_TEXT)


def _length(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequest("length must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,15}", value):
        number = int(value)
    else:
        raise BadRequest("length must be an integer")
    if number < 0:
        raise BadRequest("length must be at least 0")
    if number > MAX_LENGTH:
        raise BadRequest(f"length must be at most {MAX_LENGTH}")
    return number


class Scrobbles:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.accounts = AccountView(index, config)

    def create(self, account: Account, params: dict) -> ScrobbleRow:
        title = _text(params, "title")
        if title is None or not title.strip():
            raise BadRequest("Missing field: title.")
        visibility = _text(params, "visibility") or "public"
        if visibility not in VISIBILITIES:
            raise BadRequest(f"Invalid visibility: {visibility}")
        row = ScrobbleRow(new_id(), account.id, title, _text(params, "artist"), _text(params, "album"),
                          _text(params, "externalLink"), _length(params.get("length")), visibility, now_iso())
        self.index.insert_scrobble(row)
        return row

    def visible_to(self, owner: Account, viewer: Account | None) -> tuple[str, ...]:
        if viewer is not None and viewer.id == owner.id:
            return VISIBILITIES
        if viewer is not None and self.index.has_relationship(BLOCK, owner.id, viewer.id, now_iso()):
            return ()
        follow = self.index.follow_row(viewer.id, owner.id) if viewer is not None else None
        if follow is not None and follow.state == "accept":
            return ("public", "unlisted", "private")
        return ("public", "unlisted")

    def list(self, owner: Account, viewer: Account | None, page: Page) -> list[ScrobbleRow]:
        visibilities = self.visible_to(owner, viewer)
        if not visibilities:
            return []
        return self.index.scrobbles(owner.id, visibilities, page)

    def render(self, row: ScrobbleRow, owner: Account, viewer: Account | None) -> dict:
        return {
            "id": row.id,
            "account": self.accounts.account(owner, viewer),
            "created_at": masto_date(row.created_at),
            "title": strip_tags(row.title),
            "artist": strip_tags(row.artist),
            "album": strip_tags(row.album),
            "externalLink": row.external_link,
            "length": row.length,
        }
