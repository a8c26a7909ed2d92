"""Small stub servers standing in for remote instances: real HTTP on 127.0.0.x.

A `Stub` answers whatever routes a test gives it and records every request
it receives, so a test can assert what emojid fetched (and what it did not).
`fake_pleroma()` fills a stub with the routes of a Pleroma that shares packs:
nodeinfo, the pack listing, pack.json pages (30 files per page by default, as
Pleroma) and archives, plus whatever fallback archives a test publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

Handler = Callable[[Request], Response | Awaitable[Response]]


@dataclass
class Seen:
    method: str
    path: str
    query: str
    user_agent: str


class Stub:
    """An ASGI app: path -> handler, every request recorded (answered or not)."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        self.url = ""  # set once serving
        self.down = False  # answer 503 to everything, as a remote in trouble

    # -- declaring answers ---------------------------------------------

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def json(self, path: str, body: object, status: int = 200) -> None:
        self.routes[path] = lambda request: JSONResponse(body, status_code=status)

    def bytes(self, path: str, data: bytes, content_type: str = "application/zip", status: int = 200) -> None:
        self.routes[path] = lambda request: Response(data, status_code=status, media_type=content_type)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda request: RedirectResponse(location, status_code=status)

    # -- what was asked --------------------------------------------------

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    # -- ASGI --------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        self.requests.append(Seen(request.method, request.url.path, request.url.query,
                                  request.headers.get("user-agent", "")))
        handler = self.routes.get(request.url.path)
        if self.down:
            response: Response = JSONResponse({"error": "Service Unavailable"}, status_code=503)
        elif handler is None:
            response = JSONResponse({"error": "Not found"}, status_code=404)
        else:
            response = handler(request)
            if asyncio.iscoroutine(response):
                response = await response
        await response(scope, receive, send)


def listen_socket(host: str) -> socket.socket:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY (no 40 ms delayed-ACK stalls), as conftest does.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, 0))
    sock.listen()
    return sock


@contextlib.asynccontextmanager
async def serving_stub(stub: Stub, host: str = "127.0.0.1") -> AsyncIterator[Stub]:
    """Serve `stub` with uvicorn on host:<free port>, as conftest serves emojid."""
    sock = listen_socket(host)
    port = sock.getsockname()[1]
    stub.url = f"http://{host}:{port}"
    server = uvicorn.Server(uvicorn.Config(stub, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("stub failed to start")
            await asyncio.sleep(0.01)
        yield stub
    finally:
        server.should_exit = True
        await task
        sock.close()


# -- a Pleroma that shares packs ----------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest().upper()


@dataclass
class FakePack:
    files: dict[str, str]
    meta: dict
    archive: bytes | None = None  # served from /packs/archive when given
    extra: dict = field(default_factory=dict)


class FakePleroma(Stub):
    """A remote Pleroma: `packs` is what it serves; tests edit it freely."""

    ARCHIVE = "/api/v1/pleroma/emoji/packs/archive"
    SHOW = "/api/v1/pleroma/emoji/pack"
    LIST = "/api/v1/pleroma/emoji/packs"

    def __init__(self, shareable: bool = True, old: bool = False) -> None:
        super().__init__()
        self.packs: dict[str, FakePack] = {}
        self.shareable = shareable
        self.max_page_size: int | None = None  # a remote that caps its page sizes
        self.route("/.well-known/nodeinfo", self._well_known)
        self.route("/nodeinfo/2.1.json", self._nodeinfo)
        if old:
            # A 2019 Pleroma: no /api/v1 pack routes; one map of every pack, download_shared.
            self.route("/api/pleroma/emoji/packs", self._old_list)
        else:
            self.route(self.LIST, self._list)
            self.route(self.SHOW, self._show)
            self.route(self.ARCHIVE, self._archive)

    def add(self, name: str, files: dict[str, str], meta: dict, archive: bytes | None = None) -> FakePack:
        """A pack; when `archive` is given and share-files is set, it is downloadable with its SHA256."""
        pack = FakePack(files, meta, archive)
        self.packs[name] = pack
        if archive is not None:
            self.bytes(f"/api/pleroma/emoji/packs/{name}/download_shared", archive)
        return pack

    def publish(self, path: str, data: bytes) -> str:
        """Serve `data` at `path` (a fallback archive, an image); its absolute URL."""
        self.bytes(path, data, "application/zip" if path.endswith(".zip") else "image/png")
        return self.url + path

    def pack_meta(self, pack: FakePack) -> dict:
        meta = dict(pack.meta)
        shared = meta.get("share-files") is True and pack.archive is not None
        meta["can-download"] = shared
        if shared:
            meta.setdefault("download-sha256", sha256_hex(pack.archive))
        return meta

    def _well_known(self, request: Request) -> Response:
        return JSONResponse({"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                                        "href": f"{self.url}/nodeinfo/2.1.json"}]})

    def _nodeinfo(self, request: Request) -> Response:
        features = ["pleroma_api", "mastodon_api"] + (["shareable_emoji_packs"] if self.shareable else [])
        return JSONResponse({"version": "2.1", "software": {"name": "pleroma", "version": "2.7.2"},
                             "metadata": {"features": features}})

    def _entry(self, pack: FakePack, files: dict[str, str]) -> dict:
        return {"files": files, "pack": self.pack_meta(pack), "files_count": len(pack.files)}

    def _list(self, request: Request) -> Response:
        page = int(request.query_params.get("page", 1))
        size = int(request.query_params.get("page_size", 50))
        if self.max_page_size is not None:
            size = min(size, self.max_page_size)
        names = sorted(self.packs)[(page - 1) * size: page * size]
        return JSONResponse({"packs": {n: self._entry(self.packs[n], self.packs[n].files) for n in names},
                             "count": len(self.packs)})

    def _show(self, request: Request) -> Response:
        name = request.query_params.get("name", "")
        pack = self.packs.get(name)
        if pack is None:
            return JSONResponse({"error": f"Pack {name} does not exist"}, status_code=404)
        page = int(request.query_params.get("page", 1))
        size = int(request.query_params.get("page_size", 30))  # Pleroma's default
        if self.max_page_size is not None:
            size = min(size, self.max_page_size)
        items = sorted(pack.files.items())[(page - 1) * size: page * size]
        return JSONResponse(self._entry(pack, dict(items)))

    def _archive(self, request: Request) -> Response:
        pack = self.packs.get(request.query_params.get("name", ""))
        if pack is None or pack.archive is None:
            return JSONResponse({"error": "Pack does not exist"}, status_code=404)
        return Response(pack.archive, media_type="application/zip")

    def _old_list(self, request: Request) -> Response:
        return JSONResponse({n: {"files": p.files, "pack": self.pack_meta(p)} for n, p in self.packs.items()})


def pack_json(files: dict[str, str], meta: dict) -> bytes:
    return json.dumps({"files": files, "pack": meta, "files_count": len(files)}).encode()
