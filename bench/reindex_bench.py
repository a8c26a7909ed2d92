"""Cold `emojid reindex` against a plain walk+stat+read of the same tree (issue 16).

    .venv/bin/python bench/reindex_bench.py [CONFIG]   # default: bench/corpus/emojid.toml

The corpus is never written: its config is copied to a temp dir with its own database
and cache, whose packs_dir points at the corpus's. The tree is read once untimed, so
the page cache is warm for both figures. Prints both times and the ratio
(walk+stat+read / reindex: the target is >= 0.7), then the floor: the interpreter's
start, plus the CPU of reading, hashing and SQLite's writes of the same rows spread
perfectly over the CPUs.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

from emojid.migrations import open_database

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "corpus" / "emojid.toml"
EMOJID = Path(sys.executable).with_name("emojid")


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def walk_stat_read(top: Path) -> tuple[float, int, int]:
    """Every file under `top`: stat'ed and read whole, as reindex must."""
    started = time.perf_counter()
    files = size = 0
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            path = os.path.join(dirpath, name)
            os.stat(path)
            with open(path, "rb") as fh:
                size += len(fh.read())
            files += 1
    return time.perf_counter() - started, files, size


def hash_cpu(top: Path) -> float:
    """CPU seconds of SHA-256 over every byte under `top` (the reads not counted)."""
    spent = 0.0
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as fh:
                data = fh.read()
            started = time.process_time()
            hashlib.sha256(data).hexdigest()
            spent += time.process_time() - started
    return spent


def sqlite_cpu(indexed: Path, scratch: Path) -> float:
    """CPU seconds of writing the rows reindex wrote (file facts, packs, emoji with their
    search rows) into a new database, the way reindex writes them: SQLite's own share."""
    with sqlite3.connect(indexed) as conn:
        facts = conn.execute("SELECT * FROM emoji_files").fetchall()
        packs = conn.execute("SELECT * FROM packs").fetchall()
        emoji = conn.execute("SELECT pack, shortcode, filename, tags, meta FROM emoji").fetchall()
    conn.close()
    database = open_database(scratch)
    try:
        conn = database.db.conn
        started = time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO emoji_files VALUES ({', '.join('?' * len(facts[0]))})", facts)
        conn.executemany(f"INSERT INTO packs VALUES ({', '.join('?' * len(packs[0]))})", packs)
        conn.execute("CREATE TEMP TABLE rows (pack, shortcode, filename, tags, meta)")
        conn.executemany("INSERT INTO temp.rows VALUES (?, ?, ?, ?, ?)", emoji)
        conn.execute("INSERT INTO emoji (pack, shortcode, filename, tags, meta) SELECT * FROM temp.rows")
        conn.execute("COMMIT")
        return time.process_time() - started
    finally:
        database.close()


def floor(start_s: float, read_cpu: float, packs: Path, indexed: Path) -> Floor:
    """What no reindex can do without, on this machine: start the interpreter, read every
    byte (`read_cpu`, the walk's), hash it, and have SQLite write the rows (those of the
    database `indexed`). Spread perfectly over the CPUs, with no Python of ours, that is
    the least it could take."""
    with tempfile.TemporaryDirectory(prefix="reindex-floor-") as tmp:
        writing = sqlite_cpu(indexed, Path(tmp) / "floor.db")
    return Floor(start_s, read_cpu, hash_cpu(packs), writing, len(os.sched_getaffinity(0)))


class Floor(NamedTuple):
    """The parts of the floor, in seconds, and the CPUs they spread over."""

    start_s: float
    read_cpu: float
    hash_cpu: float
    sqlite_cpu: float
    cpus: int

    @property
    def seconds(self) -> float:
        return self.start_s + (self.read_cpu + self.hash_cpu + self.sqlite_cpu) / self.cpus

    def text(self, allowed_s: float) -> str:
        return (f"interpreter start {self.start_s:.2f} s + (walk+stat+read {self.read_cpu:.2f} + SHA-256 "
                f"{self.hash_cpu:.2f} + SQLite writes {self.sqlite_cpu:.2f} s CPU) / {self.cpus} CPUs = "
                f"{self.seconds:.2f} s (the target allows {allowed_s:.2f} s)")


def scratch_config(config: Path, root: Path) -> tuple[Path, Path]:
    """A copy of `config` over the same packs_dir, with a database and cache of its own."""
    raw = tomllib.loads(config.read_text())
    packs = (config.parent / raw.get("storage", {}).get("packs_dir", "packs")).resolve()
    text = config.read_text().splitlines()
    kept = [line for line in text if not line.strip().startswith(("packs_dir", "database", "cache_dir"))]
    out = []
    for line in kept:
        out.append(line)
        if line.strip() == "[storage]":
            out += [f'packs_dir = "{packs}"', 'database = "emojid.db"', 'cache_dir = "cache"']
    if "[storage]" not in (line.strip() for line in kept):
        out += ["[storage]", f'packs_dir = "{packs}"', 'database = "emojid.db"', 'cache_dir = "cache"']
    copy = root / "emojid.toml"
    copy.write_text("\n".join(out) + "\n")
    return copy, packs


def main() -> int:
    config = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CONFIG
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOJID_") or k.startswith("EMOJID_REINDEX_")}
    with tempfile.TemporaryDirectory(prefix="reindex-bench-") as tmp:
        copy, packs = scratch_config(config, Path(tmp))
        walk_stat_read(packs)  # warm the page cache
        cpu = cpu_seconds(resource.RUSAGE_SELF)
        walk_s, files, size = walk_stat_read(packs)
        walk_cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([str(EMOJID), "--config", str(copy), "reindex"], env=env,
                              capture_output=True, text=True, timeout=3600)
        reindex_s = time.perf_counter() - started
        reindex_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu  # its worker processes too
        if done.returncode != 0:
            print(done.stderr[-4000:], file=sys.stderr)
            return 1
        started = time.perf_counter()
        subprocess.run([str(EMOJID), "--version"], env=env, capture_output=True, timeout=120, check=True)
        start_s = time.perf_counter() - started  # counted in the reindex figure, and serial
        least = floor(start_s, walk_cpu, packs, Path(tmp) / "emojid.db")
    ratio = walk_s / reindex_s
    print(f"corpus: {files} files, {size / 1e9:.2f} GB under {packs}")
    print(f"reindex: {done.stdout.strip()}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"walk+stat+read: {walk_s:.2f} s ({walk_cpu:.2f} s CPU)")
    print(f"cold reindex (incl. interpreter start): {reindex_s:.2f} s ({reindex_cpu:.2f} s CPU, all processes)")
    print(f"ratio (walk+stat+read / reindex): {ratio:.2f} (target >= 0.7) {'OK' if ratio >= 0.7 else 'MISS'}")
    print(f"floor: {least.text(walk_s / 0.7)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
