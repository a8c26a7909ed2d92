"""The whole route table, in one place: the emoji part first, then auth, then social.

Pleroma"s routes answer under both `/api/v1/pleroma` and the older `/api/pleroma`;
the 2019 pack and registration routes only under the older one. Order matters
where paths overlap (`/accounts/verify_credentials` before `/accounts/{id}`),
and the two mounts come last: a mount answers 404 for any path under it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route, Router

from emojid import instance, openapi
from emojid.auth.web import mfa, oauth
from emojid.emoji.ui.site import WebUI
from emojid.emoji.web import emojid_api as emoji_api
from emojid.emoji.web import files as emoji_files
from emojid.emoji.web import legacy as emoji_legacy
from emojid.emoji.web import lint as emoji_lint
from emojid.emoji.web import lists as emoji_lists
from emojid.emoji.web import packs as emoji_packs
from emojid.emoji.web import remote as emoji_remote
from emojid.emoji.web import serve as emoji_serve
from emojid.emoji.web import static_frames as emoji_static_frames
from emojid.emoji.web import sync as emoji_sync
from emojid.social import placeholders
from emojid.social.web import (
    accounts,
    backups,
    bookmarks,
    conversations,
    events,
    media,
    notifications,
    pleroma_accounts,
    reactions,
    registration,
    statuses,
)

# Under /api/v1/pleroma and /api/pleroma.
PLEROMA: list[BaseRoute] = [
    # emoji packs, files, remote packs, sync
    Route("/emoji/packs/files", emoji_files.add_file, methods=["POST"]),
    Route("/emoji/packs/files", emoji_files.update_file, methods=["PATCH"]),
    Route("/emoji/packs/files", emoji_files.delete_file, methods=["DELETE"]),
    Route("/emoji/packs", emoji_packs.list_packs, methods=["GET"]),
    Route("/emoji/pack", emoji_packs.show_pack, methods=["GET"]),
    Route("/emoji/pack", emoji_packs.create_pack, methods=["POST"]),
    Route("/emoji/pack", emoji_packs.update_pack, methods=["PATCH"]),
    Route("/emoji/pack", emoji_packs.delete_pack, methods=["DELETE"]),
    Route("/emoji/packs/import", emoji_packs.import_packs, methods=["GET"]),
    Route("/emoji/packs/archive", emoji_packs.archive, methods=["GET"]),
    Route("/emoji/packs/remote", emoji_remote.list_remote, methods=["GET"]),
    Route("/emoji/packs/download", emoji_remote.download, methods=["POST"]),
    Route("/emoji/sync", emoji_sync.sync_status, methods=["GET"]),
    Route("/emoji", emoji_lists.pleroma_emoji, methods=["GET"]),
    Route("/healthcheck", instance.healthcheck, methods=["GET"]),
    # auth: MFA settings
    Route("/accounts/mfa", mfa.settings, methods=["GET"]),
    Route("/accounts/mfa/backup_codes", mfa.backup_codes, methods=["GET"]),
    Route("/accounts/mfa/setup/{method}", mfa.setup, methods=["GET"]),
    Route("/accounts/mfa/confirm/{method}", mfa.confirm, methods=["POST"]),
    Route("/accounts/mfa/{method}", mfa.disable, methods=["DELETE"]),
    # social
    Route("/captcha", registration.captcha, methods=["GET"]),
    Route("/accounts/confirmation_resend", registration.confirmation_resend, methods=["POST"]),
    Route("/change_password", pleroma_accounts.change_password, methods=["POST"]),
    Route("/change_email", pleroma_accounts.change_email, methods=["POST"]),
    Route("/delete_account", pleroma_accounts.delete_account, methods=["POST"]),
    Route("/disable_account", pleroma_accounts.disable_account, methods=["POST"]),
    Route("/move_account", pleroma_accounts.move_account, methods=["POST"]),
    Route("/aliases", pleroma_accounts.list_aliases, methods=["GET"]),
    Route("/aliases", pleroma_accounts.add_alias, methods=["PUT"]),
    Route("/aliases", pleroma_accounts.delete_alias, methods=["DELETE"]),
    Route("/notification_settings", pleroma_accounts.notification_settings, methods=["PUT"]),
    Route("/settings/{app}", pleroma_accounts.show_settings, methods=["GET"]),
    Route("/settings/{app}", pleroma_accounts.update_settings, methods=["PATCH"]),
    Route("/mascot", pleroma_accounts.show_mascot, methods=["GET"]),
    Route("/mascot", pleroma_accounts.update_mascot, methods=["PUT"]),
    Route("/accounts/update_avatar", pleroma_accounts.image_route("avatar", "img"), methods=["PATCH"]),
    Route("/accounts/update_banner", pleroma_accounts.image_route("header", "banner"), methods=["PATCH"]),
    Route("/accounts/update_background", pleroma_accounts.image_route("background", "img"), methods=["PATCH"]),
    Route("/follow_import", pleroma_accounts.import_route("follow", ("follow", "write:follows")), methods=["POST"]),
    Route("/blocks_import", pleroma_accounts.import_route("block", ("follow", "write:blocks")), methods=["POST"]),
    Route("/mutes_import", pleroma_accounts.import_route("mute", ("follow", "write:mutes")), methods=["POST"]),
    Route("/accounts/{id}/endorsements", pleroma_accounts.endorsements, methods=["GET"]),
    Route("/accounts/{id}/subscribe", pleroma_accounts.subscription(True), methods=["POST"]),
    Route("/accounts/{id}/unsubscribe", pleroma_accounts.subscription(False), methods=["POST"]),
    Route("/remote_interaction", pleroma_accounts.remote_interaction, methods=["POST"]),
    Route("/statuses/{id}/quotes", statuses.quotes, methods=["GET"]),
    Route("/accounts/{id}/favourites", statuses.account_favourites, methods=["GET"]),
    Route("/notifications/read", notifications.mark_read, methods=["POST"]),
    Route("/statuses/{id}/reactions", reactions.index, methods=["GET"]),
    Route("/statuses/{id}/reactions/{emoji}", reactions.index, methods=["GET"]),
    Route("/statuses/{id}/reactions/{emoji}", reactions.change_reaction(True), methods=["PUT"]),
    Route("/statuses/{id}/reactions/{emoji}", reactions.change_reaction(False), methods=["DELETE"]),
    Route("/conversations/read", conversations.read_all, methods=["POST"]),
    Route("/conversations/{id}", conversations.show, methods=["GET"]),
    Route("/conversations/{id}", conversations.update, methods=["PATCH"]),
    Route("/conversations/{id}/statuses", conversations.statuses, methods=["GET"]),
    Route("/bookmark_folders", bookmarks.list_folders, methods=["GET"]),
    Route("/bookmark_folders", bookmarks.create_folder, methods=["POST"]),
    Route("/bookmark_folders/{id}", bookmarks.update_folder, methods=["PATCH"]),
    Route("/bookmark_folders/{id}", bookmarks.delete_folder, methods=["DELETE"]),
    Route("/events", events.create_event, methods=["POST"]),
    Route("/events/joined_events", events.joined_events, methods=["GET"]),
    Route("/events/{id}", events.update_event, methods=["POST", "PUT"]),
    Route("/events/{id}/participations", events.participations, methods=["GET"]),
    Route("/events/{id}/participation_requests", events.participation_requests, methods=["GET"]),
    Route("/events/{id}/participation_requests/{participant_id}/authorize", events.answer_participation(True), methods=["POST"]),
    Route("/events/{id}/participation_requests/{participant_id}/reject", events.answer_participation(False), methods=["POST"]),
    Route("/events/{id}/join", events.join_event, methods=["POST"]),
    Route("/events/{id}/leave", events.leave_event, methods=["POST"]),
    Route("/events/{id}/ics", events.event_ics, methods=["GET", "POST"]),
    Route("/scrobble", events.create_scrobble, methods=["POST"]),
    Route("/accounts/{id}/scrobbles", events.list_scrobbles, methods=["GET"]),
    Route("/search/location", events.search_location, methods=["GET"]),
    Route("/backups", backups.list_backups, methods=["GET"]),
    Route("/backups", backups.create_backup, methods=["POST"]),
]

# Only under the older /api/pleroma: the 2019 routes.
LEGACY: list[BaseRoute] = [
    Route("/emoji/packs/list_from", emoji_remote.list_from, methods=["POST"]),
    Route("/emoji/packs/download_from", emoji_remote.download_from, methods=["POST"]),
    Route("/emoji/packs/{name}", emoji_legacy.create, methods=["PUT"]),
    Route("/emoji/packs/{name}", emoji_legacy.delete, methods=["DELETE"]),
    Route("/emoji/packs/{name}/update_file", emoji_legacy.update_file, methods=["POST"]),
    Route("/emoji/packs/{name}/update_metadata", emoji_legacy.update_metadata, methods=["POST"]),
    Route("/emoji/packs/{name}/download_shared", emoji_packs.archive, methods=["GET"]),
]


def routes() -> list[BaseRoute]:
    return [
        # emoji: files, the global lists
        Route("/emoji/{pack}/{filename:path}", emoji_serve.emoji_file, methods=["GET", "HEAD"]),
        Route("/emoji-static/{pack}/{filename:path}", emoji_static_frames.static_frame, methods=["GET", "HEAD"]),
        Route("/api/v1/custom_emojis", emoji_lists.custom_emojis, methods=["GET"]),
        Route("/api/v1/emojid/lint", emoji_lint.lint_packs, methods=["GET"]),
        Route("/api/v1/emojid/packs/emoji", emoji_api.list_emoji, methods=["GET"]),
        Route("/api/v1/emojid/packs/emoji", emoji_api.update_emoji, methods=["PATCH"]),
        Route("/api/v1/emojid/packs/export", emoji_api.export, methods=["GET"]),
        Route("/api/v1/emojid/packs/import", emoji_api.import_pack, methods=["POST"]),
        Route("/api/v1/emojid/search", emoji_api.search, methods=["GET"]),
        # emoji: the web UI, HTML pages at `/`, `/ui` and `/ui/...` (its routes: emojid/emoji/ui/site.py)
        WebUI(),
        # the instance: nodeinfo, /api/v1/instance
        Route("/.well-known/nodeinfo", instance.well_known, methods=["GET"]),
        Route("/nodeinfo/{version:str}.json", instance.nodeinfo, methods=["GET"]),
        Route("/api/v1/instance", instance.instance, methods=["GET"]),
        Route("/api/openapi.json", openapi.openapi_json, methods=["GET"]),  # emojid/openapi: this table, described
        # auth: apps, OAuth, MFA
        Route("/api/v1/apps", oauth.create_app, methods=["POST"]),
        Route("/oauth/authorize", oauth.authorize, methods=["GET"]),
        Route("/oauth/authorize", oauth.create_authorization, methods=["POST"]),
        Route("/oauth/token", oauth.token, methods=["POST"]),
        Route("/oauth/revoke", oauth.revoke, methods=["POST"]),
        Route("/api/oauth_tokens", oauth.list_tokens, methods=["GET"]),
        Route("/api/oauth_tokens/{id}", oauth.delete_token, methods=["DELETE"]),
        Route("/oauth/mfa/challenge", mfa.challenge, methods=["POST"]),
        Route("/oauth/mfa", mfa.show, methods=["GET"]),
        Route("/oauth/mfa/verify", mfa.verify, methods=["POST"]),
        # social: accounts, registration, media, statuses, notifications, events, backups
        Route("/api/v1/accounts", registration.create_account, methods=["POST"]),
        Route("/api/v1/accounts/verify_credentials", accounts.verify_credentials, methods=["GET"]),
        Route("/api/v1/accounts/update_credentials", accounts.update_credentials, methods=["PATCH"]),
        Route("/api/v1/accounts/relationships", accounts.relationships, methods=["GET"]),
        Route("/api/v1/accounts/lookup", accounts.lookup, methods=["GET"]),
        Route("/api/v1/accounts/{id}", accounts.show, methods=["GET"]),
        Route("/api/v1/accounts/{id}/followers", accounts.followers, methods=["GET"]),
        Route("/api/v1/accounts/{id}/following", accounts.following, methods=["GET"]),
        Route("/api/v1/accounts/{id}/follow", accounts.follow, methods=["POST"]),
        Route("/api/v1/accounts/{id}/unfollow", accounts.unfollow, methods=["POST"]),
        Route("/api/v1/accounts/{id}/block", accounts.block, methods=["POST"]),
        Route("/api/v1/accounts/{id}/unblock", accounts.unblock, methods=["POST"]),
        Route("/api/v1/accounts/{id}/mute", accounts.mute, methods=["POST"]),
        Route("/api/v1/accounts/{id}/unmute", accounts.unmute, methods=["POST"]),
        Route("/api/v1/accounts/{id}/pin", accounts.pin, methods=["POST"]),
        Route("/api/v1/accounts/{id}/unpin", accounts.unpin, methods=["POST"]),
        Route("/api/v1/endorsements", accounts.endorsements, methods=["GET"]),
        Route("/api/v1/blocks", accounts.blocks, methods=["GET"]),
        Route("/api/v1/mutes", accounts.mutes, methods=["GET"]),
        Route("/api/v1/follow_requests", accounts.follow_requests, methods=["GET"]),
        Route("/api/v1/follow_requests/{id}/authorize", accounts.answer_follow_request(True), methods=["POST"]),
        Route("/api/v1/follow_requests/{id}/reject", accounts.answer_follow_request(False), methods=["POST"]),
        Route("/api/account/register", registration.register_2019, methods=["POST"]),
        Route("/api/account/confirm_email/{id}/{token}", registration.confirm_email, methods=["GET"]),
        Route("/api/v1/media", media.upload(200), methods=["POST"]),
        Route("/api/v2/media", media.upload(202), methods=["POST"]),
        Route("/api/v1/media/{id}", media.show_media, methods=["GET"]),
        Route("/api/v1/media/{id}", media.update_media, methods=["PUT"]),
        Route("/media/{filename}", media.media_file, methods=["GET", "HEAD"]),
        Route(placeholders.AVATAR, media.default_image, methods=["GET", "HEAD"]),
        Route(placeholders.BANNER, media.default_image, methods=["GET", "HEAD"]),
        Route(placeholders.MASCOT, media.default_image, methods=["GET", "HEAD"]),
        Route("/api/v1/statuses", statuses.create, methods=["POST"]),
        Route("/api/v1/statuses", statuses.show_many, methods=["GET"]),
        Route("/api/v1/statuses/{id}", statuses.show, methods=["GET"]),
        Route("/api/v1/statuses/{id}", statuses.delete, methods=["DELETE"]),
        Route("/api/v1/statuses/{id}/context", statuses.context, methods=["GET"]),
        Route("/api/v1/statuses/{id}/favourited_by", statuses.favourited_by, methods=["GET"]),
        Route("/api/v1/statuses/{id}/favourite", statuses.favourite, methods=["POST"]),
        Route("/api/v1/statuses/{id}/unfavourite", statuses.unfavourite, methods=["POST"]),
        Route("/api/v1/statuses/{id}/bookmark", statuses.bookmark, methods=["POST"]),
        Route("/api/v1/statuses/{id}/unbookmark", statuses.unbookmark, methods=["POST"]),
        Route("/api/v1/timelines/home", statuses.home, methods=["GET"]),
        Route("/api/v1/timelines/public", statuses.public, methods=["GET"]),
        Route("/api/v1/accounts/{id}/statuses", statuses.account_statuses, methods=["GET"]),
        Route("/api/v1/bookmarks", statuses.bookmarks, methods=["GET"]),
        Route("/api/v1/favourites", statuses.favourites, methods=["GET"]),
        Route("/api/v1/notifications", notifications.index, methods=["GET"]),
        Route("/api/v1/notifications/clear", notifications.clear, methods=["POST"]),
        Route("/api/v1/notifications/dismiss", notifications.dismiss, methods=["POST"]),
        Route("/api/v1/notifications/{id}", notifications.show, methods=["GET"]),
        Route("/api/v1/notifications/{id}/dismiss", notifications.dismiss, methods=["POST"]),
        Route("/api/v1/conversations", conversations.index, methods=["GET"]),
        Route("/api/v1/conversations/{id}/read", conversations.read_one, methods=["POST"]),
        Route("/api/v1/conversations/{id}", conversations.delete, methods=["DELETE"]),
        Route("/backups/{file_name}", backups.download, methods=["GET", "HEAD"]),
        _mount("/api/v1/pleroma", PLEROMA),
        _mount("/api/pleroma", PLEROMA + LEGACY),
    ]


def _mount(prefix: str, entries: list[BaseRoute]) -> Mount:
    # No redirects between `/x` and `/x/`: emojid.http.middleware.IgnoreTrailingSlash serves both.
    return Mount(prefix, app=Router(entries, redirect_slashes=False))
