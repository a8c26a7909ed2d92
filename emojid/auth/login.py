"""The login side of OAuth: password checks (throttled), authorization codes with
PKCE, browser sessions behind the `_pleroma_key` cookie, and MFA tokens.

Every secret handed out here is random and stored only as a SHA256 digest,
like the bearer tokens of `emojid.accounts`. Methods without `async` block
(SQLite, argon2): call them from a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

import anyio.to_thread

from emojid.auth.accounts import Accounts, token_digest, verify_password
from emojid.auth.index.accounts import Account, App, Token
from emojid.auth.index.login import AuthCode, MfaToken, Session, now_utc
from emojid.auth.mfa import MFA
from emojid.auth.ratelimit import LoginLimiter
from emojid.errors import BadRequest
from emojid.ids import new_id, now_iso

CODE_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(days=30)
MFA_TOKEN_LIFETIME = timedelta(minutes=5)  # Pleroma's
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
PKCE_METHODS = ("S256", "plain")
# Why an account with the right password still may not log in: Pleroma's texts.
REFUSALS = {
    "disabled": ("Your account is currently disabled", "account_is_disabled"),
    "confirmation": ("Your login is missing a confirmed e-mail address", "missing_confirmed_email"),
    "approval": ("Your account is awaiting approval.", "awaiting_approval"),
}
# RFC 7636 4.1: a verifier (and a plain challenge) is 43-128 unreserved characters.
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def _until(lifetime: timedelta) -> str:
    return (datetime.now(UTC) + lifetime).isoformat(timespec="seconds")


def pkce_request(challenge: str | None, method: str | None) -> tuple[str | None, str | None]:
    """The (challenge, method) to store with a code; BadRequest if malformed."""
    if not challenge:
        return None, None
    method = method or "plain"  # RFC 7636 4.3: no method means plain
    if method not in PKCE_METHODS:
        raise BadRequest("Unsupported code_challenge_method (S256 or plain)")
    if not _PKCE_VALUE.match(challenge):
        raise BadRequest("Invalid code_challenge")
    return challenge, method


def pkce_matches(challenge: str, method: str | None, verifier: str | None) -> bool:
    if not verifier or not _PKCE_VALUE.match(verifier):
        return False
    if method == "S256":
        verifier = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(verifier, challenge)


def scope_list(raw: str | list[object] | None) -> list[str] | None:
    """Scopes as Pleroma reads them: a list or a space/comma separated string; None if absent."""
    if raw is None:
        return None
    words = raw if isinstance(raw, list) else re.split(r"[\s,]+", raw.strip())
    return [w for w in words if isinstance(w, str) and w]


class OAuth:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.index = accounts.index
        self.mfa = MFA(accounts.index)
        self.limiter = LoginLimiter()
        # Requests waiting for a password check wait here, not in a worker thread each
        # (argon2 itself runs on two threads: emojid.auth.accounts).
        self.hashing = anyio.CapacityLimiter(2)

    # -- throttled checks of what a person knows and has ----------------------------

    def find_account(self, name: str) -> Account | None:
        """By nickname or, as Pleroma allows, by email."""
        account = self.index.account_by_nickname(name) if name else None
        if account is None and "@" in name:
            account = self.index.account_by_email(name)
        return account

    async def login(self, name: str | None, password: str | None, address: str | None) -> Account | None:
        """The account if the password is right (disabled ones included: callers say so),
        else None. Raises Throttled once the account or the address failed too often."""
        name, password = name or "", password or ""
        account = await anyio.to_thread.run_sync(self.find_account, name)
        key = f"id:{account.id}" if account else f"name:{name}"
        attempt = self.limiter.attempt(key, address)  # counted now: racing guesses share the budget
        # An unknown name costs the same argon2 work as a wrong password.
        if not await self._verify(account.password_hash if account else None, password) or account is None:
            self.limiter.missed(attempt)
            return None
        self.limiter.passed(attempt)
        return account

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        return await anyio.to_thread.run_sync(verify_password, password_hash, password, limiter=self.hashing)

    def refusal(self, account: Account) -> tuple[str, str] | None:
        """(error, identifier) if the account may not log in now: disabled, or its
        email not confirmed or its registration not approved yet."""
        reason = "disabled" if account.disabled else self.accounts.pending_reason(account.id)
        return REFUSALS[reason] if reason else None

    async def confirm_password(self, account: Account, password: str | None, address: str | None) -> bool:
        """The current password, as endpoints that change security settings ask for it."""
        attempt = self.limiter.attempt(f"id:{account.id}", address)
        if await self._verify(account.password_hash, password or ""):
            self.limiter.passed(attempt)
            return True
        self.limiter.missed(attempt)
        return False

    async def second_factor(self, account_id: str, challenge_type: str | None, code: str | None,
                            address: str | None) -> bool:
        # A count of its own: a right password (which clears the password count)
        # must not buy more guesses at the code.
        attempt = self.limiter.attempt(f"mfa:{account_id}", address)
        if await anyio.to_thread.run_sync(self.mfa.verify, account_id, challenge_type, code):
            self.limiter.passed(attempt)
            return True
        self.limiter.missed(attempt)
        return False

    # -- authorization codes ----------------------------------------------------------

    def create_code(self, account: Account, app_id: str, scopes: str, redirect_uri: str,
                    challenge: str | None = None, method: str | None = None) -> str:
        raw = secrets.token_urlsafe(32)
        code = AuthCode(new_id(), app_id, account.id, scopes, redirect_uri, challenge, method,
                        now_iso(), _until(CODE_LIFETIME), None, None)
        self.index.insert_code(code, token_digest(raw))
        return raw

    def exchange_code(self, app: App, raw: str, redirect_uri: str | None,
                      verifier: str | None) -> tuple[str, str, Token, Account] | None:
        """(access, refresh, token, account) for a valid code, spending it; None otherwise."""
        code = self.index.code_by_hash(token_digest(raw))
        if code is None or code.app_id != app.id:
            return None
        if code.used_at is not None:
            # RFC 6749 4.1.2: a code used twice revokes the token it was exchanged for.
            if code.token_id:
                self.index.delete_token(code.token_id)
            return None
        if code.valid_until < now_utc():
            return None
        if redirect_uri is not None and not hmac.compare_digest(redirect_uri, code.redirect_uri):
            return None
        if code.code_challenge and not pkce_matches(code.code_challenge, code.code_challenge_method, verifier):
            return None
        account = self.index.account_by_id(code.account_id)
        if account is None or self.refusal(account):
            return None
        if not self.index.spend_code(code.id, now_iso()):
            return None  # another request spent it a moment ago
        access, refresh, token = self.accounts.issue_token(account, app, code.scopes)
        self.index.set_code_token(code.id, token.id)
        return access, refresh, token, account

    # -- browser sessions (the _pleroma_key cookie) ----------------------------------

    # A session holds the scopes granted by the login that opened it, no more: the key
    # is `<random>.<base64url of the scopes>`, and only its digest is stored, so the
    # scopes part cannot be changed without the key no longer naming a session.

    def create_session(self, account: Account, scopes: str, replacing: str | None = None) -> str:
        """A new session key (never the old one: no fixation); the session it replaces ends."""
        if replacing:
            old = self.index.session_by_hash(token_digest(replacing))
            if old is not None:
                self.index.delete_session(old.id)
        granted = base64.urlsafe_b64encode(" ".join(scopes.split()).encode()).rstrip(b"=").decode()
        raw = f"{secrets.token_urlsafe(32)}.{granted}"
        self.index.insert_session(Session(new_id(), account.id, now_iso(), _until(SESSION_LIFETIME)),
                                  token_digest(raw))
        return raw

    def session(self, raw: str) -> tuple[Account, frozenset[str]] | None:
        """The account a session key speaks for, with the scopes its login granted."""
        _secret, dot, granted = raw.partition(".")
        if not dot:
            return None  # a session from before sessions held scopes: log in again
        session = self.index.session_by_hash(token_digest(raw))
        if session is None or session.valid_until < now_utc():
            return None
        try:
            scopes = base64.urlsafe_b64decode(granted + "=" * (-len(granted) % 4)).decode()
        except (binascii.Error, ValueError):
            return None
        account = self.index.account_by_id(session.account_id)
        if account is None or self.refusal(account):
            return None
        return account, frozenset(scopes.split())

    def session_account(self, raw: str) -> Account | None:
        found = self.session(raw)
        return found[0] if found else None

    # -- MFA tokens: a login that passed the password and waits for its second factor --

    def create_mfa_token(self, account: Account, app_id: str, scopes: str, redirect_uri: str | None = None,
                         state: str | None = None, challenge: str | None = None,
                         method: str | None = None) -> str:
        raw = secrets.token_urlsafe(32)
        token = MfaToken(new_id(), account.id, app_id, scopes, redirect_uri, state, challenge, method,
                         now_iso(), _until(MFA_TOKEN_LIFETIME))
        self.index.insert_mfa_token(token, token_digest(raw))
        return raw

    def mfa_token(self, raw: str | None) -> MfaToken | None:
        if not raw:
            return None
        token = self.index.mfa_token_by_hash(token_digest(raw))
        if token is None or token.valid_until < now_utc():
            return None
        return token


def csrf_token(session_key: str) -> str:
    """A session's CSRF token, derived from the session key that only the browser holds:
    the consent form carries it, and every state change made with the session cookie
    must send it (`X-CSRF-Token`, or `_csrf_token`: see `emojid.auth.callers`)."""
    return hashlib.sha256(f"emojid-consent:{session_key}".encode()).hexdigest()
