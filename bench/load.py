"""The load section of `make bench` (issues 15 and 16): wrk against emojid, loopback only.

Four targets, each run by `wrk -t2 -c64 -d$BENCH_SECONDS --latency` (60 s by default)
three ways:
- "emojid": emojid on its own port;
- "via nginx": the shipped deploy/nginx/emojid.conf in front of it (bench/nginx_conf.py
  makes it loopback-only, as tests/test_nginx.py does), files offloaded by X-Accel-Redirect;
- "nginx alone": a plain nginx server block sending the same bytes straight from disk
  (the same emoji file and archive; the listing and emoji list bodies saved to files):
  the baseline each figure is compared to.

Each run gives req/s, p50, p99, errors (non-2xx/3xx answers and socket errors) and the
peak RSS of emojid and of nginx (VmRSS, every 50 ms). Then the ratios of issue 16.

Called by bench/run.py (`--only load`); needs `wrk` (apt-get install wrk) and nginx.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gen_corpus as gc
import httpx
import nginx_conf
import procs

SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
CONNECTIONS = 64
THREADS = 2
# Generous: a 23 MB emoji list at 64 connections takes seconds; a timeout here means a real stall.
WRK_TIMEOUT = "30s"
MID_PACK = gc.pack_name(500)  # 100 emoji: a mid-size pack (`big` is 1 GB: one request per second)
EMOJI_FILE = f"{MID_PACK}/{gc.shortcode(500, 0)}.png"

LISTING_P50_RATIO = 3.0     # listing page 1 p50 within 3x nginx's for the same bytes
FILE_DIRECT_RATIO = 0.15    # emoji file req/s, emojid alone vs nginx alone
FILE_FRONT_RATIO = 0.8      # emoji file req/s through nginx vs nginx alone
ARCHIVE_FRONT_RATIO = 0.8   # archive req/s through nginx (offloaded) vs nginx alone


@dataclass
class Target:
    key: str
    label: str
    path: str    # on emojid (and through nginx)
    plain: str   # on the plain nginx server
    offloaded: bool = False  # through nginx, emojid answers X-Accel-Redirect and nginx sends the file


TARGETS = [
    Target("listing", "listing page 1", "/api/v1/pleroma/emoji/packs?page=1&page_size=50", "/listing.json"),
    Target("file", "one emoji file", f"/emoji/{EMOJI_FILE}", "/emoji.png", offloaded=True),
    Target("custom", "/api/v1/custom_emojis", "/api/v1/custom_emojis", "/custom_emojis.json"),
    Target("archive", f"archive of {MID_PACK}", f"/api/v1/pleroma/emoji/packs/archive?name={MID_PACK}",
           "/archive.zip", offloaded=True),
]
MODES = ("emojid", "via nginx", "nginx alone")
# Where the time goes through nginx: emojid alone, asked for the offload as nginx asks
# (the two headers), answering X-Accel-Redirect with no body. Information, no target.
OFFLOAD_ONLY = "emojid answering X-Accel-Redirect, no nginx"


# -- wrk ---------------------------------------------------------------------------

@dataclass
class WrkResult:
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50: float = 0.0  # seconds
    p99: float = 0.0
    non_2xx_3xx: int = 0
    socket: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket.values())

    def error_detail(self) -> str:
        parts = [f"{self.non_2xx_3xx} non-2xx/3xx"] + [f"{v} {k}" for k, v in self.socket.items() if v]
        return ", ".join(parts)


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(out: str) -> WrkResult:
    r = WrkResult()
    if m := re.search(r"^\s*50%\s+(\S+)", out, re.M):
        r.p50 = _duration(m.group(1))
    if m := re.search(r"^\s*99%\s+(\S+)", out, re.M):
        r.p99 = _duration(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+\w+)", out):
        r.requests, r.seconds = int(m.group(1)), _duration(m.group(2))
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        r.rps = float(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        r.non_2xx_3xx = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        r.socket = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
    return r


def wrk(url: str, seconds: float, headers: dict[str, str] | None = None) -> WrkResult:
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency",
           "--timeout", WRK_TIMEOUT]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    result = parse_wrk(done.stdout)
    # No request done within the run (a 23 MB body through nginx takes seconds) is a figure, not a breakage.
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"{' '.join(cmd)}: exit status {done.returncode}\n{done.stdout}\n{done.stderr}")
    return result


# -- memory --------------------------------------------------------------------------

class TreeRss(threading.Thread):
    """Summed VmRSS of a process and its children (nginx: master + worker) every 50 ms, per phase."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name=f"tree-rss-{pid}")
        self.pid = pid
        self.phase = "startup"
        self.by_phase: dict[str, int] = {}
        self._halt = threading.Event()

    def pids(self) -> list[int]:
        found = [self.pid]
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                found += [int(p) for p in (task / "children").read_text().split()]
        return found

    def read(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            kb = self.read()
            self.by_phase[self.phase] = max(self.by_phase.get(self.phase, 0), kb)
            self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


# -- nginx ---------------------------------------------------------------------------

def plain_server(port: int, root: Path, emoji_file: Path, archive: Path, big_archive: Path) -> str:
    """nginx on its own: the saved bodies from `root`, the emoji file and the archive from where
    emojid keeps them; sendfile and tcp_nopush as the shipped config has them."""
    return f"""
server {{
    listen 127.0.0.1:{port};
    root {root};
    sendfile on;
    tcp_nopush on;
    location = /emoji.png {{ alias {emoji_file}; default_type image/png; }}
    location = /archive.zip {{ alias {archive}; default_type application/zip; }}
    location = /big.zip {{ alias {big_archive}; default_type application/zip; }}
    location ~ \\.json$ {{ default_type application/json; }}
}}
"""


class Nginx:
    def __init__(self, tmp: Path, server_conf: str, port: int) -> None:
        self.tmp = tmp
        self.port = port
        # No access log: a line per request on both sides would measure the disk.
        conf = nginx_conf.main_conf(tmp, server_conf, access_log=False)
        checked = subprocess.run(nginx_conf.nginx_cmd(tmp, conf, "-t"), capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t: {checked.stderr}")
        self.proc = subprocess.Popen(nginx_conf.nginx_cmd(tmp, conf), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("nginx did not answer within 10 s")
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {(tmp / 'error.log').read_text(errors='replace')[-2000:]}")
        self.rss = TreeRss(self.proc.pid)
        self.rss.start()

    def stop(self) -> None:
        if getattr(self, "rss", None):
            self.rss.stop()
        procs.stop(self.proc)


# -- the section ----------------------------------------------------------------------

def _wait_for_archive(client: httpx.Client, path: str, limit: float = 900, head: bool = False) -> httpx.Response:
    """The pack's archive is built in the background after start-up: wait for it
    (`head`: its headers only, for the 1 GB one)."""
    deadline = time.monotonic() + limit
    while True:
        r = client.head(path) if head else client.get(path)
        if r.status_code == 200:
            return r
        if time.monotonic() > deadline:
            raise RuntimeError(f"GET {path}: {r.status_code} after {limit:.0f} s")
        time.sleep(0.5)


def _built_archive(cache: Path, sha: str, pack: str = MID_PACK) -> Path:
    found = [p for p in (cache / "archives" / pack).glob("*.zip") if not p.name.startswith(".")]
    for p in found:
        if sha and sha.lower() in p.name.lower():
            return p
    if len(found) != 1:
        raise RuntimeError(f"expected one built archive of {pack}, found {found}")
    return found[0]


def curl_mb_per_s(url: str) -> tuple[float, int]:
    """One download by curl to /dev/null (C on the client side, so the server is measured)."""
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
                         capture_output=True, text=True, check=True, timeout=600).stdout.split()
    if out[0] != "200":
        raise RuntimeError(f"GET {url}: {out[0]}")
    size, seconds = int(out[1]), float(out[2])
    return size / seconds / 1e6, size


def bench_big_archive(run, front_base: str, plain_base: str) -> None:
    """The issue-16 archive target: MB/s of the 1 GB pack's archive through the shipped
    config (emojid decides, nginx sends the built file) against nginx sending the same
    file alone, from the second request on (best of two after a first)."""
    through = f"{front_base}/api/v1/pleroma/emoji/packs/archive?name=big"
    alone = f"{plain_base}/big.zip"
    curl_mb_per_s(through)
    ours = max(curl_mb_per_s(through)[0] for _ in range(2))
    curl_mb_per_s(alone)
    base, size = max(curl_mb_per_s(alone) for _ in range(2))
    ratio = ours / base if base else 0.0
    run.check(f"ratio archive of big ({size / 1e9:.2f} GB) MB/s, via nginx (X-Accel-Redirect) vs nginx alone",
              f"{ours:.0f} vs {base:.0f} MB/s = {_x(ratio)}", f">= {ARCHIVE_FRONT_RATIO:g}x",
              ratio >= ARCHIVE_FRONT_RATIO, {"value": ours, "baseline": base, "ratio": ratio})


def _x(ratio: float) -> str:
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def bench_load(run) -> None:
    """`run` is bench/run.py (its output helpers, Server, BenchError)."""
    run.say(f"== load: wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS:g}s (BENCH_SECONDS) ==")
    if shutil.which("wrk") is None:
        run.info("load", "skipped: wrk not installed (apt-get install wrk)")
        return
    if nginx_conf.NGINX is None:
        run.info("load", "skipped: nginx not installed (apt-get install nginx-light)")
        return
    # No access log on either side (nginx's is off too): the figures are serving, not logging.
    config = run.private_state("load", log_level="warning")
    server = run.Server(config, "load")
    front = plain = None
    results: dict[tuple[str, str], WrkResult] = {}
    sequential: dict[str, float] = {}  # listing page 1 p50, one request at a time
    with tempfile.TemporaryDirectory(prefix="emojid-bench-load-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            up = server.start()
            run.info("load server start to healthy", f"{up:.2f} s")
            with httpx.Client(base_url=server.base, timeout=600) as client:
                archive = _wait_for_archive(client, TARGETS[3].path)
                archive_file = _built_archive(config.parent / "cache", archive.headers.get("x-download-sha256", ""))
                if archive_file.read_bytes() != archive.content:
                    raise run.BenchError(f"{archive_file} differs from what emojid serves")
                big = _wait_for_archive(client, "/api/v1/pleroma/emoji/packs/archive?name=big", head=True)
                big_file = _built_archive(config.parent / "cache", big.headers.get("x-download-sha256", ""), "big")
                saved = tmp / "plain"
                saved.mkdir()
                for target, name in ((TARGETS[0], "listing.json"), (TARGETS[2], "custom_emojis.json")):
                    r = client.get(target.path)
                    if r.status_code != 200:
                        raise run.BenchError(f"GET {target.path}: {r.status_code}")
                    (saved / name).write_bytes(r.content)
                    run.info(f"{target.label} body (saved for nginx alone)", f"{len(r.content) / 1e3:.1f} kB")
                run.info(f"archive of {MID_PACK} (built, served from cache_dir)",
                         f"{archive_file.stat().st_size / 1e3:.1f} kB")

            front_port, plain_port = run.free_port(), run.free_port()
            front = Nginx(tmp / "front", nginx_conf.on_loopback(
                nginx_conf.SHIPPED.read_text(), front_port, server.port, gc.CORPUS,
                tmp / "nginx-cache"), front_port)
            plain = Nginx(tmp / "plain-nginx", plain_server(plain_port, saved, gc.CORPUS / "packs" / EMOJI_FILE,
                                                             archive_file, big_file), plain_port)
            bases = {"emojid": server.base, "via nginx": f"http://127.0.0.1:{front_port}",
                     "nginx alone": f"http://127.0.0.1:{plain_port}"}
            # What nginx offers emojid on every request it proxies (deploy/nginx/emojid.conf).
            offer = {"X-Sendfile-Type": "X-Accel-Redirect", "X-Accel-Mapping": f"{gc.CORPUS.resolve()}/=/_emojid_internal/"}
            with httpx.Client(timeout=600) as client:
                # Warm-up, and the same bytes every way: the archive below is measured from the second request on.
                for target in TARGETS:
                    offered = client.get(server.base + target.path, headers=offer)
                    if target.offloaded and not (offered.headers.get("x-accel-redirect") and offered.content == b""):
                        raise run.BenchError(f"{target.label}: emojid does not offload it to nginx "
                                             f"({offered.status_code}, {len(offered.content)} bytes)")
                    bodies = {mode: client.get(bases[mode] + (target.plain if mode == "nginx alone" else target.path))
                              for mode in MODES}
                    for mode, r in bodies.items():
                        if r.status_code != 200 or r.content != bodies["emojid"].content:
                            raise run.BenchError(f"{target.label} {mode}: {r.status_code}, {len(r.content)} bytes "
                                                 f"(emojid: {len(bodies['emojid'].content)})")

                # The issue-16 listing figure: one request at a time, the same client for
                # both, so the p50 is the answer's own time, not a queue's.
                for mode in ("emojid", "nginx alone"):
                    target = TARGETS[0]
                    url = bases[mode] + (target.plain if mode == "nginx alone" else target.path)
                    times = []
                    for _ in range(300):
                        started = time.perf_counter()
                        client.get(url).raise_for_status()
                        times.append(time.perf_counter() - started)
                    sequential[mode] = run.p50(times)

            for target in TARGETS:
                for mode in MODES + ((OFFLOAD_ONLY,) if target.offloaded else ()):
                    phase = f"load {target.key} {mode}"
                    server.rss.phase = front.rss.phase = plain.rss.phase = phase
                    if mode == OFFLOAD_ONLY:
                        url, headers = server.base + target.path, offer
                    else:
                        url, headers = bases[mode] + (target.plain if mode == "nginx alone" else target.path), {}
                    got = wrk(url, SECONDS, headers)
                    time.sleep(0.1)  # a last RSS sample
                    results[(target.key, mode)] = got
                    emojid_kb = server.rss.by_phase.get(phase, 0)
                    nginx_kb = (plain if mode == "nginx alone" else front).rss.by_phase.get(phase, 0)
                    figure = (f"{got.rps:.0f} req/s, p50 {run.ms(got.p50)}, p99 {run.ms(got.p99)}, "
                              f"{got.errors} errors ({got.error_detail()}; {got.requests} requests)")
                    if not got.requests:
                        figure = f"no request done in {SECONDS:g} s (a longer BENCH_SECONDS?)"
                    label = f"load {target.label}, {mode}"
                    data = {"req_per_s": got.rps, "p50_ms": got.p50 * 1000, "p99_ms": got.p99 * 1000,
                            "requests": got.requests, "errors": got.errors, "seconds": got.seconds}
                    if mode == "nginx alone":
                        data["nginx_rss_mb"] = round(nginx_kb / 1024, 1)
                        run.check(label, f"{figure}, nginx peak RSS {_mb(nginx_kb)}", "0 errors",
                                  got.errors == 0 < got.requests, data)
                        continue
                    data["emojid_rss_mb"] = round(emojid_kb / 1024, 1)
                    memory = f"emojid peak RSS {_mb(emojid_kb)}"
                    if mode == "via nginx":
                        data["nginx_rss_mb"] = round(nginx_kb / 1024, 1)
                        memory += f", nginx {_mb(nginx_kb)}"
                    if mode == OFFLOAD_ONLY:
                        run.info(label, f"{figure}, {memory}", data)
                    else:
                        run.check(label, f"{figure}, {memory}", f"0 errors, emojid RSS < {run.RSS_TARGET_MB} MB",
                                  got.errors == 0 < got.requests and emojid_kb / 1024 < run.RSS_TARGET_MB, data)
            bench_big_archive(run, bases["via nginx"], bases["nginx alone"])
        except RuntimeError as exc:  # wrk or nginx would not run
            raise run.BenchError(str(exc)) from None
        finally:
            for helper in (front, plain):
                if helper is not None:
                    helper.stop()
            server.stop()
    ratios(run, results, sequential)


def ratios(run, results: dict[tuple[str, str], WrkResult], sequential: dict[str, float]) -> None:
    run.say("== load: each figure beside its baseline (nginx alone, the same bytes from disk) ==")
    mine, base = sequential["emojid"], sequential["nginx alone"]
    ratio = mine / base if base else float("inf")
    run.check("ratio listing page 1 p50, one request at a time, emojid vs nginx alone (same body, same client)",
              f"{run.ms(mine)} vs {run.ms(base)} = {ratio:.1f}x", f"<= {LISTING_P50_RATIO:g}x",
              ratio <= LISTING_P50_RATIO, {"value_ms": mine * 1000, "baseline_ms": base * 1000, "ratio": ratio})

    def rps(key: str, mode: str, alone: str = "nginx alone") -> tuple[float, str, dict]:
        ours, base = results[(key, mode)].rps, results[(key, alone)].rps
        ratio = ours / base if base else 0.0
        return ratio, f"{ours:.0f} vs {base:.0f} req/s = {_x(ratio)}", {"value": ours, "baseline": base,
                                                                      "ratio": ratio}

    mine, base = results[("listing", "emojid")].p50, results[("listing", "nginx alone")].p50
    ratio = mine / base if base else float("inf")
    # At 64 connections the p50 is mostly waiting in the queue: throughput, no target.
    run.info(f"ratio listing page 1 p50 at {CONNECTIONS} connections, emojid vs nginx alone (same body)",
             f"{run.ms(mine)} vs {run.ms(base)} = {ratio:.1f}x",
             {"value_ms": mine * 1000, "baseline_ms": base * 1000, "ratio": ratio if base else None})
    front = results[("listing", "via nginx")].p50
    run.info("ratio listing page 1 p50, via nginx vs nginx alone",
             f"{run.ms(front)} vs {run.ms(base)} = {front / base if base else float('inf'):.1f}x")

    ratio, text, data = rps("file", "emojid")
    run.check("ratio emoji file req/s, emojid vs nginx alone", text, f">= {FILE_DIRECT_RATIO:g}x",
              ratio >= FILE_DIRECT_RATIO, data)
    ratio, text, data = rps("file", "via nginx")
    run.check("ratio emoji file req/s, via nginx (X-Accel-Redirect) vs nginx alone", text,
              f">= {FILE_FRONT_RATIO:g}x", ratio >= FILE_FRONT_RATIO, data)
    # Through nginx every request still reaches emojid: its answer bounds the rate.
    ratio, text, data = rps("file", OFFLOAD_ONLY, alone="emojid")
    run.info("ratio emoji file req/s, emojid answering X-Accel-Redirect vs emojid sending the file", text, data)

    ratio, text, data = rps("custom", "emojid")
    run.info("ratio /api/v1/custom_emojis req/s, emojid vs nginx alone", text, data)
    ratio, text, data = rps("custom", "via nginx")
    run.info("ratio /api/v1/custom_emojis req/s, via nginx vs nginx alone", text, data)

    ratio, text, data = rps("archive", "emojid")
    run.info(f"ratio archive of {MID_PACK} req/s, emojid vs nginx alone", text, data)
    ratio, text, data = rps("archive", OFFLOAD_ONLY, alone="emojid")
    run.info(f"ratio archive of {MID_PACK} req/s, emojid answering X-Accel-Redirect vs emojid sending it", text, data)
    # Small archives: emojid's sharing decision per request sets the rate (no target;
    # the archive target is in MB/s of the 1 GB pack, bench_big_archive).
    ratio, text, data = rps("archive", "via nginx")
    run.info(f"ratio archive of {MID_PACK} req/s, via nginx (X-Accel-Redirect, built archive) vs nginx alone",
             text, data)
