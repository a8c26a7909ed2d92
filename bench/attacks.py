"""The attack section of `make bench` (issue 10): emojid's peak memory and its event
loop under hostile requests, loopback only, against its own emojid over the corpus.

(a) chunked bodies (no Content-Length) far over the limits: 400 MB of JSON to
    POST /api/v1/apps (limit 8 MiB) and a 1 GB multipart upload to the pack files
    route (limit: the upload limit, ~101 MiB): answered 413, and reading stopped
    (the connection closed while the client still had most of the body to send);
(b) a login burst: 60 concurrent wrong-password grants (POST /oauth/token,
    grant_type=password) for one account: how many were checked (400 "Invalid
    credentials") and how many refused unchecked (429); at most 10 may be checked;
(c) a static GET's latency (one emoji file, one keep-alive connection) while a
    40 MB `{"x":[{},{},...]}` body arrives, and while one just under the 8 MiB
    limit (parsed: refused by its value count) does, against the same GET idle.

Server peak RSS is the VmRSS sampled every 50 ms during each attack, or the kernel's
high-water mark (VmHWM) when that rose during it. Target for each: < 150 MB.
The bodies are sent by a separate process so the prober of (c) measures the server,
not this one's GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import math
import multiprocessing
import select
import socket
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import gen_corpus as gc
import httpx

from emojid.auth.ratelimit import ACCOUNT_MAX_FAILURES
from emojid.config import load
from emojid.http.middleware import BODY_LIMIT, upload_body_limit

ACCOUNT = "benchattack"
PASSWORD = "bench-attack-password"
NOWHERE_PACK = "bench_attack_none"  # the upload names a pack that does not exist: nothing can land in the corpus
LOGIN_BURST = 60
LOGIN_LIMIT = ACCOUNT_MAX_FAILURES  # 10
JSON_LIMIT = BODY_LIMIT  # 8 MiB
STATIC = f"/emoji/{gc.pack_name(500)}/{gc.shortcode(500, 0)}.png"
MB = 1_000_000
# Loopback socket buffers (both ends) hold a few MB that a server never read: the
# client may get that much more out after the 413 and still count as stopped.
SLACK = 32 << 20
STALL_TARGET = 0.1  # seconds over idle: a stalled loop would show the whole read or parse
LOOP_ROUNDS = 5  # each body a few times: one is read in tens of milliseconds


# -- the sending side (in a child process) ------------------------------------------

def _frame(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def send_chunked(port: int, path: str, headers: dict[str, str], prefix: bytes, filler: bytes,
                 suffix: bytes, total: int, linger: float = 5.0) -> dict:
    """POST `prefix + filler * n + suffix` (about `total` bytes) chunked, reading the answer
    as it comes. Returns the status, how many bytes were sent when it came and in all, and
    how the connection ended: "closed" (EOF or reset by the server), "open" (still open
    `linger` s after the answer), "stalled" (no answer, nothing read for 30 s) or "complete"."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode())
    sock.setblocking(False)
    fillers = max(0, (total - len(prefix) - len(suffix)) // len(filler))
    framed_filler = _frame(filler)

    def frames():
        yield _frame(prefix)
        for _ in range(fillers):
            yield framed_filler
        yield _frame(suffix) + b"0\r\n\r\n"

    pieces = frames()
    pending = memoryview(next(pieces))
    sent = 0
    answer = b""
    status = None
    sent_at_answer = None
    answered_at = None
    end = None
    started = last_progress = time.monotonic()
    try:
        while end is None:
            r, w, _ = select.select([sock], [sock] if pending is not None else [], [], 0.5)
            now = time.monotonic()
            if r:
                try:
                    data = sock.recv(1 << 16)
                except ConnectionResetError:
                    data = b""
                if not data:
                    end = "closed"
                    break
                answer += data
                if status is None and b"\r\n" in answer:
                    status = int(answer.split(b" ", 2)[1])
                    sent_at_answer, answered_at = sent, now
            if w and pending is not None:
                try:
                    n = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    end = "closed"
                    break
                sent += n
                last_progress = now
                pending = pending[n:]
                if not len(pending):
                    pending = next(pieces, None)
                    pending = memoryview(pending) if pending is not None else None
            if answered_at is not None and now - answered_at > linger:
                end = "open"
            elif answered_at is None and now - last_progress > 30:
                end = "stalled"
        # A reset can beat the answer to the reader: read what is left of it.
        with contextlib.suppress(OSError):
            sock.setblocking(True)
            sock.settimeout(0.2)
            while status is None and (data := sock.recv(1 << 16)):
                answer += data
                if b"\r\n" in answer:
                    status = int(answer.split(b" ", 2)[1])
    finally:
        sock.close()
    return {"status": status, "sent_at_answer": sent_at_answer if sent_at_answer is not None else sent,
            "sent": sent, "total": total, "end": end, "seconds": time.monotonic() - started,
            "answered": (answered_at if answered_at is not None else time.monotonic()) - started,
            "answer": answer[:400].decode(errors="replace")}


def json_string_body(total: int) -> tuple[bytes, bytes, bytes]:
    return b'{"client_name":"', b"a" * (1 << 16), b'","redirect_uris":"urn:ietf:wg:oauth:2.0:oob"}'


def json_values_body(total: int) -> tuple[bytes, bytes, bytes]:
    return b'{"x":[', b"{}," * 21845, b"{}]}"


BOUNDARY = "emojidbenchboundary"


def multipart_body(total: int) -> tuple[bytes, bytes, bytes]:
    prefix = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"shortcode\"\r\n\r\nbench_attack\r\n"
              f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.png\"\r\n"
              "Content-Type: image/png\r\n\r\n").encode()
    return prefix, b"\x00" * (1 << 16), f"\r\n--{BOUNDARY}--\r\n".encode()


