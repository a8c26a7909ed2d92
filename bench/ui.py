"""The web UI's timings for `make bench`: each page beside the JSON API answer for the same data.

Three pairs, requested in turn (HTML, then JSON, `rounds` times) over one keep-alive
connection each, so both see the same machine:
- a pack page, page 1 (`/ui/packs/NAME`: 120 emoji) vs `GET /api/v1/pleroma/emoji/pack?name=NAME&page=1&page_size=120`;
- `/ui/` (24 pack cards) vs the pack listing's page 1 of 24 (`/api/v1/pleroma/emoji/packs?page=1&page_size=24`);
- `/ui/?q=Q` (60 results) vs `/api/v1/emojid/search?q=Q&limit=60`.

Each figure is the p50 of the whole answer (body read), time to first byte beside it; the
target is the issue's: within 2x of the JSON API, and a pack page under a second. The
first answer of each page (before anything is kept) is shown too. NAME defaults to the
pack with the most emoji, Q to the first three characters of its first shortcode.

Runs alone against a running server (anonymous, as the JSON API is asked):
    .venv/bin/python bench/ui.py http://127.0.0.1:4000 [--pack NAME] [--query Q] [--rounds N]
                                 [--login USER:PASSWORD]   (the pack page as that admin sees it, too)

From bench/run.py: `measure_ui(base_url, say=say, check=check, info=info)` prints the same
lines through run.py's own functions; `bench_ui(run)` is the whole section (a corpus server
started, measured, stopped), for `SECTIONS["ui"] = lambda: ui.bench_ui(sys.modules[__name__])`.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

PACK_PAGE = 120  # emoji on a UI pack page
CARDS_PAGE = 24  # packs on /ui/
RESULTS = 60  # search results on /ui/?q=
RATIO_TARGET = 2.0
PACK_PAGE_SECONDS = 1.0

Check = Callable[..., None]
Info = Callable[..., None]


def p50(values: list[float]) -> float:
    """Nearest-rank median (as bench/run.py's)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) / 2) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def timed(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> tuple[float, float, int]:
    """(time to first byte, time to the whole body, body bytes) of one GET; 200 or an error."""
    started = time.perf_counter()
    with client.stream("GET", path, params=params) as response:
        first = time.perf_counter() - started
        body = response.read()
        whole = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params or ''} answered {response.status_code}: {body[:200]!r}")
    return first, whole, len(body)


def biggest_pack(client: httpx.Client) -> tuple[str, int]:
    """The pack with the most emoji (name, count), from the listing, page by page."""
    best, count, page = ("", -1), None, 1
    while count is None or (page - 1) * 200 < count:
        answer = client.get("/api/v1/pleroma/emoji/packs", params={"page": page, "page_size": 200}).json()
        count = answer["count"]
        for name, entry in answer["packs"].items():
            if entry["files_count"] > best[1]:
                best = (name, entry["files_count"])
        page += 1
    if not best[0]:
        raise RuntimeError("the server has no packs to measure")
    return best


def log_in(client: httpx.Client, user: str, password: str) -> None:
    """A UI session, through the login form as a browser opens one."""
    form = client.get("/ui/login").text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form)
    if token is None:
        raise RuntimeError("no CSRF field on /ui/login")
    r = client.post("/ui/login", data={"_csrf_token": token.group(1), "username": user, "password": password})
    if r.status_code != 303:
        raise RuntimeError(f"logging in as {user} failed ({r.status_code})")


def pair(html: httpx.Client, api: httpx.Client, page: tuple[str, dict[str, Any]], json_: tuple[str, dict[str, Any]],
         rounds: int) -> dict[str, Any]:
    """The page and its JSON twin, in turn, `rounds` times after a first (cold) answer each."""
    cold_html, cold_json = timed(html, *page)[1], timed(api, *json_)[1]
    firsts, wholes, api_firsts, api_wholes = [], [], [], []
    size = api_size = 0
    for _ in range(rounds):
        first, whole, size = timed(html, *page)
        firsts.append(first)
        wholes.append(whole)
        first, whole, api_size = timed(api, *json_)
        api_firsts.append(first)
        api_wholes.append(whole)
    return {"p50": p50(wholes), "ttfb": p50(firsts), "api_p50": p50(api_wholes), "api_ttfb": p50(api_firsts),
            "cold": cold_html, "api_cold": cold_json, "bytes": size, "api_bytes": api_size, "rounds": rounds}


def _check(label: str, value: str, target: str, ok: bool, data: dict | None = None) -> None:
    print(f"{label}: {value} (target {target}) {'OK' if ok else 'MISS'}", flush=True)


def _info(label: str, value: str, data: dict | None = None) -> None:
    print(f"{label}: {value}", flush=True)


