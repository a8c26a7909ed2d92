"""What the instance says about itself, and how unknown routes and methods answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
import uvicorn

from emojid.app import build_app
from emojid.config import load
from tests.conftest import serving
from tests.helpers import http_client

FEATURES = {"shareable_emoji_packs", "pleroma_emoji_reactions", "custom_emoji_reactions"}


def is_json(r) -> bool:
    return r.headers["content-type"].split(";")[0].strip() == "application/json"


async def test_well_known_nodeinfo(server):
    async with server.anon() as c:
        r = await c.get("/.well-known/nodeinfo")
        assert r.status_code == 200
        assert is_json(r)
        links = r.json()["links"]
        by_rel = {link["rel"]: link["href"] for link in links}
        assert by_rel == {
            "http://nodeinfo.diaspora.software/ns/schema/2.0": f"{server.url}/nodeinfo/2.0.json",
            "http://nodeinfo.diaspora.software/ns/schema/2.1": f"{server.url}/nodeinfo/2.1.json",
        }
        # Every href is absolute and answers.
        for href in by_rel.values():
            assert href.startswith("http://127.0.0.1:")
            doc = await c.get(href)
            assert doc.status_code == 200


@contextlib.asynccontextmanager
async def running(root, toml: str):
    """emojid over `toml` (a whole emojid.toml) on a free port; yields the client's base URL."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "emojid.toml").write_text(toml)
    config = load(root / "emojid.toml", environ={})
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(config), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_hrefs_follow_base_url(tmp_path):
    toml = '[server]\nbase_url = "https://emoji.example/"\n[watch]\nenabled = false\n'
    async with running(tmp_path / "site", toml) as url, http_client(base_url=url) as c:
        links = (await c.get("/.well-known/nodeinfo", headers={"host": "evil.example"})).json()["links"]
        assert [link["href"] for link in links] == [
            "https://emoji.example/nodeinfo/2.0.json", "https://emoji.example/nodeinfo/2.1.json"]
        assert (await c.get("/api/v1/instance")).json()["uri"] == "https://emoji.example"


async def test_hrefs_without_base_url_use_host_and_port(tmp_path):
    toml = '[server]\nhost = "127.0.0.1"\nport = 4999\n[watch]\nenabled = false\n'
    async with running(tmp_path / "site", toml) as url, http_client(base_url=url) as c:
        links = (await c.get("/.well-known/nodeinfo")).json()["links"]
        assert links[0]["href"] == "http://127.0.0.1:4999/nodeinfo/2.0.json"


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_nodeinfo(server, version):
    async with server.anon() as c:
        r = await c.get(f"/nodeinfo/{version}.json")
    assert r.status_code == 200
    assert is_json(r)
    assert f"schema/{version}" in r.headers["content-type"]
    doc = r.json()
    assert doc["version"] == version
    assert doc["software"]["name"] == "pleroma"
    assert "emojid" in doc["software"]["version"]
    assert isinstance(doc["metadata"], dict)
    assert FEATURES <= set(doc["metadata"]["features"])
    assert doc["metadata"]["nodeName"] == "emojid"
    assert doc["openRegistrations"] is True
    assert doc["usage"]["users"]["total"] == 2  # admin and user of the fixture
    assert doc["protocols"] == ["activitypub"]
    if version == "2.1":
        assert doc["software"]["repository"].startswith("https://")


async def test_nodeinfo_follows_the_config(tmp_path):
    extra = '[instance]\nname = "Blob land"\nregistrations_open = false\n'
    async with serving(tmp_path / "site", extra=extra) as s, s.anon() as c:
        doc = (await c.get("/nodeinfo/2.1.json")).json()
        assert doc["metadata"]["nodeName"] == "Blob land"
        assert doc["openRegistrations"] is False
        inst = (await c.get("/api/v1/instance")).json()
        assert inst["title"] == "Blob land"
        assert inst["registrations"] is False


@pytest.mark.parametrize("path", ["/nodeinfo/3.0.json", "/nodeinfo/1.0.json", "/nodeinfo/latest.json"])
async def test_unknown_nodeinfo_version(server, path):
    async with server.anon() as c:
        r = await c.get(path)
    assert r.status_code == 404
    assert is_json(r)
    assert isinstance(r.json()["error"], str)


