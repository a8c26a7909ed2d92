"""`make bench`: emojid against a 100k-emoji corpus, loopback only, bounded loops.

Prints each figure on its own line (`label: value (target ...) OK|MISS`) and a
summary. Exit status 0 whether or not targets are met; non-zero only when the
bench itself broke (server would not start, wrong answers, ...).

The corpus (bench/corpus/, gitignored) is generated once by gen_corpus.py and
reused. The output of the last run is also kept in bench/results/last-run.txt,
and every figure (label, value, target, ok) in bench/results/last-run.json.
The remote section (a second emojid downloading and mirroring from this corpus)
is bench/remote.py; the load figures (wrk, nginx in front) bench/load.py; the
attack figures (oversized bodies, a login burst) bench/attacks.py.

`python bench/run.py --only load,attacks` runs only those sections (names in
SECTIONS); its output goes to last-run-load+attacks.txt/.json, leaving the full
run's files alone. BENCH_SECONDS sets the length of each wrk run (default 60).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_corpus as gc  # noqa: E402
import procs  # noqa: E402
import reindex_bench as rb  # noqa: E402

CORPUS = gc.CORPUS
SMALL = gc.SMALL
RESULTS = HERE / "results"
EMOJID = Path(sys.executable).with_name("emojid")

LISTING = "/api/v1/pleroma/emoji/packs"
LINT = "/api/v1/emojid/lint"
SEARCH = "/api/v1/emojid/search"
EXPORT = "/api/v1/emojid/packs/export"
EXPORT_FORMATS = ("pleroma", "mastodon", "misskey")
SHOW = "/api/v1/pleroma/emoji/pack"
HEALTH = "/api/v1/pleroma/healthcheck"

# Hand-edit fixtures used by the watcher figures (removed again at the end).
ADDED_PACK = gc.pack_name(1)
ADDED_SHORTCODE = "bench_added"
ADDED_FILE = "bench_added.png"
NEW_PACK = "bench_new_pack"  # sorts before "big": first on page 1

REQUESTS = 200
RSS_TARGET_MB = 150
ANIMATED_FILES = 5000  # the animated pack of the static-frame figure

# walk+stat of the corpus (bench_reindex), the yardstick of the lint target.
WALK_SECONDS: float | None = None


class BenchError(Exception):
    """The bench itself broke (not a missed target)."""


# -- output ----------------------------------------------------------------

OUT: list[str] = []
CHECKS: list[tuple[str, bool, str]] = []
# Every figure for last-run.json: section, label, value, target (None: no target), ok.
FIGURES: list[dict[str, object]] = []
SECTION = ""


def say(text: str = "") -> None:
    global SECTION
    print(text, flush=True)
    OUT.append(text)
    if text.startswith("== ") and text.endswith(" =="):
        SECTION = text[3:-3]


def check(label: str, value: str, target: str, ok: bool, data: dict | None = None) -> None:
    """A figure with a target. `data`: its numbers, for last-run.json only."""
    verdict = "OK" if ok else "MISS"
    say(f"{label}: {value} (target {target}) {verdict}")
    CHECKS.append((label, ok, f"{value} (target {target})"))
    FIGURES.append({"section": SECTION, "label": label, "value": value, "target": target, "ok": ok,
                    **({"data": data} if data else {})})


def info(label: str, value: str, data: dict | None = None) -> None:
    say(f"{label}: {value}")
    FIGURES.append({"section": SECTION, "label": label, "value": value, "target": None, "ok": None,
                    **({"data": data} if data else {})})


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[k]


def p50(values: list[float]) -> float:
    return pct(values, 50)


# -- processes ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    # EMOJID_* overrides from the caller's shell would change what we measure.
    return {k: v for k, v in os.environ.items() if not k.startswith("EMOJID_")}


class RssSampler(threading.Thread):
    """VmRSS of one pid every 50 ms; the maximum overall and per phase."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name=f"rss-{pid}")
        self.pid = pid
        self.phase = "startup"
        self.max_kb = 0
        self.max_phase = ""
        self.by_phase: dict[str, int] = {}
        self.hwm_kb = 0
        self.samples = 0
        self._halt = threading.Event()

    def read(self) -> tuple[int, int] | None:
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        hwm = int(fields.get("VmHWM", "0 kB").split()[0])
        return rss, hwm

    def run(self) -> None:
        while not self._halt.is_set():
            got = self.read()
            if got is not None:
                rss, hwm = got
                self.samples += 1
                self.hwm_kb = max(self.hwm_kb, hwm)
                self.by_phase[self.phase] = max(self.by_phase.get(self.phase, 0), rss)
                if rss > self.max_kb:
                    self.max_kb, self.max_phase = rss, self.phase
            self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


