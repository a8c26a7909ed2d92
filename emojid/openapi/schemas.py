"""Response schemas: the components (the emoji documents, Error, and the entities clients use)
and which handler answers which.

They are as loose as the answers are: objects allow more members than they list
(`additionalProperties` is not closed), and only members every answer carries are
required. Handlers are named `module:qualname`, so the inner function a route factory
returns (`accounts.answer_follow_request(True)`) is named once for all its routes;
tests/test_openapi.py checks that every name here is a routed handler.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STRING: Schema = {"type": "string"}
STRINGS: Schema = array(STRING)
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
ID: Schema = {"type": "string", "description": "digits (at most 20) or a 26-character ULID"}


def obj(required: list[str], properties: dict[str, Schema], description: str | None = None) -> Schema:
    schema: Schema = {"type": "object", "required": required, "properties": properties}
    if description:
        schema["description"] = description
    return schema


COMPONENTS: dict[str, Schema] = {
    "Error": obj(["error"], {"error": STRING}, "Every error: one line of text (some carry more members, "
                 "e.g. `identifier`, `mfa_token`)."),
    "Ok": {"type": "string", "const": "ok"},
    # -- emoji packs (Pleroma's documents)
    "PackMeta": obj([], {
        "license": STRING, "homepage": STRING, "description": STRING, "fallback-src": STRING,
        "fallback-src-sha256": STRING, "share-files": BOOLEAN, "can-download": BOOLEAN, "download-sha256": STRING,
    }, "A pack's `pack` object: its pack.json metadata (more members allowed), with `can-download` and, "
       "when shareable, `download-sha256`."),
    "PackFiles": {"type": "object", "additionalProperties": STRING, "description": "shortcode -> file name"},
    "Pack": obj(["files", "files_count", "pack"], {
        "files": ref("PackFiles"), "files_count": INTEGER, "pack": ref("PackMeta"),
    }, "One pack (a page of its files)."),
    "PackListing": obj(["packs", "count"], {
        "packs": {"type": "object", "additionalProperties": ref("Pack")}, "count": INTEGER,
    }, "A page of packs, by name, and how many there are."),
    "PleromaEmoji": {"type": "object", "additionalProperties": obj(["image_url", "tags"], {
        "image_url": STRING, "tags": STRINGS}), "description": "shortcode -> {image_url, tags}"},
    "Emoji": obj(["shortcode", "url", "static_url", "visible_in_picker"], {
        "shortcode": STRING, "url": STRING, "static_url": STRING, "visible_in_picker": BOOLEAN,
        "category": STRING, "tags": STRINGS,
    }, "A Mastodon custom emoji (`category` = its pack in /api/v1/custom_emojis)."),
    "EmojiEntry": obj(["shortcode", "filename", "url", "static_url"], {
        "shortcode": STRING, "filename": STRING, "url": STRING, "static_url": STRING, "sha256": nullable(STRING),
        "size": nullable(INTEGER), "width": nullable(INTEGER), "height": nullable(INTEGER),
        "animated": nullable(BOOLEAN), "tags": STRINGS, "license": nullable(STRING), "author": nullable(STRING),
        "source": nullable(STRING),
    }, "One emoji of a local pack, with its file facts and emojid's own metadata."),
    "EmojiPage": obj(["pack", "count", "emoji"], {"pack": STRING, "count": INTEGER, "emoji": array(ref("EmojiEntry"))}),
    "SearchHit": obj(["shortcode", "pack", "url", "static_url"], {
        "shortcode": STRING, "pack": STRING, "url": STRING, "static_url": STRING, "tags": STRINGS}),
    "ImportReport": obj(["pack", "format", "dry_run"], {
        "pack": STRING, "format": STRING, "dry_run": BOOLEAN, "added": STRINGS, "replaced": STRINGS,
        "renamed": {"type": "object", "additionalProperties": STRING},
        "skipped": array(obj(["shortcode", "reason"], {"shortcode": STRING, "reason": STRING})),
    }),
    "LintReport": obj(["findings"], {"findings": array(obj(["code", "severity"], {
        "pack": nullable(STRING), "shortcode": nullable(STRING), "filename": nullable(STRING), "code": STRING,
        "severity": {"enum": ["error", "warning"]}, "target": nullable(STRING), "message": STRING}))}),
    "SyncStatus": obj(["jobs"], {"jobs": array(OBJECT)}),
    # -- the instance
    "Healthcheck": obj(["healthy", "status"], {
        "healthy": BOOLEAN, "status": {"enum": ["ok", "indexing", "degraded", "unhealthy"]},
        "memory_used": {"type": "number"},
        "db": STRING, "watcher": STRING, "pack_errors": {"type": "object", "additionalProperties": STRING},
        "job_queue_stats": OBJECT,
        "indexing": nullable(obj(["done", "total"], {"done": INTEGER, "total": INTEGER})),
    }),
    "NodeinfoLinks": obj(["links"], {"links": array(obj(["rel", "href"], {"rel": STRING, "href": STRING}))}),
    "Nodeinfo": obj(["version", "software", "protocols", "usage", "openRegistrations", "metadata"], {
        "version": STRING, "software": obj(["name", "version"], {"name": STRING, "version": STRING}),
        "protocols": STRINGS, "usage": OBJECT, "openRegistrations": BOOLEAN,
        "metadata": obj([], {"nodeName": STRING, "features": STRINGS}),
    }),
    "Instance": obj(["uri", "title", "version"], {
        "uri": STRING, "title": STRING, "version": STRING, "registrations": BOOLEAN, "poll_limits": OBJECT,
        "stats": OBJECT, "configuration": OBJECT, "pleroma": OBJECT,
    }, "Mastodon's v1 instance."),
    # -- auth
    "App": obj(["client_id", "client_secret", "redirect_uri"], {
        "id": ID, "name": STRING, "website": nullable(STRING), "redirect_uri": STRING, "redirect_uris": STRINGS,
        "client_id": STRING, "client_secret": STRING, "scopes": STRINGS, "vapid_key": nullable(STRING),
    }),
    "Token": obj(["access_token", "token_type", "scope", "created_at"], {
        "id": ID, "access_token": STRING, "token_type": STRING, "scope": STRING, "created_at": INTEGER,
        "expires_in": INTEGER, "refresh_token": STRING, "me": ID,
    }),
    # -- entities clients use (Mastodon's, with Pleroma's extensions)
    "Account": obj(["id", "username", "acct", "display_name", "url", "avatar", "emojis", "pleroma"], {
        "id": ID, "username": STRING, "acct": STRING, "display_name": STRING, "locked": BOOLEAN, "bot": BOOLEAN,
        "created_at": STRING, "note": STRING, "url": STRING, "avatar": STRING, "avatar_static": STRING,
        "header": STRING, "header_static": STRING, "followers_count": INTEGER, "following_count": INTEGER,
        "statuses_count": INTEGER, "emojis": array(ref("Emoji")), "fields": array(OBJECT), "source": OBJECT,
        "fqn": STRING, "pleroma": OBJECT, "moved": nullable(OBJECT),
    }),
    "Relationship": obj(["id"], {
        "id": ID, "following": BOOLEAN, "followed_by": BOOLEAN, "blocking": BOOLEAN, "blocked_by": BOOLEAN,
        "muting": BOOLEAN, "muting_notifications": BOOLEAN, "requested": BOOLEAN, "endorsed": BOOLEAN,
        "subscribing": BOOLEAN, "notifying": BOOLEAN, "showing_reblogs": BOOLEAN, "note": STRING,
    }),
    "Attachment": obj(["id", "type", "url"], {
        "id": ID, "type": STRING, "url": STRING, "preview_url": nullable(STRING), "remote_url": nullable(STRING),
        "description": nullable(STRING), "meta": nullable(OBJECT), "pleroma": OBJECT,
    }),
    "Status": obj(["id", "created_at", "account", "content", "visibility", "emojis", "media_attachments",
                   "mentions", "tags", "pleroma"], {
        "id": ID, "uri": STRING, "url": nullable(STRING), "created_at": STRING, "account": ref("Account"),
        "in_reply_to_id": nullable(ID), "in_reply_to_account_id": nullable(ID), "reblog": nullable(OBJECT),
        "content": STRING, "text": nullable(STRING), "spoiler_text": STRING, "sensitive": BOOLEAN,
        "visibility": STRING, "language": nullable(STRING), "replies_count": INTEGER, "reblogs_count": INTEGER,
        "favourites_count": INTEGER, "favourited": BOOLEAN, "bookmarked": BOOLEAN, "muted": BOOLEAN,
        "emojis": array(ref("Emoji")), "media_attachments": array(ref("Attachment")), "mentions": array(OBJECT),
        "tags": array(OBJECT), "poll": nullable(OBJECT), "card": nullable(OBJECT), "pleroma": OBJECT,
    }, "A status; `pleroma` carries `content`, `emoji_reactions`, `conversation_id`, ... (and `event` for events)."),
    "Context": obj(["ancestors", "descendants"], {"ancestors": array(ref("Status")),
                                                 "descendants": array(ref("Status"))}),
    "Notification": obj(["id", "type", "created_at", "account"], {
        "id": ID, "type": STRING, "created_at": STRING, "account": ref("Account"), "status": nullable(ref("Status")),
        "pleroma": OBJECT,
    }),
    "Conversation": obj(["id", "accounts"], {
        "id": ID, "accounts": array(ref("Account")), "unread": BOOLEAN, "last_status": nullable(ref("Status")),
    }),
}

ACCOUNTS = array(ref("Account"))
STATUSES = array(ref("Status"))

# What each handler answers with 2xx JSON. Handlers not listed answer JSON that is not described further.
_SOCIAL = "emojid.social.web"
RESPONSES: dict[str, Schema] = {
    # emoji packs
    "emojid.emoji.web.packs:list_packs": ref("PackListing"),
    "emojid.emoji.web.packs:show_pack": ref("Pack"),
    "emojid.emoji.web.packs:create_pack": ref("Ok"),
    "emojid.emoji.web.packs:update_pack": ref("PackMeta"),
    "emojid.emoji.web.packs:delete_pack": ref("Ok"),
    "emojid.emoji.web.packs:import_packs": STRINGS,
    "emojid.emoji.web.files:add_file": ref("PackFiles"),
    "emojid.emoji.web.files:update_file": ref("PackFiles"),
    "emojid.emoji.web.files:delete_file": ref("PackFiles"),
    "emojid.emoji.web.remote:download": ref("Ok"),
    "emojid.emoji.web.remote:download_from": ref("Ok"),
    "emojid.emoji.web.sync:sync_status": ref("SyncStatus"),
    "emojid.emoji.web.lists:custom_emojis": array(ref("Emoji")),
    "emojid.emoji.web.lists:pleroma_emoji": ref("PleromaEmoji"),
    "emojid.emoji.web.legacy:create": ref("Ok"),
    "emojid.emoji.web.legacy:delete": ref("Ok"),
    "emojid.emoji.web.legacy:update_file": ref("PackFiles"),
    "emojid.emoji.web.legacy:update_metadata": ref("PackMeta"),
    # emojid's own
    "emojid.emoji.web.emojid_api:list_emoji": ref("EmojiPage"),
    "emojid.emoji.web.emojid_api:update_emoji": ref("EmojiEntry"),
    "emojid.emoji.web.emojid_api:search": array(ref("SearchHit")),
    "emojid.emoji.web.emojid_api:import_pack": ref("ImportReport"),
    "emojid.emoji.web.lint:lint_packs": ref("LintReport"),
    # the instance
    "emojid.instance:healthcheck": ref("Healthcheck"),
    "emojid.instance:well_known": ref("NodeinfoLinks"),
    "emojid.instance:nodeinfo": ref("Nodeinfo"),
    "emojid.instance:instance": ref("Instance"),
    "emojid.openapi:openapi_json": OBJECT,
    # auth
    "emojid.auth.web.oauth:create_app": ref("App"),
    "emojid.auth.web.oauth:token": ref("Token"),
    "emojid.auth.web.mfa:challenge": ref("Token"),
    # accounts
    f"{_SOCIAL}.accounts:verify_credentials": ref("Account"),
    f"{_SOCIAL}.accounts:update_credentials": ref("Account"),
    f"{_SOCIAL}.accounts:show": ref("Account"),
    f"{_SOCIAL}.accounts:lookup": ref("Account"),
    f"{_SOCIAL}.accounts:relationships": array(ref("Relationship")),
    f"{_SOCIAL}.accounts:_listing.<locals>.handler": ACCOUNTS,
    f"{_SOCIAL}.accounts:_action.<locals>.handler": ref("Relationship"),
    f"{_SOCIAL}.accounts:_own_list.<locals>.handler": ACCOUNTS,
    f"{_SOCIAL}.accounts:follow_requests": ACCOUNTS,
    f"{_SOCIAL}.accounts:answer_follow_request.<locals>.handler": ref("Relationship"),
    f"{_SOCIAL}.pleroma_accounts:endorsements": ACCOUNTS,
    f"{_SOCIAL}.pleroma_accounts:subscription.<locals>.handler": ref("Relationship"),
    f"{_SOCIAL}.pleroma_accounts:image_route.<locals>.handler": obj(["url"], {"url": nullable(STRING)}),
    # media
    f"{_SOCIAL}.media:upload.<locals>.handler": ref("Attachment"),
    f"{_SOCIAL}.media:show_media": ref("Attachment"),
    f"{_SOCIAL}.media:update_media": ref("Attachment"),
    # statuses and timelines
    f"{_SOCIAL}.statuses:create": ref("Status"),
    f"{_SOCIAL}.statuses:show": ref("Status"),
    f"{_SOCIAL}.statuses:show_many": STATUSES,
    f"{_SOCIAL}.statuses:delete": ref("Status"),
    f"{_SOCIAL}.statuses:context": ref("Context"),
    f"{_SOCIAL}.statuses:favourited_by": ACCOUNTS,
    f"{_SOCIAL}.statuses:_acting.<locals>.handler": ref("Status"),
    f"{_SOCIAL}.statuses:home": STATUSES,
    f"{_SOCIAL}.statuses:public": STATUSES,
    f"{_SOCIAL}.statuses:account_statuses": STATUSES,
    f"{_SOCIAL}.statuses:bookmarks": STATUSES,
    f"{_SOCIAL}.statuses:favourites": STATUSES,
    f"{_SOCIAL}.statuses:account_favourites": STATUSES,
    f"{_SOCIAL}.statuses:quotes": STATUSES,
    f"{_SOCIAL}.reactions:change_reaction.<locals>.handler": ref("Status"),
    f"{_SOCIAL}.reactions:index": array(obj(["name", "count", "me"], {"name": STRING, "count": INTEGER,
                                                                       "me": BOOLEAN, "accounts": ACCOUNTS})),
    # notifications, conversations
    f"{_SOCIAL}.notifications:index": array(ref("Notification")),
    f"{_SOCIAL}.notifications:show": ref("Notification"),
    f"{_SOCIAL}.conversations:index": array(ref("Conversation")),
    f"{_SOCIAL}.conversations:show": ref("Conversation"),
    f"{_SOCIAL}.conversations:update": ref("Conversation"),
    f"{_SOCIAL}.conversations:read_one": ref("Conversation"),
    f"{_SOCIAL}.conversations:read_all": array(ref("Conversation")),
    f"{_SOCIAL}.conversations:statuses": STATUSES,
    # events
    f"{_SOCIAL}.events:create_event": ref("Status"),
    f"{_SOCIAL}.events:update_event": ref("Status"),
    f"{_SOCIAL}.events:joined_events": STATUSES,
    f"{_SOCIAL}.events:participations": ACCOUNTS,
    f"{_SOCIAL}.events:answer_participation.<locals>.handler": ref("Status"),
    f"{_SOCIAL}.events:join_event": ref("Status"),
    f"{_SOCIAL}.events:leave_event": ref("Status"),
}

# Non-2xx JSON answers that are not errors.
STATUS_RESPONSES: dict[tuple[str, int], Schema] = {
    ("emojid.instance:healthcheck", 503): ref("Healthcheck"),
}
