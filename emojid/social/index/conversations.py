"""SQL of Pleroma conversations: a conversation per DM thread, a participation per account in it.

A participation keeps its own recipients, set from the first status it saw and
changed only by its owner (PATCH), never by later statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emojid.db import Tables
from emojid.ids import new_id


@dataclass(frozen=True)
class Participation:
    id: str
    conversation_id: str
    account_id: str
    read: bool
    context: str
    bumped: int


_PARTICIPATION = "p.id, p.conversation_id, p.account_id, p.read, c.context, p.bumped"
_FROM = "FROM participations p JOIN conversations c ON c.id = p.conversation_id"


def _participation(row: tuple) -> Participation:
    return Participation(str(row[0]), str(row[1]), row[2], bool(row[3]), row[4], row[5])


class ConversationsIndex(Tables):
    def _bump_conversation(self, context: str, author_id: str, members: list[str], when: str) -> None:
        """Inside a transaction: a direct status in `context` reached `members` (author included).

        Each member gets a participation (unread but for the author), recipients
        set once; a member who blocks another member is not bumped to unread."""
        conn = self.db.conn
        members = list(dict.fromkeys(members))
        conn.execute("INSERT OR IGNORE INTO conversations (id, context, created_at) VALUES (?, ?, ?)",
                     (int(new_id()), context, when))
        conversation_id = conn.execute("SELECT id FROM conversations WHERE context = ?", (context,)).fetchone()[0]
        marks = ",".join("?" * len(members))
        blockers = {r[0] for r in conn.execute(
            f"SELECT source_id FROM user_relationships WHERE kind = 'block' AND source_id IN ({marks})"
            f" AND target_id IN ({marks})", [*members, *members])}
        for account_id in members:
            read = account_id == author_id
            row = conn.execute("SELECT id FROM participations WHERE account_id = ? AND conversation_id = ?",
                               (account_id, conversation_id)).fetchone()
            if row is None:
                # A small serial id: Pleroma sends it as a JSON number (direct_conversation_id),
                # and 18-digit new_id()s would lose precision in JavaScript clients.
                participation_id = conn.execute(
                    "INSERT INTO participations (conversation_id, account_id, read, bumped) VALUES (?, ?, ?, ?)",
                    (conversation_id, account_id, int(read or account_id in blockers), int(new_id()))).lastrowid
            else:
                participation_id = row[0]
                if account_id in blockers:
                    conn.execute("UPDATE participations SET bumped = ? WHERE id = ?", (int(new_id()), row[0]))
                else:
                    conn.execute("UPDATE participations SET read = ?, bumped = ? WHERE id = ?",
                                 (int(read), int(new_id()), row[0]))
            has_recipients = conn.execute("SELECT 1 FROM participation_recipients WHERE participation_id = ?",
                                          (participation_id,)).fetchone()
            if not has_recipients:
                conn.executemany("INSERT OR IGNORE INTO participation_recipients VALUES (?, ?)",
                                 [(participation_id, m) for m in members])

    def participation(self, participation_id: int) -> Participation | None:
        rows = self.execute(f"SELECT {_PARTICIPATION} {_FROM} WHERE p.id = ?", (participation_id,))
        return _participation(rows[0]) if rows else None

    def participation_for(self, account_id: str, context: str) -> Participation | None:
        rows = self.execute(f"SELECT {_PARTICIPATION} {_FROM} WHERE p.account_id = ? AND c.context = ?",
                            (account_id, context))
        return _participation(rows[0]) if rows else None

    def participation_recipients(self, participation_id: int | str) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT account_id FROM participation_recipients WHERE participation_id = ? ORDER BY rowid",
            (int(participation_id),))]

    def set_participation_recipients(self, participation_id: int | str, owner_id: str, account_ids: list[str]) -> None:
        """Replace the recipients: known accounts of `account_ids`, and the owner always."""

        def write() -> None:
            conn = self.db.conn
            wanted = list(dict.fromkeys([owner_id, *account_ids]))
            marks = ",".join("?" * len(wanted))
            known = {r[0] for r in conn.execute(f"SELECT id FROM accounts WHERE id IN ({marks})", wanted)}
            conn.execute("DELETE FROM participation_recipients WHERE participation_id = ?", (int(participation_id),))
            conn.executemany("INSERT INTO participation_recipients VALUES (?, ?)",
                             [(int(participation_id), a) for a in wanted if a in known])

        self.transaction(write)

    def participation_page(self, account_id: str, page: Any, recipients: list[str] | None = None
                           ) -> list[tuple[int, Participation]]:
        """(paging key, participation) of an account, most recently bumped first.

        `recipients`: only conversations whose participants are exactly those accounts and the owner."""
        where, params = "", []
        if recipients is not None:
            wanted = sorted({account_id, *recipients})
            marks = ",".join("?" * len(wanted))
            where = (f" AND (SELECT COUNT(*) FROM participations q WHERE q.conversation_id = p.conversation_id) = ?"
                     f" AND (SELECT COUNT(*) FROM participations q WHERE q.conversation_id = p.conversation_id"
                     f" AND q.account_id IN ({marks})) = ?")
            params = [len(wanted), *wanted, len(wanted)]
        paging, paging_params, order = page.sql("p.bumped")
        rows = self.execute(f"SELECT p.bumped, {_PARTICIPATION} {_FROM} WHERE p.account_id = ?{where}{paging}{order}",
                            [account_id, *params, *paging_params])
        return page.arrange([(r[0], _participation(r[1:])) for r in rows])

    def mark_participation_read(self, participation_id: int | str, read: bool = True) -> None:
        self.transaction(lambda: self.db.conn.execute("UPDATE participations SET read = ? WHERE id = ?",
                                                      (int(read), int(participation_id))))

    def mark_all_participations_read(self, account_id: str) -> list[str]:
        """Mark every unread participation of an account read; their ids."""

        def write() -> list[str]:
            conn = self.db.conn
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM participations WHERE account_id = ? AND read = 0 ORDER BY bumped DESC", (account_id,))]
            conn.execute("UPDATE participations SET read = 1 WHERE account_id = ? AND read = 0", (account_id,))
            return [str(i) for i in ids]

        return self.transaction(write)

    def delete_participation(self, participation_id: int | str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM participations WHERE id = ?", (int(participation_id),)).rowcount))

    def unread_conversations(self, account_id: str) -> int:
        return self.execute("SELECT COUNT(*) FROM participations WHERE account_id = ? AND read = 0",
                            (account_id,))[0][0]
