"""Schema as named migrations. Never edit an applied one: add the next."""

from __future__ import annotations

import sqlite_utils

migrations = sqlite_utils.Migrations("emojid")


@migrations()
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


@migrations()
def m0002_accounts(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            nickname TEXT NOT NULL UNIQUE COLLATE NOCASE,
            email TEXT UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            is_admin INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE apps (
            id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL UNIQUE,
            client_secret TEXT NOT NULL,
            name TEXT NOT NULL,
            redirect_uris TEXT NOT NULL,
            scopes TEXT NOT NULL,
            website TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,     -- sha256 of the bearer token
            refresh_hash TEXT UNIQUE,
            account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
            app_id TEXT REFERENCES apps(id) ON DELETE CASCADE,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            valid_until TEXT
        );
        CREATE INDEX tokens_account ON tokens(account_id);
        """
    )


@migrations()
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


@migrations()
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


# Later areas keep their migrations in their own modules; importing them here
# registers them after the ones above, in this order.
from emojid.index import schema_auth  # noqa: E402,F401,I001
from emojid.index import schema_profiles  # noqa: E402,F401,I001
from emojid.index import schema_statuses  # noqa: E402,F401,I001
from emojid.index import schema_events  # noqa: E402,F401,I001
