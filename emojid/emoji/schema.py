"""Tables of the emoji part: packs, emoji, archives, mirrors, sync jobs, folders without pack.json,
file facts.

Plain functions: `emojid.migrations` applies them, in its one ordered list.
sqlite-utils records each by its function name, so names never change.
"""

from __future__ import annotations

import sqlite_utils

from emojid.db import run_script


def m0001_packs(db: sqlite_utils.Database) -> None:
    run_script(
        db,
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
    run_script(
        db,
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
    run_script(
        db,
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
    run_script(
        db,
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
    run_script(
        db,
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


def m0011_interchange(db: sqlite_utils.Database) -> None:
    # Per-emoji metadata (license, author, source: JSON; tags stay in `tags`), the search
    # index over shortcodes and tags, and where imported or mirrored packs came from.
    # The search tables are kept by triggers on emoji and loose_emoji, so every path that
    # writes those rows (refresh, reindex, removal) keeps them current in the same
    # transaction. Their keys are INTEGER PRIMARY KEYs: a VACUUM keeps them.
    run_script(
        db,
        """
        ALTER TABLE emoji ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';

        CREATE TABLE emoji_search_rows (
            id INTEGER PRIMARY KEY,
            loose INTEGER NOT NULL,          -- 1: a folder without pack.json
            pack TEXT NOT NULL,
            shortcode TEXT NOT NULL,
            filename TEXT NOT NULL,
            tags TEXT NOT NULL,              -- JSON list, as in emoji
            UNIQUE (loose, pack, shortcode)
        );
        CREATE INDEX emoji_search_rows_nocase ON emoji_search_rows(shortcode COLLATE NOCASE, pack);
        CREATE VIRTUAL TABLE emoji_search USING fts5(
            shortcode, content = 'emoji_search_rows', content_rowid = 'id', tokenize = 'trigram'
        );
        CREATE TABLE emoji_search_tags (
            tag TEXT NOT NULL COLLATE NOCASE,
            row INTEGER NOT NULL,
            PRIMARY KEY (tag, row)
        ) WITHOUT ROWID;

        CREATE TRIGGER emoji_search_rows_ai AFTER INSERT ON emoji_search_rows BEGIN
            INSERT INTO emoji_search(rowid, shortcode) VALUES (new.id, new.shortcode);
            INSERT OR IGNORE INTO emoji_search_tags(tag, row)
                SELECT value, new.id FROM json_each(CASE WHEN json_valid(new.tags) THEN new.tags ELSE '[]' END)
                WHERE type = 'text';
        END;
        CREATE TRIGGER emoji_search_rows_ad AFTER DELETE ON emoji_search_rows BEGIN
            INSERT INTO emoji_search(emoji_search, rowid, shortcode) VALUES ('delete', old.id, old.shortcode);
            DELETE FROM emoji_search_tags WHERE row = old.id;
        END;

        CREATE TRIGGER emoji_search_ai AFTER INSERT ON emoji BEGIN
            INSERT INTO emoji_search_rows(loose, pack, shortcode, filename, tags)
                VALUES (0, new.pack, new.shortcode, new.filename, new.tags);
        END;
        CREATE TRIGGER emoji_search_ad AFTER DELETE ON emoji BEGIN
            DELETE FROM emoji_search_rows WHERE loose = 0 AND pack = old.pack AND shortcode = old.shortcode;
        END;
        CREATE TRIGGER emoji_search_au AFTER UPDATE OF pack, shortcode, filename, tags ON emoji BEGIN
            DELETE FROM emoji_search_rows WHERE loose = 0 AND pack = old.pack AND shortcode = old.shortcode;
            INSERT INTO emoji_search_rows(loose, pack, shortcode, filename, tags)
                VALUES (0, new.pack, new.shortcode, new.filename, new.tags);
        END;
        CREATE TRIGGER loose_search_ai AFTER INSERT ON loose_emoji BEGIN
            INSERT INTO emoji_search_rows(loose, pack, shortcode, filename, tags)
                VALUES (1, new.folder, new.shortcode, new.filename, new.tags);
        END;
        CREATE TRIGGER loose_search_ad AFTER DELETE ON loose_emoji BEGIN
            DELETE FROM emoji_search_rows WHERE loose = 1 AND pack = old.folder AND shortcode = old.shortcode;
        END;
        CREATE TRIGGER loose_search_au AFTER UPDATE OF folder, shortcode, filename, tags ON loose_emoji BEGIN
            DELETE FROM emoji_search_rows WHERE loose = 1 AND pack = old.folder AND shortcode = old.shortcode;
            INSERT INTO emoji_search_rows(loose, pack, shortcode, filename, tags)
                VALUES (1, new.folder, new.shortcode, new.filename, new.tags);
        END;

        INSERT INTO emoji_search_rows(loose, pack, shortcode, filename, tags)
            SELECT 0, pack, shortcode, filename, tags FROM emoji;
        INSERT INTO emoji_search_rows(loose, pack, shortcode, filename, tags)
            SELECT 1, folder, shortcode, filename, tags FROM loose_emoji;

        CREATE TABLE pack_origins (
            id INTEGER PRIMARY KEY,
            pack TEXT NOT NULL,              -- the local pack
            kind TEXT NOT NULL,              -- mirror | import
            source TEXT NOT NULL,            -- the URL, or the file name, it came from
            remote_name TEXT,                -- a mirror: the pack's name over there
            format TEXT NOT NULL,            -- pleroma | mastodon | misskey
            sha256 TEXT NOT NULL,            -- uppercase hex of the archive
            emoji INTEGER NOT NULL,          -- how many emoji it brought
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX pack_origins_pack ON pack_origins(pack, id);

        -- Read every pack again at start-up, so metadata already in pack.json files is indexed.
        UPDATE packs SET fingerprint = '' WHERE name NOT IN (SELECT name FROM pack_errors);
        """
    )
