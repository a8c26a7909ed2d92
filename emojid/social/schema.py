"""Tables of the social part: profiles, relationships, media, statuses, reactions,
conversations, notifications, events, scrobbles, bookmark folders, backups.

Plain functions: `emojid.migrations` applies them, in its one ordered list.
sqlite-utils records each by its function name, so names never change.
"""

from __future__ import annotations

import sqlite_utils

from emojid.db import run_script


def m0006_account_area(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- One row per local account that has changed anything; absent = defaults.
        CREATE TABLE profiles (
            account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            display_name TEXT,
            note TEXT NOT NULL DEFAULT '',                 -- as the user typed it
            fields TEXT NOT NULL DEFAULT '[]',             -- [{"name", "value"}], JSON
            avatar_id TEXT,                                -- media ids
            header_id TEXT,
            background_id TEXT,
            mascot_id TEXT,
            avatar_description TEXT NOT NULL DEFAULT '',
            header_description TEXT NOT NULL DEFAULT '',
            locked INTEGER NOT NULL DEFAULT 0,
            discoverable INTEGER NOT NULL DEFAULT 0,
            actor_type TEXT NOT NULL DEFAULT 'Person',
            default_scope TEXT NOT NULL DEFAULT 'public',
            flags TEXT NOT NULL DEFAULT '{}',              -- hide_followers & co, JSON
            allow_following_move INTEGER,                  -- NULL: the instance default
            birthday TEXT,
            language TEXT,
            notification_settings TEXT NOT NULL DEFAULT '{}',
            settings_store TEXT NOT NULL DEFAULT '{}',     -- app -> settings, JSON
            is_confirmed INTEGER NOT NULL DEFAULT 1,
            is_approved INTEGER NOT NULL DEFAULT 1,
            registration_reason TEXT,
            moved_to TEXT,                                 -- handle of the account moved to
            moved_to_ap_id TEXT,
            deleted_at TEXT
        );
        CREATE TABLE aliases (
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            ap_id TEXT NOT NULL,
            handle TEXT NOT NULL,                          -- nick@host
            created_at TEXT NOT NULL,
            PRIMARY KEY (account_id, ap_id)
        );
        CREATE TABLE moves (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            target_handle TEXT NOT NULL,
            target_ap_id TEXT NOT NULL,
            target_id TEXT,                                -- set when the target is local
            followers_moved INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE media (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            filename TEXT NOT NULL UNIQUE,                 -- under media_dir
            mime_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            focus TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX media_account ON media(account_id);
        CREATE TABLE follows (
            follower_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            followed_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            state TEXT NOT NULL,                           -- accept | pending
            reblogs INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            PRIMARY KEY (follower_id, followed_id)
        );
        CREATE INDEX follows_followed ON follows(followed_id);
        -- block, mute, notification_mute, subscription, endorsement: source -> target
        CREATE TABLE user_relationships (
            kind TEXT NOT NULL,
            source_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            target_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            expires_at TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (kind, source_id, target_id)
        );
        CREATE INDEX user_relationships_target ON user_relationships(target_id, kind);
        -- Imported follows/blocks/mutes of remote accounts, kept for when they can be resolved.
        CREATE TABLE remote_relationships (
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,                            -- follow | block | mute
            handle TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (account_id, kind, handle)
        );
        CREATE TABLE captchas (
            token TEXT PRIMARY KEY,
            answer TEXT NOT NULL,       -- short-lived and single use: kept as drawn
            answer_data TEXT NOT NULL,
            created REAL NOT NULL,      -- epoch seconds
            used INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE invites (
            token TEXT PRIMARY KEY,
            max_use INTEGER,
            uses INTEGER NOT NULL DEFAULT 0,
            expires_at TEXT,
            used INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE email_confirmations (
            account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            token_hash TEXT NOT NULL,
            sent TEXT NOT NULL DEFAULT '[]'    -- epoch seconds of recent sends, JSON
        );
        """
    )


def m0007_statuses(db: sqlite_utils.Database) -> None:
    # Ids are new_id() numbers kept as INTEGER so they sort and page as numbers;
    # the API always writes them as strings.
    run_script(
        db,
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


def m0008_events_area(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE bookmark_folders (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            emoji TEXT,                                    -- unicode, or ":shortcode:" of a local emoji
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (account_id, name)
        );
        CREATE TABLE scrobbles (
            id INTEGER PRIMARY KEY,                        -- new_id(), a number so it pages as one
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            artist TEXT,
            album TEXT,
            external_link TEXT,
            length INTEGER,
            visibility TEXT NOT NULL,                      -- public | unlisted | private | direct
            created_at TEXT NOT NULL
        );
        CREATE INDEX scrobbles_account ON scrobbles(account_id, id);
        CREATE TABLE backups (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            file_name TEXT NOT NULL UNIQUE,                -- under cache_dir/backups, served at /backups/
            content_type TEXT NOT NULL,
            file_size INTEGER NOT NULL DEFAULT 0,
            processed INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending',         -- pending | running | complete | failed
            inserted_at TEXT NOT NULL
        );
        CREATE INDEX backups_account ON backups(account_id, id);
        -- An event is a status (object_type 'Event') with these facts beside it, as in rebased.
        CREATE TABLE events (
            status_id INTEGER PRIMARY KEY REFERENCES statuses(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            start_time TEXT NOT NULL,                      -- ISO 8601, UTC
            end_time TEXT,
            join_mode TEXT NOT NULL,                       -- free | restricted
            location TEXT,                                 -- an ActivityStreams Place, JSON
            updated_at TEXT
        );
        -- Who joined (or asked to join) an event; the organizer is its first participant.
        CREATE TABLE event_participations (
            id INTEGER PRIMARY KEY,                        -- new_id(): joined_events and requests page on it
            status_id INTEGER NOT NULL REFERENCES events(status_id) ON DELETE CASCADE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            state TEXT NOT NULL,                           -- pending | accept | reject
            message TEXT,                                  -- the participation message
            created_at TEXT NOT NULL,
            UNIQUE (status_id, account_id)
        );
        CREATE INDEX event_participations_account ON event_participations(account_id, id);
        CREATE INDEX event_participations_state ON event_participations(status_id, state, id);
        """
    )
