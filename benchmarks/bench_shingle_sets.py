"""Per-text shingle sets (minhash.shingle_sets) against the batch-wide lexsort it replaced.

Near-duplicate verification, diversity and conflicting labels turn each candidate's shingle
hashes into a sorted set without repeats. Both ways run here on the same seeded arrays (texts
of 150-350 shingles, one repeat in fifty), results compared for equality.

    python benchmarks/bench_shingle_sets.py --texts 19000
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from fineaudit.vectors.minhash import shingle_sets


def lexsort_sets(shingles: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """The former way: one lexsort of (text, shingle) over the whole batch."""
    counts = np.diff(offsets)
    doc = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((shingles, doc))
    values, doc = shingles[order], doc[order]
    first = np.ones(len(values), dtype=bool)
    first[1:] = (values[1:] != values[:-1]) | (doc[1:] != doc[:-1])
    values, doc = values[first], doc[first]
    bounds = np.searchsorted(doc, np.arange(len(counts) + 1)).tolist()
    return [values[bounds[i]:bounds[i + 1]] for i in range(len(counts))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=19000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    offsets = np.r_[0, np.cumsum(rng.integers(150, 350, size=args.texts))]
    shingles = rng.integers(0, 2 ** 63, size=int(offsets[-1]), dtype=np.uint64)
    shingles[5::50] = shingles[4::50][: len(shingles[5::50])]
    best = {"lexsort (before)": float("inf"), "per text (now)": float("inf")}
    for _ in range(args.rounds):
        for name, fn in (("lexsort (before)", lexsort_sets), ("per text (now)", shingle_sets)):
            started = time.perf_counter()
            out = fn(shingles, offsets)
            best[name] = min(best[name], time.perf_counter() - started)
        assert all(np.array_equal(a, b) for a, b in zip(lexsort_sets(shingles, offsets), out))
    print(f"{args.texts} texts, {len(shingles):,} shingles, best of {args.rounds}: same sets")
    for name, seconds in best.items():
        print(f"  {name:18} {seconds:7.3f} s")
    print(f"  ratio {best['lexsort (before)'] / best['per text (now)']:.1f}x")


if __name__ == "__main__":
    main()
