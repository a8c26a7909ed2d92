"""Migrations of the accounts area (profiles, relationships, media, mail, captchas)."""

from __future__ import annotations

import sqlite_utils

from emojid.index.schema import migrations


@migrations()
def m0006_account_area(db: sqlite_utils.Database) -> None:
    db.executescript(
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
