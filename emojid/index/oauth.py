"""SQL of the authentication area: authorization codes, sessions, MFA."""

from __future__ import annotations


class OAuthIndex:
    pass
