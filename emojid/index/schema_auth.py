"""Migrations of the authentication area (OAuth codes, sessions, MFA)."""

from __future__ import annotations

from emojid.index.schema import migrations  # noqa: F401
