"""Changing a profile: update_credentials, images, mascot, notification and app settings.

Limits and error texts are Pleroma's (user_bio_length 5000, user_name_length
100, max_account_fields 10, 413 for anything too long or too large).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from emojid.http.params import bool_value, text_param
from emojid.ids import now_iso
from emojid.social import placeholders
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.index.profiles import FLAG_DEFAULTS, NOTIFICATION_DEFAULTS, Profile
from emojid.social.media import MediaStore

NAME_LIMIT, BIO_LIMIT, DESCRIPTION_LIMIT = 100, 5000, 5000
MAX_FIELDS, FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT = 10, 512, 2048
SCOPES = ("public", "unlisted", "private", "direct")
ACTOR_TYPES = ("Person", "Service", "Group")
# Which profile column each image slot fills, and the label errors name it by.
IMAGE_SLOTS = {"avatar": "avatar_id", "header": "header_id", "background": "background_id"}


def parse_fields(params: dict) -> list[dict] | None:
    """fields_attributes as JSON (a list, or an index-keyed object) or as form fields `[0][name]`."""
    raw = params.get("fields_attributes")
    pairs: dict[int, dict] = {}
    for key, value in params.items():
        match = re.fullmatch(r"fields_attributes\[(\d+)\]\[(name|value)\]", key)
        if match:
            pairs.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if raw is None and not pairs:
        return None
    if isinstance(raw, dict):
        items = [raw[k] for k in sorted(raw, key=lambda k: int(k) if str(k).isdigit() else 0)]
    elif isinstance(raw, list):
        items = raw
    elif raw is None or raw == "":
        items = [pairs[i] for i in sorted(pairs)]
    else:
        raise BadRequest("fields_attributes must be a list of {name, value}")
    fields = []
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest("fields_attributes must be a list of {name, value}")
        name, value = item.get("name", ""), item.get("value", "")
        if not isinstance(name, str) or not isinstance(value, str):
            raise BadRequest("fields_attributes must be a list of {name, value}")
        if name == "" and value == "":
            continue
        fields.append({"name": name, "value": value})
    if len(fields) > MAX_FIELDS:
        raise PayloadTooLarge("Too many field entries")
    if any(len(f["name"]) > FIELD_NAME_LIMIT or len(f["value"]) > FIELD_VALUE_LIMIT for f in fields):
        raise PayloadTooLarge("One or more field entries are too long")
    return fields


def merge_recursively(old: Any, new: dict) -> dict:
    """Pleroma's settings merge: objects merge key by key, null removes a key."""
    merged = dict(old) if isinstance(old, dict) else {}
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            merged[key] = merge_recursively(merged.get(key), value)
        else:
            merged[key] = value
    return merged


