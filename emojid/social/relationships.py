"""Follows, blocks, mutes, subscriptions and endorsements between local accounts.

The rules and error texts are Pleroma's (User.follow, User.block, User.endorse, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest, Forbidden
from emojid.ids import now_iso
from emojid.social.index import SocialIndex
from emojid.social.index.relationships import BLOCK, ENDORSEMENT, MUTE, NOTIFICATION_MUTE, SUBSCRIPTION

MAX_ENDORSED = 20  # Pleroma's instance.max_endorsed_users
# A timed mute ends within dates Python can count (year 9999); a century is "for good" anyway.
MAX_MUTE_SECONDS = 100 * 365 * 24 * 3600


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Relationships:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config

    def _active(self, account: Account) -> bool:
        profile = self.index.profile(account.id)
        return not account.disabled and not profile.deleted_at

    def blocks(self, source: Account, target: Account) -> bool:
        return self.index.has_relationship(BLOCK, source.id, target.id, _now())

    # -- follows --------------------------------------------------------------

    def follow(self, follower: Account, followed: Account, reblogs: bool | None = None,
               notify: bool | None = None) -> None:
        if follower.id == followed.id:
            raise BadRequest("Can not follow yourself")
        if not self._active(followed):
            raise Forbidden(f"Could not follow user: {followed.nickname} is deactivated.")
        if self.blocks(followed, follower):
            raise Forbidden(f"Could not follow user: {followed.nickname} blocked you.")
        state = "pending" if self.index.profile(followed.id).locked else "accept"
        self.index.put_follow(follower.id, followed.id, state, reblogs, now_iso())
        if notify is True:
            self.index.put_relationship(SUBSCRIPTION, follower.id, followed.id, now_iso())
        elif notify is False:
            self.index.delete_relationship(SUBSCRIPTION, follower.id, followed.id)

    def unfollow(self, follower: Account, followed: Account) -> None:
        if follower.id == followed.id:
            raise BadRequest("Can not unfollow yourself")
        self.index.delete_follow(follower.id, followed.id)
        self.index.delete_relationship(SUBSCRIPTION, follower.id, followed.id)
        self.index.delete_relationship(ENDORSEMENT, follower.id, followed.id)

    def authorize(self, followed: Account, follower: Account) -> bool:
        return self.index.accept_follow(follower.id, followed.id)

    def reject(self, followed: Account, follower: Account) -> bool:
        if self.index.follow_row(follower.id, followed.id) is None:
            return False
        return self.index.delete_follow(follower.id, followed.id)

    # -- blocks and mutes ------------------------------------------------------------

    def block(self, blocker: Account, blocked: Account) -> None:
        if blocker.id == blocked.id:
            raise BadRequest("Can not block yourself")
        # Sever follows and subscriptions both ways, as Pleroma does, so nothing leaks.
        for a, b in ((blocker, blocked), (blocked, blocker)):
            self.index.delete_follow(a.id, b.id)
            self.index.delete_relationship(SUBSCRIPTION, a.id, b.id)
            self.index.delete_relationship(ENDORSEMENT, a.id, b.id)
        self.index.put_relationship(BLOCK, blocker.id, blocked.id, now_iso())

    def unblock(self, blocker: Account, blocked: Account) -> None:
        self.index.delete_relationship(BLOCK, blocker.id, blocked.id)

    def mute(self, muter: Account, muted: Account, notifications: bool = True, duration: int = 0) -> None:
        if muter.id == muted.id:
            raise BadRequest("Can not mute yourself")
        expires = None
        if duration > 0:
            expires = (datetime.now(UTC) + timedelta(seconds=duration)).isoformat(timespec="seconds")
        self.index.put_relationship(MUTE, muter.id, muted.id, now_iso(), expires)
        if notifications:
            self.index.put_relationship(NOTIFICATION_MUTE, muter.id, muted.id, now_iso(), expires)
        else:
            self.index.delete_relationship(NOTIFICATION_MUTE, muter.id, muted.id)

    def unmute(self, muter: Account, muted: Account) -> None:
        self.index.delete_relationship(MUTE, muter.id, muted.id)
        self.index.delete_relationship(NOTIFICATION_MUTE, muter.id, muted.id)

    def mute_expires_at(self, muter: Account, muted: Account) -> str | None:
        return self.index.mute_expiry(muter.id, muted.id)

    # -- subscriptions and endorsements -------------------------------------------------

    def subscribe(self, subscriber: Account, target: Account) -> None:
        if subscriber.id == target.id:
            raise Forbidden("Can not subscribe to yourself")
        if self.blocks(target, subscriber):
            raise Forbidden(f"Could not subscribe: {target.nickname} is blocking you")
        self.index.put_relationship(SUBSCRIPTION, subscriber.id, target.id, now_iso())

    def unsubscribe(self, subscriber: Account, target: Account) -> None:
        self.index.delete_relationship(SUBSCRIPTION, subscriber.id, target.id)

    def endorse(self, endorser: Account, target: Account) -> None:
        if self.index.count_related(ENDORSEMENT, endorser.id, _now()) >= MAX_ENDORSED:
            raise BadRequest("You have already pinned the maximum number of users")
        follow = self.index.follow_row(endorser.id, target.id)
        if follow is None or follow.state != "accept":
            raise BadRequest(f"Could not endorse: You are not following {target.nickname}")
        self.index.put_relationship(ENDORSEMENT, endorser.id, target.id, now_iso())

    def unendorse(self, endorser: Account, target: Account) -> None:
        self.index.delete_relationship(ENDORSEMENT, endorser.id, target.id)

    # -- lists ----------------------------------------------------------------------------

    def related(self, kind: str, account: Account) -> list[Account]:
        return self.index.accounts_by_ids(self.index.related(kind, account.id, _now()))
