"""The whole HTTP surface, black-box: every route `emojid.routes.routes()` lists, under
every kind of credential, with hostile path values, query strings and bodies.

What must hold on every answer (INTERFACE.md, "What real clients rely on"):
- never a 5xx, except the documented 500 of the remote routes when the remote
  instance cannot be reached;
- an error is `application/json` `{"error": "..."}`; no Python traceback anywhere;
- a success is JSON, except the documented files, archives, pages, .ics and 204;
- a request that was refused changed nothing (database rows, pack store).

One server for the module; each route is one test, its bad answers listed together.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from starlette.routing import BaseRoute, Mount, Route

from emojid.routes import routes
from tests.conftest import Server, serving
from tests.helpers import http_client, png_bytes, write_pack

pytestmark = pytest.mark.asyncio(loop_scope="module")

# -- the routes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    template: str                       # "/api/v1/statuses/{id}", params as {name}
    params: tuple[str, ...]
    twin: bool = False                  # the /api/pleroma copy of a /api/v1/pleroma route

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}"


def _walk(entries: list[BaseRoute], prefix: str = "") -> list[tuple[str, Route]]:
    found = []
    for entry in entries:
        if isinstance(entry, Mount):
            found += _walk(entry.routes, prefix + entry.path)
        elif isinstance(entry, Route):
            found.append((prefix + entry.path_format, entry))
    return found


def _cases() -> list[Case]:
    found = [(method, template, route) for template, route in _walk(routes())
             for method in sorted(route.methods or ()) if method != "HEAD"]  # HEAD goes with every GET
    current = {(method, template, id(route)) for method, template, route in found
               if template.startswith("/api/v1/pleroma/")}
    cases = []
    for method, template, route in found:
        # Both prefixes mount the very same Route objects: the older one gets every path
        # and credential, the hostile query strings and bodies go to the current one.
        twin = template.startswith("/api/pleroma/") and \
            (method, template.replace("/api/pleroma/", "/api/v1/pleroma/", 1), id(route)) in current
        cases.append(Case(method, template, tuple(route.param_convertors), twin))
    # Deletions last, so the objects the other routes are given still exist.
    return sorted(cases, key=lambda c: c.method == "DELETE")


CASES = _cases()

# -- what is documented ---------------------------------------------------------------------

# Routes that fetch a URL the client names. Pleroma answers 500 when that remote
# fails; here, and only with the unreachable URL, a 500 is what the docs promise.
REMOTE_ROUTES = {
    ("GET", "/emoji/packs/remote"), ("POST", "/emoji/packs/download"), ("POST", "/emoji/packs/list_from"),
    ("POST", "/emoji/packs/download_from"), ("POST", "/emoji/packs/files"),
    ("POST", "/emoji/packs/{name}/update_file"), ("POST", "/api/v1/emojid/packs/import"),
}

def is_remote(case: Case) -> bool:
    return any(case.method == m and case.template.endswith(suffix) for m, suffix in REMOTE_ROUTES)


# The login pages are HTML for people (errors included) and may redirect back to the app.
PAGES = {"/oauth/authorize", "/oauth/mfa", "/oauth/mfa/verify"}

# Successful answers that are not JSON, by route template suffix.
NON_JSON = {
    "/emoji/packs/archive": ("application/zip",),
    "/emoji/packs/{name}/download_shared": ("application/zip",),
    "/api/v1/emojid/packs/export": ("application/zip", "application/gzip"),
    "/emoji/{pack}/{filename}": ("image/",),
    "/emoji-static/{pack}/{filename}": ("image/png",),
    "/media/{filename}": ("image/",),
    "/images/avi.png": ("image/png",),
    "/images/banner.png": ("image/png",),
    "/images/pleroma-fox-tan-smol.png": ("image/png",),
    "/backups/{file_name}": ("application/zip",),
    "/events/{id}/ics": ("text/calendar",),
    "/oauth/authorize": ("text/html",),
    "/oauth/mfa": ("text/html",),
    "/oauth/mfa/verify": ("text/html",),
}
NO_CONTENT = ("/accounts/confirmation_resend",)  # Pleroma: 204 No Content

TRACEBACK = re.compile(rb'Traceback \(most recent call last\)|File "[^"]+\.py", line \d+')


def _non_json(case: Case) -> tuple[str, ...]:
    """The content types a success of this route may have besides JSON."""
    return next((types for suffix, types in NON_JSON.items() if case.template.endswith(suffix)), ())


# -- hostile material -------------------------------------------------------------------------

PATH_VALUES = {
    "unknown id": "99999999",
    "abc": "abc",
    "negative": "-1",
    "huge number": "9" * 30,
    "long": "x" * 3000,
    "dot-dot": "..%2F..%2Fetc%2Fpasswd",
    "encoded dots": "%2e%2e",
    "unicode": quote("ñ☃💥"),
    "NUL": "a%00b",
    "percent junk": "%ZZ%",
}

JSON_VALUES: list[Any] = [12345, -1, 10 ** 40, 1.5, True, None, {"a": {"b": "c"}}, ["x", "y"], [], {}, "",
                          "x" * 20000, "a\x00b", "../../etc/passwd", "ñ☃💥", "2024-99-99T99:99:99Z"]
ONE_KEY_VALUES: list[Any] = [12345, 10 ** 40, {"a": "b"}, ["x"], None, True, "", "a\x00b"]
QUERY_VALUES = ["abc", "-1", "9" * 30, "1e999", "", "a\x00b", "ñ☃💥", "x" * 200, "maybe", "../..", "null"]

HOSTILE_HEADERS = [("range", "bytes=abc"), ("range", "bytes=5-1"), ("range", "bytes=99999999999-"),
                   ("range", "bytes=" + ",".join(f"{i}-{i}" for i in range(200))), ("range", "lines=1-2"),
                   ("if-none-match", "*"), ("if-none-match", '"' + "x" * 2000), ("if-modified-since", "yesterday"),
                   ("if-range", "junk"), ("accept", "application/xml;q=abc"), ("accept-encoding", "gzip;q=-1, br"),
                   ("x-forwarded-for", "not-an-address"), ("x-forwarded-proto", "gopher"),
                   ("cookie", "_pleroma_key=a=b=c; ;;; =x")]

# Query keys that routes page, filter or look up by; sent to every route.
COMMON_KEYS = ["limit", "offset", "page", "page_size", "max_id", "min_id", "since_id", "with_muted", "only_media",
               "exclude_replies", "pinned", "tagged", "with_relationships", "id", "account_id", "types",
               "exclude_types", "include_types", "recipients", "folder_id", "name", "url", "q", "acct", "state",
               "type", "locale", "force_login", "mfa_token", "challenge_type", "client_id", "redirect_uri", "scope"]

# The documented parameters of each route (by template suffix and method), with plausible
# values: {user}, {admin}, {status}... are filled in from what the fixture made.
BASE: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/apps"): {"client_name": "sweep", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                               "scopes": "read write", "website": "https://example.org"},
    ("GET", "/oauth/authorize"): {"client_id": "{client_id}", "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
                                  "response_type": "code", "scope": "read", "state": "s"},
    ("POST", "/oauth/authorize"): {"authorization": {"name": "nobody", "password": "wrong",
                                                     "client_id": "{client_id}", "scope": "read", "state": "s",
                                                     "redirect_uri": "urn:ietf:wg:oauth:2.0:oob"}},
    ("POST", "/oauth/token"): {"grant_type": "password", "client_id": "{client_id}",
                               "client_secret": "{client_secret}", "username": "nobody", "password": "wrong",
                               "scope": "read", "code": "x", "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
                               "code_verifier": "x", "refresh_token": "x"},
    ("POST", "/oauth/revoke"): {"token": "not-a-token", "client_id": "{client_id}", "client_secret": "x"},
    ("POST", "/oauth/mfa/challenge"): {"client_id": "{client_id}", "client_secret": "{client_secret}",
                                       "mfa_token": "x", "challenge_type": "totp", "code": "123456"},
    ("GET", "/oauth/mfa"): {"mfa_token": "x", "challenge_type": "totp"},
    ("POST", "/oauth/mfa/verify"): {"mfa": {"mfa_token": "x", "challenge_type": "totp", "code": "123456"}},
    ("POST", "/api/v1/accounts"): {"username": "sweeper", "email": "sweeper@example.org", "password": "pw",
                                   "agreement": True, "locale": "en", "reason": "r"},
    ("POST", "/api/account/register"): {"nickname": "sweeper2", "email": "s2@example.org", "password": "pw",
                                        "confirm": "other", "fullname": "S", "bio": "b"},
    ("PATCH", "/accounts/update_credentials"): {
        "display_name": "n", "note": "n", "locked": False, "bot": False, "discoverable": True,
        "fields_attributes": [{"name": "a", "value": "b"}], "source": {"privacy": "public"},
        "hide_followers": False, "pleroma_settings_store": {"a": 1}, "also_known_as": [], "avatar": "data:x",
        "birthday": "2000-01-01", "actor_type": "Person"},
    ("GET", "/accounts/lookup"): {"acct": "user"},
    ("GET", "/accounts/relationships"): {"id": "{admin}"},
    ("POST", "/accounts/{id}/follow"): {"reblogs": True, "notify": False},
    ("POST", "/accounts/{id}/mute"): {"notifications": True, "duration": 60, "expires_in": 60},
    ("POST", "/api/v1/media"): {"file": "x", "description": "d", "focus": "0.1,0.2"},
    ("POST", "/api/v2/media"): {"file": "x", "description": "d", "focus": "0.1,0.2"},
    ("PUT", "/api/v1/media/{id}"): {"description": "d", "focus": "0.1,0.2"},
    ("POST", "/api/v1/statuses"): {"status": "s", "media_ids": ["{media}"], "in_reply_to_id": "{status}",
                                   "sensitive": False, "spoiler_text": "", "visibility": "unlisted",
                                   "language": "en", "content_type": "text/plain", "to": ["admin"],
                                   "poll": {"options": ["a", "b"], "expires_in": 600}, "expires_in": 3600,
                                   "scheduled_at": "2030-01-01T00:00:00Z", "quote_id": "{status}",
                                   "in_reply_to_conversation_id": "{conversation}"},
    ("GET", "/api/v1/statuses"): {"id": ["{status}"]},
    ("POST", "/statuses/{id}/bookmark"): {"folder_id": "{folder}"},
    ("POST", "/api/v1/notifications/dismiss"): {"id": "{notification}"},
    ("POST", "/notifications/read"): {"id": "{notification}", "max_id": "{notification}"},
    ("GET", "/api/v1/notifications"): {"types": ["favourite"], "exclude_types": ["follow"],
                                       "account_id": "{admin}"},
    ("PATCH", "/conversations/{id}"): {"recipients": ["{admin}"]},
    ("POST", "/emoji/packs/files"): {"name": "sweep", "file": "{refused}/blob.png", "shortcode": "new",
                                     "filename": "new.png"},
    ("PATCH", "/emoji/packs/files"): {"name": "sweep", "shortcode": "blob", "new_shortcode": "blob2",
                                      "new_filename": "blob2.png", "force": False},
    ("DELETE", "/emoji/packs/files"): {"name": "sweep", "shortcode": "blob"},
    ("GET", "/emoji/pack"): {"name": "sweep", "page": 1, "page_size": 30},
    ("POST", "/emoji/pack"): {"name": "sweep"},
    ("PATCH", "/emoji/pack"): {"name": "sweep", "metadata": {"license": "x", "share-files": True}},
    ("DELETE", "/emoji/pack"): {"name": "sweep"},
    ("GET", "/emoji/packs"): {"page": 1, "page_size": 50},
    ("GET", "/emoji/packs/archive"): {"name": "sweep"},
    ("GET", "/emoji/packs/remote"): {"url": "{refused}", "page": 1, "page_size": 50},
    ("POST", "/emoji/packs/download"): {"url": "{refused}", "name": "sweep", "as": "copy"},
    ("POST", "/emoji/packs/list_from"): {"instance_address": "{refused}"},
    ("POST", "/emoji/packs/download_from"): {"instance_address": "{refused}", "pack_name": "sweep", "as": "copy"},
    ("POST", "/emoji/packs/{name}/update_file"): {"action": "add", "shortcode": "new", "file": "{refused}/a.png",
                                                  "filename": "new.png", "new_shortcode": "x",
                                                  "new_filename": "x.png", "force": False},
    ("POST", "/emoji/packs/{name}/update_metadata"): {"new_data": {"license": "x"}},
    ("POST", "/accounts/confirmation_resend"): {"email": "nobody@example.org", "nickname": "nobody"},
    ("POST", "/change_password"): {"password": "wrong", "new_password": "a", "new_password_confirmation": "a"},
    ("POST", "/change_email"): {"password": "wrong", "email": "x@example.org"},
    ("POST", "/delete_account"): {"password": "wrong"},
    ("POST", "/disable_account"): {"password": "wrong"},
    ("POST", "/move_account"): {"password": "wrong", "target_account": "admin"},
    ("PUT", "/aliases"): {"alias": "admin"},
    ("DELETE", "/aliases"): {"alias": "admin"},
    ("PUT", "/notification_settings"): {"block_from_strangers": False, "hide_notification_contents": False},
    ("PATCH", "/settings/{app}"): {"theme": "dark", "nested": {"a": None}},
    ("PUT", "/mascot"): {"file": "x"},
    ("PATCH", "/accounts/update_avatar"): {"img": "data:image/png;base64,AAAA"},
    ("PATCH", "/accounts/update_banner"): {"banner": "data:image/png;base64,AAAA"},
    ("PATCH", "/accounts/update_background"): {"img": "data:image/png;base64,AAAA"},
    ("POST", "/follow_import"): {"list": "admin"},
    ("POST", "/blocks_import"): {"list": "admin"},
    ("POST", "/mutes_import"): {"list": "admin"},
    ("POST", "/remote_interaction"): {"ap_id": "{refused}/notes/1", "profile": "someone@127.0.0.1:1"},
    ("POST", "/accounts/mfa/confirm/{method}"): {"password": "wrong", "code": "123456"},
    ("DELETE", "/accounts/mfa/{method}"): {"password": "wrong"},
    ("POST", "/bookmark_folders"): {"name": "f2", "emoji": "🙂"},
    ("PATCH", "/bookmark_folders/{id}"): {"name": "f3", "emoji": "🙂"},
    ("POST", "/events"): {"name": "e", "status": "s", "start_time": "2030-01-01T10:00:00Z",
                          "end_time": "2030-01-01T12:00:00Z", "join_mode": "free", "location_id": "x"},
    ("POST", "/events/{id}"): {"name": "e", "status": "s", "start_time": "2030-01-01T10:00:00Z",
                               "end_time": "2030-01-01T12:00:00Z", "location_id": ""},
    ("PUT", "/events/{id}"): {"name": "e", "status": "s", "start_time": "2030-01-01T10:00:00Z"},
    ("POST", "/events/{id}/join"): {"participation_message": "hi"},
    ("GET", "/events/joined_events"): {"state": "joined"},
    ("POST", "/scrobble"): {"title": "t", "artist": "a", "album": "b", "length": 180, "externalLink": "x",
                            "visibility": "public"},
    ("GET", "/search/location"): {"q": "Paris", "locale": "en", "type": "city"},
    ("GET", "/api/v1/emojid/packs/emoji"): {"name": "sweep", "page": 1, "page_size": 50},
    ("PATCH", "/api/v1/emojid/packs/emoji"): {"name": "sweep", "shortcode": "blob", "license": "CC0",
                                              "author": "a", "source": "https://example.org", "tags": ["t"]},
    ("GET", "/api/v1/emojid/search"): {"q": "blob", "limit": 10},
    ("GET", "/api/v1/emojid/packs/export"): {"name": "sweep", "format": "mastodon"},
    ("POST", "/api/v1/emojid/packs/import"): {"url": "{refused}/blobs.zip", "name": "imported", "format": "auto",
                                              "dry_run": True, "on_conflict": "skip"},
}


def _base(case: Case) -> dict[str, Any]:
    for (method, suffix), params in BASE.items():
        if method == case.method and case.template.endswith(suffix):
            return params
    return {}


# -- the server and what it holds -------------------------------------------------------------


@dataclass
class World:
    server: Server
    values: dict[str, str]                     # {user}, {status}... -> existing ids and names
    tokens: dict[str, str]
    client: httpx.AsyncClient

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"\{(\w+)\}", lambda m: self.values.get(m.group(1), m.group(0)), value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    def existing(self, case: Case, param: str) -> str:
        t = case.template
        if param == "id":
            for marker, key in (("/statuses/{id}", "status"), ("/notifications/{id}", "notification"),
                                ("/conversations/{id}", "conversation"), ("/media/{id}", "media"),
                                ("/bookmark_folders/{id}", "folder"), ("/events/{id}", "event"),
                                ("/oauth_tokens/{id}", "spare_token"), ("/confirm_email/{id}", "user")):
                if marker in t:
                    return self.values[key]
            return self.values["admin"]  # accounts and follow requests: the other account
        return {"participant_id": self.values["admin"], "token": "abc", "emoji": quote("👍"), "method": "totp",
                "app": "sweep", "version": "2.0", "pack": "sweep", "name": "sweep", "file_name": "nothing.zip",
                "filename": self.values["media_file"] if t.startswith("/media/") else "blob.png"}[param]

    def url(self, case: Case, **values: str) -> str:
        path = case.template
        for param in case.params:
            path = path.replace("{" + param + "}", values.get(param) or self.existing(case, param))
        return path

    def owner(self, case: Case) -> str:
        """The credentials that get deepest into a route."""
        t = case.template
        if case.method == "POST" and t == "/api/v1/accounts":
            return "app"
        if "/emoji/" in t and (case.method != "GET" or t.endswith(("/import", "/remote", "/sync"))):
            return "admin"
        if t.startswith("/api/v1/emojid/") and (case.method != "GET" or t.endswith("/export")):
            return "admin"
        if t.startswith(("/oauth/", "/api/v1/apps", "/api/account/")):
            return "anon"
        return "user"

    def headers(self, auth: str) -> dict[str, str]:
        if auth in self.tokens:
            return {"authorization": f"Bearer {self.tokens[auth]}"}
        return {
            "anon": {},
            "bogus bearer": {"authorization": "Bearer not-a-token"},
            "bad basic": {"authorization": "Basic !!!not-base64"},
            "non-utf8 basic": {"authorization": "Basic /w=="},
            "empty scheme": {"authorization": "Bearer"},
            "unknown scheme": {"authorization": "Digest abc"},
            "garbage cookie": {"cookie": "_pleroma_key=" + "x" * 100},
            "token cookie": {"cookie": "_pleroma_key=" + self.tokens["user"]},
            "basic": {"authorization": "Basic " + base64.b64encode(b"user:userpass").decode()},
        }[auth]


async def _setup(server: Server, refused: str) -> World:
    user, admin = server.tokens["user"], server.tokens["admin"]
    values: dict[str, str] = {"refused": refused}
    async with server.client(user) as c, server.client(admin) as a:
        values["user"] = (await c.get("/api/v1/accounts/verify_credentials")).json()["id"]
        values["admin"] = (await a.get("/api/v1/accounts/verify_credentials")).json()["id"]
        status = (await c.post("/api/v1/statuses", json={"status": "hello @admin"})).json()
        values["status"] = status["id"]
        await c.post("/api/v1/statuses", json={"status": "@admin psst", "visibility": "direct"})
        values["conversation"] = (await c.get("/api/v1/conversations")).json()[0]["id"]
        await a.post(f"/api/v1/statuses/{status['id']}/favourite")
        values["notification"] = (await c.get("/api/v1/notifications")).json()[0]["id"]
        media = (await c.post("/api/v1/media", files={"file": ("a.png", png_bytes(), "image/png")})).json()
        values["media"], values["media_file"] = media["id"], media["url"].rsplit("/", 1)[1]
        values["folder"] = (await c.post("/api/v1/pleroma/bookmark_folders", json={"name": "f"})).json()["id"]
        event = await c.post("/api/v1/pleroma/events", json={"name": "e", "start_time": "2030-01-01T10:00:00Z"})
        values["event"] = event.json()["id"]
        app = (await c.post("/api/v1/apps", json={"client_name": "sweep", "scopes": "read write follow push",
                                                  "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"})).json()
        values["client_id"], values["client_secret"] = app["client_id"], app["client_secret"]
        grant = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
        spare = (await c.post("/oauth/token", data={**grant, "grant_type": "password", "username": "user",
                                                    "password": "userpass"})).json()
        values["spare_token"] = str(spare["id"])
        app_token = (await c.post("/oauth/token", data={**grant, "grant_type": "client_credentials"})).json()
    tokens = {**server.tokens, "app": app_token["access_token"]}
    client = http_client(base_url=server.url, timeout=60, follow_redirects=False)
    return World(server, values, tokens, client)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    # A bound socket that never listens: connections to it are refused at once.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    extra = f"""
