"""SQL of emoji reactions to statuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emojid.db import Tables
from emojid.ids import new_id, now_iso
from emojid.social.index.notifications import Notice

_LIVE = "(r.expires_at IS NULL OR r.expires_at > ?)"


@dataclass(frozen=True)
class ReactionGroup:
    """One emoji on one status: who reacted with it (newest first), in the order emoji were first used."""

    emoji: str
    url: str | None
    account_ids: list[str]


class ReactionsIndex(Tables):
    # NotificationsIndex's, written in a reaction's transaction (both are mixins of SocialIndex).
    _insert_notice: Callable[[Notice, str], None]

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