def measure_ui(base_url: str, say: Callable[[str], None] = print, check: Check = _check, info: Info = _info,
               pack: str | None = None, query: str | None = None, rounds: int = 50,
               login: tuple[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Measure the UI pages beside their JSON twins on the server at `base_url`; print a
    line per figure (`check`/`info`, bench/run.py's format) and return the figures."""
    figures: dict[str, dict[str, Any]] = {}
    timeout = httpx.Timeout(120)
    with httpx.Client(base_url=base_url, timeout=timeout) as html, \
            httpx.Client(base_url=base_url, timeout=timeout) as api:
        if pack is None:
            pack, size = biggest_pack(api)
        else:
            size = api.get("/api/v1/pleroma/emoji/pack", params={"name": pack, "page_size": 0}).json()["files_count"]
        if query is None:
            first = api.get("/api/v1/pleroma/emoji/pack", params={"name": pack, "page_size": 1}).json()["files"]
            query = next(iter(first), pack)[:3]
        packs = api.get("/api/v1/pleroma/emoji/packs", params={"page": 1, "page_size": 1}).json()["count"]
        say(f"== web UI: pages vs the JSON API, p50 of {rounds} each, anonymous ==")
        cases = [
            ("pack", f"ui pack page {pack} (page 1: {min(PACK_PAGE, size)} of {size} emoji)",
             (f"/ui/packs/{pack}", {}),
             ("/api/v1/pleroma/emoji/pack", {"name": pack, "page": 1, "page_size": PACK_PAGE})),
            ("packs", f"ui packs page /ui/ ({min(CARDS_PAGE, packs)} of {packs} packs)",
             ("/ui/", {}), ("/api/v1/pleroma/emoji/packs", {"page": 1, "page_size": CARDS_PAGE})),
            ("search", f"ui search /ui/?q={query}", ("/ui/", {"q": query}),
             ("/api/v1/emojid/search", {"q": query, "limit": RESULTS})),
        ]
        for key, label, page, twin in cases:
            got = pair(html, api, page, twin, rounds)
            figures[key] = got
            ratio = got["p50"] / got["api_p50"]
            value = (f"{ms(got['p50'])} (first byte {ms(got['ttfb'])}, {got['bytes'] / 1e3:.0f} kB) vs JSON "
                     f"{ms(got['api_p50'])} ({got['api_bytes'] / 1e3:.0f} kB): {ratio:.2f}x")
            ok = ratio <= RATIO_TARGET
            target = f"<= {RATIO_TARGET:g}x the JSON API"
            if key == "pack":
                ok = ok and got["p50"] < PACK_PAGE_SECONDS
                target += f", < {PACK_PAGE_SECONDS * 1000:.0f} ms"
            check(label, value, target, ok, {**got, "ratio": ratio})
            info(f"{label}, first answer (nothing kept yet)",
                 f"{ms(got['cold'])} (JSON {ms(got['api_cold'])})", {"cold": got["cold"], "api_cold": got["api_cold"]})
        if login is not None:
            log_in(html, *login)
            got = pair(html, api, (f"/ui/packs/{pack}", {}),
                       ("/api/v1/pleroma/emoji/pack", {"name": pack, "page": 1, "page_size": PACK_PAGE}), rounds)
            figures["pack_admin"] = got
            info(f"ui pack page {pack} as admin {login[0]} (edit forms on every tile)",
                 f"{ms(got['p50'])} ({got['bytes'] / 1e3:.0f} kB) vs JSON {ms(got['api_p50'])}: "
                 f"{got['p50'] / got['api_p50']:.2f}x", got)
    return figures


def bench_ui(run: Any, pack: str = "big") -> None:
    """The section of bench/run.py: a server on the bench corpus, measured, stopped. `run` is
    bench/run.py's module (Server, CORPUS, say, check, info)."""
    server = run.Server(run.CORPUS / "emojid.toml", "ui")
    try:
        up = server.start()
        run.say("== web UI ==")
        run.info("ui server start to healthy", f"{up:.2f} s")
        measure_ui(server.base, say=run.say, check=run.check, info=run.info, pack=pack)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="emojid web UI timings beside the JSON API")
    parser.add_argument("base_url", help="a running emojid, e.g. http://127.0.0.1:4000")
    parser.add_argument("--pack", help="the pack whose page 1 is timed (default: the one with the most emoji)")
    parser.add_argument("--query", help="the search (default: the first 3 characters of that pack's first shortcode)")
    parser.add_argument("--rounds", type=int, default=50, help="requests per page and per JSON twin (default 50)")
    parser.add_argument("--login", metavar="USER:PASSWORD", help="also time the pack page as this admin sees it")
    args = parser.parse_args(argv)
    login = tuple(args.login.split(":", 1)) if args.login else None
    if login is not None and len(login) != 2:
        parser.error("--login takes USER:PASSWORD")
    try:
        measure_ui(args.base_url.rstrip("/"), pack=args.pack, query=args.query, rounds=max(1, args.rounds),
                   login=login)  # type: ignore[arg-type]
    except (RuntimeError, httpx.HTTPError, KeyError, ValueError) as exc:
        print(f"bench/ui.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
