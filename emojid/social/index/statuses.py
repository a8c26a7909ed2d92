"""SQL of statuses: the rows, their mentions, media and tags, favourites, bookmarks, and timelines.

Who may read a status is decided here in SQL too (`visible_sql`), so timelines
never load what they would then throw away:

    public, unlisted   everyone (`local`: every signed-in account)
    private            the author, accepted followers, the accounts it mentions
    direct             the author and the accounts it addresses

and never when the author is deactivated or blocks the viewer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from emojid.db import Tables
from emojid.ids import now_iso
from emojid.social.index.notifications import Notice
from emojid.social.paging import Page

PUBLIC_LIKE = ("public", "unlisted", "local")
_LIVE = "(r.expires_at IS NULL OR r.expires_at > ?)"
_ONLY_MEDIA = " AND EXISTS (SELECT 1 FROM status_media sm WHERE sm.status_id = s.id)"


@dataclass(frozen=True)
class Status:
    """One status row. Ids are strings (as the API writes them); `extra` is other areas' JSON."""

    id: str
    account_id: str
    visibility: str
    text: str
    content: str
    content_type: str
    spoiler_text: str
    sensitive: bool
    language: str | None
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    quote_id: str | None
    context: str
    object_type: str
    extra: dict = field(default_factory=dict)
    created_at: str = ""


_COLUMNS = ("s.id, s.account_id, s.visibility, s.text, s.content, s.content_type, s.spoiler_text, s.sensitive,"
            " s.language, s.in_reply_to_id, s.in_reply_to_account_id, s.quote_id, s.context, s.object_type,"
            " s.extra, s.created_at")


def _status(row: tuple) -> Status:
    return Status(str(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]), row[8],
                  None if row[9] is None else str(row[9]), row[10], None if row[11] is None else str(row[11]),
                  row[12], row[13], json.loads(row[14] or "{}"), row[15])


def visible_sql(viewer_id: str | None, now: str) -> tuple[str, list]:
    """A condition on `s` (statuses) joined with `a` (its author's account): may the viewer read it."""
    if viewer_id is None:
        return "(a.disabled = 0 AND s.visibility IN ('public', 'unlisted'))", []
    condition = (
        "(a.disabled = 0 AND (s.visibility IN ('public', 'unlisted', 'local') OR s.account_id = ?"
        " OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = ?)"
        " OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ?"
        "     AND f.followed_id = s.account_id AND f.state = 'accept')))"
        " AND NOT EXISTS (SELECT 1 FROM user_relationships r WHERE r.kind = 'block' AND r.source_id = s.account_id"
        f"     AND r.target_id = ? AND {_LIVE}))")
    return condition, [viewer_id, viewer_id, viewer_id, viewer_id, now]


def quiet_sql(viewer_id: str | None, now: str, with_muted: bool) -> tuple[str, list]:
    """For timelines: leave out authors the viewer blocks (and mutes, unless asked) and blockers of the viewer."""
    if viewer_id is None:
        return "", []
    kinds = "('block')" if with_muted else "('block', 'mute')"
    condition = (
        " AND (s.account_id = ? OR (NOT EXISTS (SELECT 1 FROM user_relationships r WHERE r.source_id = ?"
        f"     AND r.target_id = s.account_id AND r.kind IN {kinds} AND {_LIVE})"
        " AND NOT EXISTS (SELECT 1 FROM user_relationships r WHERE r.source_id = s.account_id AND r.target_id = ?"
        f"     AND r.kind = 'block' AND {_LIVE})))")
    return condition, [viewer_id, viewer_id, now, viewer_id, now]


@dataclass(frozen=True)
class NewStatus:
    """What Statuses.create() hands the index to write, in one transaction."""

    account_id: str
    visibility: str
    text: str
    content: str
    content_type: str
    spoiler_text: str
    sensitive: bool
    language: str | None
    in_reply_to_id: int | None
    in_reply_to_account_id: str | None
    quote_id: int | None
    context: str
    object_type: str
    extra: dict
    mentions: list[str]
    media_ids: list[str]
    tags: list[str]


