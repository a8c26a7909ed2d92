"""Backups against a real server: queued, built in the background, downloaded and opened."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import serving, wait_for
from tests.helpers import png_bytes
from tests.web.accounts_support import assert_error, make_account, token_for, with_index

V1 = "/api/v1/pleroma"


async def processed(c) -> list[dict]:
    async def done():
        listed = (await c.get(f"{V1}/backups")).json()
        return listed if listed and all(b["processed"] for b in listed) else None

    return await wait_for(done, timeout=20)


async def download_zip(c, url: str) -> zipfile.ZipFile:
    r = await c.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(r.content))


async def test_backup_is_built_and_downloadable(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        media = (await c.post("/api/v1/media", files={"file": ("cat.png", png_bytes("blue"), "image/png")})).json()
        assert (await c.get(f"{V1}/backups")).json() == []

        r = await c.post(f"{V1}/backups")
        assert r.status_code == 200, r.text
        [queued] = r.json()
        assert queued["content_type"] == "application/zip" and queued["id"].isdigit()
        assert queued["url"].startswith(f"{server.url}/backups/archive-user-")
        assert queued["inserted_at"].endswith("Z")

        [done] = await processed(c)
        assert done["id"] == queued["id"] and done["url"] == queued["url"] and done["processed"] is True

        r = await anon.get(done["url"])  # the unguessable link is the credential, as in Pleroma
        assert r.status_code == 200 and len(r.content) == done["file_size"] > 0
        zf = zipfile.ZipFile(io.BytesIO(r.content))
        names = set(zf.namelist())
        assert {"actor.json", "outbox.json", "likes.json", "bookmarks.json", "followers.json",
                "following.json"} <= names
        assert f"media/{media['url'].rsplit('/', 1)[1]}" in names
        assert zf.read(f"media/{media['url'].rsplit('/', 1)[1]}") == (await anon.get(media["url"])).content
        actor = json.loads(zf.read("actor.json"))
        assert actor["id"] == f"{server.url}/users/user" and actor["preferredUsername"] == "user"
        assert actor["likes"] == "likes.json" and actor["bookmarks"] == "bookmarks.json"
        for name in ("outbox", "likes", "bookmarks"):
            collection = json.loads(zf.read(f"{name}.json"))
            assert collection["type"] == "OrderedCollection" and collection["id"] == f"{name}.json"
            assert collection["totalItems"] == len(collection["orderedItems"])


async def test_followers_and_following(server):
    fan = make_account(server, "fan")
    async with server.client(server.user_token) as c, server.client(fan.token) as f:
        me = (await c.get("/api/v1/accounts/verify_credentials")).json()
        assert (await f.post(f"/api/v1/accounts/{me['id']}/follow")).status_code == 200
        await c.post(f"{V1}/backups")
        [done] = await processed(c)
        zf = await download_zip(c, done["url"])
        assert json.loads(zf.read("followers.json"))["orderedItems"] == [f"{server.url}/users/fan"]
        assert json.loads(zf.read("following.json"))["orderedItems"] == []


def backdate(server, backup_id: str, days: float) -> None:
    """Make a backup look `days` old (what the limit and the purge go by)."""
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")
    with_index(server, lambda index: index.execute("UPDATE backups SET inserted_at = ? WHERE id = ?",
                                                   (when, backup_id)))


async def test_one_backup_per_week_by_default(server):
    # Pleroma's default `limit_days = 7`, with its error text
    assert server.config.backups.limit_days == 7
    async with server.client(server.user_token) as c:
        assert (await c.post(f"{V1}/backups")).status_code == 200
        assert_error(await c.post(f"{V1}/backups"), 400, "Last export was less than 7 days ago")
        [first] = await processed(c)
        assert_error(await c.post(f"{V1}/backups"), 400, "Last export was less than 7 days ago")
        backdate(server, first["id"], 6)  # a day is not enough any more: still refused
        assert_error(await c.post(f"{V1}/backups"), 400, "Last export was less than 7 days ago")
        assert len((await c.get(f"{V1}/backups")).json()) == 1

        # a week later another one may be made; both are listed, newest first
        backdate(server, first["id"], 7.1)
        r = await c.post(f"{V1}/backups")
        assert r.status_code == 200, r.text
        assert [b["id"] for b in r.json()][1:] == [first["id"]]
        assert [b["id"] for b in (await c.get(f"{V1}/backups")).json()][1:] == [first["id"]]
        assert_error(await c.post(f"{V1}/backups"), 400, "Last export was less than 7 days ago")


async def test_old_backups_are_purged(server):
    async with server.client(server.user_token) as c:
        assert (await c.post(f"{V1}/backups")).status_code == 200
        [first] = await processed(c)
        backdate(server, first["id"], 400)
        r = await c.post(f"{V1}/backups")
        assert r.status_code == 200, r.text
        new_id = r.json()[0]["id"]
        # once the new one is built, the old one (made more than 30 days ago) is purged
        assert [b["id"] for b in await processed(c)] == [new_id]
        assert (await c.get(first["url"])).status_code == 404


@pytest.mark.parametrize("days, refusal", [(2, "Last export was less than 2 days ago"),
                                           (1, "Last export was less than a day ago")])
async def test_limit_days_follows_the_config(tmp_path, days, refusal):
    async with serving(tmp_path / "s", f"[backups]\nlimit_days = {days}\n") as server, \
            server.client(server.user_token) as c:
        r = await c.post(f"{V1}/backups")
        assert r.status_code == 200, r.text
        first = r.json()[0]
        assert_error(await c.post(f"{V1}/backups"), 400, refusal)
        backdate(server, first["id"], days - 0.5)
        assert_error(await c.post(f"{V1}/backups"), 400, refusal)
        backdate(server, first["id"], days + 0.5)
        r = await c.post(f"{V1}/backups")
        assert r.status_code == 200, r.text
        assert len((await c.get(f"{V1}/backups")).json()) == 2


async def test_limit_days_zero_is_no_limit(tmp_path):
    async with serving(tmp_path / "s", "[backups]\nlimit_days = 0\n") as server, \
            server.client(server.user_token) as c:
        for _ in range(3):
            assert (await c.post(f"{V1}/backups")).status_code == 200
        assert len((await c.get(f"{V1}/backups")).json()) == 3


async def test_errors(server):
    async with server.anon() as anon:
        assert_error(await anon.get(f"{V1}/backups"), 401)
        assert_error(await anon.post(f"{V1}/backups"), 401)
        assert_error(await anon.get("/backups/archive-user-20240101T000000-" + "A" * 43 + ".zip"), 404)
        assert_error(await anon.get("/backups/..%2Femojid.db"), 404)
    write_only = token_for(server, "user", "write")
    async with server.client(write_only) as c:
        assert_error(await c.post(f"{V1}/backups"), 403)
    # other accounts never see each other's backups
    other = make_account(server, "other")
    async with server.client(server.user_token) as c, server.client(other.token) as o:
        await c.post(f"{V1}/backups")
        assert (await o.get(f"{V1}/backups")).json() == []
        assert len((await c.get("/api/pleroma/backups")).json()) == 1


async def test_backup_holds_posts_likes_bookmarks_and_events(server):
    friend = make_account(server, "friend")
    async with server.client(server.user_token) as c, server.client(friend.token) as f:
        media = (await c.post("/api/v1/media", files={"file": ("p.png", png_bytes(), "image/png")})).json()
        hello = (await c.post("/api/v1/statuses", json={"status": "hello #world", "media_ids": [media["id"]]})).json()
        secret = (await c.post("/api/v1/statuses", json={"status": "psst @friend", "visibility": "direct"})).json()
        event = (await c.post(f"{V1}/events", json={"name": "Party", "start_time": "2030-05-01T20:00:00Z"})).json()
        theirs = (await f.post("/api/v1/statuses", json={"status": "a friend's post"})).json()
        assert (await c.post(f"/api/v1/statuses/{theirs['id']}/favourite")).status_code == 200
        assert (await c.post(f"/api/v1/statuses/{theirs['id']}/bookmark")).status_code == 200
        assert (await c.post(f"/api/v1/statuses/{hello['id']}/bookmark")).status_code == 200

        await c.post(f"{V1}/backups")
        [done] = await processed(c)
        zf = await download_zip(c, done["url"])
        outbox = json.loads(zf.read("outbox.json"))
        assert outbox["totalItems"] == 3
        objects = {a["object"]["id"]: a for a in outbox["orderedItems"]}
        assert list(objects) == [hello["uri"], secret["uri"], event["uri"]]
        first = objects[hello["uri"]]
        assert first["type"] == "Create" and first["actor"] == f"{server.url}/users/user"
        assert first["object"]["source"]["content"] == "hello #world"
        assert "https://www.w3.org/ns/activitystreams#Public" in first["to"]
        assert first["object"]["attachment"][0]["url"] == media["url"]
        assert {"type": "Hashtag", "name": "#world", "href": f"{server.url}/tag/world"} in first["object"]["tag"]
        direct = objects[secret["uri"]]
        assert direct["to"] == [f"{server.url}/users/friend"] and direct["cc"] == []
        party = objects[event["uri"]]["object"]
        assert party["type"] == "Event" and party["name"] == "Party"
        # the organizer is no participant of their own event
        assert party["startTime"] == "2030-05-01T20:00:00.000Z" and party["participation_count"] == 0
        assert json.loads(zf.read("likes.json"))["orderedItems"] == [theirs["uri"]]
        assert json.loads(zf.read("bookmarks.json"))["orderedItems"] == [theirs["uri"], hello["uri"]]
        # the friend's own post is not in this account's backup
        assert theirs["uri"] not in objects


async def test_deleted_accounts_backup_is_gone(server):
    leaver = make_account(server, "leaver", password="leaverpass")
    async with server.client(leaver.token) as c, server.anon() as anon:
        await c.post(f"{V1}/backups")
        [done] = await processed(c)
        assert (await anon.get(done["url"])).status_code == 200
        r = await c.post("/api/pleroma/delete_account", json={"password": "leaverpass"})
        assert r.json() == {"status": "success"}
        assert_error(await anon.get(done["url"]), 404)