class Profiles:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.media = MediaStore(index, config)
        self.naming = Naming(config)

    # -- PATCH /api/v1/accounts/update_credentials --------------------------------

    def update_credentials(self, account: Account, params: dict, images: dict[str, Path | None]) -> Profile:
        """Apply every given change (all checked before any is stored); the new profile."""
        profile = self.index.profile(account.id)
        changes: dict[str, Any] = {}
        display_name = text_param(params, "display_name")
        if display_name is not None:
            if len(display_name) > NAME_LIMIT:
                raise PayloadTooLarge("Name is too long")
            changes["display_name"] = display_name
        note = text_param(params, "note")
        if note is not None:
            if len(note) > BIO_LIMIT:
                raise PayloadTooLarge("Bio is too long")
            changes["note"] = note
        for name, message in (("avatar_description", "Avatar description is too long"),
                              ("header_description", "Banner description is too long")):
            value = text_param(params, name)
            if value is not None:
                if len(value) > DESCRIPTION_LIMIT:
                    raise PayloadTooLarge(message)
                changes[name] = value
        fields = parse_fields(params)
        if fields is not None:
            changes["fields"] = fields
        for name in ("locked", "discoverable"):
            if params.get(name) is not None:
                changes[name] = bool_value(params[name], name)
        if params.get("bot") is not None:
            changes["actor_type"] = "Service" if bool_value(params["bot"], "bot") else "Person"
        actor_type = text_param(params, "actor_type")
        if actor_type is not None:
            if actor_type not in ACTOR_TYPES:
                raise BadRequest(f"Invalid value for actor_type: expected one of {', '.join(ACTOR_TYPES)}")
            changes["actor_type"] = actor_type
        flags = dict(profile.flags)
        for name in FLAG_DEFAULTS:
            if params.get(name) is not None:
                flags[name] = bool_value(params[name], name)
        if flags != profile.flags:
            changes["flags"] = flags
        if params.get("allow_following_move") is not None:
            changes["allow_following_move"] = bool_value(params["allow_following_move"], "allow_following_move")
        source = params.get("source") if isinstance(params.get("source"), dict) else {}
        scope = text_param(params, "default_scope") or text_param(source, "privacy")
        if scope is not None:
            if scope not in SCOPES:
                raise BadRequest(f"Invalid value for default_scope: expected one of {', '.join(SCOPES)}")
            changes["default_scope"] = scope
        language = text_param(params, "language") or text_param(source, "language")
        if language is not None:
            changes["language"] = language[:16] or None
        birthday = text_param(params, "birthday")
        if birthday is not None:
            if birthday and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", birthday):
                raise BadRequest("Invalid value for birthday: expected YYYY-MM-DD")
            changes["birthday"] = birthday or None
        store = params.get("pleroma_settings_store")
        if store is not None:
            if not isinstance(store, dict):
                raise BadRequest("pleroma_settings_store must be an object")
            changes["settings_store"] = {**profile.settings_store, **store}
        aliases = self._also_known_as(params)
        old_images, new_images = [], []
        try:
            for slot, path in images.items():
                column = IMAGE_SLOTS[slot]
                old_images.append(getattr(profile, column))
                changes[column] = None
                if path is not None:
                    changes[column] = self.media.store(account.id, path, slot).id
                    new_images.append(changes[column])
            if aliases is not None:
                self.index.replace_aliases(account.id, aliases, now_iso())
            profile = self.index.update_profile(account.id, **changes)
        except BaseException:
            for media_id in new_images:  # e.g. the avatar was fine but the header is no image
                self.media.remove(media_id)
            raise
        for media_id in old_images:
            self.media.remove(media_id)
        return profile

    def _also_known_as(self, params: dict) -> list[tuple[str, str]] | None:
        value = params.get("also_known_as")
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest("also_known_as must be a list of account URLs")
        pairs = []
        for ap_id in value:
            target = self.naming.parse(ap_id)
            if target is None or not ap_id.startswith(("http://", "https://")):
                raise BadRequest(f"Invalid value for also_known_as: {ap_id!r} is not an account URL")
            handle = self.naming.full(target.local) if target.local else ap_id
            pairs.append((ap_id, handle))
        return pairs

    # -- images: avatar, banner, background ---------------------------------------------

    def set_image(self, account: Account, slot: str, path: Path | None) -> str | None:
        """Store (or with None clear) one profile image; its URL."""
        column = IMAGE_SLOTS[slot]
        old = getattr(self.index.profile(account.id), column)
        row = self.media.store(account.id, path, slot) if path is not None else None
        self.index.update_profile(account.id, **{column: row.id if row else None})
        self.media.remove(old)
        return self.media.url_of(row) if row else None

    # -- mascot ------------------------------------------------------------------------

    def mascot(self, account: Account) -> dict:
        row = self.index.media_by_id(self.index.profile(account.id).mascot_id or "")
        if row is not None:
            return self.media.attachment(row)
        url = self.config.public_url + placeholders.MASCOT
        return {"id": "default-mascot", "type": "image", "url": url, "preview_url": url,
                "pleroma": {"mime_type": "image/png"}}

    def set_mascot(self, account: Account, path: Path, content_type: str | None) -> dict:
        if not (content_type or "").startswith("image"):
            raise UnsupportedMedia("mascots can only be images")
        try:
            row = self.media.store(account.id, path, "mascot")
        except UnsupportedMedia:
            raise UnsupportedMedia("mascots can only be images") from None
        old = self.index.profile(account.id).mascot_id
        self.index.update_profile(account.id, mascot_id=row.id)
        self.media.remove(old)
        return self.media.attachment(row)

    # -- notification settings and per-app settings ---------------------------------------

    def update_notification_settings(self, account: Account, params: dict) -> None:
        settings = dict(self.index.profile(account.id).notification_settings)
        for name in NOTIFICATION_DEFAULTS:
            if params.get(name) is not None:
                settings[name] = bool_value(params[name], name)
        self.index.update_profile(account.id, notification_settings=settings)

    def settings(self, account: Account, app: str) -> dict:
        current = self.index.profile(account.id).settings_store.get(app)
        return current if isinstance(current, dict) else {}

    def merge_settings(self, account: Account, app: str, changes: dict) -> dict:
        return self.index.merge_settings_store(account.id, app, lambda old: merge_recursively(old, changes))
