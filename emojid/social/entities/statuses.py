"""The Mastodon Status entity with Pleroma's `pleroma` extensions.

    view = StatusView(index, config)
    entity = view.render(status, viewer)              # one status
    entities = view.render_many(statuses, viewer)     # shares account lookups

Other areas add their own fields with `extend` (an event's `pleroma.event`):

    @status_view.extend
    def add_event(view, status, viewer, entity): ...

Field by field this follows Pleroma's MastodonAPI.StatusView: ids are strings,
`pleroma.content`/`spoiler_text` per type, `conversation_id` is the CRC32 of the
thread's context, `direct_conversation_id` the viewer's participation in a DM,
`emoji_reactions` entries are `{name, count, me, url, static_url, account_ids}` (`static_url`:
an animated custom emoji's static frame, as Mastodon's reactions carry it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.ids import now_iso
from emojid.social.entities.accounts import AccountView, masto_date
from emojid.social.index import SocialIndex
from emojid.social.index.relationships import MUTE
from emojid.social.index.statuses import Status
from emojid.social.reactions import Reactions

Extension = Callable[["StatusView", Status, "Account | None", dict], None]
_EXTENSIONS: list[Extension] = []


def extend(fn: Extension) -> Extension:
    """Register `fn(view, status, viewer, entity)` to add fields to every rendered status."""
    if fn not in _EXTENSIONS:
        _EXTENSIONS.append(fn)
    return fn


def conversation_id(context: str) -> int:
    """Pleroma's deprecated `pleroma.conversation_id`: CRC32 of the context, the sign bit cleared."""
    return zlib.crc32(context.encode()) & 0x7FFFFFFF


class StatusView:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.accounts = AccountView(index, config)
        self.reactions = Reactions(index, config)
        self._account_cache: dict[tuple[str, str | None], dict] = {}

    # -- the public API ---------------------------------------------------------------

    def render(self, status: Status, viewer: Account | None, *, with_muted: bool = False,
               with_source: bool = False, show_quote: bool = True) -> dict:
        """The Mastodon status entity of `status` as `viewer` (None: anonymous) sees it."""
        base = self.config.public_url
        viewer_id = viewer.id if viewer else None
        author = self.index.account_by_id(status.account_id)
        replies, favourites, quotes = self.index.status_counts(status.id)
        bookmarked, folder = self.index.bookmark_of(viewer_id, status.id) if viewer else (False, None)
        parent = self.index.status_by_id(status.in_reply_to_id) if status.in_reply_to_id else None
        parent_author = self.index.account_by_id(parent.account_id) if parent else None
        quoted = self.index.status_by_id(status.quote_id) if status.quote_id else None
        quote_visible = quoted is not None and self.index.visible_status(quoted.id, viewer_id) is not None
        tags = self.index.status_tags(status.id)
        entity: dict[str, Any] = {
            "id": status.id,
            "uri": f"{base}/objects/{status.id}",
            "url": f"{base}/notice/{status.id}",
            "account": self.account_entity(author, viewer),
            "in_reply_to_id": parent.id if parent else None,
            "in_reply_to_account_id": parent.account_id if parent else None,
            "reblog": None,
            "card": None,
            "content": status.content,
            "text": status.text if with_source else None,
            "created_at": masto_date(status.created_at),
            "edited_at": None,
            "reblogs_count": 0,
            "replies_count": replies,
            "favourites_count": favourites,
            "reblogged": False,
            "favourited": bool(viewer) and self.index.favourited(viewer_id, status.id),
            "bookmarked": bookmarked,
            "muted": bool(viewer) and viewer_id != status.account_id
            and self.index.has_relationship(MUTE, viewer_id, status.account_id, now_iso()),
            "pinned": False,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "media_attachments": self._media(status),
            "poll": None,
            "mentions": self._mentions(status),
            "tags": [{"name": t, "url": f"{base}/tag/{quote(t)}"} for t in tags],
            "application": None,
            "language": status.language,
            "emojis": self.accounts.emojis(status.text, status.spoiler_text),
            "pleroma": {
                "local": True,
                "conversation_id": conversation_id(status.context),
                "context": status.context,
                "direct_conversation_id": self._direct_conversation_id(status, viewer),
                "in_reply_to_account_acct": parent_author.nickname if parent_author else None,
                "quote": (self.render(quoted, viewer, with_muted=with_muted, show_quote=False)
                          if quote_visible and show_quote and quoted else None),
                "quote_id": quoted.id if quoted else None,
                "quote_url": f"{base}/objects/{quoted.id}" if quoted else None,
                "quote_visible": quote_visible,
                "quotes_count": quotes,
                "content": {"text/plain": status.text},
                "spoiler_text": {"text/plain": status.spoiler_text},
                "expires_at": None,
                "thread_muted": False,
                "emoji_reactions": self._reactions(status, viewer, with_muted),
                "parent_visible": parent is not None and self.index.visible_status(parent.id, viewer_id) is not None,
                "pinned_at": None,
                "bookmark_folder": folder,
                "list_id": None,
            },
        }
        for extension in _EXTENSIONS:
            extension(self, status, viewer, entity)
        return entity

    def render_many(self, statuses: list[Status], viewer: Account | None, **options: Any) -> list[dict]:
        return [self.render(s, viewer, **options) for s in statuses]

    def reaction_entities(self, status: Status, viewer: Account | None, with_muted: bool = False,
                          only: str | None = None) -> list[dict]:
        """GET .../reactions: `{name, count, me, url, accounts}` per emoji, oldest emoji first."""
        entries = []
        groups = self.reactions.groups(status, viewer, with_muted, only)
        static_urls = self.reactions.static_urls(groups)
        for group in groups:
            accounts = [a for a in self.index.accounts_by_ids(group.account_ids) if not a.disabled]
            entries.append({
                "name": group.emoji,
                "count": len(accounts),
                "accounts": [self.account_entity(a, viewer) for a in accounts],
                "url": group.url,
                "static_url": static_urls[group.emoji],
                "me": bool(viewer) and viewer.id in group.account_ids,
            })
        return entries

    # -- parts ---------------------------------------------------------------------------

    def account_entity(self, account: Account | None, viewer: Account | None) -> dict:
        if account is None:
            return {}
        key = (account.id, viewer.id if viewer else None)
        if key not in self._account_cache:
            self._account_cache[key] = self.accounts.account(account, viewer)
        return self._account_cache[key]

    def _media(self, status: Status) -> list[dict]:
        rows = [self.index.media_by_id(m) for m in self.index.status_media_ids(status.id)]
        return [self.accounts.media.attachment(row) for row in rows if row is not None]

    def _mentions(self, status: Status) -> list[dict]:
        mentioned = self.index.accounts_by_ids(self.index.status_mentions(status.id))
        return [{"id": a.id, "username": a.nickname, "acct": a.nickname, "url": self.accounts.naming.ap_id(a.nickname)}
                for a in mentioned]

    def _direct_conversation_id(self, status: Status, viewer: Account | None) -> int | None:
        if viewer is None or status.visibility != "direct":
            return None
        participation = self.index.participation_for(viewer.id, status.context)
        return int(participation.id) if participation else None

    def _reactions(self, status: Status, viewer: Account | None, with_muted: bool) -> list[dict]:
        groups = self.reactions.groups(status, viewer, with_muted)
        static_urls = self.reactions.static_urls(groups)
        return [{"name": g.emoji, "count": len(g.account_ids), "me": bool(viewer) and viewer.id in g.account_ids,
                 "url": g.url, "static_url": static_urls[g.emoji], "account_ids": g.account_ids}
                for g in groups]
