"""Migrations of events, scrobbles, bookmark folders and backups."""

from __future__ import annotations

from emojid.index.schema import migrations  # noqa: F401
