"""Conversations (direct-message threads) with Pleroma's semantics.

A conversation's id is the caller's participation in it; only its owner can
read or change it ("Unknown conversation id" for anyone else). Recipients are
set by the first status and afterwards only by PATCH, the owner always kept.
Posting with `in_reply_to_conversation_id` (see Statuses.create) addresses them.
"""

from __future__ import annotations

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import NotFound
from emojid.social.entities.statuses import StatusView
from emojid.social.index import SocialIndex
from emojid.social.index.conversations import Participation
from emojid.social.index.statuses import Status
from emojid.social.paging import Page, parse_id


class Conversations:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config

    @property
    def view(self) -> StatusView:
        # A fresh view per use: its account cache must not outlive one answer.
        return StatusView(self.index, self.config)

    def get(self, viewer: Account, participation_id: str) -> Participation:
        number = parse_id(participation_id)
        participation = self.index.participation(number) if number is not None else None
        if participation is None or participation.account_id != viewer.id:
            raise NotFound("Unknown conversation id")
        return participation

    def last_status(self, participation: Participation, viewer: Account) -> Status | None:
        """The newest direct status of the thread the viewer may read."""
        rows = self.index.thread_page(viewer.id, participation.context, Page(limit=1), direct_only=True,
                                      with_muted=True)
        return rows[0][1] if rows else None

    def page(self, viewer: Account, page: Page, recipients: list[str] | None = None
             ) -> list[tuple[int, Participation, Status]]:
        """(paging key, participation, last status), most recently active first; threads with nothing left out."""
        found = []
        for key, participation in self.index.participation_page(viewer.id, page, recipients):
            last = self.last_status(participation, viewer)
            if last is not None:
                found.append((key, participation, last))
        return found

    def statuses(self, viewer: Account, participation: Participation, page: Page) -> list[tuple[int, Status]]:
        """The thread's statuses the viewer may read; oldest first within the page."""
        rows = self.index.thread_page(viewer.id, participation.context, page, with_muted=False)
        return list(reversed(rows))

    def set_recipients(self, viewer: Account, participation: Participation, account_ids: list[str]) -> Participation:
        self.index.set_participation_recipients(participation.id, viewer.id,
                                                [a for a in account_ids if a.isdigit()])
        return self.get(viewer, participation.id)

    def mark_read(self, viewer: Account, participation: Participation) -> Participation:
        self.index.mark_participation_read(participation.id)
        return self.get(viewer, participation.id)

    def mark_all_read(self, viewer: Account) -> list[Participation]:
        ids = self.index.mark_all_participations_read(viewer.id)
        return [p for p in (self.index.participation(int(i)) for i in ids) if p is not None]

    def delete(self, viewer: Account, participation: Participation) -> None:
        self.index.delete_participation(participation.id)

    # -- the entity -------------------------------------------------------------------------

    def render(self, participation: Participation, viewer: Account, last: Status | None = None) -> dict:
        """Mastodon's Conversation with Pleroma's `pleroma.recipients`.

        `accounts` are the recipients but the viewer, unless the viewer is the only one."""
        ids = self.index.participation_recipients(participation.id)
        recipients = [a for a in self.index.accounts_by_ids(ids) if not a.disabled]
        others = [a for a in recipients if a.id != viewer.id] if len(recipients) > 1 else recipients
        last = last if last is not None else self.last_status(participation, viewer)
        return {
            "id": participation.id,
            "accounts": [self.view.account_entity(a, viewer) for a in others],
            "unread": not participation.read,
            "last_status": self.view.render(last, viewer) if last is not None else None,
            "pleroma": {"recipients": [self.view.account_entity(a, viewer) for a in recipients]},
        }
