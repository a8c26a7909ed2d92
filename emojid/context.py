"""AppContext: the long-lived objects of one running application, built once in its lifespan."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from emojid.config import Config
from emojid.db import Database
from emojid.remote import RemoteClient

if TYPE_CHECKING:  # the parts import this module for `ctx`
    from emojid.auth.accounts import Accounts
    from emojid.auth.callers import Authenticator
    from emojid.emoji.packs import PackService
    from emojid.emoji.remote_packs import RemotePacks
    from emojid.emoji.sync import Syncer
    from emojid.emoji.watcher import Watcher
    from emojid.emoji.web.lists import AnswerCache, EmojiListCache
    from emojid.social.services import Social


@dataclass
class Indexing:
    """The start-up pass over the pack store (leftovers swept, index reconciled with disk),
    run in a worker thread while the server already answers from the index as it was."""

    done: int = 0
    total: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    stop: threading.Event = field(default_factory=threading.Event)  # set at shutdown

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    def progress(self, done: int, total: int) -> None:
        """Called from the worker thread after each pack (plain int stores: no lock needed)."""
        self.done, self.total = done, total


@dataclass
class AppContext:
    config: Config
    database: Database
    remote: RemoteClient
    # emoji
    packs: PackService
    remote_packs: RemotePacks
    syncer: Syncer
    emoji_lists: EmojiListCache
    pack_answers: AnswerCache  # pack listing and pack show pages, per index generation
    # auth
    accounts: Accounts
    auth: Authenticator
    # social
    social: Social
    watcher: Watcher | None = None
    indexing: Indexing = field(default_factory=Indexing)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context
