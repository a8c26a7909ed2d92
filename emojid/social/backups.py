"""Account backups (Pleroma's User.Backup): a zip of the account's data, built in the background.

The zip holds `actor.json`, `outbox.json`, `likes.json`, `bookmarks.json`,
`followers.json` and `following.json` as ActivityStreams documents, and the
account's media under `media/`. A backup is asked for (one per account per
`[backups] limit_days`, Pleroma's `limit_days`: a week unless configured),
queued with `processed: false`, built by a worker task, and then served at
`<base_url>/backups/<file_name>`: the file name carries 32 random bytes, as
Pleroma's does, so the link is the credential.
Older backups are removed PURGE_AFTER_DAYS after they were made, once a newer
one is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import anyio.to_thread

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest
from emojid.ids import new_id, now_iso
from emojid.social.entities.accounts import masto_date
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.index.backups import BackupRow
from emojid.social.index.statuses import Status
from emojid.social.media import MediaStore

log = logging.getLogger("emojid.backups")

PURGE_AFTER_DAYS = 30
CONTENT_TYPE = "application/zip"
FILE_NAME = re.compile(r"^archive-[A-Za-z0-9_.-]+-[0-9]{8}T[0-9]{6}-[A-Za-z0-9_-]{43}\.zip$")
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def limit_message(days: int) -> str:
    # Pleroma's dngettext pair.
    return "Last export was less than a day ago" if days == 1 else f"Last export was less than {days} days ago"


class Backups:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.limit_days = config.backups.limit_days  # 0: no limit
        self.directory = config.media_dir / "backups"
        self.naming = Naming(config)

    # -- asking for one ----------------------------------------------------------

    def request(self, account: Account) -> BackupRow:
        """Queue a backup, unless the last one (not counting failed ones) is too recent: 400."""
        now = datetime.now(UTC)
        recent = [b for b in self.index.backups(account.id) if b.state != "failed"]
        if recent and now - _moment(recent[0].inserted_at) < timedelta(days=self.limit_days):
            raise BadRequest(limit_message(self.limit_days))
        stamp = now.strftime("%Y%m%dT%H%M%S")
        name = f"archive-{account.nickname}-{stamp}-{secrets.token_urlsafe(32)}.zip"
        row = BackupRow(new_id(), account.id, name, CONTENT_TYPE, 0, False, "pending", now_iso())
        self.index.insert_backup(row)
        return row

    def list(self, account: Account) -> list[BackupRow]:
        return self.index.backups(account.id)

    def url(self, row: BackupRow) -> str:
        return f"{self.config.public_url}/backups/{row.file_name}"

    def render(self, row: BackupRow) -> dict:
        return {
            "id": row.id,
            "content_type": row.content_type,
            "url": self.url(row),
            "file_size": row.file_size,
            "processed": row.processed,
            "inserted_at": masto_date(row.inserted_at),
        }

    def path_of(self, file_name: str) -> Path | None:
        """The zip behind /backups/<file_name>, once it is built and while its account is active."""
        if not FILE_NAME.match(file_name):
            return None
        row = self.index.backup_by_file(file_name)
        if row is None or not row.processed:
            return None
        account = self.index.account_by_id(row.account_id)
        if account is None or account.disabled or self.index.profile(account.id).deleted_at:
            return None  # a deleted or deactivated account's data is no longer handed out
        path = self.directory / file_name
        return path if path.is_file() else None

    # -- building ------------------------------------------------------------------

    def build(self, backup_id: str) -> None:
        """Write the zip of one queued backup, then mark it processed (or failed)."""
        row = self.index.backup(backup_id)
        account = self.index.account_by_id(row.account_id) if row else None
        if row is None or account is None:
            return
        self.index.set_backup_state(row.id, "running")
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / row.file_name
        tmp = self.directory / f".{row.file_name}.tmp"
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                self._write_archive(zf, account)
            os.replace(tmp, final)
        except Exception:
            log.exception("backup %s of %s failed", row.id, account.nickname)
            tmp.unlink(missing_ok=True)
            self.index.set_backup_state(row.id, "failed")
            return
        self._purge(account, keep=row.id)  # the new zip is in place: older ones may go
        self.index.set_backup_state(row.id, "complete", final.stat().st_size)

    def _purge(self, account: Account, keep: str) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=PURGE_AFTER_DAYS)
        for old in self.index.backups(account.id):
            if old.id != keep and _moment(old.inserted_at) < cutoff:
                (self.directory / old.file_name).unlink(missing_ok=True)
                self.index.delete_backup(old.id)

    def _write_archive(self, zf: zipfile.ZipFile, account: Account) -> None:
        ap = ActivityStreams(self.index, self.config)
        zf.writestr("actor.json", json.dumps(ap.actor(account), ensure_ascii=False, indent=2))
        _collection(zf, "outbox", ap.outbox(account))
        _collection(zf, "likes", ap.likes(account))
        _collection(zf, "bookmarks", ap.bookmarks(account))
        _collection(zf, "followers", (self.naming.ap_id(a.nickname) for a in ap.accounts(
            self.index.followers(account.id))))
        _collection(zf, "following", (self.naming.ap_id(a.nickname) for a in ap.accounts(
            self.index.following(account.id))))
        for filename, path in self._media_files(account):
            zf.write(path, f"media/{filename}")

    def _media_files(self, account: Account) -> Iterator[tuple[str, Path]]:
        store = MediaStore(self.index, self.config)
        for filename in self.index.account_media_files(account.id):
            path = store.path_of(filename)
            if path is not None:
                yield filename, path


def _collection(zf: zipfile.ZipFile, name: str, items: Iterable[Any]) -> None:
    """An OrderedCollection written item by item, as Pleroma streams it."""
    with zf.open(f"{name}.json", "w") as raw:
        out: IO[str]
        with _text(raw) as out:
            out.write(f'{{\n  "@context": "{AS_CONTEXT}",\n  "id": "{name}.json",\n'
                      '  "type": "OrderedCollection",\n  "orderedItems": [\n')
            total = 0
            for item in items:
                out.write((",\n" if total else "") + "    " + json.dumps(item, ensure_ascii=False))
                total += 1
            out.write(f'\n  ],\n  "totalItems": {total}\n}}\n')


@contextlib.contextmanager
def _text(raw: IO[bytes]) -> Iterator[IO[str]]:
    wrapper = io.TextIOWrapper(raw, encoding="utf-8")
    try:
        yield wrapper
    finally:
        wrapper.flush()
        wrapper.detach()


class ActivityStreams:
    """The account and its statuses as ActivityPub documents (what Pleroma's backup holds)."""

    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.naming = Naming(config)
        self.media = MediaStore(index, config)

    def accounts(self, ids: list[str]) -> list[Account]:
        return [a for a in (self.index.account_by_id(i) for i in ids) if a is not None]

    def actor(self, account: Account) -> dict:
        profile = self.index.profile(account.id)
        ap_id = self.naming.ap_id(account.nickname)
        actor: dict = {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": ap_id,
            "type": profile.actor_type,
            "preferredUsername": account.nickname,
            "name": profile.display_name or account.nickname,
            "summary": profile.note,
            "url": ap_id,
            "inbox": f"{ap_id}/inbox",
            "outbox": f"{ap_id}/outbox",
            "followers": f"{ap_id}/followers",
            "following": f"{ap_id}/following",
            "featured": f"{ap_id}/collections/featured",
            "manuallyApprovesFollowers": profile.locked,
            "discoverable": profile.discoverable,
            "published": masto_date(account.created_at),
            "alsoKnownAs": [a for a, _h in self.index.aliases(account.id)],
            "attachment": [{"type": "PropertyValue", "name": f["name"], "value": f["value"]}
                           for f in profile.fields],
            "endpoints": {"sharedInbox": f"{self.config.public_url}/inbox"},
            "likes": "likes.json",
            "bookmarks": "bookmarks.json",
        }
        for key, media_id in (("icon", profile.avatar_id), ("image", profile.header_id)):
            url = self.media.url(media_id)
            if url:
                actor[key] = {"type": "Image", "url": url}
        if profile.moved_to_ap_id:
            actor["movedTo"] = profile.moved_to_ap_id
        return actor

    # -- statuses ----------------------------------------------------------------------

    def object_uri(self, status_id: str) -> str:
        return f"{self.config.public_url}/objects/{status_id}"

    def outbox(self, account: Account) -> Iterator[dict]:
        """A Create activity per status of the account, oldest first."""
        for status_id in self.index.account_status_ids(account.id):
            status = self.index.status_by_id(status_id)
            if status is not None:
                yield self.create_activity(account, status)

    def likes(self, account: Account) -> Iterator[str]:
        return (self.object_uri(i) for i in self.index.account_favourite_ids(account.id))

    def bookmarks(self, account: Account) -> Iterator[str]:
        return (self.object_uri(i) for i, _folder in self.index.account_bookmarks(account.id))

    def create_activity(self, account: Account, status: Status) -> dict:
        base, ap_id = self.config.public_url, self.naming.ap_id(account.nickname)
        mentioned = self.accounts(self.index.status_mentions(status.id))
        mention_ids = [self.naming.ap_id(a.nickname) for a in mentioned]
        followers = f"{ap_id}/followers"
        to, cc = {
            "public": ([AS_PUBLIC], [followers]),
            "unlisted": ([followers], [AS_PUBLIC]),
            "private": ([followers], []),
        }.get(status.visibility, ([], []))
        to = [*to, *mention_ids]
        published = masto_date(status.created_at)
        tags = [{"type": "Hashtag", "name": f"#{t}", "href": f"{base}/tag/{t}"}
                for t in self.index.status_tags(status.id)]
        tags += [{"type": "Mention", "name": f"@{a.nickname}", "href": self.naming.ap_id(a.nickname)}
                 for a in mentioned]
        attachments = []
        for media_id in self.index.status_media_ids(status.id):
            row = self.index.media_by_id(media_id)
            if row is not None:
                attachments.append({"type": "Document", "mediaType": row.mime_type, "url": self.media.url_of(row),
                                    "name": row.description or None})
        obj: dict = {
            "id": self.object_uri(status.id),
            "type": status.object_type,
            "attributedTo": ap_id,
            "actor": ap_id,
            "content": status.content,
            "source": {"content": status.text, "mediaType": status.content_type},
            "summary": status.spoiler_text,
            "sensitive": status.sensitive,
            "published": published,
            "url": f"{base}/notice/{status.id}",
            "context": status.context,
            "conversation": status.context,
            "inReplyTo": self.object_uri(status.in_reply_to_id) if status.in_reply_to_id else None,
            "quoteUrl": self.object_uri(status.quote_id) if status.quote_id else None,
            "language": status.language,
            "tag": tags,
            "attachment": attachments,
            "to": to,
            "cc": cc,
        }
        event = self.index.event(status.id) if status.object_type == "Event" else None
        if event is not None:
            obj.update(name=event.name, startTime=event.start_time, endTime=event.end_time,
                       joinMode=event.join_mode, location=event.location,
                       participation_count=self.index.event_participation_counts(status.id)[0])
        return {"id": f"{base}/activities/{status.id}", "type": "Create", "actor": ap_id, "published": published,
                "to": to, "cc": cc, "context": status.context, "object": obj}


# -- the worker ------------------------------------------------------------------------------


class BackupWorker:
    """Builds the queued backups in the background: one task at a time per application."""

    def __init__(self, backups: Backups) -> None:
        self.backups = backups
        self._again = False
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """Make sure a task is building the queued backups (including what a restart interrupted)."""
        self._again = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run_pending(), name="emojid-backups")

    async def _run_pending(self) -> None:
        """Build every queued backup, oldest first, until none is left."""
        try:
            while True:
                self._again = False
                for row in await anyio.to_thread.run_sync(self.backups.index.unfinished_backups):
                    await anyio.to_thread.run_sync(self.backups.build, row.id)
                if not self._again:
                    return
        except Exception:
            log.exception("the backup worker stopped")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