[remote]
allow_private_addresses = true
timeout_seconds = 5

[[sync]]
url = "{refused}"
interval_seconds = 86400
"""

    def prepare(config) -> None:
        write_pack(config.packs_dir, "sweep", {"blob": "blob.png"}, {"share-files": True, "license": "x"})

    try:
        async with serving(tmp_path_factory.mktemp("surface"), extra, prepare=prepare) as server:
            world = await _setup(server, refused)
            try:
                yield world
            finally:
                await world.client.aclose()
    finally:
        closed.close()


# -- what an answer must look like ------------------------------------------------------------


def problems_with(case: Case, r: httpx.Response, remote_failure_ok: bool = False) -> list[str]:
    found = []
    status, body = r.status_code, r.content
    ctype = r.headers.get("content-type", "")
    page = case.template in PAGES
    if TRACEBACK.search(body):
        found.append("traceback in the body")
    if status >= 500 and not (remote_failure_ok and status == 500):
        found.append(f"status {status}")
    conditional = "if-none-match" in r.request.headers or "if-modified-since" in r.request.headers
    if 300 <= status < 400 and not (page and status in (302, 303)) and not (status == 304 and conditional):
        found.append(f"unexpected redirect {status}")
    if r.request.method == "HEAD" or status in (204, 304) or 300 <= status < 400:
        if status == 204 and not case.template.endswith(NO_CONTENT):
            found.append("204 where the documents promise a JSON body")
        if status >= 400 and not ctype.startswith("application/json") and not page:
            found.append(f"error content-type {ctype!r}")
        return found
    if status >= 400:
        if page and ctype.startswith("text/html"):
            return found
        if not ctype.startswith("application/json"):
            return found + [f"error content-type {ctype!r}: {body[:120]!r}"]
        try:
            doc = json.loads(body)
        except ValueError:
            return found + [f"error body is not JSON: {body[:120]!r}"]
        if not isinstance(doc, dict) or not isinstance(doc.get("error"), str) or not doc["error"]:
            found.append(f"error body is not {{'error': '...'}}: {body[:120]!r}")
        return found
    allowed = _non_json(case)
    if allowed and ctype.startswith(allowed):
        return found
    if not ctype.startswith("application/json"):
        return found + [f"success content-type {ctype!r}"]
    try:
        json.loads(body)
    except ValueError:
        found.append(f"success body is not JSON: {body[:120]!r}")
    return found


@dataclass
class Probe:
    label: str
    method: str
    url: str
    auth: str
    kwargs: dict = field(default_factory=dict)


async def run(world: World, case: Case, probes: list[Probe]) -> tuple[list[str], list[int]]:
    """Send the probes, one after the other (the quickest way on two cores); what is wrong
    with the answers, and their statuses."""
    problems, statuses = [], []
    for p in probes:
        kwargs = dict(p.kwargs)
        headers = {**world.headers(p.auth), **kwargs.pop("headers", {})}
        # A route that fetches a URL may fail with its documented 500 while it names the unreachable one.
        remote_failure_ok = is_remote(case) and world.values["refused"] in repr(kwargs)
        where = f"{p.label} [{p.auth}] {p.method} {p.url[:100]}"
        try:
            r = await world.client.request(p.method, p.url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            problems.append(f"{where}: no answer ({exc!r})")
            continue
        problems += [f"{where}: {msg}" for msg in problems_with(case, r, remote_failure_ok)]
        statuses.append(r.status_code)
    return problems, statuses


# -- the ways to ask ---------------------------------------------------------------------------


def _as_query(params: dict[str, Any]) -> list[tuple[str, str]]:
    """A params dict as a query string would carry it: lists as key[]=, objects as key[sub]=."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, list):
            pairs += [(f"{key}[]", json.dumps(v) if not isinstance(v, str) else v) for v in value] or [(f"{key}[]", "")]
        elif isinstance(value, dict):
            pairs += [(f"{key}[{k}]", v if isinstance(v, str) else json.dumps(v)) for k, v in value.items()]
        elif value is None:
            pairs.append((key, ""))
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, str(value)))
    return pairs


