"""Migrations of the accounts area (profiles, relationships, media, mail, captchas)."""

from __future__ import annotations

from emojid.index.schema import migrations  # noqa: F401
