"""Migrations of events, scrobbles, bookmark folders and backups."""

from __future__ import annotations

import sqlite_utils

from emojid.index.schema import migrations


@migrations()
def m0008_events_area(db: sqlite_utils.Database) -> None:
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