class Server:
    """`emojid --config X serve --port P` as a subprocess, stopped with SIGTERM."""

    def __init__(self, config: Path, label: str) -> None:
        self.config = config
        self.label = label
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = RESULTS / f"server-{label}.log"
        self.proc: subprocess.Popen | None = None
        self.rss: RssSampler | None = None

    def start(self) -> float:
        RESULTS.mkdir(exist_ok=True)
        log = open(self.log_path, "wb")
        cmd = [str(EMOJID), "--config", str(self.config), "serve", "--port", str(self.port)]
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=clean_env(),
                                     cwd=str(self.config.parent))
        log.close()
        self.rss = RssSampler(self.proc.pid)
        self.rss.start()
        deadline = time.monotonic() + 600
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f"{self.label} server exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(HEALTH).status_code == 200:
                        return time.perf_counter() - started
                time.sleep(0.05)
        raise BenchError(f"{self.label} server not healthy after 600 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> tuple[float, int | None]:
        if self.proc is None or self.proc.poll() is not None:
            if self.rss:
                self.rss.stop()
            return 0.0, self.proc.returncode if self.proc else None
        if self.rss:
            got = self.rss.read()
            if got:
                self.rss.hwm_kb = max(self.rss.hwm_kb, got[1])
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        if self.rss:
            self.rss.stop()
        return time.perf_counter() - started, code


class StaticServer:
    """`python -m http.server` over the corpus folder (the reference for bytes served)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(directory),
             str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise BenchError("python -m http.server did not start")

    def stop(self) -> None:
        procs.stop(self.proc)


# -- corpus upkeep -------------------------------------------------------------

def undo_hand_edits(packs_dir: Path) -> None:
    """Remove what the watcher figures added (also leftovers of an interrupted run)."""
    shutil.rmtree(packs_dir / NEW_PACK, ignore_errors=True)
    added = packs_dir / ADDED_PACK / ADDED_FILE
    pack_json = packs_dir / ADDED_PACK / "pack.json"
    original = gc.small_pack_json(1)
    if added.exists() or (pack_json.exists() and pack_json.read_bytes() != original):
        with contextlib.suppress(FileNotFoundError):
            added.unlink()
        pack_json.write_bytes(original)


def fresh_state(root: Path) -> None:
    """A cold start: no database, no built archives."""
    for name in ("emojid.db", "emojid.db-wal", "emojid.db-shm"):
        with contextlib.suppress(FileNotFoundError):
            (root / name).unlink()
    shutil.rmtree(root / "cache", ignore_errors=True)


def private_state(label: str, log_level: str = "info") -> Path:
    """The config of a state of its own over the corpus packs, in bench/corpus/state-LABEL/
    (database, cache; packs_dir is the corpus's). The serve lock is per database: a
    section using it neither blocks nor is blocked by another emojid serving the corpus
    (a second bench on the same checkout). Seeded once from the corpus index and its
    built archives (hard links), when there are any, so it starts warm. `log_level`
    "warning" leaves out uvicorn's access log (a line per request)."""
    root = CORPUS / f"state-{label}"
    (root / "cache").mkdir(parents=True, exist_ok=True)
    config = root / "emojid.toml"
    config.write_text(gc.CONFIG.replace('packs_dir = "packs"', f'packs_dir = "{CORPUS / "packs"}"')
                      .replace('host = "127.0.0.1"', f'host = "127.0.0.1"\nlog_level = "{log_level}"'))
    database, seed = root / "emojid.db", CORPUS / "emojid.db"
    if not database.exists() and seed.exists():
        import sqlite3

        # The backup API copies a consistent snapshot even while a server writes the seed.
        with contextlib.closing(sqlite3.connect(seed)) as src, contextlib.closing(sqlite3.connect(database)) as dst:
            src.backup(dst)
    archives = CORPUS / "cache" / "archives"
    if not (root / "cache" / "archives").exists() and archives.is_dir():
        subprocess.run(["cp", "-al", str(archives), str(root / "cache" / "archives")], check=False)
    return config


def walk_stat(top: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    files = size = 0
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            files += 1
            size += st.st_size
    return time.perf_counter() - started, files, size


# -- HTTP helpers ----------------------------------------------------------------

def get(client: httpx.Client, path: str, expect: int = 200, **kw) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    r = client.get(path, **kw)
    r.read()
    elapsed = time.perf_counter() - started
    if r.status_code != expect:
        raise BenchError(f"GET {path} {kw.get('params', '')}: {r.status_code} (expected {expect}): {r.text[:300]}")
    return elapsed, r


def listing_pages(client: httpx.Client, page_size: int = 50, timeout: float = 900) -> dict[str, dict]:
    """Every pack over every page."""
    packs: dict[str, dict] = {}
    page = 1
    while page < 10_000:
        _, r = get(client, LISTING, params={"page": page, "page_size": page_size}, timeout=timeout)
        got = r.json()["packs"]
        if not got:
            return packs
        packs.update(got)
        page += 1
    raise BenchError("listing never ends")


def settle(client: httpx.Client, limit: float = 900) -> tuple[float | None, int, int]:
    """Poll the listing until every shareable pack carries download-sha256 (or `limit` s)."""
    started = time.perf_counter()
    while True:
        packs = listing_pages(client)
        shareable = [p for p in packs.values() if p["pack"].get("can-download")]
        missing = [p for p in shareable if "download-sha256" not in p["pack"]]
        elapsed = time.perf_counter() - started
        if shareable and not missing:
            return elapsed, len(packs), len(shareable)
        if elapsed > limit:
            return None, len(packs), len(missing)
        time.sleep(2)


def latency_series(client: httpx.Client, targets: list[tuple[str, dict]], rounds: int,
                   check_fn=None) -> dict[int, list[float]]:
    """`rounds` requests spread round-robin over `targets`; per-target latencies."""
    for path, params in targets:  # warm-up
        get(client, path, params=params)
    times: dict[int, list[float]] = {i: [] for i in range(len(targets))}
    for n in range(rounds):
        i = n % len(targets)
        path, params = targets[i]
        elapsed, r = get(client, path, params=params)
        if check_fn and n < len(targets):
            check_fn(i, r)
        times[i].append(elapsed)
    return times


async def hammer(port: int, path: str, seconds: float, workers: int) -> tuple[int, float, int]:
    """Requests/s of GET `path` by `workers` concurrent connections for `seconds`.

    A bare asyncio HTTP/1.1 client (keep-alive; reconnects when the server
    closes, as HTTP/1.0 http.server does): httpx would spend more CPU than the
    server on this 2-core machine and measure itself. Returns (requests,
    seconds, connections opened).
    """
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n\r\n".encode()
    done = connects = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, connects
        reader = writer = None
        try:
            while time.perf_counter() < deadline:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    connects += 1
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status_line, _, rest = head.partition(b"\r\n")
                if status_line.split()[1] != b"200":
                    raise BenchError(f"GET :{port}{path}: {status_line.decode(errors='replace')}")
                headers = {}
                for line in rest.split(b"\r\n"):
                    key, sep, value = line.partition(b":")
                    if sep:
                        headers[key.strip().lower()] = value.strip().lower()
                await reader.readexactly(int(headers[b"content-length"]))
                done += 1
                if status_line.startswith(b"HTTP/1.0") or headers.get(b"connection") == b"close":
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done, time.perf_counter() - started, connects


def download(url: str) -> tuple[int, float, httpx.Headers]:
    started = time.perf_counter()
    received = 0
    with httpx.Client(timeout=600) as client, client.stream("GET", url) as r:
        if r.status_code != 200:
            raise BenchError(f"GET {url}: {r.status_code}")
        for chunk in r.iter_raw(1 << 20):
            received += len(chunk)
        headers = r.headers
    return received, time.perf_counter() - started, headers


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.005) -> float | None:
    """Seconds until predicate() is true (polling), None after `timeout`."""
    started = time.perf_counter()
    while True:
        if predicate():
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            return None
        time.sleep(interval)


# -- the figures ----------------------------------------------------------------

def bench_reindex(config: Path) -> None:
    say("== reindex (cold: no database) ==")
    packs_dir = CORPUS / "packs"
    global WALK_SECONDS
    walk_s, files, size = walk_stat(packs_dir)
    WALK_SECONDS = walk_s
    rb.walk_stat_read(packs_dir)  # the page cache warm for both figures
    cpu = rb.cpu_seconds(resource.RUSAGE_SELF)
    read_s, _files, _size = rb.walk_stat_read(packs_dir)
    read_cpu = rb.cpu_seconds(resource.RUSAGE_SELF) - cpu
    fresh_state(CORPUS)
    started = time.perf_counter()
    done = subprocess.run([str(EMOJID), "--config", str(config), "reindex"], env=clean_env(),
                          capture_output=True, text=True, timeout=1800)
    reindex_s = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"emojid reindex failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    info("corpus", f"{files} files, {size / 1e9:.2f} GB under {packs_dir}")
    info("reindex output", done.stdout.strip())
    info("walk+stat of the same tree", f"{walk_s:.2f} s")
    info("walk+stat+read of the same tree", f"{read_s:.2f} s ({read_cpu:.2f} s CPU)")
    started = time.perf_counter()
    subprocess.run([str(EMOJID), "--version"], env=clean_env(), capture_output=True, timeout=120, check=True)
    start_s = time.perf_counter() - started
    info("emojid --version (interpreter start, for scale)", f"{start_s:.2f} s")
    check("cold reindex (emojid reindex, incl. interpreter start)",
          f"{reindex_s:.2f} s, {read_s / reindex_s:.2f}x walk+stat+read", ">= 0.7x", read_s / reindex_s >= 0.7,
          {"reindex_s": reindex_s, "walk_stat_read_s": read_s})
    # What no reindex can do without (bench/reindex_bench.floor): on few CPUs, more than
    # the target allows.
    least = rb.floor(start_s, read_cpu, packs_dir, CORPUS / "emojid.db")
    info("reindex floor (interpreter start + read, SHA-256 and SQLite writes spread over every CPU)",
         least.text(read_s / 0.7))


def bench_listing(client: httpx.Client, count: int) -> None:
    say("== listing and show ==")
    last = max(1, math.ceil(count / 50))
    pages = sorted({1, 2, last // 2, last - 1, last})
    targets = [(LISTING, {"page": p, "page_size": 50}) for p in pages]

    def sane(i: int, r: httpx.Response) -> None:
        body = r.json()
        if body["count"] != count or not body["packs"]:
            raise BenchError(f"listing page {pages[i]}: count {body['count']}, {len(body['packs'])} packs")

    times = latency_series(client, targets, REQUESTS, sane)
    every = [t for ts in times.values() for t in ts]
    info("listing pages measured", ", ".join(f"{p} ({ms(p50(times[i]))})" for i, p in enumerate(pages))
         + f" of {last}; {len(every)} requests, page_size=50")
    check("listing p50", ms(p50(every)), "< 20 ms", p50(every) < 0.020)
    info("listing p95", ms(pct(every, 95)))

    show_targets = [
        (SHOW, {"name": gc.pack_name(500), "page": 1}),
        (SHOW, {"name": gc.pack_name(500), "page": 4}),
        (SHOW, {"name": "big", "page": 1}),
        (SHOW, {"name": "big", "page": 34}),
    ]

    def show_sane(i: int, r: httpx.Response) -> None:
        body = r.json()
        want = [30, 10, 30, 10][i]
        if len(body["files"]) != want:
            raise BenchError(f"show {show_targets[i][1]}: {len(body['files'])} files, expected {want}")

    times = latency_series(client, show_targets, REQUESTS, show_sane)
    every = [t for ts in times.values() for t in ts]
    info("show measured", ", ".join(f"{t[1]['name']} page {t[1]['page']} ({ms(p50(times[i]))})"
                                    for i, t in enumerate(show_targets)) + f"; {len(every)} requests")
    check("show p50", ms(p50(every)), "< 20 ms", p50(every) < 0.020)
    info("show p95", ms(pct(every, 95)))


def bench_growth(client: httpx.Client, small_base: str, count: int) -> None:
    say("== listing vs number of packs (10-pack corpus beside the 1,001-pack one, interleaved) ==")
    last10 = math.ceil(count / 10)
    series = {
        f"listing page 1, page_size=10, {count} packs": (client.base_url, LISTING, {"page": 1, "page_size": 10}),
        f"listing last page ({last10}), page_size=10, {count} packs":
            (client.base_url, LISTING, {"page": last10, "page_size": 10}),
        "listing page 1, page_size=10, 10 packs": (small_base, LISTING, {"page": 1, "page_size": 10}),
        f"show {gc.pack_name(500)} page 1, {count} packs": (client.base_url, SHOW, {"name": gc.pack_name(500)}),
        f"show {gc.pack_name(5)} page 1, 10 packs": (small_base, SHOW, {"name": gc.pack_name(5)}),
    }
    clients = {str(client.base_url): client}
    small = httpx.Client(base_url=small_base, timeout=60)
    clients[small_base] = small
    times: dict[str, list[float]] = {k: [] for k in series}
    try:
        for base, path, params in series.values():  # warm-up
            get(clients[str(base)], path, params=params)
        for _ in range(REQUESTS):
            for label, (base, path, params) in series.items():
                times[label].append(get(clients[str(base)], path, params=params)[0])
    finally:
        small.close()
    for label, ts in times.items():
        info(f"{label} p50", ms(p50(ts)))
    labels = list(series)
    small_list = p50(times[labels[2]])
    big_list = max(p50(times[labels[0]]), p50(times[labels[1]]))
    check(f"listing p50 at {count} packs vs 10 packs", f"{ms(big_list)} vs {ms(small_list)}",
          "not growing: <= 1.5x + 1 ms", big_list <= small_list * 1.5 + 0.001)
    small_show, big_show = p50(times[labels[4]]), p50(times[labels[3]])
    check(f"show p50 at {count} packs vs 10 packs", f"{ms(big_show)} vs {ms(small_show)}",
          "not growing: <= 1.5x + 1 ms", big_show <= small_show * 1.5 + 0.001)


def bench_emoji_lists(client: httpx.Client) -> None:
    say("== global emoji lists (cached body + ETag) ==")
    for path in ("/api/v1/custom_emojis", "/api/v1/pleroma/emoji"):
        cold, r = get(client, path, timeout=600)
        size = len(r.content)
        body = r.json()
        etag = r.headers.get("etag")
        info(f"{path} entries", f"{len(body)} ({size / 1e6:.1f} MB body)")
        info(f"{path} cold (first request)", ms(cold))
        warm = [get(client, path)[0] for _ in range(20)]
        etag_stable = all(get(client, path)[1].headers.get("etag") == etag for _ in range(2))
        check(f"{path} warm p50", ms(p50(warm)), "cached: < cold/2, ETag set and stable",
              bool(etag) and etag_stable and p50(warm) < cold / 2)
        if not etag:
            raise BenchError(f"{path}: no ETag")
        not_modified = [get(client, path, expect=304, headers={"if-none-match": etag})[0] for _ in range(50)]
        check(f"{path} If-None-Match 304 p50", ms(p50(not_modified)), "< 20 ms", p50(not_modified) < 0.020)


def emojid_cli(config: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EMOJID), "--config", str(config), *args], env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def admin_headers(config: Path, name: str) -> dict[str, str]:
    """A `read admin` bearer token of admin `name` (created if missing) in `config`'s database."""
    done = emojid_cli(config, "user", "create", name, "--password", f"{name}-password", "--admin")
    if done.returncode != 0 and "already" not in done.stderr:
        raise BenchError(f"emojid user create failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    done = emojid_cli(config, "token", "create", name, "--scopes", "read admin")
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(f"emojid token create failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    return {"authorization": f"Bearer {done.stdout.strip()}"}


def bench_lint(client: httpx.Client, config: Path) -> None:
    say("== lint (reads the index: no image decoded) ==")
    headers = admin_headers(config, "benchlint")
    times = []
    for _ in range(3):
        elapsed, r = get(client, LINT, headers=headers, timeout=600)
        times.append(elapsed)
    findings = r.json()["findings"]
    by_code: dict[str, int] = {}
    for finding in findings:
        by_code[finding["code"]] = by_code.get(finding["code"], 0) + 1
    info("lint findings", f"{len(findings)} ({', '.join(f'{k} {v}' for k, v in sorted(by_code.items())) or 'none'}; "
                          f"{len(r.content) / 1e6:.1f} MB of JSON)")
    best = min(times)
    walk = WALK_SECONDS
    if walk is None:
        info("lint of the corpus via GET /api/v1/emojid/lint (best of 3)", f"{best:.2f} s (no walk+stat to compare)")
    else:
        check("lint of the corpus via GET /api/v1/emojid/lint (best of 3)", f"{best:.2f} s",
              f"<= 2x walk+stat = {2 * walk:.2f} s", best <= 2 * walk)
    started = time.perf_counter()
    done = emojid_cli(config, "lint", "--json")
    if done.returncode not in (0, 1):
        raise BenchError(f"emojid lint failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    info("emojid lint --json (incl. interpreter start and reconcile beside the server)",
         f"{time.perf_counter() - started:.2f} s, exit status {done.returncode}")


def bench_search(client: httpx.Client) -> None:
    say("== search over every emoji (FTS5 trigram and b-tree indexes) ==")
    exact = gc.shortcode(500, 42)
    targets = [(SEARCH, {"q": q}) for q in (exact, gc.shortcode(777, 1)[:-2], "e42", "0777", "p0", "zzzz")]

    def sane(i: int, r: httpx.Response) -> None:
        hits = r.json()
        if i == 0 and (not hits or hits[0]["shortcode"] != exact):
            raise BenchError(f"search {exact}: {hits[:2]}")
        if i in (1, 2, 3, 4) and len(hits) != 40:
            raise BenchError(f"search {targets[i][1]}: {len(hits)} hits, expected 40")

    times = latency_series(client, targets, REQUESTS, sane)
    every = [t for ts in times.values() for t in ts]
    info("search measured", ", ".join(f"{t[1]['q']!r} ({ms(p50(times[i]))})" for i, t in enumerate(targets))
         + f"; {len(every)} requests, limit 40")
    check("search p50", ms(p50(every)), "< 10 ms", p50(every) < 0.010)
    info("search p95", ms(pct(every, 95)))


def _reference(cmd: list[str], cwd: Path, tmp: str) -> tuple[float, str]:
    """Seconds and peak RSS of one command (GNU time's, when there is /usr/bin/time: the
    rusage of a child Python forks counts the fork's own pages)."""
    timed = ["/usr/bin/time", "-f", "%M", "-o", f"{tmp}/rss", *cmd] if os.path.exists("/usr/bin/time") else cmd
    started = time.perf_counter()
    done = subprocess.run(timed, cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed with exit status {done.returncode}")
    with contextlib.suppress(OSError, ValueError):
        return elapsed, f"{int(Path(f'{tmp}/rss').read_text().split()[-1]) / 1024:.0f} MB"
    return elapsed, "not measured"


def bench_export(server: Server) -> None:
    say("== export of pack `big` (1 GB) for Pleroma, Mastodon, Misskey ==")
    import tempfile

    _walk, files, folder = walk_stat(CORPUS / "packs" / "big")
    peaks = []
    for fmt in EXPORT_FORMATS:
        server.rss.phase = f"export {fmt}"
        n, elapsed, headers = download(f"{server.base}{EXPORT}?name=big&format={fmt}")
        if n != int(headers.get("content-length", -1)) or n < folder:
            raise BenchError(f"export {fmt}: {n} bytes (content-length {headers.get('content-length')}), "
                             f"the folder holds {folder}")
        peak = server.rss.by_phase.get(server.rss.phase, 0) / 1024
        peaks.append(peak)
        how = "the built archive" if fmt == "pleroma" else "written to cache_dir, then streamed"
        info(f"export {fmt} via emojid", f"{n / 1e6 / elapsed:.0f} MB/s ({n / 1e9:.2f} GB in {elapsed:.1f} s, "
                                         f"{how}), server peak RSS {peak:.0f} MB")
    # The references write next to the corpus (the same disk), never into packs_dir.
    with tempfile.TemporaryDirectory(dir=CORPUS, prefix=".bench-export-") as tmp:
        for label, cmd, out in (("tar czf", ["tar", "czf", f"{tmp}/big.tar.gz", "big"], f"{tmp}/big.tar.gz"),
                                ("zip -0", ["zip", "-0", "-q", "-r", f"{tmp}/big.zip", "big"], f"{tmp}/big.zip")):
            elapsed, rss = _reference(cmd, CORPUS / "packs", tmp)
            info(f"{label} of the same folder ({files} files)",
                 f"{os.path.getsize(out) / 1e6 / elapsed:.0f} MB/s ({elapsed:.1f} s), peak RSS {rss}")
    check("export peak RSS, any format (memory flat in the pack's size)", f"{max(peaks):.0f} MB",
          f"< {RSS_TARGET_MB} MB", max(peaks) < RSS_TARGET_MB)


def bench_static_frames() -> None:
    """An animated pack of ANIMATED_FILES small GIFs in a temp store: file facts read
    when it is indexed, then every static frame built (in-process: no server)."""
    import io
    import tempfile

    from PIL import Image

    from emojid.config import load
    from emojid.emoji.packs import PackService
    from emojid.migrations import open_database

    say(f"== static frames ({ANIMATED_FILES}-file animated pack) ==")
    with tempfile.TemporaryDirectory(prefix="emojid-bench-static-") as tmp:
        root = Path(tmp)
        (root / "emojid.toml").write_text(gc.CONFIG)
        config = load(root / "emojid.toml", environ={})
        directory = root / "packs" / "animated"
        directory.mkdir(parents=True)
        files = {}
        for k in range(ANIMATED_FILES):
            frames = [Image.new("RGB", (32, 32), (k % 251, (k // 251) % 251, c)) for c in (0, 128, 255)]
            buf = io.BytesIO()
            frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
            (directory / f"a{k:04d}.gif").write_bytes(buf.getvalue())
            files[f"a{k:04d}"] = f"a{k:04d}.gif"
        (directory / "pack.json").write_bytes(gc.pack_json(files, "animated"))
        database = open_database(config.database_path)
        try:
            service = PackService.open(config, database)
            started = time.perf_counter()
            service.reconcile_sync()
            indexed = time.perf_counter() - started
            animated = service.index.animated_files()
            if len(animated) != ANIMATED_FILES:
                raise BenchError(f"static frames: {len(animated)} animated files indexed, expected {ANIMATED_FILES}")
            info("file facts of the pack (SHA-256 + image header, first indexing)",
                 f"{indexed:.2f} s ({ANIMATED_FILES / indexed:.0f} files/s)")
            started = time.perf_counter()
            service.reconcile_sync()
            info("indexing it again, unchanged (facts reused: stat only)", ms(time.perf_counter() - started))
            started = time.perf_counter()
            for facts in animated:
                service.static_frames.build(facts)
            built = time.perf_counter() - started
            info("static frames built (first-frame PNG each)",
                 f"{built:.2f} s ({ANIMATED_FILES / built:.0f} frames/s, one thread)")
        finally:
            database.close()


def bench_static(server: Server, static: StaticServer) -> None:
    say("== one emoji file ==")
    path = f"/emoji/{gc.pack_name(500)}/{gc.shortcode(500, 0)}.png"
    ref_path = f"/packs/{gc.pack_name(500)}/{gc.shortcode(500, 0)}.png"
    n, elapsed, conns = asyncio.run(hammer(server.port, path, 2.0, 4))
    rn, relapsed, rconns = asyncio.run(hammer(static.port, ref_path, 2.0, 4))
    ours, ref = n / elapsed, rn / relapsed
    info("emoji file via python -m http.server (HTTP/1.0: a connection per request)",
         f"{ref:.0f} req/s ({rn} requests, {rconns} connections, {relapsed:.1f} s)")
    check(f"emoji file via emojid {path}",
          f"{ours:.0f} req/s ({n} requests, {conns} keep-alive connections, {elapsed:.1f} s)",
          ">= 50% of http.server", ours >= 0.5 * ref)


def bench_archive(server: Server, static: StaticServer, sha: str) -> None:
    say("== 1 GB archive of pack `big` ==")
    built = [p for p in (CORPUS / "cache" / "archives" / "big").glob("*.zip") if not p.name.startswith(".")]
    if len(built) != 1:
        raise BenchError(f"expected one built archive of big in cache_dir, found {built}")
    archive = built[0]
    size = archive.stat().st_size
    ours_url = f"{server.base}/api/v1/pleroma/emoji/packs/archive?name=big"
    ref_url = f"{static.base}/{archive.relative_to(CORPUS).as_posix()}"
    ours, ref = [], []
    for _ in range(2):
        n, t, headers = download(ours_url)
        if n != size:
            raise BenchError(f"archive: got {n} bytes, the built file has {size}")
        if headers.get("x-download-sha256") not in (None, sha):
            raise BenchError(f"archive sha {headers.get('x-download-sha256')} != listing {sha}")
        ours.append(n / 1e6 / t)
        n, t, _ = download(ref_url)
        if n != size:
            raise BenchError(f"http.server: got {n} bytes, expected {size}")
        ref.append(n / 1e6 / t)
    info("archive size", f"{size / 1e9:.3f} GB ({archive.name})")
    info("archive via python -m http.server (best of 2)", f"{max(ref):.0f} MB/s")
    check("archive via emojid (best of 2)", f"{max(ours):.0f} MB/s", ">= 50% of http.server",
          max(ours) >= 0.5 * max(ref))


def bench_watcher(client: httpx.Client) -> None:
    say("== watcher (hand edits) ==")
    packs_dir = CORPUS / "packs"
    png = gc.draw_emoji(999)

    # One new file: write the image, then rewrite pack.json by hand.
    d = packs_dir / ADDED_PACK
    doc = json.loads((d / "pack.json").read_bytes())
    doc["files"][ADDED_SHORTCODE] = ADDED_FILE
    doc["files_count"] = len(doc["files"])
    started = time.perf_counter()
    (d / ADDED_FILE).write_bytes(png)
    (d / "pack.json").write_text(json.dumps(doc, indent=2))
    written = time.perf_counter()

    def shows_file() -> bool:
        r = client.get(SHOW, params={"name": ADDED_PACK, "page_size": 200})
        return r.status_code == 200 and ADDED_SHORTCODE in r.json()["files"]

    seen = wait_until(shows_file, timeout=10)
    if seen is None:
        check("watcher: one new file", "not seen within 10 s", "< 1 s", False)
    else:
        check("watcher: one new file", f"{ms(seen)} after the pack.json write "
              f"({ms(written - started + seen)} from the first write)", "< 1 s", seen < 1.0)

    # A new 100-file pack folder, pack.json last.
    d = packs_dir / NEW_PACK
    started = time.perf_counter()
    d.mkdir()
    files = {}
    for j in range(100):
        name = f"bn_e{j:02d}.png"
        (d / name).write_bytes(png)
        files[f"bn_e{j:02d}"] = name
    (d / "pack.json").write_bytes(gc.pack_json(files, "added by hand"))
    written = time.perf_counter()

    def listed(present: bool = True):
        def probe() -> bool:
            r = client.get(LISTING, params={"page": 1, "page_size": 3})
            packs = r.json()["packs"] if r.status_code == 200 else {}
            if not present:
                return NEW_PACK not in packs
            return NEW_PACK in packs and packs[NEW_PACK]["files_count"] == 100
        return probe

    seen = wait_until(listed(), timeout=10)
    if seen is None:
        check("watcher: new 100-file pack", "not listed within 10 s", "< 1 s", False)
    else:
        check("watcher: new 100-file pack", f"{ms(seen)} after pack.json was written "
              f"({ms(written - started + seen)} from mkdir)", "< 1 s", seen < 1.0)

    started = time.perf_counter()
    shutil.rmtree(d)
    gone = wait_until(listed(present=False), timeout=10)
    info("watcher: pack folder removed by hand, gone from listing",
         "not within 10 s" if gone is None else ms(gone))


def bench_main_server(config: Path) -> None:
    server = Server(config, "corpus")
    static: StaticServer | None = None
    small: Server | None = None
    try:
        say("== server ==")
        up = server.start()
        info("server start to healthy (reconcile of 1,001 packs)", f"{up:.2f} s")
        client = httpx.Client(base_url=server.base, timeout=60)
        server.rss.phase = "settle"
        settled, count, shareable = settle(client)
        if settled is None:
            info("archive settle", f"NOT settled after 900 s ({shareable} packs still without download-sha256)")
        else:
            info("archives settled (every shareable pack has download-sha256)",
                 f"{settled:.1f} s for {shareable} packs")
        first = get(client, LISTING, params={"page": 1, "page_size": 50})[1].json()
        count = first["count"]
        sha = first["packs"]["big"]["pack"].get("download-sha256", "")

        server.rss.phase = "listing/show"
        bench_listing(client, count)
        server.rss.phase = "emoji lists"
        bench_emoji_lists(client)
        server.rss.phase = "lint"
        bench_lint(client, config)

        static = StaticServer(CORPUS)
        server.rss.phase = "emoji file"
        bench_static(server, static)
        server.rss.phase = "archive"
        bench_archive(server, static, sha)
        static.stop()
        static = None
        server.rss.phase = "search"
        bench_search(client)
        bench_export(server)

        server.rss.phase = "10-pack comparison"
        fresh_state(SMALL)
        small = Server(SMALL / "emojid.toml", "small")
        small.start()
        with httpx.Client(base_url=small.base, timeout=60) as sc:
            settle(sc, limit=120)
        bench_growth(client, small.base, count)
        small.stop()
        small = None

        server.rss.phase = "watcher"
        bench_watcher(client)
        client.close()
    finally:
        for helper in (static, small):
            if helper is not None:
                try:
                    helper.stop()
                except Exception as exc:  # keep going: the main server must still be stopped
                    say(f"(stopping a helper server failed: {exc!r})")
        stop_s, code = server.stop()
        undo_hand_edits(CORPUS / "packs")
    say("== memory and shutdown ==")
    rss = server.rss
    check("server peak RSS (VmRSS sampled every 50 ms)",
          f"{rss.max_kb / 1024:.1f} MB during '{rss.max_phase}'", f"< {RSS_TARGET_MB} MB",
          rss.max_kb / 1024 < RSS_TARGET_MB)
    info("server VmHWM (kernel peak RSS)", f"{rss.hwm_kb / 1024:.1f} MB")
    info("peak RSS by phase", ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in rss.by_phase.items()))
    info("SIGTERM to exit", f"{stop_s:.2f} s, exit status {code}")


def bench_remote() -> None:
    import remote  # bench/remote.py: a second emojid pulling from this corpus

    remote.bench_remote(sys.modules[__name__])


def bench_load() -> None:
    import load  # bench/load.py: wrk, direct and through the shipped nginx config

    load.bench_load(sys.modules[__name__])


def bench_attacks() -> None:
    import attacks  # bench/attacks.py: oversized bodies, a login burst, the loop under a big body

    attacks.bench_attacks(sys.modules[__name__])


def bench_scale() -> None:
    import scale  # bench/scale.py: the same figures at 18,200 and 101,000 emoji

    scale.bench_scale(sys.modules[__name__])


def bench_ui() -> None:
    import ui  # bench/ui.py: the web UI's pages beside their JSON twins

    ui.bench_ui(sys.modules[__name__])


# The sections in running order; `--only` picks some. Each takes what it needs from
# the corpus (a section started alone reuses the index of the last full run).
SECTIONS = {
    "reindex": lambda: bench_reindex(CORPUS / "emojid.toml"),
    "server": lambda: bench_main_server(CORPUS / "emojid.toml"),
    "frames": bench_static_frames,
    "remote": bench_remote,
    "load": bench_load,
    "attacks": bench_attacks,
    "ui": bench_ui,
    "scale": bench_scale,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="emojid benchmarks (`make bench`)")
    parser.add_argument("--only", metavar="SECTION,...",
                        help=f"run only these sections, in the usual order: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    chosen = list(SECTIONS)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = wanted - set(SECTIONS)
        if unknown or not wanted:
            parser.error(f"unknown section(s) {', '.join(sorted(unknown)) or '(none given)'}; "
                         f"sections: {', '.join(SECTIONS)}")
        chosen = [name for name in SECTIONS if name in wanted]
    if not EMOJID.exists():
        print(f"bench: {EMOJID} not found (run `make bench`)", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    # A partial run keeps its own record: the full run's last-run.txt stays what it was.
    keep = RESULTS / ("last-run.txt" if chosen == list(SECTIONS) else f"last-run-{'+'.join(chosen)}.txt")
    started = time.perf_counter()
    try:
        gc.ensure(log=say)
        undo_hand_edits(CORPUS / "packs")
        undo_hand_edits(SMALL / "packs")
        for name in chosen:
            SECTIONS[name]()
    except BenchError as exc:
        say(f"BENCH BROKEN: {exc}")
        write_results(started, keep, chosen, broken=str(exc))
        return 2
    except Exception as exc:
        import traceback

        traceback.print_exc()
        say(f"BENCH BROKEN: {exc!r}")
        write_results(started, keep, chosen, broken=repr(exc))
        return 3
    summary(started, keep, chosen)
    return 0


def summary(started: float, keep: Path, sections: list[str] | None = None) -> None:
    """(bench/remote.py, run alone, calls this too.)"""
    say("== summary ==")
    missed = [c for c in CHECKS if not c[1]]
    for label, ok, detail in CHECKS:
        say(f"  {'OK  ' if ok else 'MISS'} {label}: {detail}")
    say(f"{len(CHECKS) - len(missed)}/{len(CHECKS)} targets met"
        + (f"; missed: {', '.join(c[0] for c in missed)}" if missed else "")
        + f" (bench took {time.perf_counter() - started:.0f} s)")
    write_results(started, keep, sections)


def write_results(started: float, keep: Path, sections: list[str] | None, broken: str | None = None) -> None:
    """The printed lines to `keep` (.txt), every figure beside it (.json)."""
    keep.write_text("\n".join(OUT) + "\n")
    doc = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.perf_counter() - started, 1),
        "sections": sections,
        "bench_seconds": os.environ.get("BENCH_SECONDS", "60"),
        "broken": broken,
        "targets_met": sum(1 for c in CHECKS if c[1]),
        "targets": len(CHECKS),
        "figures": FIGURES,
    }
    keep.with_suffix(".json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
