"""Tables of the emoji part: packs, emoji, archives, mirrors, sync jobs.

Plain functions: `emojid.migrations` applies them, in its one ordered list.
sqlite-utils records each by its function name, so names never change.
"""

from __future__ import annotations

import sqlite_utils


def m0001_packs(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE packs (
            name TEXT PRIMARY KEY,
            meta TEXT NOT NULL,              -- the "pack" object of pack.json, as JSON
            files TEXT NOT NULL,             -- shortcode -> filename, sorted, as JSON
            files_count INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,       -- pack.json bytes + listed files' size/mtime
            shareable INTEGER NOT NULL,      -- share-files true and every file present
            problems TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE emoji (
            pack TEXT NOT NULL REFERENCES packs(name) ON DELETE CASCADE,
            shortcode TEXT NOT NULL,
            filename TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (pack, shortcode)
        );
        CREATE INDEX emoji_shortcode ON emoji(shortcode);
        CREATE TABLE archives (
            pack TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,       -- the pack fingerprint the archive was built from
            sha256 TEXT NOT NULL,            -- uppercase hex, as Pleroma sends it
            path TEXT NOT NULL,
            size INTEGER NOT NULL
        );
        CREATE TABLE pack_errors (
            name TEXT PRIMARY KEY,
            error TEXT NOT NULL
        );
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        INSERT INTO state VALUES ('emoji_generation', 0);
        """
    )



def m0003_mirrors(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE mirrors (
            pack TEXT PRIMARY KEY,           -- the local pack name
            source_url TEXT NOT NULL,        -- the remote instance
            remote_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,            -- of the archive it was installed from
            fingerprint TEXT NOT NULL,       -- the local pack right after install
            installed_at TEXT NOT NULL
        );
        """
    )



def m0004_sync_jobs(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE sync_jobs (
            url TEXT PRIMARY KEY,
            last_run TEXT,
            result TEXT,                     -- ok | failed | conflict
            error TEXT,
            updated TEXT NOT NULL DEFAULT '[]',    -- packs installed or updated, JSON
            conflicts TEXT NOT NULL DEFAULT '[]',  -- packs held back by local edits, JSON
            failures INTEGER NOT NULL DEFAULT 0,   -- consecutive failed runs (backoff)
            next_run TEXT
        );
        """
    )
