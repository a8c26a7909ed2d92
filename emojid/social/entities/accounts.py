"""Mastodon Account and Relationship entities, with Pleroma's `pleroma` extensions.

Shapes follow Pleroma's AccountView: every account has `emojis` (the custom
emoji its name, bio and fields use, from our own packs), ids are strings, and
what only the owner may see (email, settings, notification settings) is only
rendered for the owner.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.emoji.urls import emoji_url, static_url
from emojid.social import placeholders
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.index.profiles import Profile
from emojid.social.index.relationships import BLOCK, ENDORSEMENT, MUTE, NOTIFICATION_MUTE, SUBSCRIPTION
from emojid.social.media import MediaStore

SHORTCODE = re.compile(r":([A-Za-z0-9_-]+):")
# Pleroma's privilege names; an admin holds them all.
ADMIN_PRIVILEGES = [
    "users_read", "users_manage_invites", "users_manage_activation_state", "users_manage_tags",
    "users_manage_credentials", "users_delete", "messages_read", "messages_delete", "instances_delete",
    "reports_manage_reports", "moderation_log_read", "announcements_manage_announcements",
    "emoji_manage_emoji", "statistics_read",
]


def masto_date(iso: str) -> str:
    """`2024-01-02T03:04:05Z` -> `2024-01-02T03:04:05.000Z`, as Mastodon writes dates."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def note_html(text: str) -> str:
    return html.escape(text).replace("\r\n", "\n").replace("\n", "<br/>")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AccountView:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.naming = Naming(config)
        self.media = MediaStore(index, config)

    # -- who sees whom ---------------------------------------------------------

    def visible(self, account: Account, viewer: Account | None) -> bool:
        """Deactivated, deleted and pending accounts are shown only to themselves and admins."""
        if viewer is not None and (viewer.id == account.id or viewer.is_admin):
            return True
        profile = self.index.profile(account.id)
        return not account.disabled and profile.is_confirmed and profile.is_approved and not profile.deleted_at

    # -- entities ----------------------------------------------------------------

    def emojis(self, *texts: str) -> list[dict]:
        codes = list(dict.fromkeys(code for text in texts for code in SHORTCODE.findall(text or "")))
        found = self.index.emoji_files(codes)
        base = self.config.public_url
        entries = []
        for code in codes:
            if code in found:
                pack, filename, frames = found[code]
                entries.append({"shortcode": code, "url": emoji_url(base, pack, filename),
                                "static_url": static_url(base, pack, filename, frames > 1),
                                "visible_in_picker": False})
        return entries

    def account(self, account: Account, viewer: Account | None, *, with_settings: bool = False,
                embed_relationship: bool = False, _depth: int = 0) -> dict:
        profile = self.index.profile(account.id)
        me = viewer is not None and viewer.id == account.id
        followers, following = self.index.follow_counts(account.id)
        show_followers = me or not profile.flag("hide_followers_count") or not profile.flag("hide_followers")
        show_following = me or not profile.flag("hide_follows_count") or not profile.flag("hide_follows")
        avatar = self.media.url(profile.avatar_id) or self.config.public_url + placeholders.AVATAR
        header = self.media.url(profile.header_id) or self.config.public_url + placeholders.BANNER
        display_name = profile.display_name or account.nickname
        fields = [{"name": f["name"], "value": note_html(f["value"]), "verified_at": None}
                  for f in profile.fields]
        field_texts = [t for f in profile.fields for t in (f["name"], f["value"])]
        ap_id = self.naming.ap_id(account.nickname)
        entity: dict = {
            "id": account.id,
            "username": account.nickname,
            "acct": account.nickname,
            "display_name": display_name,
            "locked": profile.locked,
            "bot": profile.actor_type in ("Service", "Group"),
            "group": False,
            "discoverable": profile.discoverable,
            "created_at": masto_date(account.created_at),
            "followers_count": followers if show_followers else 0,
            "following_count": following if show_following else 0,
            "statuses_count": self.index.statuses_count(account.id),
            "last_status_at": None,
            "note": note_html(profile.note),
            "url": ap_id,
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "emojis": self.emojis(display_name, profile.note, *field_texts),
            "fields": fields,
            "source": {
                "note": profile.note,
                "sensitive": False,
                "fields": [{"name": f["name"], "value": f["value"]} for f in profile.fields],
                "pleroma": {"discoverable": profile.discoverable, "actor_type": profile.actor_type},
            },
            "fqn": self.naming.full(account.nickname),
            "pleroma": {
                "ap_id": ap_id,
                "also_known_as": [a for a, _h in self.index.aliases(account.id)],
                "is_confirmed": profile.is_confirmed,
                "is_suggested": False,
                "tags": [],
                "hide_followers_count": profile.flag("hide_followers_count"),
                "hide_follows_count": profile.flag("hide_follows_count"),
                "hide_followers": profile.flag("hide_followers"),
                "hide_follows": profile.flag("hide_follows"),
                "hide_favorites": profile.flag("hide_favorites"),
                "relationship": self.relationship(viewer, account) if embed_relationship and viewer else {},
                "skip_thread_containment": profile.flag("skip_thread_containment"),
                "background_image": self.media.url(profile.background_id),
                "accepts_chat_messages": profile.flag("accepts_chat_messages"),
                "favicon": None,
                "avatar_description": profile.avatar_description,
                "header_description": profile.header_description,
            },
        }
        if profile.moved_to and _depth == 0:
            entity["moved"] = self._moved(profile, viewer)
        if me or profile.flag("show_role"):
            entity["pleroma"].update(is_admin=account.is_admin, is_moderator=False,
                                     privileges=ADMIN_PRIVILEGES if account.is_admin else [])
        if me or profile.flag("show_birthday"):
            entity["pleroma"]["birthday"] = profile.birthday
        if viewer is not None and viewer.is_admin:
            entity["pleroma"]["deactivated"] = account.disabled
        if me:
            self._own_parts(entity, account, profile, with_settings)
        return entity

    def _moved(self, profile: Profile, viewer: Account | None) -> dict | None:
        target = self.naming.parse(profile.moved_to or "")
        if target is None or target.local is None:
            return None
        moved = self.index.account_by_nickname(target.local)
        return self.account(moved, viewer, _depth=1) if moved else None

    def _own_parts(self, entity: dict, account: Account, profile: Profile, with_settings: bool) -> None:
        entity["source"]["privacy"] = profile.default_scope
        entity["source"]["pleroma"].update(show_role=profile.flag("show_role"),
                                           no_rich_text=profile.flag("no_rich_text"),
                                           show_birthday=profile.flag("show_birthday"))
        allow_move = profile.allow_following_move
        entity["pleroma"].update(
            notification_settings={name: profile.notification(name) for name in
                                   ("block_from_strangers", "hide_notification_contents")},
            allow_following_move=self.config.instance.allow_following_move if allow_move is None else allow_move,
            unread_conversation_count=self.index.unread_conversations(account.id),
            unread_notifications_count=self.index.unread_notifications(account.id),
            email=account.email,
        )
        entity["follow_requests_count"] = len(self.index.followers(account.id, state="pending"))
        if with_settings:
            entity["pleroma"]["settings_store"] = profile.settings_store

    def accounts(self, accounts: list[Account], viewer: Account | None, embed_relationship: bool = False) -> list:
        return [self.account(a, viewer, embed_relationship=embed_relationship)
                for a in accounts if self.visible(a, viewer)]

    def relationship(self, viewer: Account, target: Account) -> dict:
        facts = self.index.facts(viewer.id, target.id, utc_now())
        following = facts.following is not None and facts.following.state == "accept"
        subscribing = SUBSCRIPTION in facts.kinds_out
        return {
            "id": target.id,
            "following": following,
            "followed_by": facts.followed_by is not None and facts.followed_by.state == "accept",
            "blocking": BLOCK in facts.kinds_out,
            "blocked_by": BLOCK in facts.kinds_in,
            "muting": MUTE in facts.kinds_out,
            "muting_notifications": NOTIFICATION_MUTE in facts.kinds_out,
            "subscribing": subscribing,
            "notifying": subscribing,
            "requested": facts.following is not None and facts.following.state == "pending",
            "domain_blocking": False,
            "showing_reblogs": facts.following.reblogs if facts.following else True,
            "endorsed": ENDORSEMENT in facts.kinds_out,
            "note": "",
        }
