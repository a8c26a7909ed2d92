"""follow_import, blocks_import and mutes_import: lists of accounts, applied for one user.

A list is whitespace-separated handles (Pleroma's documented form) or a
Mastodon CSV export ("Account address,Show boosts,..." with one account per
line). Local accounts take effect at once; remote ones are recorded, to be
resolved when emojid can reach them. Accounts that cannot be followed,
blocked or muted are skipped silently, as Pleroma does.
"""

from __future__ import annotations

from dataclasses import dataclass

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import EmojidError
from emojid.ids import now_iso
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.relationships import Relationships

KINDS = ("follow", "block", "mute")
MAX_ENTRIES = 20000


def parse_list(text: str) -> list[str]:
    """Account names, in order, without duplicates, CSV headers or leading @."""
    names: list[str] = []
    for line in text.splitlines():
        first = line.split(",", 1)[0].strip()
        if first.lower() == "account address":
            continue
        for word in first.split():
            word = word.removeprefix("@")
            if word:
                names.append(word)
    return list(dict.fromkeys(names))[:MAX_ENTRIES]


@dataclass(frozen=True)
class ImportResult:
    applied: list[str]  # local account ids
    recorded: list[str]  # remote handles


class Importer:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.naming = Naming(config)
        self.relationships = Relationships(index, config)

    def run(self, account: Account, kind: str, names: list[str]) -> ImportResult:
        applied, remote = [], []
        for name in names:
            target = self.naming.parse(name)
            if target is None:
                continue
            if target.remote is not None:
                remote.append(target.remote)
                continue
            other = self.index.account_by_nickname(target.local or "")
            if other is None or other.id == account.id:
                continue
            try:
                self._apply(kind, account, other)
            except EmojidError:
                continue  # e.g. blocked by them, or deactivated
            applied.append(other.id)
        if remote:
            self.index.add_remote_relationships(account.id, kind, remote, now_iso())
        return ImportResult(applied, remote)

    def _apply(self, kind: str, account: Account, other: Account) -> None:
        if kind == "follow":
            self.relationships.follow(account, other)
        elif kind == "block":
            self.relationships.block(account, other)
        else:
            self.relationships.mute(account, other)
