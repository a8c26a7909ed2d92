"""SQL of scrobbles: what an account listened to."""

from __future__ import annotations

from dataclasses import dataclass

from emojid.db import Tables
from emojid.social.paging import Page


@dataclass(frozen=True)
class ScrobbleRow:
    id: str
    account_id: str
    title: str
    artist: str | None
    album: str | None
    external_link: str | None
    length: int | None
    visibility: str
    created_at: str


_SCROBBLE = "id, account_id, title, artist, album, external_link, length, visibility, created_at"


def _scrobble(row: tuple) -> ScrobbleRow:
    return ScrobbleRow(str(row[0]), *row[1:])


class ScrobblesIndex(Tables):
    def insert_scrobble(self, row: ScrobbleRow) -> None:
        self.transaction(lambda: self.db.conn.execute(
            f"INSERT INTO scrobbles ({_SCROBBLE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (int(row.id), row.account_id, row.title, row.artist, row.album, row.external_link, row.length,
             row.visibility, row.created_at)))

    def scrobbles(self, account_id: str, visibilities: tuple[str, ...], page: Page) -> list[ScrobbleRow]:
        """Newest first, paged by id."""
        marks = ",".join("?" * len(visibilities))
        paging, params, order = page.sql("id")
        rows = self.execute(
            f"SELECT {_SCROBBLE} FROM scrobbles WHERE account_id = ? AND visibility IN ({marks}){paging}{order}",
            (account_id, *visibilities, *params))
        return page.arrange([_scrobble(r) for r in rows])
