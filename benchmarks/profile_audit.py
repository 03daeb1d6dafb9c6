"""Where an audit's time goes: each check, each pass it makes over the spool, and what dominates.

Runs `fineaudit.audit` on a make_corpus chat corpus (every default check but drift) and times:
  - loading (parsing the input into spool files),
  - each check, and each pass it makes (`map_batches` / `group_by_key`: one read of every
    spool batch), named by the check and the batch function,
  - one bare read of every spool batch (Arrow IPC -> the RecordBatch's Python lists), the
    cost each pass pays before its function starts,
  - with --cprofile, the functions with the most own time in each check: run it with
    --workers 1, so that every pass runs in this process, where the profiler sees it.

    python benchmarks/profile_audit.py --records 100000                 # passes, 2 workers
    python benchmarks/profile_audit.py --records 20000 --workers 1 --cprofile

Wall seconds move with the load of a shared machine; with --workers 1 every pass runs here, and
its CPU seconds (also shown) are the steadier figure: a quiet 2-core run takes about half.
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synthetic_corpus import chat_corpus  # benchmarks/ is on sys.path when run as a script

import fineaudit
from fineaudit.engines import local
from fineaudit.registry import load_checkers


@dataclass
class Pass:
    check: str
    desc: str
    fn: str
    batches: int
    seconds: float
    cpu: float  # this process's CPU seconds: the whole pass with --workers 1, little otherwise


@dataclass
class Timings:
    check: str = "(loading)"
    passes: list[Pass] = field(default_factory=list)
    checks: dict[str, float] = field(default_factory=dict)
    check_cpu: dict[str, float] = field(default_factory=dict)
    profiles: dict[str, cProfile.Profile] = field(default_factory=dict)
    load_s: float = 0.0
    read_s: float = 0.0  # one bare read of the train spool, outside every timing above
    read_batches: int = 0
    noop_s: float = 0.0  # one pass of `len` through the engine (pool, spool reads, results)


def fn_name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return f"{fn.__module__.rsplit('.', 1)[-1]}.{getattr(fn, '__qualname__', repr(fn))}"


def instrument(t: Timings, cprofile: bool) -> None:
    """Wrap the engine's passes and load, and every checker's check, to time them."""
    map_batches = local.LocalRecords.map_batches

    def timed_map(self: Any, fn: Callable[..., Any], *, desc: str | None = None) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        out = map_batches(self, fn, desc=desc)
        t.passes.append(Pass(t.check, desc or "", fn_name(fn), len(self.batches), time.perf_counter() - started,
                             time.process_time() - cpu))
        return out

    load = local.LocalEngine.load

    def timed_load(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        records = load(self, *args, **kwargs)
        t.load_s += time.perf_counter() - started
        if not t.read_batches:  # the train set loads first; its spool is gone after the audit
            t.read_s, t.read_batches = bare_read_s(records), len(records.batches)
            started = time.perf_counter()
            map_batches(records, len)  # a builtin: it pickles, and the batch's work is nil
            t.noop_s = time.perf_counter() - started
        return records

    local.LocalRecords.map_batches = timed_map  # type: ignore[method-assign]
    local.LocalEngine.load = timed_load  # type: ignore[method-assign]
    for name, cls in load_checkers().items():
        cls.check = _timed_check(t, name, cls.check, cprofile)  # type: ignore[method-assign]


def _timed_check(t: Timings, name: str, check: Callable[..., Any], cprofile: bool) -> Callable[..., Any]:
    def run(self: Any, data: Any, ctx: Any) -> Any:
        t.check = name
        profile = t.profiles.setdefault(name, cProfile.Profile()) if cprofile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        try:
            return check(self, data, ctx)
        finally:
            if profile:
                profile.disable()
            t.checks[name] = time.perf_counter() - started
            t.check_cpu[name] = time.process_time() - cpu
            t.check = "(after)"
    return run


def bare_read_s(records: Any) -> float:
    """One read of every spool batch in this process, as each pass's workers do before fn."""
    started = time.process_time()
    for ref in records.batches:
        local.read_spool_batch(ref, records.source)
    return time.process_time() - started


def report(t: Timings, total_s: float, cprofile: bool, top: int) -> None:
    print(f"\nwhole audit {total_s:.1f} s; loading {t.load_s:.1f} s; checks {sum(t.checks.values()):.1f} s")
    print(f"one bare read of the train spool ({t.read_batches} batches, in this process, not counted "
          f"in the audit): {t.read_s:.2f} CPU s; an empty pass through the engine: {t.noop_s:.2f} s wall; "
          f"passes over it: {len(t.passes)}")
    print(f"\n{'check':20} {'wall s':>7} {'CPU s':>7} {'batches':>7}  pass (batch function, desc)")
    for name, seconds in sorted(t.checks.items(), key=lambda kv: -kv[1]):
        print(f"{name:20} {seconds:>7.2f} {t.check_cpu[name]:>7.2f}")
        for p in (p for p in t.passes if p.check == name):
            print(f"{'  a pass':20} {p.seconds:>7.2f} {p.cpu:>7.2f} {p.batches:>7}  {p.fn} ({p.desc})")
    if cprofile:
        for name, profile in t.profiles.items():
            if t.checks.get(name, 0) < 0.05:
                continue
            print(f"\n--- {name}: {t.checks[name]:.2f} s, top {top} by own time")
            pstats.Stats(profile).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=0, help="0 = the engine's default (one per core)")
    ap.add_argument("--cprofile", action="store_true", help="profile each check (use with --workers 1)")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args(argv)
    data = chat_corpus(args.records)
    print(f"fineaudit from {os.path.dirname(fineaudit.__file__)}; {data}")
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    t = Timings()
    instrument(t, args.cprofile)
    config = {"workers": args.workers} if args.workers else None
    started = time.perf_counter()
    fineaudit.audit(str(data), config=config, skip=["drift"])
    report(t, time.perf_counter() - started - t.read_s - t.noop_s, args.cprofile, args.top)
    print(f"\nload average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
