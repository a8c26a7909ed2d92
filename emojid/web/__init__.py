"""Every route, by API area. The Pleroma ones are mounted under both prefixes."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Router

from emojid.web import (
    backups,
    bookmarks,
    conversations,
    events,
    reactions,
    statuses,
    accounts,
    media,
    mfa,
    pleroma_accounts,
    emoji_files,
    emoji_lists,
    emoji_packs,
    emoji_remote,
    instance,
    legacy,
    oauth,
    static,
    sync_status,
)

# /api/v1/pleroma/* is backwards compatible with /api/pleroma/*.
pleroma_routes: list[BaseRoute] = [
    *emoji_files.routes,
    *emoji_packs.routes,
    *emoji_remote.routes,
    *sync_status.routes,
    *emoji_lists.pleroma_routes,
    *instance.pleroma_routes,
    *accounts.pleroma_routes,
    *pleroma_accounts.pleroma_routes,
    *mfa.pleroma_routes,
    *media.pleroma_routes,
    *statuses.pleroma_routes,
    *reactions.pleroma_routes,
    *conversations.pleroma_routes,
    *bookmarks.pleroma_routes,
    *events.pleroma_routes,
    *backups.pleroma_routes,
]


def routes() -> list[BaseRoute]:
    return [
        *oauth.routes,
        *mfa.routes,
        *accounts.routes,
        *pleroma_accounts.routes,
        *media.routes,
        *statuses.routes,
        *reactions.routes,
        *conversations.routes,
        *bookmarks.routes,
        *events.routes,
        *backups.routes,
        *instance.routes,
        *emoji_lists.routes,
        *static.routes,
        _mount("/api/v1/pleroma", pleroma_routes),
        _mount("/api/pleroma", pleroma_routes + emoji_remote.legacy_routes + legacy.routes),
    ]


def _mount(prefix: str, entries: list[BaseRoute]) -> Mount:
    # No redirects between `/x` and `/x/`: emojid.web.common.IgnoreTrailingSlash serves both.
    return Mount(prefix, app=Router(entries, redirect_slashes=False))