class StatusesIndex(Tables):
    # NotificationsIndex's and ConversationsIndex's, written in a status's transaction
    # (all are mixins of SocialIndex).
    _insert_notice: Callable[[Notice, str], None]
    _bump_conversation: Callable[[str, str, list[str], str], None]

    # -- statuses ----------------------------------------------------------------

    def insert_status(self, status_id: int, new: NewStatus, when: str, notices: Sequence[Notice] = ()) -> Status:
        """Write a status with its mentions, media, tags and `notices` (Notice rows) in one transaction;
        a direct one also starts or bumps its conversation."""

        def write() -> Status:
            conn = self.db.conn
            conn.execute(
                "INSERT INTO statuses (id, account_id, visibility, text, content, content_type, spoiler_text,"
                " sensitive, language, in_reply_to_id, in_reply_to_account_id, quote_id, context, object_type,"
                " extra, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (status_id, new.account_id, new.visibility, new.text, new.content, new.content_type,
                 new.spoiler_text, int(new.sensitive), new.language, new.in_reply_to_id,
                 new.in_reply_to_account_id, new.quote_id, new.context, new.object_type,
                 json.dumps(new.extra, ensure_ascii=False), when))
            conn.executemany("INSERT OR IGNORE INTO status_mentions VALUES (?, ?)",
                             [(status_id, a) for a in new.mentions])
            conn.executemany("INSERT INTO status_media VALUES (?, ?, ?)",
                             [(status_id, m, i) for i, m in enumerate(new.media_ids)])
            conn.executemany("INSERT OR IGNORE INTO status_tags VALUES (?, ?)", [(status_id, t) for t in new.tags])
            for notice in notices:
                self._insert_notice(notice, when)
            if new.visibility == "direct":
                self._bump_conversation(new.context, new.account_id, [new.account_id, *new.mentions], when)
            row = conn.execute(f"SELECT {_COLUMNS} FROM statuses s WHERE s.id = ?", (status_id,)).fetchone()
            return _status(row)

        return self.transaction(write)

    def status_by_id(self, status_id: int | str) -> Status | None:
        rows = self.execute(f"SELECT {_COLUMNS} FROM statuses s WHERE s.id = ?", (int(status_id),))
        return _status(rows[0]) if rows else None

    def visible_status(self, status_id: int | str, viewer_id: str | None) -> Status | None:
        condition, params = visible_sql(viewer_id, now_iso())
        rows = self.execute(f"SELECT {_COLUMNS} FROM statuses s JOIN accounts a ON a.id = s.account_id"
                            f" WHERE s.id = ? AND {condition}", [int(status_id), *params])
        return _status(rows[0]) if rows else None

    def delete_status(self, status_id: int | str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM statuses WHERE id = ?", (int(status_id),)).rowcount))

    def status_mentions(self, status_id: int | str) -> list[str]:
        return [r[0] for r in self.execute("SELECT account_id FROM status_mentions WHERE status_id = ? ORDER BY rowid",
                                           (int(status_id),))]

    def status_media_ids(self, status_id: int | str) -> list[str]:
        return [r[0] for r in self.execute("SELECT media_id FROM status_media WHERE status_id = ? ORDER BY position",
                                           (int(status_id),))]

    def status_tags(self, status_id: int | str) -> list[str]:
        return [r[0] for r in self.execute("SELECT tag FROM status_tags WHERE status_id = ? ORDER BY rowid",
                                           (int(status_id),))]

    def status_counts(self, status_id: int | str) -> tuple[int, int, int]:
        """(replies that are public or unlisted, favourites, quotes) of a status."""
        sid = int(status_id)
        row = self.execute(
            "SELECT (SELECT COUNT(*) FROM statuses WHERE in_reply_to_id = ? AND visibility IN"
            " ('public', 'unlisted', 'local')), (SELECT COUNT(*) FROM favourites WHERE status_id = ?),"
            " (SELECT COUNT(*) FROM statuses WHERE quote_id = ? AND visibility IN ('public', 'unlisted', 'local'))",
            (sid, sid, sid))[0]
        return row[0], row[1], row[2]

    def statuses_count(self, account_id: str) -> int:
        return self.execute("SELECT COUNT(*) FROM statuses WHERE account_id = ?", (account_id,))[0][0]

    def local_status_count(self) -> int:
        """The instance's posts, as Pleroma counts them (its users' note_count): public, unlisted and local ones."""
        marks = ", ".join("?" * len(PUBLIC_LIKE))
        return int(self.execute(f"SELECT COUNT(*) FROM statuses WHERE visibility IN ({marks})", PUBLIC_LIKE)[0][0])

    # -- timelines ------------------------------------------------------------------

    def _status_page(self, viewer_id: str | None, where: str, params: list, page: Page, *,
                     with_muted: bool = True, join: str = "", key: str = "s.id") -> list[tuple[int, Status]]:
        """(paging key, status) of statuses the viewer may read matching `where`, newest first."""
        now = now_iso()
        visible, visible_params = visible_sql(viewer_id, now)
        quiet, quiet_params = quiet_sql(viewer_id, now, with_muted)
        paging, paging_params, order = page.sql(key)
        rows = self.execute(
            f"SELECT {key}, {_COLUMNS} FROM statuses s JOIN accounts a ON a.id = s.account_id {join}"
            f" WHERE ({where}) AND {visible}{quiet}{paging}{order}",
            [*params, *visible_params, *quiet_params, *paging_params])
        return page.arrange([(r[0], _status(r[1:])) for r in rows])

    def home_page(self, viewer_id: str, page: Page, *, with_muted: bool = False) -> list[tuple[int, Status]]:
        """The viewer's own statuses, those of accounts it follows, and those mentioning it."""
        where = ("s.account_id = ? OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ?"
                 " AND f.followed_id = s.account_id AND f.state = 'accept')"
                 " OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = ?)")
        return self._status_page(viewer_id, where, [viewer_id] * 3, page, with_muted=with_muted)

    def public_page(self, viewer_id: str | None, page: Page, *, only_media: bool = False,
                    with_muted: bool = False) -> list[tuple[int, Status]]:
        where = "s.visibility IN ('public', 'local')" + (_ONLY_MEDIA if only_media else "")
        return self._status_page(viewer_id, where, [], page, with_muted=with_muted)

    def account_page(self, viewer_id: str | None, author_id: str, page: Page, *, only_media: bool = False,
                     exclude_replies: bool = False, tag: str | None = None) -> list[tuple[int, Status]]:
        """An author's statuses; `tag`: only those with that (normalised) hashtag."""
        where, params = "s.account_id = ?", [author_id]
        if only_media:
            where += _ONLY_MEDIA
        if exclude_replies:
            where += " AND s.in_reply_to_id IS NULL"
        if tag is not None:
            where += " AND EXISTS (SELECT 1 FROM status_tags t WHERE t.status_id = s.id AND t.tag = ?)"
            params.append(tag)
        return self._status_page(viewer_id, where, params, page, with_muted=True)

    def quotes_page(self, viewer_id: str | None, status_id: int | str, page: Page) -> list[tuple[int, Status]]:
        return self._status_page(viewer_id, "s.quote_id = ?", [int(status_id)], page)

    def thread_page(self, viewer_id: str, context: str, page: Page, *, direct_only: bool = False,
                    with_muted: bool = True) -> list[tuple[int, Status]]:
        """The statuses of one thread (`context`); `direct_only`: its direct ones."""
        where = "s.context = ? AND s.visibility = 'direct'" if direct_only else "s.context = ?"
        return self._status_page(viewer_id, where, [context], page, with_muted=with_muted)

    def context_statuses(self, context: str, viewer_id: str | None) -> list[Status]:
        now = now_iso()
        visible, params = visible_sql(viewer_id, now)
        quiet, quiet_params = quiet_sql(viewer_id, now, True)
        rows = self.execute(f"SELECT {_COLUMNS} FROM statuses s JOIN accounts a ON a.id = s.account_id"
                            f" WHERE s.context = ? AND {visible}{quiet} ORDER BY s.id",
                            [context, *params, *quiet_params])
        return [_status(r) for r in rows]

    def account_status_ids(self, account_id: str) -> list[str]:
        """Every status of an account, oldest first (for backups)."""
        return [str(r[0]) for r in self.execute("SELECT id FROM statuses WHERE account_id = ? ORDER BY id",
                                                (account_id,))]

    # -- favourites ------------------------------------------------------------------

    def add_favourite(self, favourite_id: int, account_id: str, status_id: int | str, when: str,
                      notice: Notice | None = None) -> bool:
        """True when it is new; only then is `notice` written, in the same transaction."""

        def write() -> bool:
            added = self.db.conn.execute("INSERT OR IGNORE INTO favourites VALUES (?, ?, ?, ?)",
                                         (favourite_id, account_id, int(status_id), when)).rowcount
            if added and notice is not None:
                self._insert_notice(notice, when)
            return bool(added)

        return self.transaction(write)

    def remove_favourite(self, account_id: str, status_id: int | str) -> bool:
        def write() -> bool:
            conn = self.db.conn
            removed = conn.execute("DELETE FROM favourites WHERE account_id = ? AND status_id = ?",
                                   (account_id, int(status_id))).rowcount
            conn.execute("DELETE FROM notifications WHERE type = 'favourite' AND actor_id = ? AND status_id = ?",
                         (account_id, int(status_id)))
            return bool(removed)

        return self.transaction(write)

    def favourited(self, account_id: str, status_id: int | str) -> bool:
        return bool(self.execute("SELECT 1 FROM favourites WHERE account_id = ? AND status_id = ?",
                                 (account_id, int(status_id))))

    def favourited_by(self, status_id: int | str) -> list[str]:
        return [r[0] for r in self.execute("SELECT account_id FROM favourites WHERE status_id = ? ORDER BY id DESC",
                                           (int(status_id),))]

    def favourites_page(self, viewer_id: str, page: Page) -> list[tuple[int, Status]]:
        """The viewer's favourites, paged by when they were made."""
        return self._status_page(viewer_id, "fav.account_id = ?", [viewer_id], page,
                                 join="JOIN favourites fav ON fav.status_id = s.id", key="fav.id")

    def favourited_by_page(self, viewer_id: str | None, account_id: str, page: Page) -> list[tuple[int, Status]]:
        """Another account's favourites the viewer may read, paged by status id."""
        where = "EXISTS (SELECT 1 FROM favourites fav WHERE fav.status_id = s.id AND fav.account_id = ?)"
        return self._status_page(viewer_id, where, [account_id], page)

    def account_favourite_ids(self, account_id: str) -> list[str]:
        """Ids of the statuses an account favourited, oldest favourite first (for backups)."""
        return [str(r[0]) for r in self.execute("SELECT status_id FROM favourites WHERE account_id = ? ORDER BY id",
                                                (account_id,))]

    # -- bookmarks -------------------------------------------------------------------

    def put_bookmark(self, bookmark_id: int, account_id: str, status_id: int | str, folder_id: str | None,
                     when: str) -> None:
        """Bookmark (again): a bookmark that exists moves to `folder_id`."""
        self.transaction(lambda: self.db.conn.execute(
            "INSERT INTO bookmarks VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, status_id)"
            " DO UPDATE SET folder_id = excluded.folder_id",
            (bookmark_id, account_id, int(status_id), folder_id, when)))

    def remove_bookmark(self, account_id: str, status_id: int | str) -> bool:
        return bool(self.transaction(lambda: self.db.conn.execute(
            "DELETE FROM bookmarks WHERE account_id = ? AND status_id = ?", (account_id, int(status_id))).rowcount))

    def bookmark_of(self, account_id: str, status_id: int | str) -> tuple[bool, str | None]:
        """(bookmarked, its folder id)."""
        rows = self.execute("SELECT folder_id FROM bookmarks WHERE account_id = ? AND status_id = ?",
                            (account_id, int(status_id)))
        return (True, rows[0][0]) if rows else (False, None)

    def bookmarks_page(self, viewer_id: str, page: Page, folder_id: str | None = None) -> list[tuple[int, Status]]:
        """The viewer's bookmarks (in `folder_id` only, when given), paged by when they were made."""
        where, params = "b.account_id = ?", [viewer_id]
        if folder_id is not None:
            where += " AND b.folder_id = ?"
            params.append(folder_id)
        return self._status_page(viewer_id, where, params, page,
                                 join="JOIN bookmarks b ON b.status_id = s.id", key="b.id")

    def account_bookmarks(self, account_id: str) -> list[tuple[str, str | None]]:
        """(status id, folder id) of every bookmark of an account, oldest first (for backups)."""
        return [(str(r[0]), r[1]) for r in self.execute(
            "SELECT status_id, folder_id FROM bookmarks WHERE account_id = ? ORDER BY id", (account_id,))]

    # -- who hears of a new status ------------------------------------------------------

    def subscribers(self, account_id: str) -> list[str]:
        """Accounts subscribed to `account_id`'s statuses (Pleroma's subscriptions), active only."""
        return [r[0] for r in self.execute(
            "SELECT r.source_id FROM user_relationships r JOIN accounts a ON a.id = r.source_id"
            f" WHERE r.kind = 'subscription' AND r.target_id = ? AND a.disabled = 0 AND {_LIVE}",
            (account_id, now_iso()))]
