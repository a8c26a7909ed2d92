"""SQL of notifications: writing them (also inside other tables' transactions), filtering and reading them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emojid.db import Tables
from emojid.ids import new_id, now_iso

_LIVE = "(r.expires_at IS NULL OR r.expires_at > ?)"


@dataclass(frozen=True)
class Notice:
    """A notification to write: `account_id` is told that `actor_id` did `type` (to `status_id`)."""

    account_id: str
    type: str
    actor_id: str
    status_id: str | None = None
    emoji: str | None = None
    emoji_url: str | None = None


@dataclass(frozen=True)
class Notification:
    id: str
    account_id: str
    type: str
    actor_id: str
    status_id: str | None
    emoji: str | None
    emoji_url: str | None
    seen: bool
    created_at: str


_NOTIFICATION = "n.id, n.account_id, n.type, n.actor_id, n.status_id, n.emoji, n.emoji_url, n.seen, n.created_at"


def _notification(row: tuple) -> Notification:
    return Notification(str(row[0]), row[1], row[2], row[3], None if row[4] is None else str(row[4]),
                        row[5], row[6], bool(row[7]), row[8])


class NotificationsIndex(Tables):
    def _insert_notice(self, notice: Notice, when: str) -> None:
        """Inside a transaction: write one notification (never to the actor itself)."""
        if notice.account_id == notice.actor_id:
            return
        self.db.conn.execute(
            "INSERT INTO notifications (id, account_id, type, actor_id, status_id, emoji, emoji_url, seen,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
            (int(new_id()), notice.account_id, notice.type, notice.actor_id,
             None if notice.status_id is None else int(notice.status_id), notice.emoji, notice.emoji_url, when))

    def add_notices(self, notices: list[Notice]) -> None:
        when = now_iso()

        def write() -> None:
            for notice in notices:
                self._insert_notice(notice, when)

        self.transaction(write)

    def _notification_filters(self, account_id: str, with_muted: bool) -> tuple[str, list]:
        now = now_iso()
        muted = "" if with_muted else (
            " AND NOT EXISTS (SELECT 1 FROM user_relationships r WHERE r.source_id = n.account_id"
            f" AND r.target_id = n.actor_id AND r.kind = 'notification_mute' AND {_LIVE})")
        blocked = (" AND NOT EXISTS (SELECT 1 FROM user_relationships r WHERE r.kind = 'block' AND"
                   " ((r.source_id = n.account_id AND r.target_id = n.actor_id) OR (r.source_id = n.actor_id AND"
                   f" r.target_id = n.account_id)) AND {_LIVE})")
        return " AND a.disabled = 0" + blocked + muted, [now] if with_muted else [now, now]

    def notification_page(self, account_id: str, page: Any, *, types: list[str] | None = None,
                          exclude_types: list[str] = (), actor_id: str | None = None,
                          with_muted: bool = False) -> list[Notification]:
        where, params = self._notification_filters(account_id, with_muted)
        if types is not None:
            where += f" AND n.type IN ({','.join('?' * len(types))})" if types else " AND 0"
            params += list(types)
        if exclude_types:
            where += f" AND n.type NOT IN ({','.join('?' * len(exclude_types))})"
            params += list(exclude_types)
        if actor_id is not None:
            where += " AND n.actor_id = ?"
            params.append(actor_id)
        paging, paging_params, order = page.sql("n.id")
        rows = self.execute(f"SELECT {_NOTIFICATION} FROM notifications n JOIN accounts a ON a.id = n.actor_id"
                            f" WHERE n.account_id = ?{where}{paging}{order}",
                            [account_id, *params, *paging_params])
        return page.arrange([_notification(r) for r in rows])

    def notification(self, account_id: str, notification_id: int) -> Notification | None:
        rows = self.execute(f"SELECT {_NOTIFICATION} FROM notifications n WHERE n.id = ? AND n.account_id = ?",
                            (notification_id, account_id))
        return _notification(rows[0]) if rows else None

    def mark_notification_seen(self, account_id: str, notification_id: int) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "UPDATE notifications SET seen = 1 WHERE id = ? AND account_id = ?",
            (notification_id, account_id)).rowcount))

    def mark_notifications_seen_up_to(self, account_id: str, max_id: int) -> list[str]:
        """Mark every unseen notification up to `max_id` seen; their ids, newest first."""

        def write() -> list[str]:
            conn = self.db.conn
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM notifications WHERE account_id = ? AND id <= ? AND seen = 0 ORDER BY id DESC",
                (account_id, max_id))]
            conn.execute("UPDATE notifications SET seen = 1 WHERE account_id = ? AND id <= ? AND seen = 0",
                         (account_id, max_id))
            return [str(i) for i in ids]

        return self.transaction(write)

    def notifications_by_ids(self, account_id: str, ids: list[str]) -> list[Notification]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.execute(f"SELECT {_NOTIFICATION} FROM notifications n WHERE n.account_id = ? AND n.id IN"
                            f" ({marks}) ORDER BY n.id DESC", [account_id, *[int(i) for i in ids]])
        return [_notification(r) for r in rows]

    def dismiss_notification(self, account_id: str, notification_id: int) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM notifications WHERE id = ? AND account_id = ?", (notification_id, account_id)).rowcount))

    def clear_notifications(self, account_id: str) -> int:
        return self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM notifications WHERE account_id = ?", (account_id,)).rowcount)

    def unread_notifications(self, account_id: str) -> int:
        where, params = self._notification_filters(account_id, False)
        return self.execute("SELECT COUNT(*) FROM notifications n JOIN accounts a ON a.id = n.actor_id"
                            f" WHERE n.account_id = ? AND n.seen = 0{where}", [account_id, *params])[0][0]
