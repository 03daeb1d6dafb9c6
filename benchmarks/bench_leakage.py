#!/usr/bin/env python3
"""Benchmark: the leakage check's prompt index on a large training set: time, peak memory, recall.

Training: a make_corpus chat corpus (../shared/bench/make_corpus.py) of --records records.
Eval (--eval-records, default 1,000): prompts of made-up words (clean), with planted
leaks: a training prompt copied with a new answer, a training prompt embedded in a longer
text, and a training prompt with its spaces and punctuation changed (--planted of each).

The audit runs `leakage` alone (semantic search off: it embeds a bounded sample and is
measured by bench_drift.py) in a fresh child process, so that building the corpus does not
count; the peak RSS of that process and all its workers together is sampled with psutil.

  python benchmarks/bench_leakage.py --records 1000000
  python benchmarks/bench_leakage.py --records 100000 --planted 30
  python benchmarks/bench_leakage.py --train big.jsonl         # any chat JSONL as training

make_corpus at 1,000,000 records needs more than 6 GB and half an hour on a shared 2-core
machine; the 1M figures in docs/eval_and_cost.md used the 100,000-record corpus ten times,
copy c with every letter of every message rotated by c (distinct words, so distinct keys,
with the corpus's shape).
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from synthetic_corpus import DEFAULT_CACHE, chat_corpus  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]


def prompts_of(path: Path, limit: int) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) >= limit:
                break
    return out


def user_text(record: dict[str, Any]) -> str:
    return next(m["content"] for m in record["messages"] if m["role"] == "user")


def chat(user: str, assistant: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def build_eval(train: Path, n: int, planted: int, out: Path, seed: int = 0) -> dict[str, list[int]]:
    rng = random.Random(seed)
    sources = prompts_of(train, 200_000)
    picks = rng.sample(range(len(sources)), 3 * planted)
    # clean eval prompts: made-up words, so nothing but the planted leaks can be in training
    vocab = [f"zq{i}" for i in range(20000)]
    held = [chat(" ".join(rng.choice(vocab) for _ in range(25)), "a fresh answer") for _ in range(n)]
    truth: dict[str, list[int]] = {"copied": [], "embedded": [], "respaced": []}
    for k, source in enumerate(picks):
        prompt = user_text(sources[source])
        kind = ("copied", "embedded", "respaced")[k % 3]
        if kind == "embedded":  # the eval prompt is the training prompt's middle: train contains it
            words = prompt.split()
            prompt = " ".join(words[len(words) // 4: max(len(words) // 4 + 14, 3 * len(words) // 4)])
        elif kind == "respaced":
            prompt = prompt.replace(" ", "  ").replace(",", " ;").replace(".", "!").upper()
        position = rng.randrange(len(held))
        held[position] = chat(prompt, "a new answer")
        for other in truth.values():
            if position in other:
                other.remove(position)
        truth[kind].append(position)
    out.write_text("\n".join(json.dumps(r) for r in held) + "\n", encoding="utf-8")
    return truth


CHILD = """
import json, sys, time
import fineaudit
t = time.perf_counter()
r = fineaudit.audit(sys.argv[1], eval=sys.argv[2], only=["leakage"], max_findings=0,
                    config={"checks": {"leakage": {"semantic": False}}})
c = r.checks["leakage"]
print(json.dumps({"seconds": time.perf_counter() - t, "status": c.status.value, "metrics": c.metrics,
                  "found": sorted(f.records[0] for f in c.findings)}))
"""


def run_child(train: Path, held: Path) -> tuple[dict[str, Any], float]:
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(train), str(held)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    peak = [0.0]

    def sample() -> None:
        me = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [me] + me.children(recursive=True)
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    watcher.join()
    return json.loads(out.strip().splitlines()[-1]), peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--eval-records", type=int, default=1000)
    parser.add_argument("--planted", type=int, default=30, help="leaks of each kind")
    parser.add_argument("--train", type=Path, help="a chat JSONL to use instead of generating a corpus")
    args = parser.parse_args()
    train = args.train or chat_corpus(args.records)
    if args.train:
        with args.train.open(encoding="utf-8") as f:
            args.records = sum(1 for _ in f)
    held = DEFAULT_CACHE / f"leakage-eval-{args.records}.jsonl"
    truth = build_eval(train, args.eval_records, args.planted, held)
    result, peak_mb = run_child(train, held)
    found = set(result["found"])
    planted = {i for kind in truth.values() for i in kind}
    print(f"training records      {args.records:,}")
    print(f"eval records          {args.eval_records:,} ({len(planted)} planted leaks)")
    print(f"leakage seconds       {result['seconds']:.1f}")
    print(f"peak RSS (tree)       {peak_mb:,.0f} MB")
    for kind, members in truth.items():
        print(f"found {kind:<14}  {len(found & set(members))} of {len(members)}")
    print(f"reported not planted  {len(found - planted)}")
    print(f"metrics               {json.dumps({k: result['metrics'][k] for k in ('leaked_records', 'prompt_leaks', 'prompt_leaks_by_kind')})}")


if __name__ == "__main__":
    main()