# -- the measuring side -----------------------------------------------------------------

class Prober(threading.Thread):
    """GET STATIC over one keep-alive connection, back to back: (start, seconds) per request."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True, name="prober")
        self.port = port
        self.samples: list[tuple[float, float]] = []
        self.error: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            while not self._halt.is_set():
                started = time.perf_counter()
                conn.request("GET", STATIC)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    self.error = f"GET {STATIC}: {r.status}"
                    return
                self.samples.append((started, time.perf_counter() - started))
                time.sleep(0.001)  # about a request a millisecond: a stall shows, the CPU stays the server's
        except Exception as exc:  # reported as the figure's failure
            self.error = repr(exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(35)


def admin_token(run, config) -> str:
    done = run.emojid_cli(config, "user", "create", ACCOUNT, "--password", PASSWORD, "--admin")
    if done.returncode != 0 and "already" not in done.stderr:
        raise run.BenchError(f"emojid user create failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    done = run.emojid_cli(config, "token", "create", ACCOUNT, "--scopes", "read write admin")
    if done.returncode != 0 or not done.stdout.strip():
        raise run.BenchError(f"emojid token create failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    return done.stdout.strip()


class Phase:
    """Peak RSS of the server during a `with` block."""

    def __init__(self, server, name: str) -> None:
        self.server, self.name = server, name
        self.peak_kb = 0

    def __enter__(self) -> Phase:
        rss = self.server.rss
        got = rss.read()
        self.hwm_before = got[1] if got else 0
        rss.phase = self.name
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.15)  # a last sample or two
        rss = self.server.rss
        got = rss.read()
        hwm_after = got[1] if got else 0
        self.peak_kb = rss.by_phase.get(self.name, 0)
        if hwm_after > self.hwm_before:  # the peak came between two samples
            self.peak_kb = max(self.peak_kb, hwm_after)
        rss.phase = "idle"

    @property
    def mb(self) -> float:
        return self.peak_kb / 1024


def idle_rss_mb(server) -> float:
    got = server.rss.read()
    return got[0] / 1024 if got else 0.0


def oversized(run, server, pool, label: str, path: str, headers: dict[str, str], body, total: int,
              limit: int) -> None:
    prefix, filler, suffix = body(total)
    idle = idle_rss_mb(server)
    with Phase(server, label) as phase:
        got = pool.submit(send_chunked, server.port, path, headers, prefix, filler, suffix, total).result()
    stopped = got["end"] == "closed" and got["sent"] <= limit + SLACK
    ok = got["status"] == 413 and stopped and phase.mb < run.RSS_TARGET_MB
    run.check(f"attack: {label}",
              f"{got['status']} after {got['sent_at_answer'] / MB:.1f} MB sent of {total / MB:.0f} MB; "
              f"{got['sent'] / MB:.1f} MB sent in all, connection {got['end']} ({got['seconds']:.1f} s); "
              f"server peak RSS {phase.mb:.0f} MB (before: {idle:.0f} MB)",
              f"413, reading stopped near the {limit / MB:.1f} MB limit, RSS < {run.RSS_TARGET_MB} MB", ok,
              {"status": got["status"], "sent_at_answer_mb": got["sent_at_answer"] / MB, "sent_mb": got["sent"] / MB,
               "body_mb": total / MB, "limit_mb": limit / MB, "connection": got["end"],
               "rss_peak_mb": round(phase.mb, 1), "rss_before_mb": round(idle, 1)})
    if got["status"] != 413:
        run.info(f"attack: {label}: the answer", got["answer"][:300])


async def _login_burst(base: str, client_id: str, client_secret: str) -> list[int]:
    limits = httpx.Limits(max_connections=LOGIN_BURST, max_keepalive_connections=LOGIN_BURST)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as c:
        async def guess(i: int) -> int:
            r = await c.post("/oauth/token", data={"grant_type": "password", "client_id": client_id,
                                                   "client_secret": client_secret, "username": ACCOUNT,
                                                   "password": f"wrong-{i}"})
            return r.status_code
        return list(await asyncio.gather(*(guess(i) for i in range(LOGIN_BURST))))


# A wrong password is Pleroma's 400 "Invalid credentials" on this route (401 on Basic auth).
MEANING = {400: " Invalid credentials", 401: " Unauthorized", 429: " throttled unchecked"}


def login_burst(run, server) -> None:
    with httpx.Client(base_url=server.base, timeout=30) as c:
        r = c.post("/api/v1/apps", json={"client_name": "emojid bench", "scopes": "read",
                                         "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"})
        if r.status_code != 200:
            raise run.BenchError(f"POST /api/v1/apps: {r.status_code} {r.text[:300]}")
        app = r.json()
    idle = idle_rss_mb(server)
    with Phase(server, "login burst") as phase:
        started = time.perf_counter()
        statuses = asyncio.run(_login_burst(server.base, app["client_id"], app["client_secret"]))
        elapsed = time.perf_counter() - started
    counts = {code: statuses.count(code) for code in sorted(set(statuses))}
    checked = len(statuses) - counts.get(429, 0)
    unexpected = {code: n for code, n in counts.items() if code not in (400, 401, 429)}
    run.check(f"attack: {LOGIN_BURST} concurrent wrong-password logins for one account (POST /oauth/token)",
              f"{checked} checked ({', '.join(f'{n} x {code}{MEANING.get(code, str())}' for code, n in counts.items())}) "
              f"in {elapsed:.1f} s; "
              f"server peak RSS {phase.mb:.0f} MB (before: {idle:.0f} MB)",
              f"<= {LOGIN_LIMIT} checked, the rest 429, RSS < {run.RSS_TARGET_MB} MB",
              checked <= LOGIN_LIMIT and not unexpected and phase.mb < run.RSS_TARGET_MB,
              {"checked": checked, "statuses": {str(k): v for k, v in counts.items()}, "seconds": elapsed,
               "rss_peak_mb": round(phase.mb, 1), "rss_before_mb": round(idle, 1)})


def _stats(values: list[float]) -> tuple[float, float, float]:
    """p50, p99 (nearest rank) and max."""
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
    return rank(50), rank(99), ordered[-1]


def loop_under_body(run, server, pool, label: str, body, total: int, idle: list[float]) -> None:
    """LOOP_ROUNDS bodies one after the other, the prober's GETs in flight during each counted."""
    prefix, filler, suffix = body(total)
    before = idle_rss_mb(server)
    prober = Prober(server.port)
    windows, answers = [], []
    with Phase(server, label) as phase:
        prober.start()
        time.sleep(0.05)
        for _ in range(LOOP_ROUNDS):
            began = time.perf_counter()
            got = pool.submit(send_chunked, server.port, "/api/v1/apps", {"Content-Type": "application/json"},
                              prefix, filler, suffix, total, 0.2).result()
            windows.append((began, began + got["answered"]))
            answers.append(got["status"])
            time.sleep(0.05)
        prober.stop()
    if prober.error:
        raise run.BenchError(f"static GET during {label}: {prober.error}")
    # Every GET in flight at any time between a body's first byte and its answer.
    during = [t for start, t in prober.samples
              if any(start <= ended and start + t >= began for began, ended in windows)]
    if not during:
        raise run.BenchError(f"static GET during {label}: no GET in flight ({len(prober.samples)} in all)")
    i50, _i99, imax = _stats(idle)
    d50, d99, dmax = _stats(during)
    busy = sum(ended - began for began, ended in windows)
    ok = dmax <= imax + STALL_TARGET and phase.mb < run.RSS_TARGET_MB and set(answers) == {413}
    run.check(f"attack: GET of one emoji file while {label} arrives ({LOOP_ROUNDS} times)",
              f"p50 {run.ms(d50)}, p99 {run.ms(d99)}, max {run.ms(dmax)} over {len(during)} GETs in "
              f"{busy:.2f} s until the answers ({', '.join(map(str, sorted(set(answers))))}) (idle: p50 "
              f"{run.ms(i50)}, max {run.ms(imax)}); server peak RSS {phase.mb:.0f} MB (before: {before:.0f} MB)",
              f"max <= idle max + {run.ms(STALL_TARGET)}, 413, RSS < {run.RSS_TARGET_MB} MB", ok,
              {"p50_ms": d50 * 1000, "p99_ms": d99 * 1000, "max_ms": dmax * 1000, "gets": len(during),
               "idle_p50_ms": i50 * 1000, "idle_max_ms": imax * 1000, "statuses": answers,
               "rss_peak_mb": round(phase.mb, 1), "rss_before_mb": round(before, 1)})


