"""Migrations of events, scrobbles, bookmark folders and backups."""

from __future__ import annotations

import sqlite_utils

from emojid.index.schema import migrations


@migrations()
def m0008_folders_scrobbles_backups(db: sqlite_utils.Database) -> None:
    db.executescript(
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
            id TEXT PRIMARY KEY,
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
        """
    )