def _raw(content: bytes, ctype: str | None) -> dict:
    return {"content": content, "headers": {"content-type": ctype} if ctype else {}}


def raw_bodies(keys: list[str]) -> list[tuple[str, dict]]:
    """Bodies that are broken as bodies, whatever the route expects."""
    keys = keys or ["name"]
    json_ct, form_ct = "application/json", "application/x-www-form-urlencoded"
    deep = b"[" * 100_000 + b"]" * 100_000
    brackets = "&".join(f"{k}[]=a&{k}[]=b&{k}[x][y]=c&{k}[=d&{k}]=e" for k in keys) + "&[]=f&[a]=g&a[b][c][d]=h"
    inf = "{" + ",".join(f'"{k}": {("1e999", "Infinity", "NaN", "-Infinity")[i % 4]}' for i, k in enumerate(keys)) + "}"
    mp = "multipart/form-data; boundary=xyz"

    def part(name: bytes, value: bytes, extra: bytes = b"") -> bytes:
        return b'--xyz\r\nContent-Disposition: form-data; name="' + name + b'"' + extra + b"\r\n\r\n" + value + b"\r\n"

    return [
        ("invalid JSON", _raw(b'{"name": ', json_ct)),
        ("JSON array", _raw(b"[1, 2, 3]", json_ct)),
        ("JSON string", _raw(b'"text"', json_ct)),
        ("JSON null", _raw(b"null", json_ct)),
        ("JSON number", _raw(b"1e999", json_ct)),
        ("deeply nested JSON", _raw(deep, json_ct)),
        ("deeply nested JSON object", _raw(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, json_ct)),
        ("JSON infinities", _raw(inf.encode(), json_ct)),
        ("JSON, no content-type", _raw(json.dumps({k: 1 for k in keys}).encode(), None)),
        ("non-UTF-8 JSON", _raw(b'{"' + keys[0].encode() + b'": "\xff\xfe\xfa"}', json_ct)),
        ("UTF-16 JSON", _raw(json.dumps({k: "x" for k in keys}).encode("utf-16"), json_ct)),
        ("JSON with lone surrogate", _raw(b'{"' + keys[0].encode() + b'": "\\ud800"}', json_ct)),
        ("non-UTF-8 form", _raw("&".join(f"{k}=" for k in keys).encode() + b"\xff\xfe&\xff=\xfa", form_ct)),
        ("bad escapes form", _raw(b"%zz=%zz&" + "&".join(f"{k}=%ff%fe%" for k in keys).encode(), form_ct)),
        ("bracket form", _raw(brackets.encode(), form_ct)),
        ("empty multipart", _raw(b"", mp)),
        ("multipart without boundary", _raw(b"--xyz\r\n", "multipart/form-data")),
        ("truncated multipart", _raw(part(keys[0].encode(), b"value")[:-2], mp)),
        ("non-UTF-8 multipart", _raw(part(b"\xff\xfe", b"\xff") + part(keys[0].encode(), b"\xfa\xfb",
                                                                       b'; filename="\xff.png"') + b"--xyz--\r\n", mp)),
        ("multipart files everywhere", {"files": {k: ("x\xff.png", b"\x89PNG not really", "image/png") for k in keys}}),
        ("multipart files in objects", {"files": {f"{k}[x]": ("x.png", b"\x89PNG not really", "image/png")
                                                  for k in keys}}),
        ("multipart brackets", {"files": {f"{k}[]": (None, "a") for k in keys} | {f"{keys[0]}[x]": (None, "b")}}),
        ("too many form fields", _raw("&".join(f"f{i}=x" for i in range(1500)).encode(), form_ct)),
        ("text/plain", _raw(b"hello", "text/plain")),
        ("XML", _raw(b"<a>1</a>", "application/xml")),
        ("content-type junk", _raw(b"a=b", "???")),
        ("form declared as JSON", _raw(b"a=b&c=d", json_ct)),
        ("JSON declared as form", _raw(json.dumps({k: "x" for k in keys}).encode(), form_ct)),
    ]


