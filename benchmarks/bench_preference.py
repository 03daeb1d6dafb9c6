#!/usr/bin/env python3
"""Benchmark the preference check: time on 100,000 pairs, and recall/precision of planted pairs.

The corpus is made from the 300 real pairs of LLaMA-Factory's dpo_en_demo.json (a copy sits in
tests/data/llama_factory/): pair k takes the prompt of one real pair (of the 299 whose last
prompt has 3 words or more) and the chosen and rejected answers of two others, each opened by
a sentence unique to the record, so lengths and wording follow real answers while no two
records are alike. A seeded 1% of records each get an identical
pair (the chosen text, upper-cased), a near-identical pair (one word of a 40+ word answer
changed), a prompt repeated at the start of one side, and (the next record) the previous pair
swapped, a contradiction; ShareGPT preference JSON Lines, as LLaMA-Factory writes them.

Figures printed: the whole audit's wall time with only `preference` enabled, the check's own
duration (the report's duration_s), an audit running only `size` (the load every check shares)
for comparison, the check's CPU time run in one process (what a busy shared machine cannot
inflate), and each planted code's recall and precision.

  python benchmarks/bench_preference.py                    # 100,000 pairs
  python benchmarks/bench_preference.py --pairs 20000 --seed 3
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import fineaudit
from fineaudit.checkers.preference import PreferenceChecker, PreferenceParams
from fineaudit.core import AuditContext, ReadOptions
from fineaudit.engines.local import LocalEngine
from fineaudit.dataset.loaders import open_source

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "tests" / "data" / "llama_factory" / "dpo_en_demo.json"
PLANTED = ("identical_pair", "near_identical_pair", "prompt_in_response", "contradictory_pairs")


def turn(value: str) -> dict[str, str]:
    return {"from": "gpt", "value": value}


def make_pairs(n: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, set[int]]]:
    rng = random.Random(seed)
    # prompts under min_prompt_words (3) are not looked for in answers: one of 300 ("more verses")
    demo = [r for r in json.loads(DEMO.read_text("utf-8")) if len(r["conversations"][-1]["value"].split()) >= 3]
    records: list[dict[str, Any]] = []
    truth: dict[str, set[int]] = {code: set() for code in PLANTED}
    for k in range(n):
        base, a, b = (demo[rng.randrange(len(demo))] for _ in range(3))
        records.append({"conversations": base["conversations"],
                        "chosen": turn(f"Answer {k} chosen {rng.random():.12f}. " + a["chosen"]["value"]),
                        "rejected": turn(f"Answer {k} rejected {rng.random():.12f}. " + b["rejected"]["value"])})
    for k in range(0, n - 1, 25):  # four defects per 100 records, each on its own records
        kind = PLANTED[(k // 25) % 4]
        plant(records, k, kind, rng)
        truth[kind].update((k, k + 1) if kind == "contradictory_pairs" else (k,))
    return records, truth


def plant(records: list[dict[str, Any]], k: int, kind: str, rng: random.Random) -> None:
    r = records[k]
    chosen = r["chosen"]["value"]
    if kind == "identical_pair":
        r["rejected"] = turn(chosen.upper())
    elif kind == "near_identical_pair":
        words = chosen.split(" ")
        while len(set(words)) < 40:  # short answers: a one-word change is not near-identical at 0.9
            words += f"filler{len(words)} words to lengthen the answer".split()
        r["chosen"] = turn(" ".join(words))
        words[rng.randrange(len(words))] = "zyzzyva"
        r["rejected"] = turn(" ".join(words))
    elif kind == "prompt_in_response":
        r["rejected"] = turn(r["conversations"][-1]["value"] + "\n\n" + r["rejected"]["value"])
    else:
        records[k + 1] = {"conversations": r["conversations"], "chosen": r["rejected"], "rejected": r["chosen"]}


def timed_audit(path: Path, only: str) -> tuple[float, Any]:
    start = time.perf_counter()
    report = fineaudit.audit(path, only=[only], max_findings=0, config={})
    return time.perf_counter() - start, report


def cpu_seconds(path: Path) -> float:
    """CPU time of the check run in this one process (one worker): on a machine shared with
    other jobs wall time mostly measures the others, CPU time does not."""
    engine = LocalEngine(workers=1)
    try:
        data = engine.load(open_source(str(path)), "preference", "train", ReadOptions())
        start = time.process_time()
        PreferenceChecker().check(data, AuditContext(format="preference", params=PreferenceParams()))
        return time.process_time() - start
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    records, truth = make_pairs(args.pairs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
        print(f"{args.pairs:,} pairs, {path.stat().st_size / 1e6:.0f} MB, {os.cpu_count()} cores")
        load_s, _ = timed_audit(path, "size")
        wall_s, report = timed_audit(path, "preference")
        cpu_s = cpu_seconds(path)
    check = report.checks["preference"]
    print(f"audit with only size (load):       {load_s:6.1f} s")
    print(f"audit with only preference:        {wall_s:6.1f} s  (target < 15 s)")
    print(f"preference check itself:           {check.duration_s:6.1f} s  "
          f"({args.pairs / max(check.duration_s, 1e-9):,.0f} pairs/s)")
    print(f"preference check, CPU time on one core: {cpu_s:6.1f} s  (/ {os.cpu_count()} workers: "
          f"{cpu_s / max(os.cpu_count() or 1, 1):.1f} s of wall time on an idle machine)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    print(f"status {check.status.value}: {check.summary}")
    for code in PLANTED:
        found = {i for f in check.findings if f.code == f"preference.{code}" for i in f.records}
        hit = len(found & truth[code])
        print(f"  {code:22s} planted {len(truth[code]):5d}  found {len(found):5d}  "
              f"recall {hit / max(len(truth[code]), 1):.3f}  precision {hit / max(len(found), 1):.3f}")
    m = check.metrics
    print(f"chosen longer {m['chosen_longer_fraction']:.3f} (CI {m['chosen_longer_ci']}), "
          f"length ratio {m['length_ratio']}, side tells {[t['phrase'] for t in m['side_tells']]}, "
          f"phrases tested {m['side_tell_phrases_tested']} on {m['side_tell_sample']} pairs")


if __name__ == "__main__":
    main()
