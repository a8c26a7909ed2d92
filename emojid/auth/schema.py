"""Tables of the auth part: accounts, apps, tokens, OAuth codes, sessions, MFA.

Plain functions: `emojid.migrations` applies them, in its one ordered list.
sqlite-utils records each by its function name, so names never change.
"""

from __future__ import annotations

import sqlite_utils

from emojid.db import run_script


def m0002_accounts(db: sqlite_utils.Database) -> None:
    run_script(
        db,
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


def m0005_oauth_sessions_mfa(db: sqlite_utils.Database) -> None:
    # Every secret here (codes, session keys, MFA tokens, backup codes) is stored
    # as a SHA256 digest only. The TOTP secret cannot be: verifying needs it.
    run_script(
        db,
        """
        CREATE TABLE oauth_codes (
            id TEXT PRIMARY KEY,
            code_hash TEXT NOT NULL UNIQUE,
            app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            scopes TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            code_challenge TEXT,                 -- PKCE (RFC 7636)
            code_challenge_method TEXT,          -- S256 | plain
            created_at TEXT NOT NULL,
            valid_until TEXT NOT NULL,
            used_at TEXT,
            token_id TEXT                        -- what it was exchanged for; revoked on replay
        );
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,       -- sha256 of the _pleroma_key cookie
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            valid_until TEXT NOT NULL
        );
        CREATE INDEX sessions_account ON sessions(account_id);
        CREATE TABLE mfa (
            account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            enabled INTEGER NOT NULL DEFAULT 0,
            totp_secret TEXT,
            totp_confirmed INTEGER NOT NULL DEFAULT 0,
            totp_last_step INTEGER NOT NULL DEFAULT 0   -- no TOTP code is accepted twice
        );
        CREATE TABLE mfa_backup_codes (
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            code_hash TEXT NOT NULL,
            PRIMARY KEY (account_id, code_hash)
        );
        CREATE TABLE mfa_tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
            scopes TEXT NOT NULL,
            redirect_uri TEXT,                   -- set when the login began on /oauth/authorize
            state TEXT,
            code_challenge TEXT,
            code_challenge_method TEXT,
            created_at TEXT NOT NULL,
            valid_until TEXT NOT NULL
        );
        """
    )
