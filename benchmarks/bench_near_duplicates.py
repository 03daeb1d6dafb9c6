#!/usr/bin/env python3
"""Benchmark: the near_duplicates check against datasketch and rensa, on one synthetic corpus.

One process, one corpus (../shared/bench/make_corpus.py, chat records with planted near
duplicates and exact ground truth), three ways from raw text to verified clusters:

  fineaudit   the whole near_duplicates check (vectorized shingling, MinHash, LSH, exact
              verification, clusters) on the local engine with its default workers
  datasketch  Python shingling (regex words, joined word 5-grams), MinHash.bulk, MinHashLSH
  rensa       the same Python shingling, RMinHash.from_token_sets, RMinHashLSH

The baselines verify their candidates with Python set Jaccard, so all three end with the
same kind of answer; each is scored against truth.json (true duplicates: word 5-gram
Jaccard >= 0.85 to another record; true uniques: < 0.5 to every other). Ratios are taken in
the same process, on the same corpus, minutes apart, because the machine is shared.

  python benchmarks/bench_near_duplicates.py                       # 100,000 records
  python benchmarks/bench_near_duplicates.py --records 20000 --skip datasketch
  python benchmarks/bench_near_duplicates.py --memory --records 1000000   # fineaudit only: time, peak RSS

Peak memory is measured in a fresh child process (--memory) so that generating the corpus,
which holds it all in memory, does not count; the workers' memory is sampled with psutil.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from synthetic_corpus import DEFAULT_CACHE, chat_corpus  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
WORD = re.compile(r"\w+")
THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 5


def truth_of(path: Path) -> dict[str, Any]:
    return json.loads((path.parent / "truth.json").read_text())


def texts_of(path: Path) -> list[str]:
    return ["\n".join(m["content"] for m in json.loads(line)["messages"]) for line in path.open(encoding="utf-8")]


def python_shingles(text: str) -> set[str]:
    words = WORD.findall(text.lower())
    return {" ".join(words[i:i + NGRAM]) for i in range(max(1, len(words) - NGRAM + 1))}


def verified_clusters(sets: list[set[str]], candidates: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Union-find over candidate pairs whose exact Jaccard is >= THRESHOLD (the usual recipe)."""
    parent = list(range(len(sets)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in candidates:
        if a != b and len(sets[a] & sets[b]) / max(1, len(sets[a] | sets[b])) >= THRESHOLD:
            parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(sets)):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def run_datasketch(texts: list[str]) -> list[list[int]]:
    from datasketch import MinHash, MinHashLSH

    sets = [python_shingles(t) for t in texts]
    hashes = MinHash.bulk([[s.encode() for s in shingles] for shingles in sets], num_perm=NUM_PERM, seed=1)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i, m in enumerate(hashes):
            session.insert(i, m)
    return verified_clusters(sets, ((i, j) for i, m in enumerate(hashes) for j in lsh.query(m) if j > i))


def run_rensa(texts: list[str]) -> list[list[int]]:
    from rensa import RMinHash, RMinHashLSH

    sets = [python_shingles(t) for t in texts]
    hashes = RMinHash.from_token_sets(sets, NUM_PERM, 1)
    lsh = RMinHashLSH(THRESHOLD, NUM_PERM, 32)  # 32 bands of 4 rows: num_perm must divide evenly
    lsh.insert_many(hashes)
    found = lsh.query_all(hashes)
    return verified_clusters(sets, ((i, j) for i, js in enumerate(found) for j in js if j > i))


def run_fineaudit(path: Path, workers: int) -> tuple[list[list[int]], float]:
    import fineaudit

    config = {"workers": workers, "checks": {"near_duplicates": {"threshold": THRESHOLD}}}
    # `size` runs first, as in every audit: it starts the engine's worker processes, so their
    # start-up is not charged to near_duplicates
    report = fineaudit.audit(str(path), format="chat", only=["size", "near_duplicates"], config=config,
                             max_findings=0)
    result = report.checks["near_duplicates"]
    return [list(f.records) for f in result.findings], result.duration_s


def score(clusters: list[list[int]], truth: dict[str, Any]) -> tuple[float, float]:
    best: dict[int, float] = {}
    for a, b, _, j5 in truth["near_pairs"]:
        best[a], best[b] = max(best.get(a, 0.0), j5), max(best.get(b, 0.0), j5)
    dups = {i for i, j in best.items() if j >= 0.85}
    uniques = {i for i in range(truth["records"]) if best.get(i, 0.0) < 0.5}
    flagged = {i for c in clusters for i in c}
    return (len(flagged & dups) / max(1, len(flagged & (dups | uniques))),
            len(flagged & dups) / max(1, len(dups)))


class MemorySampler(threading.Thread):
    """Peak RSS of this process's descendants (the engine's workers live under its forkserver,
    so RUSAGE_CHILDREN never sees them), sampled every 0.1 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.largest_worker = self.peak_total = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self.done.wait(0.1):
            sizes = []
            for child in me.children(recursive=True):
                try:
                    sizes.append(child.memory_info().rss / 2**20)
                except psutil.Error:
                    continue
            self.largest_worker = max(self.largest_worker, *sizes, 0.0)
            self.peak_total = max(self.peak_total, me.memory_info().rss / 2**20 + sum(sizes))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=0, help="fineaudit worker processes (0 = one per core)")
    ap.add_argument("--skip", default="", help="comma-separated baselines to skip: datasketch,rensa")
    ap.add_argument("--memory", action="store_true", help="fineaudit only: time and peak memory")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = ap.parse_args()

    path = chat_corpus(args.records, args.cache)
    print(f"corpus: {args.records} chat records ({path.stat().st_size / 1e6:.0f} MB); "
          f"load average {os.getloadavg()[0]:.2f}; cpus {os.cpu_count()}")
    if args.memory and not args.inner:  # a clean process: only fineaudit and its workers count
        subprocess.run([sys.executable, __file__, "--memory", "--inner", "--records", str(args.records),
                        "--workers", str(args.workers), "--cache", str(args.cache)], check=True)
        return
    sampler = MemorySampler()
    sampler.start()
    (clusters, check_s), total_s = timed(lambda: run_fineaudit(path, args.workers))
    sampler.done.set()
    own = peak_rss_mb()  # before the ground truth is loaded: it is not fineaudit's memory
    truth = truth_of(path)
    precision, recall = score(clusters, truth)
    memory = (f"peak RSS main {own:.0f} MB, largest worker {sampler.largest_worker:.0f} MB, "
              f"main + workers at once {sampler.peak_total:.0f} MB (sampled every 0.1 s)")
    print(f"fineaudit   check {check_s:7.1f} s ({args.records / check_s:8.0f} docs/s), with load {total_s:6.1f} s; "
          f"precision {precision:.4f} recall {recall:.4f}; {memory}")
    if args.memory:
        return
    texts = texts_of(path)
    for name, fn in (("datasketch", run_datasketch), ("rensa", run_rensa)):
        if name in args.skip.split(","):
            continue
        found, seconds = timed(lambda fn=fn: fn(texts))
        p, r = score(found, truth)
        print(f"{name:11s} total {seconds:7.1f} s ({args.records / seconds:8.0f} docs/s); precision {p:.4f} "
              f"recall {r:.4f}; fineaudit check is {seconds / check_s:5.1f}x faster "
              f"({seconds / total_s:.1f}x counting its load)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
