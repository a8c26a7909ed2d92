"""SQL of relationships between local accounts: follows, blocks, mutes, subscriptions, pins."""

from __future__ import annotations

from dataclasses import dataclass

from emojid.db import Tables

# Kinds of user_relationships rows; each is "source does this to target".
BLOCK, MUTE, NOTIFICATION_MUTE, SUBSCRIPTION, ENDORSEMENT = (
    "block", "mute", "notification_mute", "subscription", "endorsement")


@dataclass(frozen=True)
class Follow:
    state: str  # accept | pending
    reblogs: bool


@dataclass(frozen=True)
class Facts:
    """Everything a relationship entity says about viewer -> target."""

    following: Follow | None
    followed_by: Follow | None
    kinds_out: frozenset[str]  # viewer -> target
    kinds_in: frozenset[str]  # target -> viewer


_LIVE = "(expires_at IS NULL OR expires_at > ?)"


class RelationshipsIndex(Tables):
    # -- follows ------------------------------------------------------------------

    def follow_row(self, follower_id: str, followed_id: str) -> Follow | None:
        rows = self.execute("SELECT state, reblogs FROM follows WHERE follower_id = ? AND followed_id = ?",
                            (follower_id, followed_id))
        return Follow(rows[0][0], bool(rows[0][1])) if rows else None

    def put_follow(self, follower_id: str, followed_id: str, state: str, reblogs: bool | None, when: str) -> None:
        """Create or update a follow; `reblogs` None keeps the current setting."""

        def write() -> None:
            conn = self.db.conn
            current = conn.execute("SELECT state, reblogs FROM follows WHERE follower_id = ? AND followed_id = ?",
                                   (follower_id, followed_id)).fetchone()
            if current is None:
                conn.execute("INSERT INTO follows VALUES (?, ?, ?, ?, ?)",
                             (follower_id, followed_id, state, int(reblogs is not False), when))
            else:
                new_state = "accept" if current[0] == "accept" else state
                conn.execute("UPDATE follows SET state = ?, reblogs = ? WHERE follower_id = ? AND followed_id = ?",
                             (new_state, int(current[1] if reblogs is None else reblogs), follower_id, followed_id))

        self.transaction(write)

    def delete_follow(self, follower_id: str, followed_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM follows WHERE follower_id = ? AND followed_id = ?", (follower_id, followed_id)).rowcount))

    def accept_follow(self, follower_id: str, followed_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "UPDATE follows SET state = 'accept' WHERE follower_id = ? AND followed_id = ? AND state = 'pending'",
            (follower_id, followed_id)).rowcount))

    def followers(self, account_id: str, state: str = "accept") -> list[str]:
        """Follower ids, newest follow first."""
        return [r[0] for r in self.execute(
            "SELECT follower_id FROM follows JOIN accounts ON accounts.id = follower_id"
            " WHERE followed_id = ? AND state = ? AND accounts.disabled = 0 ORDER BY follows.created_at DESC,"
            " follows.rowid DESC", (account_id, state))]

    def following(self, account_id: str) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT followed_id FROM follows JOIN accounts ON accounts.id = followed_id"
            " WHERE follower_id = ? AND state = 'accept' AND accounts.disabled = 0"
            " ORDER BY follows.created_at DESC, follows.rowid DESC", (account_id,))]

    def follow_counts(self, account_id: str) -> tuple[int, int]:
        """(followers, following), accepted follows of active accounts only."""
        rows = self.execute(
            "SELECT (SELECT COUNT(*) FROM follows JOIN accounts ON accounts.id = follower_id"
            "        WHERE followed_id = ? AND state = 'accept' AND accounts.disabled = 0),"
            "       (SELECT COUNT(*) FROM follows JOIN accounts ON accounts.id = followed_id"
            "        WHERE follower_id = ? AND state = 'accept' AND accounts.disabled = 0)",
            (account_id, account_id))
        return rows[0][0], rows[0][1]

    # -- blocks, mutes, subscriptions, endorsements -----------------------------------

    def put_relationship(self, kind: str, source_id: str, target_id: str, when: str,
                         expires_at: str | None = None) -> None:
        self.transaction(lambda: self.db.conn.execute(
            "INSERT INTO user_relationships (kind, source_id, target_id, expires_at, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, source_id, target_id)"
            " DO UPDATE SET expires_at = excluded.expires_at",
            (kind, source_id, target_id, expires_at, when)))

    def delete_relationship(self, kind: str, source_id: str, target_id: str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM user_relationships WHERE kind = ? AND source_id = ? AND target_id = ?",
            (kind, source_id, target_id)).rowcount))

    def has_relationship(self, kind: str, source_id: str, target_id: str, now: str) -> bool:
        return bool(self.execute(
            f"SELECT 1 FROM user_relationships WHERE kind = ? AND source_id = ? AND target_id = ? AND {_LIVE}",
            (kind, source_id, target_id, now)))

    def related(self, kind: str, source_id: str, now: str) -> list[str]:
        """Target ids of `source`'s live relationships of `kind`, newest first, active accounts only."""
        return [r[0] for r in self.execute(
            "SELECT target_id FROM user_relationships JOIN accounts ON accounts.id = target_id"
            f" WHERE kind = ? AND source_id = ? AND accounts.disabled = 0 AND {_LIVE}"
            " ORDER BY user_relationships.created_at DESC, user_relationships.rowid DESC",
            (kind, source_id, now))]

    def count_related(self, kind: str, source_id: str, now: str) -> int:
        return self.execute(f"SELECT COUNT(*) FROM user_relationships WHERE kind = ? AND source_id = ? AND {_LIVE}",
                            (kind, source_id, now))[0][0]

    def mute_expiry(self, source_id: str, target_id: str) -> str | None:
        rows = self.execute("SELECT expires_at FROM user_relationships WHERE kind = 'mute' AND source_id = ?"
                            " AND target_id = ?", (source_id, target_id))
        return rows[0][0] if rows else None

    def facts(self, viewer_id: str, target_id: str, now: str) -> Facts:
        def kinds(source: str, target: str) -> frozenset[str]:
            return frozenset(r[0] for r in self.execute(
                f"SELECT kind FROM user_relationships WHERE source_id = ? AND target_id = ? AND {_LIVE}",
                (source, target, now)))

        return Facts(self.follow_row(viewer_id, target_id), self.follow_row(target_id, viewer_id),
                     kinds(viewer_id, target_id), kinds(target_id, viewer_id))

    # -- moving followers ---------------------------------------------------------------

    def move_followers(self, origin_id: str, target_id: str, default_allow: bool, when: str) -> int:
        """Local followers of `origin` who allow it now follow `target`; how many moved."""

        def write() -> int:
            conn = self.db.conn
            rows = conn.execute(
                "SELECT f.follower_id, f.reblogs FROM follows f LEFT JOIN profiles p ON p.account_id = f.follower_id"
                " WHERE f.followed_id = ? AND f.state = 'accept' AND f.follower_id != ?"
                " AND COALESCE(p.allow_following_move, ?) = 1", (origin_id, target_id, int(default_allow))).fetchall()
            moved = 0
            for follower_id, reblogs in rows:
                blocked = conn.execute(
                    "SELECT 1 FROM user_relationships WHERE kind = 'block' AND ((source_id = ? AND target_id = ?)"
                    " OR (source_id = ? AND target_id = ?))", (target_id, follower_id, follower_id, target_id)
                ).fetchone()
                if blocked:
                    continue
                conn.execute("DELETE FROM follows WHERE follower_id = ? AND followed_id = ?", (follower_id, origin_id))
                conn.execute("INSERT INTO follows VALUES (?, ?, 'accept', ?, ?) ON CONFLICT (follower_id, followed_id)"
                             " DO UPDATE SET state = 'accept'", (follower_id, target_id, reblogs, when))
                moved += 1
            return moved

        return self.transaction(write)

    # -- remote accounts named in imports ---------------------------------------------------

    def add_remote_relationships(self, account_id: str, kind: str, handles: list[str], when: str) -> None:
        self.transaction(lambda: self.db.conn.executemany(
            "INSERT OR IGNORE INTO remote_relationships VALUES (?, ?, ?, ?)",
            [(account_id, kind, handle, when) for handle in handles]))

    def remote_relationships(self, account_id: str, kind: str) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT handle FROM remote_relationships WHERE account_id = ? AND kind = ? ORDER BY rowid",
            (account_id, kind))]