def typed_bodies(base: dict[str, Any]) -> list[tuple[str, dict]]:
    """JSON objects with the wrong types: every key at once, then one key at a time."""
    keys = list(base) + [k for k in COMMON_KEYS if k not in base]
    bodies = [(f"all keys = {str(v)[:20]!r}", {k: v for k in keys}) for v in JSON_VALUES]
    for key in base:
        bodies += [(f"{key} = {str(v)[:20]!r}", {**base, key: v}) for v in ONE_KEY_VALUES if v != base[key]]
    return bodies


# Nesting far past Python's recursion limit (1,000) for any value read as JSON; the
# 100,000-deep JSON body is `deep` above.
FORM_STRINGS = ['{"a": "\\ud800"}', "[" * 5_000, '{"a":' * 2_000, "x" * 20000, "a\x00b", "1e999", "%ff"]


def form_bodies(base: dict[str, Any]) -> list[tuple[str, dict]]:
    """The documented parameters as a form, one of them hostile text or a file."""
    bodies = []
    for key in base:
        rest = _as_query({k: v for k, v in base.items() if k != key})
        bodies += [(f"form {key} = {v[:20]!r}", {"data": dict(rest + [(key, v)])}) for v in FORM_STRINGS]
        bodies.append((f"form {key} as a file", {"data": dict(rest), "files": {key: ("x.png", b"GIF89a junk")}}))
    return bodies


