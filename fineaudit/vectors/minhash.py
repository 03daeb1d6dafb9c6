"""Vectorized word shingling, MinHash signatures, LSH band keys and exact Jaccard verification.

Pure functions over numpy arrays; they know nothing of engines or records, so every engine
(and the benchmark) runs the same arithmetic. Profiling showed that once signatures are
vectorized, turning text into shingles is the bottleneck, so text is tokenized and hashed a
whole batch at a time:

1. the normalized texts are joined into one byte array (a newline between texts, so no word
   crosses a text); a word is a maximal run of ASCII letters, digits, `_` or non-ASCII bytes,
   which equals Python's `\\w+` on ASCII text; non-ASCII texts are first reduced to their
   `\\w+` words joined by spaces, so the byte rule splits them exactly where `\\w+` does;
2. every word is hashed from 8-byte loads straight out of that buffer (no Python loop over
   words, no per-word string objects), finished with SplitMix64;
3. an n-gram's hash is folded from its word hashes in n vector operations; a text with fewer
   than n words (but at least one) gets one shingle made of all its words, so short texts
   still match their copies.

Signatures use seeded permutations `a*x + b mod 2**32` (odd `a`) of the top 32 bits of each
shingle hash, computed permutations x shingles so the per-text minimum runs along memory.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fineaudit.vectors.integer_hash import splitmix64
from fineaudit.text.normalize import Normalization, normalize_text

_WORD_RE = re.compile(r"\w+")
_FOLD = np.uint64(0x9E3779B97F4A7C15)
_CHUNK_BYTES = 1 << 22  # text characters tokenized at once: bounds the per-byte arrays
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_CHUNK_SHINGLES = 1 << 13  # shingles x permutations hashed at once: 4 MB for 128, near the cache


def _word_byte_table() -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    for ch in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
        table[ch] = True
    table[0x80:] = True  # bytes of non-ASCII characters (only \w+ words reach this stage)
    return table


_WORD_BYTE = _word_byte_table()


def text_bytes(texts: Sequence[str], how: Normalization) -> tuple[np.ndarray, np.ndarray]:
    """The normalized texts as one uint8 array, and the byte offset of each text (len n+1)."""
    parts = []
    for text in texts:
        text = normalize_text(text, how)
        if not text.isascii():
            text = " ".join(_WORD_RE.findall(text))
        parts.append(text.encode("utf-8", "surrogatepass"))
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=offsets[1:])
    # eight bytes of padding at the end, so an 8-byte load at any word start stays in bounds
    return np.frombuffer(b"\n".join(parts) + b"\n" * 9, dtype=np.uint8), offsets


def _hash_words(blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, start byte) of every word in a byte array that ends with 8 non-word bytes.

    A word is read 8 bytes at a time straight from the buffer (an unaligned uint64 view), so
    the work is per word and per 8 bytes, not per byte; longer words fold in further 8-byte
    pieces. Words hold no zero byte, so their first 8 bytes, zero-filled, identify them."""
    edges = np.diff(np.concatenate(([False], _WORD_BYTE[blob], [False])).view(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    words8 = np.ndarray((len(blob) - 7,), dtype="<u8", buffer=blob, strides=(1,))
    hashes = words8[starts] & _BYTE_MASKS[np.minimum(lengths, 8)]
    longer = np.flatnonzero(lengths > 8)
    offset = 8
    while len(longer):
        piece = words8[starts[longer] + offset] & _BYTE_MASKS[np.minimum(lengths[longer] - offset, 8)]
        with np.errstate(over="ignore"):
            hashes[longer] = splitmix64(hashes[longer]) * _FOLD + piece
        offset += 8
        longer = longer[lengths[longer] > offset]
    return splitmix64(hashes), starts


def word_hashes(texts: Sequence[str], how: Normalization = Normalization()) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the words of all texts, and each text's word offset (len n+1)."""
    hashes, counts = [], []
    for lo, hi in _byte_chunks(texts):
        blob, offsets = text_bytes(texts[lo:hi], how)
        h, starts = _hash_words(blob)
        hashes.append(h)
        counts.append(np.diff(np.searchsorted(starts, offsets)))
    word_offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=word_offsets[1:])
    return (np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)), word_offsets


