"""Account aliases and moving an account to another one (Pleroma's move_account).

A move needs the target to name the origin in its aliases (`alsoKnownAs`):
a local target by its aliases here, a remote one by its ActivityPub actor,
found by WebFinger through the guarded remote client. Local followers who
allow it (`allow_following_move`) then follow the target instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import EmojidError, NotFound
from emojid.ids import new_id, now_iso
from emojid.remote import RemoteClient
from emojid.social import webfinger
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex


class TargetNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Resolved:
    handle: str
    ap_id: str
    also_known_as: list[str]
    local: Account | None = None


class Moves:
    def __init__(self, index: SocialIndex, config: Config, remote: RemoteClient) -> None:
        self.index = index
        self.config = config
        self.remote = remote
        self.naming = Naming(config)

    async def resolve(self, name: str, not_found: str) -> Resolved:
        """A local account, or a remote one by WebFinger; TargetNotFound(not_found) otherwise."""
        target = self.naming.parse(name or "")
        if target is None:
            raise TargetNotFound(not_found)
        if target.local is not None:
            account = await anyio.to_thread.run_sync(self.index.account_by_nickname, target.local)
            if account is None or account.disabled:
                raise TargetNotFound(not_found)
            aliases = await anyio.to_thread.run_sync(self.index.aliases, account.id)
            return Resolved(self.naming.full(account.nickname), self.naming.ap_id(account.nickname),
                            [ap_id for ap_id, _h in aliases], account)
        try:
            found = await webfinger.resolve(self.remote, target.remote or "",
                                            allow_http=self.config.remote.allow_private_addresses)
        except EmojidError:
            raise TargetNotFound(not_found) from None
        return Resolved(found.handle, found.ap_id, found.also_known_as)

    async def move(self, account: Account, target_name: str) -> str | None:
        """Move `account` to the target; an error text for a refused move, None on success."""
        target = await self.resolve(target_name, "Target account not found.")
        if target.local is not None and target.local.id == account.id:
            return "Target account must not be the origin"
        if self.naming.ap_id(account.nickname) not in target.also_known_as:
            return "Target account must have the origin in `alsoKnownAs`"
        await anyio.to_thread.run_sync(self._move, account, target)
        return None

    def _move(self, account: Account, target: Resolved) -> None:
        default = self.config.instance.allow_following_move
        when = now_iso()
        if target.local is not None:
            moved = self.index.move_followers(account.id, target.local.id, default, when)
        else:
            # A remote target cannot be followed from here yet: followers keep it on record.
            followers = [f.id for f in self.index.accounts_by_ids(self.index.followers(account.id))
                         if self._allows_move(f.id, default)]
            for follower_id in followers:
                self.index.delete_follow(follower_id, account.id)
                self.index.add_remote_relationships(follower_id, "follow", [target.handle], when)
            moved = len(followers)
        self.index.record_move(new_id(), account.id, target.handle, target.ap_id,
                               target.local.id if target.local else None, moved, when)

    def _allows_move(self, account_id: str, default: bool) -> bool:
        allowed = self.index.profile(account_id).allow_following_move
        return default if allowed is None else allowed

    # -- aliases -------------------------------------------------------------------

    def aliases(self, account: Account) -> list[str]:
        return [handle for _ap_id, handle in self.index.aliases(account.id)]

    async def add_alias(self, account: Account, name: str) -> None:
        target = await self.resolve(name, "Target account does not exist.")
        await anyio.to_thread.run_sync(self.index.add_alias, account.id, target.ap_id, target.handle, now_iso())

    def delete_alias(self, account: Account, name: str) -> bool:
        target = self.naming.parse(name or "")
        if target is None:
            return False
        if target.local is not None:
            local = self.index.account_by_nickname(target.local)
            return self.index.delete_alias(account.id, self.naming.ap_id(local.nickname if local else target.local))
        for ap_id, handle in self.index.aliases(account.id):
            if target.remote in (handle, ap_id):
                return self.index.delete_alias(account.id, ap_id)
        return False
