"""Malformed ids, paging parameters and bodies on every status-area route: a 4xx JSON error, never a 500."""

from __future__ import annotations

import itertools

from tests.web.statuses_support import client, make_account, post

BAD_IDS = ["abc", "-1", "0", "99999999999999999999", "9" * 30, "1.5", "%00", "null", "[]", "true"]
BAD_VALUES = [None, 1, -1, 1.5, True, [], [1], {"a": 1}, "x", "9" * 30, ["x", {"a": 1}]]


def sane(r, *context) -> None:
    assert r.status_code < 500, (context, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), (context, r.headers)


async def test_nothing_malformed_is_a_server_error(server):
    alice, bob = make_account(server, "alice"), make_account(server, "bob")
    dm = await post(server, alice, "x @bob", visibility="direct")
    by_id = ["/api/v1/statuses/{x}", "/api/v1/statuses/{x}/context", "/api/v1/statuses/{x}/favourited_by",
             "/api/v1/accounts/{x}/statuses", "/api/v1/notifications/{x}", "/api/v1/pleroma/conversations/{x}",
             "/api/v1/pleroma/conversations/{x}/statuses", "/api/v1/pleroma/statuses/{x}/reactions",
             "/api/v1/pleroma/statuses/{x}/reactions/{x}", "/api/v1/pleroma/statuses/{x}/quotes",
             "/api/v1/pleroma/accounts/{x}/favourites"]
    lists = ["/api/v1/timelines/home", "/api/v1/timelines/public", "/api/v1/notifications", "/api/v1/conversations",
             "/api/v1/bookmarks", "/api/v1/favourites", f"/api/v1/accounts/{alice.id}/statuses",
             f"/api/v1/pleroma/statuses/{dm['id']}/quotes", "/api/v1/statuses"]
    params = ["max_id", "since_id", "min_id", "limit", "offset", "with_muted", "only_media", "types[]",
              "exclude_types[]", "account_id", "recipients[]", "folder_id", "id[]", "tagged", "pinned"]
    acting = ["/api/v1/statuses/{x}/favourite", "/api/v1/statuses/{x}/unfavourite", "/api/v1/statuses/{x}/bookmark",
              "/api/v1/statuses/{x}/unbookmark", "/api/v1/notifications/{x}/dismiss",
              "/api/v1/conversations/{x}/read"]
    async with client(server, bob) as c:
        for path, x in itertools.product(by_id, BAD_IDS):
            sane(await c.get(path.replace("{x}", x)), path, x)
        for path, x in itertools.product(acting, BAD_IDS):
            sane(await c.post(path.replace("{x}", x)), path, x)
        for path, name, x in itertools.product(lists, params, ["", *BAD_IDS]):
            sane(await c.get(path, params={name: x}), path, name, x)
        for name, value in itertools.product(
                ["status", "visibility", "spoiler_text", "in_reply_to_id", "quote_id", "media_ids", "sensitive",
                 "language", "content_type", "in_reply_to_conversation_id", "to"], BAD_VALUES):
            sane(await c.post("/api/v1/statuses", json={"status": "hi", name: value}), name, value)
        for value in BAD_VALUES:
            sane(await c.post(f"/api/v1/statuses/{dm['id']}/bookmark", json={"folder_id": value}), value)
            for name in ("id", "max_id"):
                sane(await c.post("/api/v1/pleroma/notifications/read", json={name: value}), name, value)
            sane(await c.patch("/api/v1/pleroma/conversations/1", json={"recipients": value}), value)
        for x in [*BAD_IDS, "%F0%9F", ":a:b:", "::", ":" + "a" * 300 + ":"]:
            sane(await c.put(f"/api/v1/pleroma/statuses/{dm['id']}/reactions/{x}"), x)
            sane(await c.delete(f"/api/v1/pleroma/statuses/{dm['id']}/reactions/{x}"), x)
