"""What the instance says about itself: nodeinfo, /api/v1/instance, healthcheck."""

from __future__ import annotations

import os
import resource
import threading

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from emojid import __version__
from emojid.context import ctx
from emojid.emoji import lint
from emojid.errors import NotFound
from emojid.http.responses import JSON
from emojid.social import statuses

PLEROMA_VERSION = "2.7.2"
FEATURES = [
    "pleroma_api",
    "mastodon_api",
    "shareable_emoji_packs",
    "pleroma_emoji_reactions",
    "custom_emoji_reactions",
    "pleroma:api/v1/notifications:include_types_filter",
]


def memory_used_mb() -> float:
    """Resident memory of this process in MB (peak when /proc is unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1048576, 2)
    except (OSError, ValueError, IndexError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2)


async def well_known(request: Request) -> Response:
    base = ctx(request).config.public_url
    return JSON({
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{base}/nodeinfo/2.0.json"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{base}/nodeinfo/2.1.json"},
        ]
    })


async def nodeinfo(request: Request) -> Response:
    c = ctx(request)
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        raise NotFound("Not found")
    users = await anyio.to_thread.run_sync(c.accounts.index.active_account_count)
    posts = await anyio.to_thread.run_sync(c.social.index.local_status_count)
    software = {"name": "pleroma", "version": f"{PLEROMA_VERSION} (compatible; emojid {__version__})"}
    if version == "2.1":
        software["repository"] = "https://github.com/emojid/emojid"
    return JSON(
        {
            "version": version,
            "software": software,
            "protocols": ["activitypub"],
            "services": {"inbound": [], "outbound": []},
            "openRegistrations": c.config.instance.registrations_open,
            "usage": {"users": {"total": users}, "localPosts": posts},
            "metadata": {
                "nodeName": c.config.instance.name,
                "features": FEATURES,
                "federation": {"enabled": False},
                "accountActivationRequired": c.config.instance.account_activation_required,
                "invitesEnabled": c.config.instance.invites_enabled,
            },
        },
        headers={"content-type": f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'},
    )


async def instance(request: Request) -> Response:
    c = ctx(request)
    users = await anyio.to_thread.run_sync(c.accounts.index.active_account_count)
    posts = await anyio.to_thread.run_sync(c.social.index.local_status_count)
    base = c.config.public_url
    return JSON({
        "uri": base,
        "title": c.config.instance.name,
        "short_description": "",
        "description": f"{c.config.instance.name}: an emojid emoji pack server",
        "email": "",
        "version": f"{PLEROMA_VERSION} (compatible; Pleroma {PLEROMA_VERSION}; emojid {__version__})",
        "urls": {"streaming_api": base.replace("http", "ws", 1)},
        "stats": {"user_count": users, "status_count": posts, "domain_count": 0},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": c.config.instance.registrations_open,
        "approval_required": c.config.instance.account_approval_required,
        "invites_enabled": c.config.instance.invites_enabled,
        # the limits Statuses enforces (read at each answer, so they never drift apart)
        "max_toot_chars": statuses.MAX_CHARACTERS,
        "poll_limits": {"max_options": 20, "max_option_chars": 200, "min_expiration": 0, "max_expiration": 31536000},
        "upload_limit": c.config.emoji.max_file_bytes,
        "configuration": {
            "statuses": {"max_characters": statuses.MAX_CHARACTERS, "max_media_attachments": statuses.MAX_MEDIA},
            "polls": {"max_options": 20, "max_characters_per_option": 200,
                      "min_expiration": 0, "max_expiration": 31536000},
        },
        "contact_account": None,
        "rules": [],
        "pleroma": {
            "metadata": {"features": FEATURES, "federation": {"enabled": False}},
            "vapid_public_key": None,
        },
    })


async def healthcheck(request: Request) -> Response:
    """Pleroma's fields (`healthy` false and 503 when the service cannot work), plus
    `status`: "ok", "indexing" (serving from the index while the start-up pass reconciles
    it with the store: `indexing` = {"done", "total"} packs, null once done), "degraded"
    (serving, but a pack.json is broken: `pack_errors` names each, its last good state
    still served) or "unhealthy"; `lint`: the lint findings under the instance's rules by
    severity (`emojid lint` lists them), null while indexing."""
    c = ctx(request)
    db_ok = await anyio.to_thread.run_sync(c.database.healthy)
    watcher = c.watcher.state if c.watcher else "disabled"
    healthy = db_ok and watcher in ("alive", "disabled")
    indexing = c.indexing.running
    pack_errors = await anyio.to_thread.run_sync(c.packs.index.pack_errors) if db_ok else {}
    # Lint findings by severity (the instance's rules), counted again only after a change;
    # not while indexing, when each answer would count a 100k-emoji index again, half done.
    lint_counts = await anyio.to_thread.run_sync(lint.COUNTS.get, c.packs.index, c.config) \
        if db_ok and not indexing else None
    status = "unhealthy" if not healthy else "indexing" if indexing else "degraded" if pack_errors else "ok"
    return JSON(
        {
            "pool_size": 1,
            "active": threading.active_count(),
            "idle": 0,
            "memory_used": memory_used_mb(),
            "healthy": healthy,
            "status": status,
            "indexing": {"done": c.indexing.done, "total": c.indexing.total} if indexing else None,
            "job_queue_stats": c.syncer.queue_stats(),
            "db": "ok" if db_ok else "unavailable",
            "watcher": watcher,
            "pack_errors": pack_errors,
            "lint": lint_counts,
        },
        status_code=200 if healthy else 503,
    )
