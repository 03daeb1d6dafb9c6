"""Engine-independent pieces every engine must compute the same way: key groups and samples."""
from __future__ import annotations

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def groups_of_equal_keys(keys: np.ndarray, indices: np.ndarray) -> list[list[int]]:
    """Groups of two or more indices sharing a key; each sorted, ordered by first index."""
    if len(keys) == 0:
        return []
    order = np.lexsort((indices, keys))
    keys, indices = keys[order], indices[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    groups = [indices[s:e].tolist() for s, e in zip(starts, ends) if e - s > 1]
    groups.sort(key=lambda g: g[0])
    return groups


def splitmix64(values: np.ndarray) -> np.ndarray:
    """A fast, well-mixed 64-bit hash of integers (vectorized SplitMix64 finalizer)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64


def sample_indices(total: int, n: int, seed: int) -> list[int]:
    """A seeded uniform sample of n of range(total), sorted; depends on nothing but its arguments.

    Bottom-n of a hash of (seed, index), so every engine picks the same records."""
    if n >= total:
        return list(range(total))
    with np.errstate(over="ignore"):
        salted = np.arange(total, dtype=np.uint64) ^ splitmix64(np.array([seed], dtype=np.uint64))[0]
    scores = splitmix64(salted)
    chosen = np.argpartition(scores, n)[:n]
    return sorted(chosen.tolist())
