"""Emoji reactions: which emoji may be used, adding and removing them, and how they are listed.

A reaction is one RGI emoji (stored fully qualified: `⚠` becomes `⚠️`), one
regional indicator, or a custom emoji of the local packs named `:shortcode:`
(or bare `shortcode`, as Pleroma quotes it), kept with its image URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import emoji as emoji_data

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.emoji.urls import emoji_url, static_url
from emojid.errors import BadRequest
from emojid.ids import now_iso
from emojid.social.index import SocialIndex
from emojid.social.index.reactions import ReactionGroup
from emojid.social.index.statuses import Status
from emojid.social.statuses import Statuses

EMOJI_REACTION = "pleroma:emoji_reaction"
_SHORTCODE = re.compile(r"^:?([A-Za-z0-9_-]+):?$")
_VS16 = "\ufe0f"
_FULLY_QUALIFIED = emoji_data.STATUS["fully_qualified"]
_COMPONENT = emoji_data.STATUS["component"]


def _qualified_forms() -> dict[str, str]:
    """Every emoji with its variation selectors removed -> its fully qualified form."""
    forms: dict[str, str] = {}
    for text, data in emoji_data.EMOJI_DATA.items():
        if data.get("status") == _FULLY_QUALIFIED:
            forms[text.replace(_VS16, "")] = text
    return forms


_QUALIFIED = _qualified_forms()


def unicode_emoji(text: str) -> str | None:
    """`text` as one fully qualified RGI emoji or a regional indicator; None when it is neither."""
    if len(text) == 1 and 0x1F1E6 <= ord(text) <= 0x1F1FF:
        return text
    data = emoji_data.EMOJI_DATA.get(text)
    if data is None or data.get("status") == _COMPONENT:
        return None
    return _QUALIFIED.get(text.replace(_VS16, ""), text)


@dataclass(frozen=True)
class Reaction:
    """A valid reaction: the stored name (unicode emoji or bare shortcode) and, for a custom one, its URL."""

    name: str
    url: str | None

    @property
    def notification_text(self) -> str:
        return f":{self.name}:" if self.url else self.name


class Reactions:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.base_url = config.public_url

    def parse(self, text: str) -> Reaction | None:
        """The reaction `text` names (a path segment, already percent-decoded), or None."""
        text = text.strip()
        unicode = unicode_emoji(text)
        if unicode is not None:
            return Reaction(unicode, None)
        match = _SHORTCODE.match(text)
        if match is None:
            return None
        found = self.index.emoji_files([match.group(1)])
        if match.group(1) not in found:
            return None
        pack, filename, _frames = found[match.group(1)]
        return Reaction(match.group(1), emoji_url(self.base_url, pack, filename))

    def static_urls(self, groups: list[ReactionGroup]) -> dict[str, str | None]:
        """Each reaction's static_url: for a custom emoji still in the packs as the animated
        file it was given with, its static frame; otherwise its url (None for unicode)."""
        found = self.index.emoji_files([g.emoji for g in groups if g.url])
        urls: dict[str, str | None] = {}
        for group in groups:
            urls[group.emoji] = group.url
            entry = found.get(group.emoji)
            if group.url and entry is not None and entry[2] > 1 \
                    and emoji_url(self.base_url, entry[0], entry[1]) == group.url:
                urls[group.emoji] = static_url(self.base_url, entry[0], entry[1], True)
        return urls

    def removal_name(self, text: str) -> str:
        """The stored name a DELETE means: a custom emoji may have left the packs since."""
        text = text.strip()
        unicode = unicode_emoji(text)
        if unicode is not None:
            return unicode
        match = _SHORTCODE.match(text)
        return match.group(1) if match else text

    def react(self, account: Account, status: Status, text: str) -> None:
        reaction = self.parse(text)
        if reaction is None:
            raise BadRequest("Could not add reaction emoji")
        notice = Statuses(self.index, self.config).notice_for(
            status, account, EMOJI_REACTION, emoji=reaction.notification_text, emoji_url=reaction.url)
        self.index.add_reaction(status.id, account.id, reaction.name, reaction.url, now_iso(), notice)

    def unreact(self, account: Account, status: Status, text: str) -> None:
        if not self.index.remove_reaction(status.id, account.id, self.removal_name(text)):
            raise BadRequest("Could not remove reaction emoji")

    def groups(self, status: Status, viewer: Account | None, with_muted: bool = False,
               only: str | None = None) -> list[ReactionGroup]:
        """What the viewer sees: blocked (and, unless `with_muted`, muted) accounts' reactions left out."""
        hidden = self.index.hidden_reactors(viewer.id, with_muted) if viewer is not None else set()
        wanted = self.removal_name(only) if only is not None else None
        groups = []
        for group in self.index.reaction_groups(status.id):
            if wanted is not None and group.emoji != wanted:
                continue
            ids = [a for a in group.account_ids if a not in hidden]
            if ids:
                groups.append(ReactionGroup(group.emoji, group.url, ids))
        return groups
