"""SQL of events (rebased's): an event's facts, its participations, and the events an account joined."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from emojid.db import Tables
from emojid.social.index.statuses import Status
from emojid.social.paging import Page


@dataclass(frozen=True)
class EventRow:
    status_id: str
    name: str
    start_time: str
    end_time: str | None
    join_mode: str
    location: dict | None = None


@dataclass(frozen=True)
class EventEdit:
    """What an event edit changes in its status: new text (with its HTML and tags), new media."""

    text: str | None = None
    content: str = ""
    tags: tuple[str, ...] = ()
    media_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ParticipationRow:
    id: str
    status_id: str
    account_id: str
    state: str
    message: str | None
    created_at: str


_EVENT = "status_id, name, start_time, end_time, join_mode, location, updated_at"
_PARTICIPATION = "id, status_id, account_id, state, message, created_at"


def _event(row: tuple) -> EventRow:
    return EventRow(str(row[0]), row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else None)


def _event_values(event: EventRow, when: str | None) -> tuple:
    location = json.dumps(event.location, ensure_ascii=False) if event.location is not None else None
    return (int(event.status_id), event.name, event.start_time, event.end_time, event.join_mode, location, when)


def _participation(row: tuple) -> ParticipationRow:
    return ParticipationRow(str(row[0]), str(row[1]), *row[2:])


class EventsIndex(Tables):
    # StatusesIndex's, for the statuses of joined events (both are mixins of SocialIndex).
    _status_page: Callable[..., list[tuple[int, Status]]]

    def insert_event(self, event: EventRow) -> None:
        self.execute(f"INSERT INTO events ({_EVENT}) VALUES (?, ?, ?, ?, ?, ?, ?)", _event_values(event, None))

    def event(self, status_id: int | str) -> EventRow | None:
        rows = self.execute(f"SELECT {_EVENT} FROM events WHERE status_id = ?", (int(status_id),))
        return _event(rows[0]) if rows else None

    def update_event_row(self, event: EventRow, edit: EventEdit | None, when: str) -> None:
        """New event facts and, when the description or banner changed, the status's text, tags and media."""

        def write() -> None:
            conn = self.db.conn
            sid, *values, _ = _event_values(event, when)
            conn.execute("UPDATE events SET name = ?, start_time = ?, end_time = ?, join_mode = ?, location = ?,"
                         " updated_at = ? WHERE status_id = ?", (*values, when, sid))
            if edit is None:
                return
            if edit.text is not None:
                conn.execute("UPDATE statuses SET text = ?, content = ? WHERE id = ?", (edit.text, edit.content, sid))
                conn.execute("DELETE FROM status_tags WHERE status_id = ?", (sid,))
                conn.executemany("INSERT OR IGNORE INTO status_tags VALUES (?, ?)", [(sid, t) for t in edit.tags])
            if edit.media_ids is not None:
                conn.execute("DELETE FROM status_media WHERE status_id = ?", (sid,))
                conn.executemany("INSERT INTO status_media VALUES (?, ?, ?)",
                                 [(sid, m, i) for i, m in enumerate(edit.media_ids)])

        self.transaction(write)

    def event_participation(self, status_id: int | str, account_id: str) -> ParticipationRow | None:
        rows = self.execute(f"SELECT {_PARTICIPATION} FROM event_participations WHERE status_id = ? AND account_id = ?",
                            (int(status_id), account_id))
        return _participation(rows[0]) if rows else None

    def add_event_participation(self, row: ParticipationRow) -> ParticipationRow:
        """A new participation; one that exists stays as it is (joining twice is no change). The stored row."""

        def write() -> ParticipationRow:
            conn = self.db.conn
            conn.execute("INSERT OR IGNORE INTO event_participations VALUES (?, ?, ?, ?, ?, ?)",
                         (int(row.id), int(row.status_id), row.account_id, row.state, row.message, row.created_at))
            found = conn.execute(f"SELECT {_PARTICIPATION} FROM event_participations"
                                 " WHERE status_id = ? AND account_id = ?",
                                 (int(row.status_id), row.account_id)).fetchone()
            return _participation(found)

        return self.transaction(write)

    def set_event_participation_state(self, status_id: int | str, account_id: str, state: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "UPDATE event_participations SET state = ? WHERE status_id = ? AND account_id = ?",
            (state, int(status_id), account_id)).rowcount))

    def delete_event_participation(self, status_id: int | str, account_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM event_participations WHERE status_id = ? AND account_id = ?",
            (int(status_id), account_id)).rowcount))

    def event_participant_ids(self, status_id: int | str, state: str = "accept") -> list[str]:
        """Accounts in `state`, the latest to join first (as rebased lists them)."""
        return [r[0] for r in self.execute(
            "SELECT account_id FROM event_participations WHERE status_id = ? AND state = ? ORDER BY id DESC",
            (int(status_id), state))]

    def event_participation_page(self, status_id: int | str, state: str, page: Page) -> list[ParticipationRow]:
        paging, params, order = page.sql("id")
        rows = self.execute(f"SELECT {_PARTICIPATION} FROM event_participations WHERE status_id = ? AND state = ?"
                            f"{paging}{order}", (int(status_id), state, *params))
        return page.arrange([_participation(r) for r in rows])

    def event_participation_counts(self, status_id: int | str) -> tuple[int, int]:
        """(accepted participants, pending requests) of an event."""
        row = self.execute("SELECT coalesce(sum(state = 'accept'), 0), coalesce(sum(state = 'pending'), 0)"
                           " FROM event_participations WHERE status_id = ?", (int(status_id),))[0]
        return int(row[0]), int(row[1])

    def joined_events_page(self, viewer_id: str, page: Page, state: str | None = None) -> list[tuple[int, Status]]:
        """(paging key, status) of the events the viewer joined (or asked to, in `state`), the latest join first."""
        where, params = "ep.account_id = ?", [viewer_id]
        if state is not None:
            where += " AND ep.state = ?"
            params.append(state)
        return self._status_page(viewer_id, where, params, page, join="JOIN event_participations ep"
                                 " ON ep.status_id = s.id", key="ep.id")
