"""AuthIndex: the auth part's tables (accounts, apps, tokens, codes, sessions, MFA)."""

from __future__ import annotations

from emojid.auth.index.accounts import AccountsIndex
from emojid.auth.index.login import OAuthIndex


class AuthIndex(AccountsIndex, OAuthIndex):
    """Secrets arrive here already hashed."""
