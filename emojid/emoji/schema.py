"""Tables of the emoji part: packs, emoji, archives, mirrors, sync jobs, folders without pack.json,
file facts.

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



def m0009_loose_folders(db: sqlite_utils.Database) -> None:
    # Folders without pack.json: in the global emoji lists as Pleroma's loader
    # reads them, never in the pack API until imported. Derived, like packs.
    db.executescript(
        """
        CREATE TABLE loose_folders (
            name TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,       -- of the emoji read from the folder
            emoji_count INTEGER NOT NULL
        );
        CREATE TABLE loose_emoji (
            folder TEXT NOT NULL REFERENCES loose_folders(name) ON DELETE CASCADE,
            shortcode TEXT NOT NULL,
            filename TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (folder, shortcode)
        );
        """
    )



def m0010_emoji_files(db: sqlite_utils.Database) -> None:
    # Facts about every file of every pack (and folder without pack.json), read when the
    # pack is indexed and kept while size and mtime_ns stay: lint and the static frames
    # read them here instead of opening 100k images again. Derived, like packs.
    db.executescript(
        """
        CREATE TABLE emoji_files (
            pack TEXT NOT NULL,              -- the pack (or folder without pack.json)
            filename TEXT NOT NULL,          -- relative to the pack folder
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,            -- lowercase hex of the bytes
            width INTEGER,                   -- NULL when the bytes are no image
            height INTEGER,
            frames INTEGER,                  -- > 1: animated (GIF, APNG, animated WebP)
            format TEXT,                     -- Pillow's name: PNG, GIF, WEBP, JPEG, ...
            problem TEXT,                    -- not_an_image | wrong_extension | NULL
            PRIMARY KEY (pack, filename)
        );
        CREATE INDEX emoji_files_sha256 ON emoji_files(sha256);
        """
    )
