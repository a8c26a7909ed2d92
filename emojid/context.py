"""AppContext: the long-lived objects of one running application, built once in its lifespan."""

from __future__ import annotations

import asyncio
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
    from emojid.emoji.web.lists import EmojiListCache
    from emojid.social.services import Social


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
    # auth
    accounts: Accounts
    auth: Authenticator
    # social
    social: Social
    watcher: Watcher | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context
