"""Statuses: posting, reading with visibility enforced, deleting, favourites, bookmarks, timelines.

The API other areas build on:

    statuses = Statuses(index, config)
    status = statuses.create(account, {"status": "hi @user", "visibility": "direct"})
    status = statuses.get_visible(viewer, status_id)     # NotFound unless the viewer may read it
    StatusView(index, config).render(status, viewer)      # the Mastodon entity

Rules and error texts are Pleroma's (CommonAPI.ActivityDraft): 422 for a
status that cannot be posted, 404 for ids that name nothing the caller may see.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest, NotFound, Unprocessable
from emojid.http.params import bool_value, text_param
from emojid.ids import new_id, now_iso
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.index.notifications import Notice
from emojid.social.index.relationships import BLOCK
from emojid.social.index.statuses import PUBLIC_LIKE, NewStatus, Status
from emojid.social.paging import Page, id_param, parse_id

MAX_CHARACTERS = 5000  # as /api/v1/instance announces
MAX_MEDIA = 4
VISIBILITIES = ("public", "unlisted", "local", "private", "direct")
CONTENT_TYPES = ("text/plain", "text/markdown", "text/html", "text/bbcode")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8}){0,3}$")
_TOKENS = re.compile(
    r"(?P<url>\bhttps?://[^\s<>\"']+)"
    r"|(?<![\w@/])@(?P<nick>[A-Za-z0-9_]+)(?:@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?))?"
    r"|(?<![\w&/#])#(?P<tag>\w+)")
_URL_TAIL = ".,;:!?)]}'\""


def list_param(params: dict, name: str) -> list[str]:
    """`name` as a list of strings: a JSON list, repeated `name[]` fields, or one value."""
    value = params.get(name, params.get(f"{name}[]"))
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, (dict, list, UploadFile, bool)) for v in values):
        raise BadRequest(f"Invalid {name}: expected a list of strings")
    return [str(v) for v in values if str(v) != ""]


@dataclass(frozen=True)
class Formatted:
    html: str
    mentions: list[Account]
    tags: list[str]


class Statuses:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.naming = Naming(config)

    # -- reading -------------------------------------------------------------------

    def find_visible(self, viewer: Account | None, status_id: str | int | None) -> Status | None:
        number = parse_id(str(status_id)) if status_id is not None else None
        if number is None:
            return None
        return self.index.visible_status(number, viewer.id if viewer else None)

    def get_visible(self, viewer: Account | None, status_id: str | int | None) -> Status:
        """The status if the viewer may read it; NotFound ("Record not found") otherwise."""
        status = self.find_visible(viewer, status_id)
        if status is None:
            raise NotFound("Record not found")
        return status

    def can_see(self, viewer: Account | None, status: Status | None) -> bool:
        return status is not None and self.find_visible(viewer, status.id) is not None

    # -- posting ---------------------------------------------------------------------

    def create(self, account: Account, params: dict, *, object_type: str = "Note",
               extra: dict | None = None) -> Status:
        """Post a status for `account` from API parameters (JSON-like dict); the new row.

        Raises BadRequest (400) for malformed parameters, NotFound (404) for a
        reply/quote/conversation the account cannot see, Unprocessable (422)
        for what Pleroma refuses (empty, too long, visibility, quoting)."""
        text = (text_param(params, "status") or "").strip()
        spoiler = (text_param(params, "spoiler_text") or "").strip()
        media_ids = self._media(account, list_param(params, "media_ids"))
        if not text and not spoiler and not media_ids and object_type == "Note":  # an event's text is optional
            raise Unprocessable("Cannot post an empty status without attachments")
        if len(text) + len(spoiler) > MAX_CHARACTERS:
            raise Unprocessable("The status is over the character limit")

        parent = self._referenced(account, params, "in_reply_to_id")
        quoted = self._referenced(account, params, "quote_id") or self._referenced(account, params, "quoted_status_id")
        conversation = self._conversation(account, params)
        visibility = self._visibility(account, params, parent, conversation is not None)
        if quoted is not None and not self._can_quote(account, quoted):
            raise Unprocessable("Cannot quote private message")

        formatted = self.format(text)
        recipients = self._recipients(account, params, formatted, visibility, parent, conversation)
        tags = list(dict.fromkeys(t.lower() for t in formatted.tags))
        sensitive = "nsfw" in tags
        if params.get("sensitive") not in (None, ""):
            sensitive = bool_value(params["sensitive"], "sensitive") or sensitive
        language = text_param(params, "language") or None
        if language is not None and not _LANGUAGE.match(language):
            raise BadRequest("Invalid language")
        content_type = text_param(params, "content_type") or "text/plain"
        if content_type not in CONTENT_TYPES:
            content_type = "text/plain"  # Pleroma falls back the same way

        if conversation is not None:
            context = conversation.context
        elif parent is not None:
            context = parent.context
        else:
            context = f"{self.config.public_url}/contexts/{uuid.uuid4()}"
        new = NewStatus(account.id, visibility, text, formatted.html, content_type, spoiler, sensitive, language,
                        int(parent.id) if parent else None, parent.account_id if parent else None,
                        int(quoted.id) if quoted else None, context, object_type, dict(extra or {}),
                        [a.id for a in recipients], media_ids, tags)
        status_id = int(new_id())
        notices = self._notices(account, visibility, recipients, str(status_id))
        return self.index.insert_status(status_id, new, now_iso(), notices)

    def _referenced(self, account: Account, params: dict, name: str) -> Status | None:
        number = id_param(params.get(name), name)
        if number is None:
            return None
        status = self.index.visible_status(number, account.id)
        if status is None:
            raise NotFound("Record not found")
        return status

    def _conversation(self, account: Account, params: dict):
        number = id_param(params.get("in_reply_to_conversation_id"), "in_reply_to_conversation_id")
        if number is None:
            return None
        participation = self.index.participation(number)
        if participation is None or participation.account_id != account.id:
            raise NotFound("Unknown conversation id")
        return participation

    def _visibility(self, account: Account, params: dict, parent: Status | None, in_conversation: bool) -> str:
        if in_conversation:
            return "direct"
        asked = text_param(params, "visibility")
        if asked:
            if asked not in VISIBILITIES:
                raise BadRequest(f"Invalid visibility: {asked}")
            if parent is not None and parent.visibility == "direct" and asked != "direct":
                raise Unprocessable("The message visibility must be direct")
            return asked
        if parent is not None:
            return parent.visibility
        return self.index.profile(account.id).default_scope

    def _can_quote(self, account: Account, quoted: Status) -> bool:
        if quoted.visibility in PUBLIC_LIKE:
            return True
        return quoted.visibility == "private" and quoted.account_id == account.id

    def _media(self, account: Account, ids: list[str]) -> list[str]:
        """The caller's own media among `ids`, in order (others' are ignored, as Pleroma does)."""
        kept = []
        for media_id in dict.fromkeys(ids):
            row = self.index.media_by_id(media_id) if media_id.isdigit() else None
            if row is not None and row.account_id == account.id:
                kept.append(row.id)
        if len(kept) > MAX_MEDIA:
            raise Unprocessable("Too many attachments")
        return kept

    def _active(self, account: Account | None) -> bool:
        return account is not None and not account.disabled and not self.index.profile(account.id).deleted_at

    def _recipients(self, account: Account, params: dict, formatted: Formatted, visibility: str,
                    parent: Status | None, conversation) -> list[Account]:
        """Who the status addresses besides its author: mentions, `to`, the parent's author, a conversation."""
        if conversation is not None:
            ids = self.index.participation_recipients(conversation.id)
            found = self.index.accounts_by_ids(ids)
        elif params.get("to") is not None:
            targets = [self.naming.parse(n) for n in list_param(params, "to")]
            found = [self.index.account_by_nickname(t.local) for t in targets if t is not None and t.local]
        else:
            found = list(formatted.mentions)
        if parent is not None and parent.account_id != account.id and (
                visibility in ("public", "unlisted", "local") or parent.visibility == "direct"):
            found.append(self.index.account_by_id(parent.account_id))
        unique: dict[str, Account] = {}
        for other in found:
            if self._active(other) and other.id != account.id:
                unique.setdefault(other.id, other)
        return list(unique.values())

    def _notices(self, author: Account, visibility: str, recipients: list[Account], status_id: str) -> list[Notice]:
        now = now_iso()
        notices = [Notice(r.id, "mention", author.id, status_id) for r in recipients if self._notifies(r.id, author)]
        mentioned = {r.id for r in recipients}
        for subscriber in self.index.subscribers(author.id):
            if subscriber in mentioned or subscriber == author.id:
                continue
            follow = self.index.follow_row(subscriber, author.id)
            can_see = visibility in PUBLIC_LIKE or (
                visibility == "private" and follow is not None and follow.state == "accept")
            if can_see and not self.index.has_relationship(BLOCK, subscriber, author.id, now):
                notices.append(Notice(subscriber, "status", author.id, status_id))
        return notices

    def _notifies(self, recipient_id: str, actor: Account) -> bool:
        """Does `recipient` hear of what `actor` does: not when blocking them, nor a stranger if so set."""
        if recipient_id == actor.id or self.index.has_relationship(BLOCK, recipient_id, actor.id, now_iso()):
            return False
        if self.index.profile(recipient_id).notification("block_from_strangers"):
            follow = self.index.follow_row(recipient_id, actor.id)
            return follow is not None and follow.state == "accept"
        return True

    def notice_for(self, status: Status, actor: Account, type_: str, **extra: Any) -> Notice | None:
        """A notification of `type_` to the status's author, when they hear of `actor`'s doings."""
        if not self._notifies(status.account_id, actor):
            return None
        return Notice(status.account_id, type_, actor.id, status.id, **extra)

    # -- formatting ----------------------------------------------------------------------

    def format(self, text: str) -> Formatted:
        """Plain text as Pleroma's HTML: escaped, links, local @mentions, #hashtags, <br/> for newlines."""
        out: list[str] = []
        mentions: list[Account] = []
        tags: list[str] = []
        position = 0
        base = self.config.public_url
        for match in _TOKENS.finditer(text):
            out.append(html.escape(text[position:match.start()]))
            position = match.end()
            token = match.group(0)
            if match.group("url"):
                url = token.rstrip(_URL_TAIL)
                position = match.start() + len(url)
                out.append(f'<a href="{html.escape(url)}" rel="ugc">{html.escape(url)}</a>')
            elif match.group("nick"):
                target = self.naming.parse(token)
                account = self.index.account_by_nickname(target.local) if target and target.local else None
                if not self._active(account):
                    out.append(html.escape(token))
                    continue
                mentions.append(account)
                ap_id = html.escape(self.naming.ap_id(account.nickname))
                out.append(f'<span class="h-card"><a class="u-url mention" data-user="{account.id}" href="{ap_id}"'
                           f' rel="ugc">@<span>{html.escape(account.nickname)}</span></a></span>')
            else:
                tag = match.group("tag")
                tags.append(tag)
                out.append(f'<a class="hashtag" data-tag="{html.escape(tag.lower())}"'
                           f' href="{base}/tag/{html.escape(tag.lower())}" rel="tag ugc">#{html.escape(tag)}</a>')
        out.append(html.escape(text[position:]))
        body = "".join(out).replace("\r\n", "\n").replace("\n", "<br/>")
        return Formatted(body, mentions, tags)

    # -- deleting ------------------------------------------------------------------------

    def deletable(self, account: Account, status_id: str) -> Status:
        """The status if `account` may delete it: its own, or any for an admin; NotFound otherwise (as Pleroma)."""
        if account.is_admin:
            number = parse_id(str(status_id))
            status = self.index.status_by_id(number) if number is not None else None
        else:
            status = self.find_visible(account, status_id)
        if status is None or (status.account_id != account.id and not account.is_admin):
            raise NotFound("Record not found")
        return status

    def delete(self, account: Account, status_id: str) -> Status:
        """Delete a status with what hangs on it (reactions, favourites, bookmarks, notifications); the row."""
        status = self.deletable(account, status_id)
        self.index.delete_status(status.id)
        return status

    # -- favourites and bookmarks ------------------------------------------------------------

    def favourite(self, account: Account, status_id: str) -> Status:
        status = self.get_visible(account, status_id)
        self.index.add_favourite(int(new_id()), account.id, status.id, now_iso(),
                                 self.notice_for(status, account, "favourite"))
        return status

    def unfavourite(self, account: Account, status_id: str) -> Status:
        status = self.get_visible(account, status_id)
        if not self.index.remove_favourite(account.id, status.id):
            raise BadRequest("Could not unfavorite")
        return status

    def bookmark(self, account: Account, status_id: str, folder_id: Any = None) -> Status:
        """Bookmark, into `folder_id` when it is one of the account's folders (else none, as Pleroma)."""
        status = self.get_visible(account, status_id)
        folder = None
        if folder_id not in (None, ""):
            if isinstance(folder_id, (dict, list, bool, UploadFile)):
                raise BadRequest("Invalid folder_id")
            if self.index.bookmark_folder_owner(str(folder_id)) == account.id:
                folder = str(folder_id)
        self.index.put_bookmark(int(new_id()), account.id, status.id, folder, now_iso())
        return status

    def unbookmark(self, account: Account, status_id: str) -> Status:
        status = self.get_visible(account, status_id)
        self.index.remove_bookmark(account.id, status.id)
        return status

    # -- threads and timelines -------------------------------------------------------------

    def context(self, viewer: Account | None, status: Status) -> tuple[list[Status], list[Status]]:
        """(ancestors, descendants): the chain of visible parents, and the visible replies below it."""
        thread = {s.id: s for s in self.index.context_statuses(status.context, viewer.id if viewer else None)}
        ancestors = []
        parent_id = status.in_reply_to_id
        while parent_id is not None and parent_id in thread and len(ancestors) < 1000:
            ancestors.insert(0, thread[parent_id])
            parent_id = thread[parent_id].in_reply_to_id
        below, frontier = [], {status.id}
        for candidate in sorted(thread.values(), key=lambda s: int(s.id)):
            if candidate.in_reply_to_id in frontier:
                below.append(candidate)
                frontier.add(candidate.id)
        return ancestors, below

    def home(self, viewer: Account, page: Page, with_muted: bool = False) -> list[tuple[int, Status]]:
        return self.index.home_page(viewer.id, page, with_muted=with_muted)

    def public(self, viewer: Account | None, page: Page, only_media: bool = False,
               with_muted: bool = False) -> list[tuple[int, Status]]:
        return self.index.public_page(viewer.id if viewer else None, page, only_media=only_media, with_muted=with_muted)

    def by_account(self, viewer: Account | None, author: Account, page: Page, *, only_media: bool = False,
                   exclude_replies: bool = False, tagged: str | None = None) -> list[tuple[int, Status]]:
        return self.index.account_page(viewer.id if viewer else None, author.id, page, only_media=only_media,
                                       exclude_replies=exclude_replies,
                                       tag=tagged.lstrip("#").lower() if tagged else None)

    def favourites(self, viewer: Account, page: Page) -> list[tuple[int, Status]]:
        """The viewer's favourites, paged by when they were made."""
        return self.index.favourites_page(viewer.id, page)

    def favourited_by_account(self, viewer: Account | None, account: Account, page: Page) -> list[tuple[int, Status]]:
        """Another account's favourites the viewer may read, paged by status id (as Pleroma's list)."""
        return self.index.favourited_by_page(viewer.id if viewer else None, account.id, page)

    def bookmarks(self, viewer: Account, page: Page, folder_id: str | None = None) -> list[tuple[int, Status]]:
        return self.index.bookmarks_page(viewer.id, page, folder_id)

    def quotes(self, viewer: Account | None, status: Status, page: Page) -> list[tuple[int, Status]]:
        return self.index.quotes_page(viewer.id if viewer else None, status.id, page)