def _byte_chunks(texts: Sequence[str]) -> Iterator[tuple[int, int]]:
    lo, size = 0, 0
    for i, text in enumerate(texts):
        size += len(text)
        if size > _CHUNK_BYTES:
            yield lo, i + 1
            lo, size = i + 1, 0
    if lo < len(texts) or not texts:
        yield lo, len(texts)


def shingle_hashes(words: np.ndarray, word_offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word n-grams of each text (grouped by text) and each text's offset.

    A text with 1..n-1 words gets one shingle of all its words; a text without words none."""
    counts = np.diff(word_offsets)
    doc = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(words)) - word_offsets[:-1][doc]
    padded = np.concatenate((words, np.zeros(n, dtype=np.uint64)))
    folded = words.copy()
    out = folded.copy() if n == 1 else np.zeros(len(words), dtype=np.uint64)
    first = word_offsets[:-1]
    for k in range(1, n + 1):
        if k > 1:  # fold in word i+k-1 (a polynomial over mixed word hashes: order matters)
            with np.errstate(over="ignore"):
                folded *= _FOLD
                folded += padded[k - 1:k - 1 + len(words)]
        short = first[counts == k] if k < n else None
        if short is not None and len(short):
            out[short] = folded[short]
    long_ = counts >= n
    keep = np.where(long_[doc], position <= counts[doc] - n, position == 0)
    if n > 1:
        out = np.where(long_[doc], folded, out)
    shingle_counts = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(shingle_counts, out=offsets[1:])
    return splitmix64(out[keep]), offsets


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded parameters (odd a, any b) of num_perm permutations x -> a*x + b mod 2**32."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def signatures(shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (texts x num_perm, uint32); a text without shingles gets all 2**32-1.

    The permutations act on the top 32 bits of each (already well-mixed) shingle hash: with
    odd a, a*x + b mod 2**32 is a bijection, and on mixed input its minimum matches the
    theory (variance J(1-J)/num_perm) while costing half of 64-bit arithmetic. The work is
    laid out permutations x shingles so that the per-text minimum runs along memory."""
    a, b = permutations(num_perm, seed)
    counts = np.diff(offsets)
    out = np.full((len(counts), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    top = (shingles >> np.uint64(32)).astype(np.uint32)
    buffer = np.empty((num_perm, _CHUNK_SHINGLES), dtype=np.uint32)  # reused: no page faults per chunk
    for docs in _shingle_chunks(offsets, np.flatnonzero(counts)):
        lo, hi = offsets[docs[0]], offsets[docs[-1] + 1]
        if hi - lo > buffer.shape[1]:  # one text longer than a chunk
            buffer = np.empty((num_perm, hi - lo), dtype=np.uint32)
        hashed = buffer[:, :hi - lo]
        np.multiply(a[:, None], top[None, lo:hi], out=hashed)  # uint32 products wrap: mod 2**32
        hashed += b[:, None]
        out[docs] = np.minimum.reduceat(hashed, offsets[docs] - lo, axis=1).T
    return out


def _shingle_chunks(offsets: np.ndarray, docs: np.ndarray) -> Iterator[np.ndarray]:
    """Runs of texts holding about _CHUNK_SHINGLES shingles together (one text may hold more)."""
    if not len(docs):
        return
    ends = offsets[docs + 1]
    lo = 0
    while lo < len(docs):
        hi = max(lo + 1, int(np.searchsorted(ends, offsets[docs[lo]] + _CHUNK_SHINGLES, side="right")))
        yield docs[lo:hi]
        lo = hi


def choose_bands(threshold: float, num_perm: int, max_miss: float = 0.001) -> tuple[int, int]:
    """(bands, rows): the most rows per band for which a pair exactly at `threshold` is missed
    with probability at most `max_miss`; more rows means fewer false candidates to verify."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands < 1:
            break
        if (1.0 - threshold ** rows) ** bands <= max_miss:
            best = (bands, rows)
    return best


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per (text, band): equal keys mean the band's rows are equal (whp)."""
    n = len(sigs)
    parts = sigs[:, :bands * rows].reshape(n, bands, rows).astype(np.uint64)
    keys = np.broadcast_to(splitmix64(np.arange(bands, dtype=np.uint64)), (n, bands))
    with np.errstate(over="ignore"):
        for r in range(rows):  # the band number is folded in, so band 1 never meets band 2
            keys = keys * _FOLD + parts[:, :, r]
    return splitmix64(keys)


def shingle_sets(shingles: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Each text's shingles as a sorted array without repeats (for exact Jaccard).

    A sort per text: np.lexsort of (text, shingle) over a whole batch measured 13x slower
    (1.8 s against 0.14 s for 19,000 texts of 150-350 shingles, benchmarks/bench_shingle_sets.py)."""
    bounds = offsets.tolist()
    sets = []
    for start, end in zip(bounds, bounds[1:]):
        values = np.sort(shingles[start:end])
        if len(values) > 1:
            keep = np.empty(len(values), dtype=bool)
            keep[0] = True
            np.not_equal(values[1:], values[:-1], out=keep[1:])
            values = values[keep]
        sets.append(values)
    return sets


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted, repeat-free shingle arrays."""
    if not len(a) and not len(b):
        return 1.0
    if not len(a) or not len(b):
        return 0.0
    at = np.searchsorted(a, b)  # where each of b would sit in a: equal there means shared
    at[at == len(a)] = 0
    common = int(np.count_nonzero(a[at] == b))
    return common / (len(a) + len(b) - common)


@dataclass(frozen=True)
class Cluster:
    """A kept record and the records verified similar to it (kept first), with similarities."""

    kept: int
    members: tuple[int, ...]
    similarity: tuple[float, ...]  # members[i] to kept; 1.0 for kept itself

    @property
    def lowest(self) -> float:
        return min(self.similarity[1:])


def estimate_floor(threshold: float, num_perm: int) -> float:
    """An estimated similarity below which a pair is not worth verifying: the threshold minus
    five standard deviations of the MinHash estimate there (a miss has odds below 1e-6)."""
    return threshold - 5.0 * math.sqrt(threshold * (1.0 - threshold) / num_perm)


def greedy_clusters(groups: Sequence[Sequence[int]], sets: Mapping[int, np.ndarray],
                    threshold: float, sigs: Mapping[int, np.ndarray] | None = None) -> list[Cluster]:
    """Clusters from LSH candidate groups, without transitive chaining.

    Records are visited in index order; a record joins the cluster of the first earlier kept
    record among its candidates whose exact Jaccard is >= threshold, else it is kept itself.
    So every member is verified against its cluster's kept record (never only against a
    neighbour of a neighbour), and kept records are pairwise below the threshold: the same
    records a dedup keeps, and its output has no near duplicates left. With `sigs`, candidates
    whose MinHash estimate is far below the threshold (see estimate_floor) skip the exact check:
    big buckets of merely similar records (shared templates) stay cheap."""
    groups_of: dict[int, list[int]] = {}
    for g, members in enumerate(groups):
        for i in members:
            groups_of.setdefault(i, []).append(g)
    kept_in_group: list[list[int]] = [[] for _ in groups]
    joined: dict[int, list[tuple[int, float]]] = {}
    row = {k: r for r, k in enumerate(sigs)} if sigs else {}
    matrix = np.stack(list(sigs.values())) if sigs else None
    floor = estimate_floor(threshold, matrix.shape[1]) if matrix is not None else 0.0
    for j in sorted(groups_of):
        candidates = sorted(set().union(*(kept_in_group[g] for g in groups_of[j])))
        if matrix is not None and len(candidates) > 1:
            rows = [row[k] for k in candidates]
            estimates = (matrix[rows] == matrix[row[j]]).mean(axis=1)
            candidates = [k for k, e in zip(candidates, estimates.tolist()) if e >= floor]
        match = next(((k, s) for k in candidates if (s := jaccard(sets[k], sets[j])) >= threshold), None)
        if match is None:
            for g in groups_of[j]:
                kept_in_group[g].append(j)
        else:
            joined.setdefault(match[0], []).append((j, match[1]))
    return [Cluster(k, (k, *(j for j, _ in rest)), (1.0, *(round(s, 4) for _, s in rest)))
            for k, rest in sorted(joined.items())]


def false_negative_rate(threshold: float, bands: int, rows: int) -> float:
    """Probability that a pair exactly at `threshold` shares no band (is never a candidate)."""
    return (1.0 - threshold ** rows) ** bands


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - similarity ** rows) ** bands


__all__ = ["Cluster", "band_keys", "candidate_probability", "choose_bands", "estimate_floor", "false_negative_rate",
           "greedy_clusters", "jaccard", "permutations", "shingle_hashes", "shingle_sets",
           "signatures", "text_bytes", "word_hashes"]
