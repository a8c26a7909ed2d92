"""SQL of emoji reactions and notifications."""

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


@dataclass(frozen=True)
class ReactionGroup:
    """One emoji on one status: who reacted with it (newest first), in the order emoji were first used."""

    emoji: str
    url: str | None
    account_ids: list[str]


_NOTIFICATION = "n.id, n.account_id, n.type, n.actor_id, n.status_id, n.emoji, n.emoji_url, n.seen, n.created_at"


def _notification(row: tuple) -> Notification:
    return Notification(str(row[0]), row[1], row[2], row[3], None if row[4] is None else str(row[4]),
                        row[5], row[6], bool(row[7]), row[8])


class InteractionsIndex(Tables):
    # -- reactions ---------------------------------------------------------------

    def add_reaction(self, status_id: int | str, account_id: str, emoji: str, url: str | None, when: str,
                     notice: Notice | None = None) -> bool:
        """True when new; only then is `notice` written, in the same transaction."""

        def write() -> bool:
            conn = self.db.conn
            reaction_id = int(new_id())
            # An emoji keeps its place while anyone still reacts with it (Pleroma's list order).
            since = conn.execute("SELECT MIN(since) FROM reactions WHERE status_id = ? AND emoji = ?",
                                 (int(status_id), emoji)).fetchone()[0] or reaction_id
            added = conn.execute(
                "INSERT OR IGNORE INTO reactions (id, status_id, account_id, emoji, url, since, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (reaction_id, int(status_id), account_id, emoji, url, since,
                                                  when)).rowcount
            if added and notice is not None:
                self._insert_notice(notice, when)
            return bool(added)

        return self.transaction(write)

    def remove_reaction(self, status_id: int | str, account_id: str, emoji: str) -> bool:
        """Undo a reaction and the notification it caused."""

        def write() -> bool:
            conn = self.db.conn
            removed = conn.execute("DELETE FROM reactions WHERE status_id = ? AND account_id = ? AND emoji = ?",
                                   (int(status_id), account_id, emoji)).rowcount
            # The notification names a custom emoji `:shortcode:`, the reaction `shortcode`.
            conn.execute("DELETE FROM notifications WHERE type = 'pleroma:emoji_reaction' AND status_id = ?"
                         " AND actor_id = ? AND emoji IN (?, ?)", (int(status_id), account_id, emoji, f":{emoji}:"))
            return bool(removed)

        return self.transaction(write)

    def reaction_groups(self, status_id: int | str) -> list[ReactionGroup]:
        """Reactions of active accounts, grouped by emoji in the order each emoji was first used."""
        rows = self.execute(
            "SELECT x.emoji, x.url, x.account_id FROM reactions x JOIN accounts a ON a.id = x.account_id"
            " WHERE x.status_id = ? AND a.disabled = 0 ORDER BY x.since, x.id", (int(status_id),))
        groups: dict[str, tuple[str | None, list[str]]] = {}
        for emoji, url, account_id in rows:
            slot = groups.setdefault(emoji, (url, []))
            slot[1].insert(0, account_id)  # newest reactor first, as Pleroma keeps them
        return [ReactionGroup(emoji, url, ids) for emoji, (url, ids) in groups.items()]

    def hidden_reactors(self, viewer_id: str, with_muted: bool) -> set[str]:
        """Accounts whose reactions the viewer does not see: blocked, and muted unless `with_muted`."""
        kinds = "('block')" if with_muted else "('block', 'mute')"
        return {r[0] for r in self.execute(
            f"SELECT r.target_id FROM user_relationships r WHERE r.source_id = ? AND r.kind IN {kinds} AND {_LIVE}",
            (viewer_id, now_iso()))}

    # -- notifications --------------------------------------------------------------

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
