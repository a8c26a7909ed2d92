"""Migrations of the statuses area (statuses, reactions, conversations, notifications, bookmarks)."""

from __future__ import annotations

from emojid.index.schema import migrations  # noqa: F401
