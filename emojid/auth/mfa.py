"""Multi-factor authentication as Pleroma has it: TOTP (RFC 6238) and backup codes.

The TOTP secret is stored as it is (checking a code needs it); backup codes
only as digests, each spent by the first login that uses it. A TOTP code is
accepted once: the time step it belongs to is recorded, as RFC 6238 5.2 asks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import TypedDict

import pyotp

from emojid.auth.index import AuthIndex
from emojid.auth.index.accounts import Account
from emojid.errors import Unprocessable

BACKUP_CODES = 5          # Pleroma's defaults: five codes of 16 hex digits
BACKUP_CODE_BYTES = 8
TOTP_DIGITS = 6
TOTP_PERIOD = 30
TOTP_DRIFT_STEPS = 1      # codes of the neighbouring time steps pass too (clock drift)
CHALLENGE_TYPES = ("totp", "recovery")


class MfaSettings(TypedDict):
    enabled: bool
    totp: bool


class TotpSetup(TypedDict):
    key: str
    provisioning_uri: str


def backup_code_digest(account_id: str, code: str) -> str:
    # 64 random bits per code put a plain digest beyond brute force (unlike a
    # password, which needs argon2); the account id keeps digests per account.
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"{account_id}:{normal}".encode()).hexdigest()


class MFA:
    def __init__(self, index: AuthIndex) -> None:
        self.index = index

    def settings(self, account_id: str) -> MfaSettings:
        current = self.index.mfa_settings(account_id)
        return {"enabled": current.enabled, "totp": current.totp_confirmed}

    def required(self, account_id: str) -> bool:
        return self.index.mfa_settings(account_id).enabled

    def supported_challenge_types(self, account_id: str) -> str:
        # Pleroma lists the enabled methods, comma-separated; recovery codes are implied.
        return "totp" if self.index.mfa_settings(account_id).totp_confirmed else ""

    def setup_totp(self, account: Account, issuer: str) -> TotpSetup:
        secret = pyotp.random_base32()
        if not self.index.set_totp_secret(account.id, secret):
            # Pleroma would silently swap the secret and lock the owner out.
            raise Unprocessable("TOTP is already enabled")
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
        uri = totp.provisioning_uri(name=account.email or account.nickname, issuer_name=issuer)
        return {"key": secret, "provisioning_uri": uri}

    def confirm_totp(self, account_id: str, code: str) -> None:
        current = self.index.mfa_settings(account_id)
        if not current.totp_secret:
            raise Unprocessable("invalid_secret_and_token")
        if not self._check_totp(account_id, current.totp_secret, current.totp_last_step, code):
            raise Unprocessable("invalid_token")
        if not self.index.confirm_totp(account_id, current.totp_secret):
            raise Unprocessable("invalid_token")  # set up again meanwhile

    def disable(self, account_id: str) -> None:
        """Turns MFA off; the backup codes go with it, so old ones never come back to life."""
        self.index.disable_mfa(account_id)

    def new_backup_codes(self, account_id: str) -> list[str]:
        codes = [secrets.token_hex(BACKUP_CODE_BYTES) for _ in range(BACKUP_CODES)]
        self.index.replace_backup_codes(account_id, [backup_code_digest(account_id, c) for c in codes])
        return codes

    def verify(self, account_id: str, challenge_type: str | None, code: str | None) -> bool:
        """A second factor for a login: a TOTP code, or a backup code (then spent)."""
        current = self.index.mfa_settings(account_id)
        if not current.enabled or not code:
            return False
        if challenge_type == "totp" and current.totp_confirmed and current.totp_secret:
            return self._check_totp(account_id, current.totp_secret, current.totp_last_step, code)
        if challenge_type == "recovery":
            return self._use_backup_code(account_id, code)
        return False

    def _check_totp(self, account_id: str, secret: str, last_step: int, code: str) -> bool:
        code = code.strip().replace(" ", "")
        if len(code) != TOTP_DIGITS or not code.isdigit():
            return False
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
        now = int(time.time() // TOTP_PERIOD)
        matched = None
        for step in range(now - TOTP_DRIFT_STEPS, now + TOTP_DRIFT_STEPS + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                matched = step
        return matched is not None and matched > last_step and self.index.spend_totp_step(account_id, matched)

    def _use_backup_code(self, account_id: str, code: str) -> bool:
        digest = backup_code_digest(account_id, code)
        found = False
        for stored in self.index.backup_code_hashes(account_id):
            found |= hmac.compare_digest(stored, digest)
        return found and self.index.spend_backup_code(account_id, digest)
