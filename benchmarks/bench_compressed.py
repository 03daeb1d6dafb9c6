"""Loading cost of compressed inputs: the same chat corpus audited plain and as .gz/.bz2/.xz/.zst.

Each run is the real CLI in a child process (`fineaudit audit DATA --only size,format`, the
loading-bound checks, by default; `--full` adds the whole audit but drift). Plain and compressed
runs alternate, `--repeat` times, and the median of each is compared, so the machine's load
affects both sides alike. Issue 14's target: a .jsonl.gz audits in at most 1.3x the plain time.

    python benchmarks/bench_compressed.py --records 100000 --repeat 3 [--formats gz,zst] [--full]

The corpus comes from ../shared/bench/make_corpus.py (kept in --cache).
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from synthetic_corpus import DEFAULT_CACHE, chat_corpus  # benchmarks/ is on sys.path when run as a script


def _zstd_open(path: Path, mode: str) -> IO[bytes]:
    import zstandard

    return zstandard.open(path, mode)  # type: ignore[no-any-return]


OPENERS: dict[str, Callable[[Path, str], Any]] = {
    "gz": lambda p, m: gzip.open(p, m, compresslevel=6), "bz2": bz2.open,
    "xz": lambda p, m: lzma.open(p, m, preset=1), "zst": _zstd_open}  # xz preset 6 took 25 min here


def compressed(plain: Path, kind: str, folder: Path) -> Path:
    target = folder / f"{plain.name}.{kind}"
    if not target.exists():
        partial = target.with_name(f".{target.name}.partial")  # an interrupted run leaves no bad archive
        with open(plain, "rb") as src, OPENERS[kind](partial, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        partial.replace(target)
    return target


def run(data: Path, full: bool) -> float:
    checks = ["--skip", "drift"] if full else ["--only", "size,format"]
    cmd = [sys.executable, "-m", "fineaudit.cli", "audit", str(data), *checks, "--no-progress", "--quiet",
           "--no-cache"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode not in (0, 1):
        raise SystemExit(f"{data}: exit {done.returncode}: {done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default="gz,bz2,xz,zst")
    ap.add_argument("--full", action="store_true", help="the whole audit (but drift), not just size,format")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = ap.parse_args()
    plain = chat_corpus(args.records, args.cache)
    kinds = [k for k in args.formats.split(",") if k]
    files = {"plain": plain, **{k: compressed(plain, k, plain.parent) for k in kinds}}
    times: dict[str, list[float]] = {name: [] for name in files}
    for _ in range(args.repeat):
        for name, path in files.items():  # alternating: load drifts affect every variant alike
            times[name].append(run(path, args.full))
    base = statistics.median(times["plain"])
    print(f"{args.records:,} chat records, {'full audit (no drift)' if args.full else '--only size,format'}, "
          f"median of {args.repeat}")
    for name, path in files.items():
        median = statistics.median(times[name])
        print(f"  {name:6s} {path.stat().st_size / 1e6:8.1f} MB  {median:7.2f} s  x{median / base:.2f}  "
              f"(runs: {', '.join(f'{t:.2f}' for t in times[name])})")


if __name__ == "__main__":
    main()
