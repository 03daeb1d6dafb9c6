"""SplitMix64, the integer mixer behind MinHash's hash family, shuffle buckets and seeded samples.

It lives on its own because checkers (through `minhash`) and engines both need it, and
neither should import the other.
"""
from __future__ import annotations

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """A fast, well-mixed 64-bit hash of integers (vectorized SplitMix64 finalizer)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64
