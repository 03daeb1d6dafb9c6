"""Before/after on a busy machine: wall and CPU seconds of the same CLI audit under each version.

Each version is a PYTHONPATH (see benchmarks/baseline_env.py; "" is the installed fineaudit);
the runs alternate between versions, so a change of load hits both alike. CPU seconds are the
user + system time of the audit's process and all its descendants (the pool workers run
under a forkserver, so the OS's own child accounting misses them), sampled every 0.1 s (a
process's last tenth of a second may be missed): the other work on a shared machine disturbs
them far less than wall time.

    python benchmarks/bench_audit_cpu.py sample_data/train.jsonl \\
        --version base=/tmp/fa-base:/tmp/fa-base-meta --version now= --repeats 3 --audit-args "--skip drift"
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SAMPLE_S = 0.1


def tree_cpu(proc: psutil.Process, last: dict[int, float]) -> None:
    """Note the user + system CPU seconds of the process and each descendant alive now."""
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            last[p.pid] = t.user + t.system
        except psutil.Error:  # a worker that just exited
            pass


def run_once(data: Path, pythonpath: str, extra: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the audit's process tree, exit status)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "fineaudit.cli", "audit", str(data.resolve()), "--no-cache", "--quiet",
           "--no-progress", "--json", os.devnull, *extra]
    started = time.perf_counter()
    # from a neutral folder: `python -m` puts the working folder first on sys.path
    child = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    proc, last = psutil.Process(child.pid), dict[int, float]()
    while child.poll() is None:
        tree_cpu(proc, last)
        time.sleep(SAMPLE_S)
    return time.perf_counter() - started, sum(last.values()), child.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--version", action="append", required=True, help="NAME=PYTHONPATH (repeatable)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--audit-args", default="", help="more `fineaudit audit` options, one string")
    args = ap.parse_args(argv)
    versions = dict(v.split("=", 1) for v in args.version)
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in versions}
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    for _ in range(args.repeats):
        for name, path in versions.items():
            runs[name].append(run_once(args.data, path, shlex.split(args.audit_args)))
    print(f"{'version':22} {'median wall s':>14} {'median CPU s':>13} {'CPU s of each run':>30}  exit")
    for name, done in runs.items():
        cpus = [c for _, c, _ in done]
        print(f"{name:22} {statistics.median(w for w, _, _ in done):>14.2f} {statistics.median(cpus):>13.2f} "
              f"{' '.join(f'{c:.2f}' for c in cpus):>30}  {sorted({r for _, _, r in done})}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
