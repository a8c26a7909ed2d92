"""Helpers of the account tests: more accounts and tokens, made by emojid's own code."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx

from emojid.auth.accounts import Accounts
from emojid.migrations import open_database
from emojid.social.index import SocialIndex
from tests.conftest import Server
from tests.helpers import http_client


@dataclass
class Who:
    id: str
    nickname: str
    password: str
    token: str


def make_account(server: Server, nickname: str, password: str = "secretpass",
                 scopes: str = "read write follow push", email: str | None = None) -> Who:
    """A new local account (as `emojid user create` makes it) with a token (as `emojid token create`)."""
    index = SocialIndex(open_database(server.config.database_path))
    try:
        accounts = Accounts(index)
        account = accounts.create_user(nickname, password, email)
        return Who(account.id, nickname, password, accounts.token_for_cli(nickname, scopes))
    finally:
        index.close()


def token_for(server: Server, nickname: str, scopes: str) -> str:
    index = SocialIndex(open_database(server.config.database_path))
    try:
        return Accounts(index).token_for_cli(nickname, scopes)
    finally:
        index.close()


def with_index(server: Server, fn):
    """Run fn(index) on the server's database (what the CLI would see)."""
    index = SocialIndex(open_database(server.config.database_path))
    try:
        return fn(index)
    finally:
        index.close()


def basic(nickname: str, password: str) -> dict:
    return {"authorization": "Basic " + base64.b64encode(f"{nickname}:{password}".encode()).decode()}


def assert_error(r: httpx.Response, status: int, text: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    if text is not None:
        assert body["error"] == text, body
    return body


async def me(server: Server, token: str) -> dict:
    async with server.client(token) as c:
        r = await c.get("/api/v1/accounts/verify_credentials")
        assert r.status_code == 200, r.text
        return r.json()


async def app_token(server: Server, scopes: str = "read write follow push") -> str:
    """An app and its client_credentials token, through the public OAuth endpoints."""
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json={"client_name": "tests", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                                               "scopes": scopes})
        assert r.status_code == 200, r.text
        app = r.json()
        r = await c.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": app["client_id"],
                                               "client_secret": app["client_secret"], "scope": scopes})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def basic_client(server: Server, nickname: str, password: str) -> httpx.AsyncClient:
    return http_client(base_url=server.url, headers=basic(nickname, password), timeout=30)


async def password_grant(server: Server, nickname: str, password: str) -> httpx.Response:
    """A password grant through a fresh app, as a client logs in."""
    async with server.anon() as c:
        r = await c.post("/api/v1/apps", json={"client_name": "login", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                                               "scopes": "read write"})
        app = r.json()
        return await c.post("/oauth/token", data={"grant_type": "password", "username": nickname,
                                                  "password": password, "client_id": app["client_id"],
                                                  "client_secret": app["client_secret"]})
