"""Notifications: listing, reading, marking read, and the Mastodon Notification entity.

Other areas notify through `Notifications.notify(Notice(...))`; the type is
theirs to name (Pleroma's are listed in DEFAULT_TYPES). Notifications from
blocked or deactivated accounts never show; from notification-muted ones only
with `with_muted=true`.
"""

from __future__ import annotations

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import NotFound
from emojid.ids import now_iso
from emojid.social.entities.accounts import masto_date
from emojid.social.entities.statuses import StatusView
from emojid.social.index import SocialIndex
from emojid.social.index.notifications import Notice, Notification
from emojid.social.index.relationships import MUTE
from emojid.social.paging import Page

# Pleroma's default `types`, and those of the events fork, so other areas' notifications show.
DEFAULT_TYPES = ["mention", "follow", "follow_request", "reblog", "favourite", "move", "pleroma:emoji_reaction",
                 "poll", "update", "status", "pleroma:event_reminder", "pleroma:event_update",
                 "pleroma:participation_request", "pleroma:participation_accepted"]
READ_LIMIT = 80


class Notifications:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config

    @property
    def statuses(self) -> StatusView:
        # A fresh view per use: its account cache must not outlive one answer.
        return StatusView(self.index, self.config)

    def notify(self, *notices: Notice) -> None:
        """Write notifications (none to the actor itself)."""
        self.index.add_notices(list(notices))

    def page(self, viewer: Account, page: Page, *, types: list[str] | None = None, exclude_types: list[str] = (),
             actor: Account | None = None, with_muted: bool = False) -> list[Notification]:
        return self.index.notification_page(viewer.id, page, types=types if types else DEFAULT_TYPES,
                                            exclude_types=list(exclude_types),
                                            actor_id=actor.id if actor else None, with_muted=with_muted)

    def get(self, viewer: Account, notification_id: int | None) -> Notification:
        found = self.index.notification(viewer.id, notification_id) if notification_id is not None else None
        if found is None:
            raise NotFound("Cannot get notification")
        return found

    def read_one(self, viewer: Account, notification_id: int) -> Notification:
        found = self.get(viewer, notification_id)
        self.index.mark_notification_seen(viewer.id, int(found.id))
        return self.get(viewer, int(found.id))

    def read_up_to(self, viewer: Account, max_id: int) -> list[Notification]:
        """Mark all up to `max_id` read; the first 80 of those that were unread, newest first."""
        ids = self.index.mark_notifications_seen_up_to(viewer.id, max_id)
        return self.index.notifications_by_ids(viewer.id, ids[:READ_LIMIT])

    def dismiss(self, viewer: Account, notification_id: int | None) -> None:
        if notification_id is None or not self.index.dismiss_notification(viewer.id, notification_id):
            raise NotFound("Record not found")

    def clear(self, viewer: Account) -> None:
        self.index.clear_notifications(viewer.id)

    # -- entities ---------------------------------------------------------------------

    def render(self, notification: Notification, viewer: Account) -> dict | None:
        """The Notification entity; None when its status is no longer the viewer's to read."""
        actor = self.index.account_by_id(notification.actor_id)
        entity: dict = {
            "id": notification.id,
            "group_key": f"ungrouped-{notification.id}",
            "type": notification.type,
            "created_at": masto_date(notification.created_at),
            "account": self.statuses.account_entity(actor, viewer),
            "pleroma": {
                "is_muted": self.index.has_relationship(MUTE, viewer.id, notification.actor_id, now_iso()),
                "is_seen": notification.seen,
            },
        }
        if notification.status_id is not None:
            status = self.index.visible_status(notification.status_id, viewer.id)
            if status is None:
                return None
            entity["status"] = self.statuses.render(status, viewer)
        if notification.type == "pleroma:emoji_reaction":
            entity["emoji"] = notification.emoji
            entity["emoji_url"] = notification.emoji_url
        return entity

    def render_many(self, notifications: list[Notification], viewer: Account) -> list[dict]:
        return [e for e in (self.render(n, viewer) for n in notifications) if e is not None]

