"""What needs the current password: change it or the email, disable or delete the account.

Callers check the password first (throttled, see `OAuth.confirm_password`).
Answers follow Pleroma's UtilController: a refused change is not an HTTP error
but `{"error": "..."}` with status 200, so these functions return an error
text (or None for success) rather than raising.
"""

from __future__ import annotations

import re

from emojid.auth.accounts import hash_password
from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import Conflict
from emojid.ids import now_iso
from emojid.social.index import SocialIndex
from emojid.social.media import MediaStore

INVALID_PASSWORD = "Invalid password."
# Pleroma's @email_regex
EMAIL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                   r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")


class Credentials:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config

    def change_password(self, account: Account, new: str, confirmation: str) -> str | None:
        if new != confirmation:
            return "New password does not match confirmation."
        if not new:
            return "New password can't be blank."
        self.index.set_password_hash(account.id, hash_password(new))
        return None

    def change_email(self, account: Account, email: str) -> str | None:
        email = email.strip()
        if not email:
            if self.config.instance.account_activation_required:
                return "Email can't be blank."
            self.index.set_account_email(account.id, None)
            return None
        if not EMAIL.match(email):
            return "Email has invalid format."
        try:
            self.index.set_account_email(account.id, email)
        except Conflict as exc:
            return exc.message
        return None

    def disable(self, account: Account) -> None:
        self.index.set_account_disabled(account.id, True)

    def delete(self, account: Account) -> None:
        """Scrub the account and its data; its tokens stop working at once."""
        files = self.index.delete_account_data(account.id, now_iso())
        MediaStore(self.index, self.config).remove_files(files)
