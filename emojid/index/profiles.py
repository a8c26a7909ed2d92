"""SQL of the accounts area: profiles, relationships, media, captchas, settings."""

from __future__ import annotations


class ProfilesIndex:
    pass
