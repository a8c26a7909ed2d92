"""The one ordered list of schema migrations, across the parts.

Never edit an applied migration: add the next one at the end. sqlite-utils
records each by its function name, so the names never change.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from emojid.auth import schema as auth
from emojid.db import Database
from emojid.emoji import schema as emoji
from emojid.social import schema as social

ORDER = [
    emoji.m0001_packs,
    auth.m0002_accounts,
    emoji.m0003_mirrors,
    emoji.m0004_sync_jobs,
    auth.m0005_oauth_sessions_mfa,
    social.m0006_account_area,
    social.m0007_statuses,
    social.m0008_events_area,
    emoji.m0009_loose_folders,
    emoji.m0010_emoji_files,
    emoji.m0011_interchange,
]


def migrations() -> sqlite_utils.Migrations:
    steps = sqlite_utils.Migrations("emojid")
    for step in ORDER:
        steps()(step)
    return steps


def open_database(path: Path) -> Database:
    """The one SQLite database, created or brought up to date."""
    return Database(path, migrations())
