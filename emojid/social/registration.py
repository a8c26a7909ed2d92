"""Sign-up: open registrations or invites, captcha, email confirmation, approval.

Validation errors are Pleroma's: a JSON object of field -> messages serialised
into the error string, e.g. `{"nickname":["has already been taken"]}`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from emojid.auth.accounts import NICKNAME, hash_password, token_digest
from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest, Conflict, Forbidden
from emojid.ids import new_id, now_iso
from emojid.social.captcha import Captchas
from emojid.social.credentials import EMAIL
from emojid.social.index import SocialIndex
from emojid.social.index.registration import Invite
from emojid.social.mailer import Mailer

log = logging.getLogger("emojid.registration")

# Pleroma's restricted_nicknames: paths and words a nickname must not take.
RESTRICTED = {
    ".well-known", "~", "about", "activities", "api", "auth", "check_password", "dev", "friend-requests",
    "inbox", "internal", "main", "media", "nodeinfo", "notice", "oauth", "objects", "ostatus_subscribe",
    "pleroma", "proxy", "push", "registration", "relay", "settings", "status", "tag", "user-search",
    "user_exists", "users", "web", "verify_credentials", "update_credentials", "relationships", "search",
    "confirmation_resend", "mfa", "images", "emoji",
}
NAME_LIMIT, BIO_LIMIT, REASON_LIMIT = 100, 5000, 500
# At most this many confirmation mails per account per hour.
MAILS_PER_HOUR = 5


def field_errors(errors: dict[str, list[str]]) -> BadRequest:
    return BadRequest(json.dumps(errors, separators=(",", ":")))


@dataclass(frozen=True)
class SignUp:
    nickname: str | None
    password: str | None
    email: str | None
    fullname: str | None = None
    bio: str = ""
    reason: str | None = None
    invite: str | None = None
    confirm: str | None = None  # the 2019 form's password confirmation


@dataclass(frozen=True)
class Registered:
    account: Account
    pending: str | None  # None, "confirmation" or "approval"


class Registration:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.instance = config.instance
        self.captchas = Captchas(index, config)
        self.mailer = Mailer(config)

    def check_open(self, invite: str | None) -> str | None:
        """The invite to use (None when registrations are open); raises when sign-up is refused."""
        if self.instance.registrations_open:
            return None
        if not self.instance.invites_enabled:
            raise Forbidden("Registrations are closed")
        row = self.index.invite(invite) if invite else None
        if row is None:
            raise BadRequest("Invalid token")
        if not self._invite_valid(row):
            raise BadRequest("Expired token")
        return row.token

    @staticmethod
    def _invite_valid(invite: Invite) -> bool:
        if invite.used or (invite.max_use is not None and invite.uses >= invite.max_use):
            return False
        if invite.expires_at:
            today = datetime.now(UTC).date().isoformat()
            return invite.expires_at[:10] >= today
        return True

    def _validate(self, signup: SignUp) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}

        def add(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        nickname = signup.nickname or ""
        if not nickname:
            add("nickname", "can't be blank")
        elif nickname.lower() in RESTRICTED:
            add("nickname", "Invalid nickname")
        elif not NICKNAME.match(nickname):
            add("nickname", "has invalid format")
        elif self.index.account_by_nickname(nickname):
            add("nickname", "has already been taken")
        if not signup.password:
            add("password", "can't be blank")
        if signup.confirm is not None and signup.confirm != signup.password:
            add("password_confirmation", "does not match confirmation")
        email = signup.email or ""
        if email:
            if not EMAIL.match(email):
                add("email", "has invalid format")
            elif self.index.account_by_email(email):
                add("email", "has already been taken")
        elif self.instance.account_activation_required:
            add("email", "can't be blank")
        name = signup.fullname if signup.fullname is not None else nickname
        if len(name) > NAME_LIMIT:
            add("name", f"should be at most {NAME_LIMIT} character(s)")
        if len(signup.bio) > BIO_LIMIT:
            add("bio", f"should be at most {BIO_LIMIT} character(s)")
        if signup.reason and len(signup.reason) > REASON_LIMIT:
            add("registration_reason", f"should be at most {REASON_LIMIT} character(s)")
        return errors

    def register(self, signup: SignUp, captcha_params: dict) -> Registered:
        self.captchas.validate(captcha_params)
        invite = self.check_open(signup.invite)
        errors = self._validate(signup)
        if errors:
            raise field_errors(errors)
        confirmed = not self.instance.account_activation_required
        approved = not self.instance.account_approval_required
        account = Account(new_id(), signup.nickname or "", signup.email or None, hash_password(signup.password or ""),
                          False, False, now_iso())
        token = secrets.token_urlsafe(32) if not confirmed and account.email else None
        try:
            self.index.register_account(account, confirmed, approved, signup.reason,
                                        signup.fullname, signup.bio, invite, token_digest(token) if token else None)
        except Conflict as exc:  # taken meanwhile, or the invite used up meanwhile
            raise BadRequest(exc.message) from None
        if token:
            self._mail_confirmation(account, token, [])
        pending = "confirmation" if not confirmed else "approval" if not approved else None
        return Registered(account, pending)

    # -- email confirmation ------------------------------------------------------------

    def confirmation_link(self, account: Account, token: str) -> str:
        return f"{self.config.public_url}/api/account/confirm_email/{account.id}/{token}"

    def _mail_confirmation(self, account: Account, token: str, sent: list[float]) -> None:
        now = time.time()
        self.index.set_confirmation(account.id, token_digest(token), [*sent, now])
        body = (f"Hello {account.nickname},\n\n"
                f"please confirm your email address for {self.instance.name} by opening this link:\n\n"
                f"{self.confirmation_link(account, token)}\n")
        try:
            self.mailer.send(account.email or "", f"{self.instance.name} account confirmation", body)
        except Exception:  # noqa: BLE001 - a mail server down must not lose the account
            log.exception("could not send the confirmation mail for %s", account.nickname)

    def resend(self, nickname_or_email: str) -> None:
        """Send a new confirmation link to an unconfirmed account; silently nothing otherwise."""
        account = self.index.account_by_nickname(nickname_or_email)
        if account is None and "@" in nickname_or_email:
            account = self.index.account_by_email(nickname_or_email)
        if account is None or not account.email or account.disabled:
            return
        if self.index.profile(account.id).is_confirmed:
            return
        current = self.index.confirmation(account.id)
        recent = [t for t in (current[1] if current else []) if t > time.time() - 3600]
        if len(recent) >= MAILS_PER_HOUR:
            log.warning("not resending a confirmation mail to %s: %d sent this hour", account.nickname, len(recent))
            return
        self._mail_confirmation(account, secrets.token_urlsafe(32), recent)

    def confirm(self, account_id: str, token: str) -> bool:
        found = self.index.confirmation(account_id)
        if found is None or not secrets.compare_digest(found[0], token_digest(token)):
            return False
        self.index.confirm_email(account_id)
        return True

    # -- invites -------------------------------------------------------------------------

    def create_invite(self, max_use: int | None = None, expires_at: str | None = None) -> Invite:
        invite = Invite(secrets.token_urlsafe(16), max_use, 0, expires_at, False, now_iso())
        self.index.insert_invite(invite)
        return invite
