#!/usr/bin/env python3
"""What filling `Finding.detail` (the two sides of a pair, for the HTML report) costs the
preference check: its CPU time in one process with the detail on (preference.DETAILED, 300
findings) and off (0), alternating runs, on bench_preference's corpus (real dpo_en_demo
answers recombined, 1% of records each planted identical, near-identical, prompt-repeating).

  python benchmarks/bench_pair_detail.py                  # 20,000 pairs, 3 rounds
  python benchmarks/bench_pair_detail.py --pairs 100000 --rounds 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fineaudit.checkers import preference
from fineaudit.core import AuditContext, ReadOptions
from fineaudit.engines.local import LocalEngine
from fineaudit.dataset.loaders import open_source

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_preference import make_pairs  # noqa: E402 - the benchmark's own corpus


def check_cpu(path: Path, detailed: int) -> tuple[float, int]:
    """CPU seconds of one check in this process; how many findings carry a pair."""
    preference.DETAILED = detailed
    engine = LocalEngine(workers=1)
    try:
        data = engine.load(open_source(str(path)), "preference", "train", ReadOptions())
        start = time.process_time()
        result = preference.PreferenceChecker().check(
            data, AuditContext(format="preference", params=preference.PreferenceParams()))
        return time.process_time() - start, sum(1 for f in result.findings if f.detail)
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    records, _ = make_pairs(args.pairs, args.seed)
    default = preference.DETAILED
    times: dict[int, list[float]] = {0: [], default: []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
        for _ in range(args.rounds):
            for detailed in (0, default):
                seconds, with_pair = check_cpu(path, detailed)
                times[detailed].append(seconds)
                print(f"detail for {detailed:3d} findings: {seconds:6.2f} CPU s ({with_pair} findings carry a pair)")
    off, on = min(times[0]), min(times[default])
    print(f"{args.pairs:,} pairs, best of {args.rounds}: without detail {off:.2f} s, with {on:.2f} s, "
          f"ratio {on / off:.3f} (+{on - off:.2f} s)")


if __name__ == "__main__":
    main()