def query_variants(base: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    keys = list(base) + [k for k in COMMON_KEYS if k not in base]
    variants = [(f"query all = {v[:20]!r}", [(k, v) for k in keys]) for v in QUERY_VALUES]
    variants.append(("query brackets", [(f"{k}[]", "a") for k in keys] + [(f"{k}[x][y]", "b") for k in keys]))
    for key in base:
        for v in ("abc", "9" * 30, "", "a\x00b"):
            variants.append((f"query {key} = {v[:20]!r}", _as_query({**base, key: v})))
    return variants


# -- the sweep ---------------------------------------------------------------------------------

AUTHS = ["anon", "user", "admin"]
MORE_AUTHS = ["admin_read", "app", "bogus bearer", "bad basic", "non-utf8 basic", "empty scheme", "unknown scheme",
              "garbage cookie", "token cookie", "basic"]

DB_VOLATILE = {"archives", "state", "pack_errors", "packs", "emoji", "sync_jobs", "captchas", "backups",
               "mirrors", "loose_folders", "loose_emoji", "emoji_search_rows", "emoji_search_tags", "pack_origins"}


def fingerprint(world: World) -> str:
    """Every row the API can change (derived and background tables aside), and the pack store."""
    digest = hashlib.sha256()
    db = sqlite3.connect(f"file:{world.server.config.database_path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in sorted(t for t in tables if t not in DB_VOLATILE and not t.startswith(("_", "sqlite", "emoji_search"))):
            digest.update(table.encode())
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr(row).encode())
    finally:
        db.close()
    for path in sorted(world.server.packs_dir.rglob("*")):
        digest.update(str(path).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


async def refused_changes_nothing(world: World, case: Case, group: str, probes: list[Probe]) -> list[str]:
    """Run a group of probes; if every one was refused (4xx), nothing may have changed.
    (A group with an accepted request is not checked: that request may change things.)"""
    before = fingerprint(world)
    problems, statuses = await run(world, case, probes)
    if statuses and all(400 <= s < 500 for s in statuses) and fingerprint(world) != before:
        problems.append(f"{group}: every request was refused, yet something changed")
    return problems


async def everyday(world: World, case: Case) -> list[str]:
    """Every path value under the everyday credentials, odd credentials, HEAD, odd headers: no body."""
    owner, plausible = world.owner(case), world.url(case)
    probes = [Probe("plain", case.method, plausible, auth) for auth in AUTHS]
    probes += [Probe(f"path {name}", case.method, world.url(case, **{param: value}), auth)
               for param in case.params for name, value in PATH_VALUES.items() for auth in AUTHS]
    if not case.twin:
        probes += [Probe("odd credentials", case.method, plausible, auth) for auth in MORE_AUTHS]
    probes.append(Probe("method not allowed", "OPTIONS", plausible, owner))
    probes.append(Probe("trailing slash", case.method, plausible + "/", owner))
    if case.method == "GET":
        urls = [plausible, *(world.url(case, **{param: "abc"}) for param in case.params)]
        probes += [Probe("HEAD", "HEAD", url, auth) for url in urls for auth in ("anon", owner)]
        probes += [Probe(f"header {name}", "GET", plausible, owner, {"headers": {name: value}})
                   for name, value in HOSTILE_HEADERS]
    return (await run(world, case, probes))[0]


async def hostile(world: World, case: Case) -> list[str]:
    """The documented parameters (the remote unreachable), then hostile query strings and bodies."""
    owner, plausible = world.owner(case), world.url(case)
    base = world.fill(_base(case))
    problems = []
    if is_remote(case):
        probes = [Probe("unreachable remote (query)", case.method, plausible, owner, {"params": _as_query(base)})]
        if case.method != "GET":
            probes += [Probe("unreachable remote (JSON)", case.method, plausible, owner, {"json": base}),
                       Probe("unreachable remote (form)", case.method, plausible, owner,
                             {"data": dict(_as_query(base))})]
        problems += (await run(world, case, probes))[0]
    probes = [Probe(label, case.method, plausible, owner, {"params": query})
              for label, query in query_variants(base)]
    problems += await refused_changes_nothing(world, case, "query", probes)
    if case.method != "GET":
        probes = [Probe(label, case.method, plausible, owner, kwargs)
                  for label, kwargs in raw_bodies(list(base) or ["name", "id", "status"])]
        problems += await refused_changes_nothing(world, case, "broken bodies", probes)
        probes = [Probe(label, case.method, plausible, owner, {"json": body}) for label, body in typed_bodies(base)]
        probes += [Probe(label, case.method, plausible, owner, kwargs) for label, kwargs in form_bodies(base)]
        problems += await refused_changes_nothing(world, case, "wrong types", probes)
    return problems


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_route(world: World, case: Case) -> None:
    problems = await everyday(world, case)
    if not case.twin:
        problems += await hostile(world, case)
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:40])


# -- what the sweep found, pinned down -------------------------------------------------------


async def test_trailing_slash_is_the_same_route(world: World) -> None:
    plain, slashed = await world.client.get("/api/v1/instance"), await world.client.get("/api/v1/instance/")
    assert slashed.status_code == 200 and slashed.json() == plain.json()
    # A prefix alone names no route: a JSON 404, not a redirect to itself.
    r = await world.client.get("/api/v1/pleroma/")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


async def test_range_refusals_are_json(world: World) -> None:
    size = (write_pack(world.server.packs_dir, "ranged", {"blob": "blob.png"}) / "blob.png").stat().st_size
    url = "/emoji/ranged/blob.png"
    r = await world.client.get(url, headers={"range": f"bytes={size + 10}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    assert isinstance(r.json()["error"], str)
    r = await world.client.get(url, headers={"range": "lines=1-2"})
    assert r.status_code == 400 and isinstance(r.json()["error"], str)
    r = await world.client.get(url, headers={"range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == b"\x89PNG"