def bench_attacks(run) -> None:
    """`run` is bench/run.py (its output helpers, Server, BenchError)."""
    run.say("== attacks: oversized bodies, a login burst, the event loop under a big body ==")
    config = run.private_state("attacks")
    server = run.Server(config, "attacks")
    # A child process sends the bodies (spawned: this process has threads).
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        up = server.start()
        token = admin_token(run, config)
        pool.submit(time.sleep, 0).result()  # the child starts now, not during a figure
        server.rss.phase = "idle"
        time.sleep(0.2)
        run.info("attack server start to healthy; idle RSS", f"{up:.2f} s; {idle_rss_mb(server):.0f} MB")

        upload_limit = upload_body_limit(load(config, environ={}))
        oversized(run, server, pool, "chunked 400 MB JSON body to POST /api/v1/apps", "/api/v1/apps",
                  {"Content-Type": "application/json"}, json_string_body, 400 * MB, JSON_LIMIT)
        oversized(run, server, pool, "chunked 1 GB multipart upload to POST /api/v1/pleroma/emoji/packs/files",
                  f"/api/v1/pleroma/emoji/packs/files?name={NOWHERE_PACK}",
                  {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Authorization": f"Bearer {token}"},
                  multipart_body, 1000 * MB, upload_limit)

        login_burst(run, server)

        prober = Prober(server.port)
        prober.start()
        time.sleep(1.0)
        prober.stop()
        if prober.error or not prober.samples:
            raise run.BenchError(f"idle static GET: {prober.error or 'no answer'}")
        idle = [t for _start, t in prober.samples]
        loop_under_body(run, server, pool, 'a chunked 40 MB {"x":[{},{},...]} body', json_values_body, 40 * MB, idle)
        loop_under_body(run, server, pool, 'a chunked 8 MB {"x":[{},{},...]} body (under the limit: parsed)',
                        json_values_body, JSON_LIMIT - 4096, idle)
    finally:
        pool.shutdown(cancel_futures=True)
        server.stop()
    rss = server.rss
    run.info("attack server peak RSS by phase", ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in rss.by_phase.items()))