async def test_instance(server):
    async with server.anon() as c:
        r = await c.get("/api/v1/instance")
    assert r.status_code == 200
    assert is_json(r)
    doc = r.json()
    assert "Pleroma" in doc["version"]
    assert "emojid" in doc["version"]
    assert doc["uri"] == server.url
    assert doc["title"] == "emojid"
    limits = doc["poll_limits"]
    assert {"max_options", "max_option_chars", "min_expiration", "max_expiration"} <= set(limits)
    assert all(isinstance(v, int) for v in limits.values())
    assert doc["stats"]["user_count"] == 2
    assert isinstance(doc["urls"]["streaming_api"], str) and doc["urls"]["streaming_api"].startswith("ws")
    assert FEATURES <= set(doc["pleroma"]["metadata"]["features"])
    assert doc["upload_limit"] == server.config.emoji.max_file_bytes


async def test_instance_counts_new_accounts(server):
    from emojid.auth.accounts import Accounts
    from emojid.migrations import open_database
    from emojid.social.index import SocialIndex

    index = SocialIndex(open_database(server.config.database_path))
    try:
        Accounts(index).create_user("third", "pw")
    finally:
        index.close()
    async with server.anon() as c:
        assert (await c.get("/api/v1/instance")).json()["stats"]["user_count"] == 3
        assert (await c.get("/nodeinfo/2.0.json")).json()["usage"]["users"]["total"] == 3


async def test_instance_v2_is_absent_or_full(server):
    async with server.anon() as c:
        r = await c.get("/api/v2/instance")
    assert is_json(r)
    if r.status_code == 404:
        assert isinstance(r.json()["error"], str)
    else:
        assert r.status_code == 200
        assert {"domain", "title", "version", "configuration", "registrations"} <= set(r.json())


@pytest.mark.parametrize("prefix", ["/api/v1/pleroma", "/api/pleroma"])
async def test_healthcheck(server, prefix):
    async with server.anon() as c:
        r = await c.get(f"{prefix}/healthcheck")
    assert r.status_code == 200, r.text
    assert is_json(r)
    doc = r.json()
    assert doc["healthy"] is True
    assert isinstance(doc["memory_used"], (int, float)) and not isinstance(doc["memory_used"], bool)
    assert doc["memory_used"] > 0
    assert doc["watcher"] == "alive"
    assert doc["db"] == "ok"
    assert isinstance(doc["active"], int) and doc["active"] >= 1
    assert isinstance(doc["pool_size"], int)
    assert isinstance(doc["job_queue_stats"], dict)


async def test_healthcheck_with_the_watcher_disabled(tmp_path):
    async with serving(tmp_path / "site", extra="enabled = false\n") as s, s.anon() as c:
        assert s.config.watch.enabled is False
        r = await c.get("/api/v1/pleroma/healthcheck")
        assert r.status_code == 200, r.text
        assert r.json()["healthy"] is True
        assert r.json()["watcher"] == "disabled"


async def test_unknown_route(server):
    async with server.anon() as c:
        for path in ("/nope", "/api/v1/pleroma/nope", "/api/pleroma/nope", "/api/v1/nope"):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert is_json(r), path
            assert isinstance(r.json()["error"], str), path


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/api/v1/instance"),
    ("POST", "/.well-known/nodeinfo"),
    ("PUT", "/nodeinfo/2.0.json"),
    ("POST", "/api/v1/pleroma/healthcheck"),
    ("GET", "/oauth/token"),
    ("GET", "/api/v1/apps"),
])
async def test_wrong_method(server, method, path):
    async with server.anon() as c:
        r = await c.request(method, path)
    assert r.status_code == 405, r.text
    assert is_json(r)
    assert isinstance(r.json()["error"], str)
    assert r.headers.get("allow")


