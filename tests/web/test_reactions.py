"""Emoji reactions: unicode and custom emoji, order, `me`, mutes and blocks, notifications, errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import serving
from tests.helpers import write_pack
from tests.web.accounts_support import assert_error, token_for
from tests.web.statuses_support import client, make_account, ok, post

PREFIXES = ("/api/v1/pleroma", "/api/pleroma")


@pytest.fixture
async def emoji_server(tmp_path: Path):
    """A server whose packs hold :blobcat: (in "blobs", a file name that needs quoting)."""

    def packs(config) -> None:
        write_pack(config.packs_dir, "blobs", {"blobcat": "blob cat.png", "blobfox": "fox.png"})

    async with serving(tmp_path / "local", prepare=packs) as s:
        yield s


def reactions_of(status: dict) -> list[tuple]:
    return [(r["name"], r["count"], r["me"]) for r in status["pleroma"]["emoji_reactions"]]


async def test_unicode_reactions_in_order_with_me(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    status = await post(server, alice, "react to me")
    base = f"/api/v1/pleroma/statuses/{status['id']}/reactions"
    async with client(server, bob) as c:
        # Unqualified ⚠ is stored fully qualified; the path may be percent-encoded or not.
        reacted = ok(await c.put(f"{base}/⚠"))
        assert reacted["id"] == status["id"]
        assert reacted["pleroma"]["emoji_reactions"] == [
            {"name": "\u26a0\ufe0f", "count": 1, "me": True, "url": None, "static_url": None,
             "account_ids": [bob.id]}]
        ok(await c.put(f"{base}/{quote('☕')}"))
        ok(await c.put(f"{base}/🇦"))  # a lone regional indicator
        ok(await c.put(f"{base}/☕"))  # twice: still one reaction
    async with client(server, carol) as c:
        ok(await c.put(f"/api/pleroma/statuses/{status['id']}/reactions/☕"))
        shown = ok(await c.get(f"/api/v1/statuses/{status['id']}"))
    assert reactions_of(shown) == [("\u26a0\ufe0f", 1, False), ("☕", 2, True), ("🇦", 1, False)]
    coffee = shown["pleroma"]["emoji_reactions"][1]
    assert coffee["account_ids"] == [carol.id, bob.id]  # newest first, as Pleroma keeps them

    for prefix in PREFIXES:
        async with server.anon() as c:
            listed = ok(await c.get(f"{prefix}/statuses/{status['id']}/reactions"))
            assert [(r["name"], r["count"], r["me"]) for r in listed] == [
                ("\u26a0\ufe0f", 1, False), ("☕", 2, False), ("🇦", 1, False)]
            assert [a["id"] for a in listed[1]["accounts"]] == [carol.id, bob.id]
            one = ok(await c.get(f"{prefix}/statuses/{status['id']}/reactions/{quote('⚠')}"))
            assert [(r["name"], r["count"]) for r in one] == [("\u26a0\ufe0f", 1)]
            assert ok(await c.get(f"{prefix}/statuses/{status['id']}/reactions/🎅")) == []
    async with client(server, bob) as c:
        mine = ok(await c.get(f"{base}/☕"))
        assert mine[0]["me"] is True

    async with client(server, bob) as c:
        removed = ok(await c.delete(f"{base}/☕"))
        assert reactions_of(removed) == [("\u26a0\ufe0f", 1, True), ("☕", 1, False), ("🇦", 1, True)]
        ok(await c.delete(f"{base}/{quote('⚠️')}"))
        assert_error(await c.delete(f"{base}/☕"), 400, "Could not remove reaction emoji")
    async with server.anon() as c:
        after = ok(await c.get(f"/api/v1/statuses/{status['id']}"))
    assert reactions_of(after) == [("☕", 1, False), ("🇦", 1, False)]


async def test_custom_reactions_carry_urls(emoji_server):
    server = emoji_server
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    status = await post(server, alice, "custom")
    base = f"/api/v1/pleroma/statuses/{status['id']}/reactions"
    url = f"{server.url}/emoji/blobs/blob%20cat.png"
    with_emoji = await post(server, alice, ":blobcat: in the text, :nosuch: not", spoiler_text=":blobfox:")
    assert sorted((e["shortcode"], e["url"]) for e in with_emoji["emojis"]) == [
        ("blobcat", url), ("blobfox", f"{server.url}/emoji/blobs/fox.png")]
    assert ":blobcat:" in with_emoji["content"]
    async with client(server, bob) as c:
        reacted = ok(await c.put(f"{base}/:blobcat:"))
        assert reacted["pleroma"]["emoji_reactions"] == [
            {"name": "blobcat", "count": 1, "me": True, "url": url, "static_url": url, "account_ids": [bob.id]}]
        ok(await c.put(f"{base}/%3Ablobfox%3A"))  # percent-encoded colons
    async with client(server, alice) as c:
        ok(await c.put(f"{base}/blobcat"))  # bare, as Pleroma quotes it
        listed = ok(await c.get(f"/api/pleroma/statuses/{status['id']}/reactions"))
        assert [(r["name"], r["count"], r["me"], r["url"]) for r in listed] == [
            ("blobcat", 2, True, url), ("blobfox", 1, False, f"{server.url}/emoji/blobs/fox.png")]
        assert [r["name"] for r in ok(await c.get(f"{base}/:blobfox:"))] == ["blobfox"]
        # The image is served where the url says.
        assert (await c.get(url)).status_code == 200
        notes = ok(await c.get("/api/v1/notifications"))
    assert [(n["type"], n["emoji"], n["emoji_url"]) for n in notes] == [
        ("pleroma:emoji_reaction", ":blobfox:", f"{server.url}/emoji/blobs/fox.png"),
        ("pleroma:emoji_reaction", ":blobcat:", url)]
    assert all(n["status"]["id"] == status["id"] and n["account"]["id"] == bob.id for n in notes)
    async with client(server, bob) as c:
        ok(await c.delete(f"{base}/:blobfox:"))
    async with client(server, alice) as c:
        assert [n["emoji"] for n in ok(await c.get("/api/v1/notifications"))] == [":blobcat:"]


async def test_invalid_emoji_and_unknown_statuses(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    status = await post(server, alice, "hello")
    dm = await post(server, alice, "only me", visibility="direct")
    base = f"/api/v1/pleroma/statuses/{status['id']}/reactions"
    async with client(server, bob) as c:
        for bad in ("x", "😀😀", ":nosuchemoji:", "🏻", "hello world", quote("<b>")):
            assert_error(await c.put(f"{base}/{bad}"), 400, "Could not add reaction emoji")
        assert_error(await c.put("/api/v1/pleroma/statuses/999/reactions/☕"), 404)
        assert_error(await c.put("/api/v1/pleroma/statuses/nope/reactions/☕"), 404)
        assert_error(await c.put(f"/api/v1/pleroma/statuses/{dm['id']}/reactions/☕"), 404)
        assert_error(await c.get(f"/api/v1/pleroma/statuses/{dm['id']}/reactions"), 404)
        assert_error(await c.delete("/api/v1/pleroma/statuses/999/reactions/☕"), 404)
        assert ok(await c.get(f"{base}")) == []  # nothing half-written
    async with server.anon() as c:
        assert_error(await c.put(f"{base}/☕"), 401)
    async with server.client(token_for(server, "bob", "read")) as c:
        assert_error(await c.put(f"{base}/☕"), 403)
    async with client(server, alice) as c:
        assert ok(await c.get("/api/v1/notifications")) == []


async def test_muted_and_blocked_reactions(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    status = await post(server, alice, "mute test")
    base = f"/api/v1/pleroma/statuses/{status['id']}/reactions"
    for who in (bob, carol):
        async with client(server, who) as c:
            ok(await c.put(f"{base}/🎅"))
    async with client(server, alice) as c:
        ok(await c.post(f"/api/v1/accounts/{carol.id}/mute"))
        assert [(r["name"], r["count"]) for r in ok(await c.get(base))] == [("🎅", 1)]
        assert [(r["name"], r["count"]) for r in ok(await c.get(f"{base}?with_muted=true"))] == [("🎅", 2)]
        shown = ok(await c.get(f"/api/v1/statuses/{status['id']}"))
        assert shown["pleroma"]["emoji_reactions"][0]["account_ids"] == [bob.id]
        shown = ok(await c.get(f"/api/v1/statuses/{status['id']}?with_muted=true"))
        assert shown["pleroma"]["emoji_reactions"][0]["account_ids"] == [carol.id, bob.id]
        # Notifications from the muted account are hidden too, unless asked for.
        assert [n["account"]["id"] for n in ok(await c.get("/api/v1/notifications"))] == [bob.id]
        assert len(ok(await c.get("/api/v1/notifications?with_muted=true"))) == 2
        ok(await c.post(f"/api/v1/accounts/{bob.id}/block"))
        assert [r["count"] for r in ok(await c.get(f"{base}?with_muted=true"))] == [1]
    async with server.anon() as c:
        assert [r["count"] for r in ok(await c.get(base))] == [2]
