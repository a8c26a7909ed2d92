"""Start-up and pack-listing figures on a 1,000-pack corpus (not part of `make bench` or the tests).

    .venv/bin/python bench/start_bench.py [--root DIR] [--fresh] [--pythonpath TREE]

Generates DIR/packs (1,000 packs x 100 small PNGs, once; default /tmp/emojid-start-bench), then:
- with --fresh, a first start over an empty index: time to the first 200 of the listing, and
  until the healthcheck no longer says "indexing";
- a restart over the existing index: the same two times (and the app's own start-up, the
  lifespan, from the server's log; the listing's p50 while the start-up pass runs);
- GET /api/v1/pleroma/emoji/packs page 1 (page_size 50), 200 times: p50 and p90.
`--pythonpath` runs another emojid tree (e.g. `git archive HEAD | tar -x -C /tmp/base`) for a
before/after comparison with the same venv.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_corpus as gc  # noqa: E402

LISTING = "/api/v1/pleroma/emoji/packs?page=1&page_size=50"
HEALTH = "/api/v1/pleroma/healthcheck"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus(root: Path) -> None:
    marker = root / ".complete"
    if marker.is_file():
        return
    shutil.rmtree(root / "packs", ignore_errors=True)
    images = [gc.draw_emoji(n) for n in range(48)]
    gc._write_small_packs(root / "packs", gc.PACKS, images)
    marker.write_text("ok\n")


def start(root: Path, port: int, pythonpath: str | None) -> tuple[subprocess.Popen[bytes], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOJID_")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["EMOJID_SERVER_LOG_TIMESTAMPS"] = "true"  # for the start-up phases (phases())
    (root / "emojid.toml").write_text(gc.CONFIG.replace('host = "127.0.0.1"', f'host = "127.0.0.1"\nport = {port}'))
    began = time.perf_counter()
    (root / "serve.log").unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "emojid", "--config", str(root / "emojid.toml"), "serve"],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(root / "serve.log", "ab"),
                            cwd=root)  # not the checkout: `-m` puts the current folder first on sys.path
    return proc, began


def phases(root: Path) -> str:
    """From serve.log: seconds between the lifespan's start and its end (the app's own start-up)."""
    stamps = {}
    for line in (root / "serve.log").read_text().splitlines():
        for key in ("Waiting for application startup", "Application startup complete"):
            if key in line and key not in stamps:
                stamps[key] = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    if len(stamps) < 2:
        return "lifespan: ?"
    lifespan = stamps["Application startup complete"] - stamps["Waiting for application startup"]
    return f"lifespan {lifespan.total_seconds():.2f} s"


def first_200(base: str, began: float, proc: subprocess.Popen[bytes]) -> float:
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see serve.log")
        try:
            if httpx.get(base + LISTING, timeout=30).status_code == 200:
                return time.perf_counter() - began
        except httpx.TransportError:
            pass
        time.sleep(0.005)


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used (user + system): a figure the machine's load hardly moves."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reconciled(base: str, began: float) -> float:
    while True:
        doc = httpx.get(base + HEALTH, timeout=30).json()
        if doc.get("status") != "indexing":
            return time.perf_counter() - began
        time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path("/tmp/emojid-start-bench"))
    parser.add_argument("--pythonpath")
    parser.add_argument("--fresh", action="store_true", help="drop the index first (a first start)")
    args = parser.parse_args()
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    corpus(root)
    if args.fresh:
        for name in ("emojid.db", "emojid.db-wal", "emojid.db-shm"):
            (root / name).unlink(missing_ok=True)
        shutil.rmtree(root / "cache", ignore_errors=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for label in ("start" if args.fresh else "restart", "restart"):
        proc, began = start(root, port, args.pythonpath)
        try:
            answered = first_200(base, began, proc)
            cpu = cpu_seconds(proc.pid)
            health = httpx.get(base + HEALTH, timeout=30).json()
            during = []
            with httpx.Client(base_url=base, timeout=30) as client:
                while len(during) < 50 and client.get(HEALTH).json()["status"] == "indexing":
                    t = time.perf_counter()
                    assert client.get(LISTING).status_code == 200
                    during.append((time.perf_counter() - t) * 1000)
            done = reconciled(base, began)
            print(f"{label}: first 200 of the listing after {answered:.2f} s ({cpu:.2f} s CPU; "
                  f"{phases(root)}; load average {os.getloadavg()[0]:.1f}; then status {health['status']}, "
                  f"indexing {health.get('indexing')}); reconciled after {done:.2f} s; listing while indexing: "
                  f"p50 {statistics.median(during) if during else float('nan'):.2f} ms over {len(during)}")
            if label == "restart":
                with httpx.Client(base_url=base, timeout=30) as client:
                    times = []
                    for _ in range(200):
                        t = time.perf_counter()
                        r = client.get(LISTING)
                        times.append((time.perf_counter() - t) * 1000)
                        assert r.status_code == 200
                    times.sort()
                    print(f"listing page 1: p50 {statistics.median(times):.2f} ms, "
                          f"p90 {times[int(len(times) * 0.9)]:.2f} ms, {len(r.content)} bytes")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
