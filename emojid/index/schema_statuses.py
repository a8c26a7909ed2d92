"""Migrations of the statuses area (statuses, reactions, conversations, notifications, bookmarks)."""

from __future__ import annotations

import sqlite_utils

from emojid.index.schema import migrations


@migrations()
def m0007_statuses(db: sqlite_utils.Database) -> None:
    # Ids are new_id() numbers kept as INTEGER so they sort and page as numbers;
    # the API always writes them as strings.
    db.executescript(
        """
        CREATE TABLE statuses (
            id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            visibility TEXT NOT NULL,              -- public | unlisted | local | private | direct
            text TEXT NOT NULL,                    -- the source, as typed
            content TEXT NOT NULL,                 -- rendered HTML
            content_type TEXT NOT NULL DEFAULT 'text/plain',
            spoiler_text TEXT NOT NULL DEFAULT '',
            sensitive INTEGER NOT NULL DEFAULT 0,
            language TEXT,
            in_reply_to_id INTEGER,                -- kept after the parent is deleted (then rendered null)
            in_reply_to_account_id TEXT,
            quote_id INTEGER,
            context TEXT NOT NULL,                 -- the thread (Pleroma's context)
            object_type TEXT NOT NULL DEFAULT 'Note',
            extra TEXT NOT NULL DEFAULT '{}',      -- JSON kept for other areas (events, ...)
            created_at TEXT NOT NULL
        );
        CREATE INDEX statuses_account ON statuses(account_id, id);
        CREATE INDEX statuses_context ON statuses(context, id);
        CREATE INDEX statuses_reply ON statuses(in_reply_to_id);
        CREATE INDEX statuses_quote ON statuses(quote_id);
        -- Who a status addresses besides its author (mentions; a DM's recipients).
        CREATE TABLE status_mentions (
            status_id INTEGER NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            PRIMARY KEY (status_id, account_id)
        );
        CREATE INDEX status_mentions_account ON status_mentions(account_id, status_id);
        CREATE TABLE status_media (
            status_id INTEGER NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
            media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (status_id, media_id)
        );
        CREATE INDEX status_media_media ON status_media(media_id);
        CREATE TABLE status_tags (
            status_id INTEGER NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,                     -- lower case, without '#'
            PRIMARY KEY (status_id, tag)
        );
        CREATE INDEX status_tags_tag ON status_tags(tag, status_id);
        CREATE TABLE favourites (
            id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            status_id INTEGER NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            UNIQUE (account_id, status_id)
        );
        CREATE INDEX favourites_status ON favourites(status_id);
        CREATE TABLE bookmarks (
            id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            status_id INTEGER NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
            folder_id TEXT,                        -- a bookmark folder of the same account, or NULL
            created_at TEXT NOT NULL,
            UNIQUE (account_id, status_id)
        );
        CREATE INDEX bookmarks_folder ON bookmarks(folder_id);
        CREATE TABLE reactions (
            id INTEGER PRIMARY KEY,
            status_id INTEGER NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            emoji TEXT NOT NULL,                   -- fully qualified unicode, or a custom shortcode
            url TEXT,                              -- custom emoji only: its image at reaction time
            since INTEGER NOT NULL,                -- when this emoji was first used on the status: the order
            created_at TEXT NOT NULL,
            UNIQUE (status_id, account_id, emoji)
        );
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,   -- who is notified
            type TEXT NOT NULL,                    -- mention | status | favourite | pleroma:emoji_reaction | ...
            actor_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            status_id INTEGER REFERENCES statuses(id) ON DELETE CASCADE,
            emoji TEXT,
            emoji_url TEXT,
            seen INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX notifications_account ON notifications(account_id, id);
        CREATE INDEX notifications_status ON notifications(status_id);
        -- Pleroma conversations: one per DM thread, one participation per account in it.
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            context TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE participations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- small: sent as a JSON number (direct_conversation_id)
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            read INTEGER NOT NULL DEFAULT 0,
            bumped INTEGER NOT NULL,               -- a new_id() of the last bump: the listing order
            UNIQUE (account_id, conversation_id)
        );
        CREATE TABLE participation_recipients (
            participation_id INTEGER NOT NULL REFERENCES participations(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            PRIMARY KEY (participation_id, account_id)
        );
        """
    )
