"""The 2019 TwitterAPI user entity (Pleroma's TwitterAPI.UserView "show.json"), for POST /api/account/register.

Rendered as Pleroma rendered it for that route: with no viewer, so the
relationship flags are false and nothing private (email, settings, role) is
shown; `created_at` in the old asctime form, `Tue Aug 27 12:29:19 +0000 2019`.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.social import placeholders
from emojid.social.entities.accounts import note_html
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.media import MediaStore

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def asctime(iso: str) -> str:
    """`2019-08-27T12:29:19Z` -> `Tue Aug 27 12:29:19 +0000 2019` (Pleroma's format_asctime), whatever the locale."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return iso
    return (f"{_DAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day:02d} "
            f"{moment:%H:%M:%S} +0000 {moment.year}")


class TwitterUserView:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.naming = Naming(config)
        self.media = MediaStore(index, config)

    def user(self, account: Account) -> dict:
        profile = self.index.profile(account.id)
        followers, following = self.index.follow_counts(account.id)
        base = self.config.public_url
        avatar = self.media.url(profile.avatar_id) or base + placeholders.AVATAR
        return {
            "created_at": asctime(account.created_at),
            "description": profile.note,
            "description_html": note_html(profile.note),
            "favourites_count": 0,
            "followers_count": followers,
            "following": False,
            "follows_you": False,
            "statusnet_blocking": False,
            "friends_count": following,
            "id": account.id,
            "name": profile.display_name or account.nickname,
            "name_html": html.escape(profile.display_name) if profile.display_name else account.nickname,
            "profile_image_url": avatar,
            "profile_image_url_https": avatar,
            "profile_image_url_profile_size": avatar,
            "profile_image_url_original": avatar,
            "screen_name": account.nickname,
            "statuses_count": self.index.statuses_count(account.id),
            "statusnet_profile_url": self.naming.ap_id(account.nickname),
            "cover_photo": self.media.url(profile.header_id) or base + placeholders.BANNER,
            "background_image": self.media.url(profile.background_id),
            "is_local": True,
            "locked": profile.locked,
            "hide_followers": profile.flag("hide_followers"),
            "hide_follows": profile.flag("hide_follows"),
            "fields": [{"name": f["name"], "value": note_html(f["value"])} for f in profile.fields],
            "pleroma": {
                "confirmation_pending": not profile.is_confirmed,
                "tags": [],
                "skip_thread_containment": profile.flag("skip_thread_containment"),
            },
        }
