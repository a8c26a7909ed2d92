"""Cold `emojid reindex` against a plain walk+stat+read of the same tree (issue 16).

    .venv/bin/python bench/reindex_bench.py [CONFIG]   # default: bench/corpus/emojid.toml

The corpus is never written: its config is copied to a temp dir with its own database
and cache, whose packs_dir points at the corpus's. The tree is read once untimed, so
the page cache is warm for both figures. Prints both times and the ratio
(walk+stat+read / reindex: the target is >= 0.7).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

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
    ratio = walk_s / reindex_s
    print(f"corpus: {files} files, {size / 1e9:.2f} GB under {packs}")
    print(f"reindex: {done.stdout.strip()}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"walk+stat+read: {walk_s:.2f} s ({walk_cpu:.2f} s CPU)")
    print(f"cold reindex (incl. interpreter start): {reindex_s:.2f} s ({reindex_cpu:.2f} s CPU, all processes)")
    print(f"ratio (walk+stat+read / reindex): {ratio:.2f} (target >= 0.7) {'OK' if ratio >= 0.7 else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
