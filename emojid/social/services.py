"""The social part's services, built once at start-up over one SocialIndex.

Handlers reach them as `ctx(request).social.<service>`. The entity views keep
a per-answer cache of rendered accounts, so each answer gets a fresh one
(`status_view()`, `account_view()`); everything else is shared.
"""

from __future__ import annotations

from emojid.auth import ratelimit
from emojid.auth.ratelimit import RequestLimiter
from emojid.config import Config
from emojid.remote import RemoteClient
from emojid.social.backups import Backups, BackupWorker
from emojid.social.bookmark_folders import BookmarkFolders
from emojid.social.captcha import Captchas
from emojid.social.conversations import Conversations
from emojid.social.credentials import Credentials
from emojid.social.entities import statuses as status_entity
from emojid.social.entities.accounts import AccountView
from emojid.social.entities.statuses import StatusView
from emojid.social.events import Events, event_field
from emojid.social.imports import Importer
from emojid.social.index import SocialIndex
from emojid.social.media import MediaStore
from emojid.social.moves import Moves
from emojid.social.notifications import Notifications
from emojid.social.profiles import Profiles
from emojid.social.reactions import Reactions
from emojid.social.registration import Registration
from emojid.social.relationships import Relationships
from emojid.social.scrobbles import Scrobbles
from emojid.social.statuses import Statuses


class Social:
    def __init__(self, index: SocialIndex, config: Config, remote: RemoteClient) -> None:
        # Events add `pleroma.event` to every rendered status.
        status_entity.extend(event_field)
        self.index = index
        self.config = config
        self.media = MediaStore(index, config)
        self.statuses = Statuses(index, config)
        self.reactions = Reactions(index, config)
        self.relationships = Relationships(index, config)
        self.profiles = Profiles(index, config)
        self.registration = Registration(index, config)
        self.signups = RequestLimiter(ratelimit.SIGNUPS_PER_ADDRESS, ratelimit.SIGNUP_WINDOW_SECONDS)
        self.captchas = Captchas(index, config)
        self.credentials = Credentials(index, config)
        self.moves = Moves(index, config, remote)
        self.importer = Importer(index, config)
        self.conversations = Conversations(index, config)
        self.notifications = Notifications(index, config)
        self.bookmark_folders = BookmarkFolders(index, config)
        self.scrobbles = Scrobbles(index, config)
        self.events = Events(index, config)
        self.backups = Backups(index, config)
        self.backup_worker = BackupWorker(self.backups)

    def status_view(self) -> StatusView:
        return StatusView(self.index, self.config)

    def account_view(self) -> AccountView:
        return AccountView(self.index, self.config)

    async def aclose(self) -> None:
        await self.backup_worker.aclose()
