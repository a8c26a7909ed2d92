"""What reaches other servers: remote_interaction, moves and aliases to remote accounts (WebFinger).

The remote is a real stub server on 127.0.0.1, so emojid runs with
`[remote] allow_private_addresses = true`; without it the SSRF guard refuses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.conftest import Server, serving
from tests.remote.stubs import Stub, serving_stub
from tests.web.accounts_support import assert_error, make_account, me, with_index

SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"
PRIVATE_OK = "[remote]\nallow_private_addresses = true\n"


class FakeFediverse(Stub):
    """A remote instance with one account, `newme`, whose aliases tests change."""

    def __init__(self) -> None:
        super().__init__()
        self.also_known_as: list[str] = []
        self.subject_host: str | None = None  # to answer for another host than asked
        self.route("/.well-known/webfinger", self._webfinger)
        self.route("/users/newme", self._actor)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def _webfinger(self, request: Request) -> JSONResponse:
        if request.query_params.get("resource") not in (f"acct:newme@{self.host}", f"{self.url}/users/newme"):
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({
            "subject": f"acct:newme@{self.subject_host or self.host}",
            "links": [
                {"rel": "self", "type": "application/activity+json", "href": f"{self.url}/users/newme"},
                {"rel": SUBSCRIBE, "template": f"{self.url}/authorize_interaction?uri={{uri}}"},
            ],
        }, media_type="application/jrd+json")

    def _actor(self, request: Request) -> JSONResponse:
        return JSONResponse({"id": f"{self.url}/users/newme", "type": "Person", "preferredUsername": "newme",
                             "alsoKnownAs": self.also_known_as}, media_type="application/activity+json")


@contextlib.asynccontextmanager
async def fediverse() -> AsyncIterator[FakeFediverse]:
    async with serving_stub(FakeFediverse()) as stub:
        yield stub  # type: ignore[misc]


async def test_remote_interaction(tmp_path):
    async with fediverse() as remote, serving(tmp_path / "s", PRIVATE_OK) as server:
        for prefix in ("/api/v1/pleroma", "/api/pleroma"):
            async with server.anon() as c:
                r = await c.post(f"{prefix}/remote_interaction",
                                 json={"ap_id": f"{server.url}/users/user", "profile": f"newme@{remote.host}"})
                assert r.status_code == 200, r.text
                assert r.json() == {"url": f"{remote.url}/authorize_interaction?uri={server.url}/users/user"}
        async with server.anon() as c:
            r = await c.post("/api/v1/pleroma/remote_interaction",
                             data={"ap_id": "x", "profile": f"@newme@{remote.host}"})
            assert r.json()["url"].endswith("?uri=x")
            r = await c.post("/api/v1/pleroma/remote_interaction",
                             data={"ap_id": "x", "profile": f"nobody@{remote.host}"})
            assert r.status_code == 200 and r.json() == {"error": "Couldn't find user"}
            remote.subject_host = "elsewhere.example"  # an answer about another host is not believed
            r = await c.post("/api/v1/pleroma/remote_interaction", data={"ap_id": "x", "profile": f"newme@{remote.host}"})
            assert r.json() == {"error": "Couldn't find user"}
            assert_error(await c.post("/api/v1/pleroma/remote_interaction", data={"profile": "a@b"}), 400,
                         "Missing field: ap_id.")
            assert_error(await c.post("/api/v1/pleroma/remote_interaction", data={"ap_id": "x"}), 400,
                         "Missing field: profile.")


async def test_the_ssrf_guard_keeps_lookups_off_private_addresses(tmp_path):
    async with fediverse() as remote, serving(tmp_path / "s") as server:
        origin = make_account(server, "origin", "originpass")
        async with server.anon() as c:
            r = await c.post("/api/v1/pleroma/remote_interaction", data={"ap_id": "x", "profile": f"newme@{remote.host}"})
            assert r.json() == {"error": "Couldn't find user"}
        async with server.client(origin.token) as c:
            r = await c.post("/api/pleroma/move_account",
                             data={"password": "originpass", "target_account": f"newme@{remote.host}"})
            assert_error(r, 404, "Target account not found.")
            assert_error(await c.put("/api/pleroma/aliases", json={"alias": f"newme@{remote.host}"}), 404)
        assert remote.count() == 0


async def _follow(server: Server, token: str, account_id: str) -> None:
    async with server.client(token) as c:
        assert (await c.post(f"/api/v1/accounts/{account_id}/follow")).json()["following"]


async def test_move_to_a_remote_account(tmp_path):
    async with fediverse() as remote, serving(tmp_path / "s", PRIVATE_OK) as server:
        origin = make_account(server, "origin", "originpass")
        await _follow(server, server.tokens["user"], origin.id)
        target = f"newme@{remote.host}"
        async with server.client(origin.token) as c:
            r = await c.post("/api/pleroma/move_account", data={"password": "originpass", "target_account": target})
            assert r.json() == {"error": "Target account must have the origin in `alsoKnownAs`"}
            remote.also_known_as = [f"{server.url}/users/origin"]
            r = await c.post("/api/pleroma/move_account", data={"password": "originpass", "target_account": target})
            assert r.status_code == 200 and r.json() == {"status": "success"}, r.text
            r = await c.post("/api/pleroma/move_account",
                             data={"password": "originpass", "target_account": f"ghost@{remote.host}"})
            assert_error(r, 404, "Target account not found.")
        async with server.client(server.tokens["user"]) as c:
            rel = (await c.get("/api/v1/accounts/relationships", params={"id": origin.id})).json()[0]
            assert rel["following"] is False
        recorded = with_index(server, lambda index: index.remote_relationships(
            index.account_by_nickname("user").id, "follow"))
        assert recorded == [target]
        assert (await me(server, origin.token))["moved"] is None  # a remote target has no local entity


async def test_aliases_of_remote_accounts(tmp_path):
    async with fediverse() as remote, serving(tmp_path / "s", PRIVATE_OK) as server:
        handle = f"newme@{remote.host}"
        async with server.client(server.tokens["user"]) as c:
            assert (await c.put("/api/pleroma/aliases", json={"alias": handle})).json() == {"status": "success"}
            assert (await c.get("/api/pleroma/aliases")).json() == {"aliases": [handle]}
            assert (await me(server, server.tokens["user"]))["pleroma"]["also_known_as"] == [f"{remote.url}/users/newme"]
            assert_error(await c.put("/api/pleroma/aliases", json={"alias": f"nobody@{remote.host}"}), 404,
                         "Target account does not exist.")
            r = await c.request("DELETE", "/api/pleroma/aliases", json={"alias": handle})
            assert r.json() == {"status": "success"}
            assert (await c.get("/api/pleroma/aliases")).json() == {"aliases": []}
