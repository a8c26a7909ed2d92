"""Bookmark folders (Pleroma's BookmarkFolder): a name and an optional emoji per folder.

The emoji is a unicode emoji (stored fully qualified, `⚠` -> `⚠️`) or a custom
one from the local packs, stored quoted (`firefox` -> `:firefox:`); anything
else is 422 "Invalid emoji". Only the owner may change or delete a folder:
anyone else gets 403 "Access denied", as Pleroma answers.
"""

from __future__ import annotations

import functools

import emoji as emoji_data

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.emoji.urls import emoji_url
from emojid.errors import Forbidden, NotFound, Unprocessable
from emojid.ids import new_id, now_iso
from emojid.social.index import SocialIndex
from emojid.social.index.bookmark_folders import FolderRow

MAX_NAME = 100  # a folder name is a label; Pleroma's column is a varchar(255)


@functools.cache
def _qualified() -> dict[str, str]:
    """Every RGI emoji without its variation selectors -> its fully-qualified form."""
    full = emoji_data.STATUS["fully_qualified"]
    return {e.replace("\ufe0f", ""): e for e, data in emoji_data.EMOJI_DATA.items() if data["status"] == full}


def fully_qualify(text: str) -> str:
    return _qualified().get(text.replace("\ufe0f", ""), text)


def is_unicode_emoji(text: str) -> bool:
    """One fully-qualified RGI emoji, or one regional indicator letter."""
    if len(text) == 1 and 0x1F1E6 <= ord(text) <= 0x1F1FF:
        return True
    data = emoji_data.EMOJI_DATA.get(text)
    return data is not None and data["status"] == emoji_data.STATUS["fully_qualified"]


class BookmarkFolders:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config

    # -- emoji ---------------------------------------------------------------------

    def _normalise_emoji(self, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = fully_qualify(value)
        if is_unicode_emoji(value):
            return value
        quoted = value if value.startswith(":") else f":{value}:"
        if self.emoji_url(quoted) is None:
            raise Unprocessable("Invalid emoji")
        return quoted

    def emoji_url(self, value: str | None) -> str | None:
        """The file URL of a custom emoji from the local packs; None for unicode or unknown ones."""
        if not value or is_unicode_emoji(value):
            return None
        shortcode = value.strip(":")
        if not shortcode:
            return None
        found = self.index.emoji_files([shortcode]).get(shortcode)
        if found is None:
            return None
        pack, filename, _frames = found
        return emoji_url(self.config.public_url, pack, filename)

    def render(self, folder: FolderRow) -> dict:
        return {"id": folder.id, "name": folder.name, "emoji": folder.emoji, "emoji_url": self.emoji_url(folder.emoji)}

    # -- folders ---------------------------------------------------------------------

    def list(self, account: Account) -> list[FolderRow]:
        return self.index.bookmark_folders(account.id)

    def owned(self, account: Account, folder_id: str) -> FolderRow:
        """The account's folder: 404 when there is none, 403 when it is someone else's."""
        folder = self.index.bookmark_folder(folder_id) if folder_id.isdigit() else None
        if folder is None:
            raise NotFound("Record not found")
        if folder.account_id != account.id:
            raise Forbidden("Access denied")
        return folder

    def create(self, account: Account, name: str | None, emoji: str | None) -> FolderRow:
        name = _check_name(name)
        folder = FolderRow(new_id(), account.id, name, self._normalise_emoji(emoji))
        self.index.insert_bookmark_folder(folder, now_iso())
        return folder

    def update(self, account: Account, folder_id: str, name: str | None, emoji: str | None,
               emoji_given: bool) -> FolderRow:
        folder = self.owned(account, folder_id)
        changed = FolderRow(
            folder.id, folder.account_id,
            folder.name if name is None else _check_name(name),
            self._normalise_emoji(emoji) if emoji_given else folder.emoji,
        )
        self.index.update_bookmark_folder(changed, now_iso())
        return changed

    def delete(self, account: Account, folder_id: str) -> FolderRow:
        folder = self.owned(account, folder_id)
        self.index.delete_bookmark_folder(folder.id)
        return folder


def _check_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise Unprocessable("can't be blank")
    if len(name) > MAX_NAME:
        raise Unprocessable(f"should be at most {MAX_NAME} character(s)")
    return name