async def test_status_count_and_local_posts_count_the_instance_posts(server):
    async def counts() -> tuple[int, int, int]:
        async with server.anon() as c:
            return ((await c.get("/api/v1/instance")).json()["stats"]["status_count"],
                    (await c.get("/nodeinfo/2.0.json")).json()["usage"]["localPosts"],
                    (await c.get("/nodeinfo/2.1.json")).json()["usage"]["localPosts"])

    assert await counts() == (0, 0, 0)
    async with server.client(server.user_token) as c:
        posted = {}
        for visibility in ("public", "unlisted", "local", "private", "direct"):
            r = await c.post("/api/v1/statuses", json={"status": f"a {visibility} post @admin",
                                                       "visibility": visibility})
            assert r.status_code == 200, r.text
            posted[visibility] = r.json()["id"]
        r = await c.post("/api/v1/pleroma/events", json={"name": "Party", "start_time": "2030-01-01T18:00:00Z"})
        assert r.status_code == 200, r.text
    # as Pleroma counts them (note_count): public, unlisted and local posts, events too; not private or direct ones
    assert await counts() == (4, 4, 4)
    async with server.client(server.user_token) as c:
        assert (await c.delete(f"/api/v1/statuses/{posted['public']}")).status_code == 200
        assert (await c.delete(f"/api/v1/statuses/{posted['direct']}")).status_code == 200
    assert await counts() == (3, 3, 3)


async def test_registration_flags_follow_the_config(server, tmp_path):
    async with server.anon() as c:
        meta = (await c.get("/nodeinfo/2.1.json")).json()["metadata"]
        inst = (await c.get("/api/v1/instance")).json()
    assert meta["accountActivationRequired"] is False and meta["invitesEnabled"] is False
    assert inst["approval_required"] is False and inst["invites_enabled"] is False

    extra = ("[instance]\nregistrations_open = false\ninvites_enabled = true\naccount_activation_required = true\n"
             "account_approval_required = true\n")
    async with serving(tmp_path / "strict", extra=extra) as s, s.anon() as c:
        for version in ("2.0", "2.1"):
            doc = (await c.get(f"/nodeinfo/{version}.json")).json()
            assert doc["openRegistrations"] is False
            assert doc["metadata"]["accountActivationRequired"] is True
            assert doc["metadata"]["invitesEnabled"] is True
        inst = (await c.get("/api/v1/instance")).json()
        assert inst["registrations"] is False
        assert inst["approval_required"] is True and inst["invites_enabled"] is True


async def test_announced_limits_are_the_enforced_ones(server, monkeypatch):
    from emojid.social import statuses
    from tests.helpers import png_bytes

    async with server.anon() as c:
        inst = (await c.get("/api/v1/instance")).json()
    assert inst["max_toot_chars"] == inst["configuration"]["statuses"]["max_characters"] == statuses.MAX_CHARACTERS
    assert inst["configuration"]["statuses"]["max_media_attachments"] == statuses.MAX_MEDIA

    # whatever the limits are, what the instance announces is what posting enforces
    monkeypatch.setattr(statuses, "MAX_CHARACTERS", 20)
    monkeypatch.setattr(statuses, "MAX_MEDIA", 1)
    async with server.anon() as c:
        inst = (await c.get("/api/v1/instance")).json()
    limit, media_limit = inst["max_toot_chars"], inst["configuration"]["statuses"]["max_media_attachments"]
    assert (limit, inst["configuration"]["statuses"]["max_characters"], media_limit) == (20, 20, 1)
    async with server.client(server.user_token) as c:
        r = await c.post("/api/v1/statuses", json={"status": "x" * (limit + 1)})
        assert r.status_code == 422, r.text
        assert (await c.post("/api/v1/statuses", json={"status": "x" * limit})).status_code == 200
        media = [(await c.post("/api/v1/media", files={"file": (f"{i}.png", png_bytes(), "image/png")})).json()["id"]
                 for i in range(media_limit + 1)]
        r = await c.post("/api/v1/statuses", json={"status": "pics", "media_ids": media})
        assert r.status_code == 422 and r.json() == {"error": "Too many attachments"}
        r = await c.post("/api/v1/statuses", json={"status": "pics", "media_ids": media[:media_limit]})
        assert r.status_code == 200, r.text
        assert len(r.json()["media_attachments"]) == media_limit
