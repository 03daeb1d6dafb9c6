"""How the audit's time and peak memory grow with the dataset, on the local and Dask engines.

For each size it runs the real CLI (`fineaudit audit DATA --skip drift --engine E`) in a child
process and samples the RSS of that process and all its descendants (worker processes, Dask
nannies and workers) every 0.2 s; the peak of that sum is the figure that must stay under the
memory target. Growth ratios are taken against the smallest size of the same run, so the
machine's load affects both sides alike. A reference loop timed before and after says how
fast the machine ran Python at the time (a shared host's speed moves by 2x within hours).

    python benchmarks/bench_scale.py --sizes 100000,300000,1000000 --engines local,dask

Corpora come from ../shared/bench/make_corpus.py and are kept in --cache (1M takes minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from synthetic_corpus import DEFAULT_CACHE, chat_corpus  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that just exited
            pass
    return total


def run_audit(data: Path, engine: str, report: Path | None = None) -> tuple[float, int, int]:
    """(seconds, peak RSS of the process tree, exit status) of one audit; its JSON report to `report`."""
    cmd = [sys.executable, "-m", "fineaudit.cli", "audit", str(data), "--skip", "drift",
           "--engine", engine, "--no-progress", "--quiet", "--no-cache", "--json", str(report or os.devnull)]
    started = time.perf_counter()
    # from a neutral folder: `python -m` puts the working folder first on sys.path, where the
    # repository's root would shadow a PYTHONPATH that points at a baseline checkout
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tempfile.gettempdir())
    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        peak = max(peak, tree_rss(proc))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if child.returncode not in (0, 1):
        error = child.stderr.read().decode()[-2000:] if child.stderr else ""
        raise SystemExit(f"audit failed ({child.returncode}): {error}")
    return seconds, peak, child.returncode


def report_path(report: Path | None, engine: str, n: int, single: bool) -> Path | None:
    if report is None or single:
        return report
    return report.with_name(f"{report.stem}-{engine}-{n}{report.suffix}")


def print_durations(engine: str, n: int, report: Path) -> None:
    """The per-check seconds of one audit, longest first (the rest of the wall time is loading)."""
    checks = json.loads(report.read_text())["checks"]
    print(f"\n{engine}, {n} records: per-check duration_s ({report})")
    for check in sorted(checks, key=lambda c: -c["duration_s"]):
        print(f"  {check['name']:20} {check['duration_s']:>7.2f}  {check['status']}")
    print(f"  {'sum of checks':20} {sum(c['duration_s'] for c in checks):>7.2f}")


def reference_seconds() -> float:
    """Seconds of a fixed pure-Python loop (10 million additions), best of 3: how fast this
    machine runs Python now. A shared host's speed moves by 2x within hours (seen here: 0.6 to
    1.6 s), so a figure without it cannot be compared with another day's."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--engines", default="local,dask")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--report", type=Path, default=None,
                    help="keep each audit's JSON report as REPORT (one size, one engine) or REPORT-ENGINE-N.json, "
                         "and print its per-check durations")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    code = "import fineaudit; print(fineaudit.__file__)"
    where = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tempfile.gettempdir())
    print(f"fineaudit from {where.stdout.strip()}")
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}, "
          f"reference loop: {reference_seconds():.2f} s")
    print(f"{'engine':7} {'records':>9} {'seconds':>8} {'peak MB':>8} {'s/ratio':>8} {'MB/ratio':>8} {'size ratio':>10}")
    engines = args.engines.split(",")
    durations: list[tuple[str, int, Path]] = []
    for engine in engines:
        base: tuple[float, int] | None = None
        for n in sizes:
            report = report_path(args.report, engine, n, single=len(sizes) * len(engines) == 1)
            seconds, peak, _ = run_audit(chat_corpus(n, args.cache), engine, report)
            base = base or (seconds, peak)
            print(f"{engine:7} {n:>9} {seconds:>8.1f} {peak / 2**20:>8.0f} {seconds / base[0]:>8.2f} "
                  f"{peak / base[1]:>8.2f} {n / sizes[0]:>10.1f}", flush=True)
            if report is not None:
                durations.append((engine, n, report))
    for engine, n, report in durations:
        print_durations(engine, n, report)
    print(f"load average after: {os.getloadavg()}, reference loop: {reference_seconds():.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
