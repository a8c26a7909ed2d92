"""The same figures at 18,200 emoji and at 101,000 (issue 16): each must stay flat.

    .venv/bin/python bench/run.py --only scale

The 18,200-emoji corpus (182 packs x 100, the size of the issue's first bench) is
generated once in bench/corpus/mid/; the 101,000-emoji one is the main corpus, served
from a private state (bench/corpus/state-scale/) seeded from its index. Each corpus:
its index built once, then a restart with it (best of three, to the first full
listing), listing, show and search p50 (one request at a time), and lint. Lint reads
every emoji, so its figure is per 1,000 emoji.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import ModuleType

import gen_corpus as gc
import httpx

MID_PACKS = 182  # x 100 emoji = 18,200
FLAT = 1.5       # the larger corpus's figure at most this many times the smaller's (+ slack)


def ensure_mid(run: ModuleType) -> Path:
    root = gc.CORPUS / "mid"
    marker = root / ".complete"
    version = f"{gc.VERSION}, {MID_PACKS} packs"
    if not (marker.is_file() and marker.read_text().strip() == version):
        run.say(f"generating {root} ({MID_PACKS} packs x {gc.EMOJI_PER_PACK} emoji) ...")
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        (root / "emojid.toml").write_text(gc.CONFIG)
        gc._write_small_packs(root / "packs", MID_PACKS, [gc.draw_emoji(n) for n in range(48)])
        marker.write_text(version + "\n")
    return root / "emojid.toml"


def first_full_listing(run: ModuleType, base: str, packs: int, deadline: float) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.monotonic() < deadline:
            try:
                r = client.get(run.LISTING, params={"page": 1, "page_size": 50})
                if r.status_code == 200 and r.json()["count"] == packs:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise run.BenchError(f"{base}: no full listing of {packs} packs in time")


def measure(run: ModuleType, config: Path, label: str, packs: int, emoji: int) -> dict[str, float]:
    """Start, listing, show, search (seconds) and lint (seconds per 1,000 emoji)."""
    headers = run.admin_headers(config, "benchscale")
    server = run.Server(config, f"scale-{label}")
    server.start()
    first_full_listing(run, server.base, packs, time.monotonic() + 900)  # the index, built or brought up to date
    server.stop()
    starts = []
    for _ in range(3):
        server = run.Server(config, f"scale-{label}")
        started = time.perf_counter()
        server.start()
        first_full_listing(run, server.base, packs, time.monotonic() + 120)
        starts.append(time.perf_counter() - started)
        if len(starts) < 3:
            server.stop()
    try:
        with httpx.Client(base_url=server.base, timeout=120) as client:
            last = -(-packs // 50)
            listing = run.latency_series(client, [(run.LISTING, {"page": p, "page_size": 50})
                                                  for p in (1, last // 2, last)], run.REQUESTS)
            show = run.latency_series(client, [(run.SHOW, {"name": gc.pack_name(90), "page": p}) for p in (1, 4)],
                                      run.REQUESTS)
            search = run.latency_series(client, [(run.SEARCH, {"q": q}) for q in
                                                 (gc.shortcode(90, 42), "e42", "0090", "zzzz")], run.REQUESTS)
            lint = min(run.get(client, run.LINT, headers=headers, timeout=600)[0] for _ in range(3))
    finally:
        server.stop()
    every = lambda series: [t for ts in series.values() for t in ts]  # noqa: E731
    return {"start": min(starts), "listing": run.p50(every(listing)), "show": run.p50(every(show)),
            "search": run.p50(every(search)), "lint": lint / emoji * 1000}


def bench_scale(run: ModuleType) -> None:
    run.say("== scale: 18,200 emoji beside 101,000 ==")
    mid = measure(run, ensure_mid(run), "18k", MID_PACKS, MID_PACKS * gc.EMOJI_PER_PACK)
    big_packs = gc.PACKS + 1  # and the 1 GB pack `big`
    big = measure(run, run.private_state("scale", log_level="warning"), "101k", big_packs,
                  gc.PACKS * gc.EMOJI_PER_PACK + gc.BIG_FILES)
    for key, label, slack, unit in (("start", "restart with the index to the first full listing", 0.2, "s"),
                                    ("listing", "listing p50", 0.001, "ms"), ("show", "show p50", 0.001, "ms"),
                                    ("search", "search p50", 0.001, "ms"),
                                    ("lint", "lint per 1,000 emoji", 0.005, "ms")):
        small, large = mid[key], big[key]
        shown = (f"{small:.2f} s vs {large:.2f} s" if unit == "s"
                 else f"{small * 1000:.2f} ms vs {large * 1000:.2f} ms")
        run.check(f"{label}, 18,200 vs 101,000 emoji", f"{shown} ({large / small:.2f}x)",
                  f"flat: <= {FLAT}x + {slack * 1000:g} ms", large <= small * FLAT + slack,
                  {"small": small, "large": large})
