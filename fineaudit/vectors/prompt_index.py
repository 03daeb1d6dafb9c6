"""Eval prompts found in training text: the contamination tests of GPT-3 / lm-evaluation-harness
(a shared word 13-gram) and GPT-4 (three random 50-character substrings), after normalization.

Both sides are normalized the same way: Unicode NFKC, casefold, and only the letters and
digits kept (`words`: runs of them; `chars`: the words joined without spaces), so a copy with
changed spacing, case or punctuation still matches. An eval prompt is found in a training
record when
  - `exact`:  its `chars` equal the training prompt's;
  - `gram`:   they share a word 13-gram (eval prompts of 13 words or more);
  - `window`: one of three seeded 50-character windows of its `chars` occurs in the training
              record's `chars` (eval prompts of 50 characters or more);
  - `whole`:  its whole `chars` occurs in the training record's (eval prompts of fewer than
              13 words, at least `min_chars` long): a short question embedded in a longer record.

The eval side is the small one, so it is what gets indexed (`EvalIndex`: sorted uint64 keys);
training records stream through `scan_batch` once, in the engine's workers, and only the hits
come back, so memory does not grow with the training set. All hashing is vectorized per chunk
of records: word hashes and window hashes come from one polynomial prefix sum over the chunk's
characters (mod 2^64, with the inverse powers of the odd base), 13-gram hashes from the word
hashes. A key found in more than `max_key_records` training records is a template (a shared
system prompt or instruction preamble), not a leak, and is dropped.
"""
from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xxhash

from fineaudit.core import RecordBatch
from fineaudit.vectors.integer_hash import splitmix64

NGRAM = 13
WINDOW = 50
WINDOWS_PER_PROMPT = 3
KINDS = ("gram", "window", "whole")
_WORD = re.compile(r"[^\W_]+")  # letters and digits: spaces, punctuation and underscores go
_BASE = np.uint64(0x100000001B3)  # odd, so it has an inverse mod 2^64
_BASE_INV = np.uint64(pow(0x100000001B3, -1, 2 ** 64))
_GRAM_MUL = np.uint64(0x9E3779B97F4A7C15)
_FILTER_BITS = 1 << 22  # bitmap slots of KeyTable.find: a few thousand eval keys fill under 0.1%
CHUNK_CHARS = 2_000_000  # characters hashed at once: bounds a worker's arrays to tens of MB


def prompt_words(text: str) -> list[str]:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _WORD.findall(text.casefold())


def exact_key(words: list[str]) -> int:
    # the characters, not the words: "body's" and "bodys" are the same prompt once punctuation goes
    return xxhash.xxh3_64_intdigest("".join(words).encode("utf-8", "surrogatepass"))


@lru_cache(maxsize=2)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^0..B^n and B^-0..B^-n mod 2^64 (numpy's uint64 arithmetic wraps, which is the modulus)."""
    with np.errstate(over="ignore"):
        up = np.cumprod(np.r_[np.uint64(1), np.full(n, _BASE, np.uint64)], dtype=np.uint64)
        down = np.cumprod(np.r_[np.uint64(1), np.full(n, _BASE_INV, np.uint64)], dtype=np.uint64)
    return up, down


@dataclass(frozen=True)
class Chunk:
    """Many texts' words and characters laid end to end, with what each position belongs to."""

    prefix: np.ndarray        # P[i] = sum c_j B^j over j < i (uint64, wrapping)
    char_owner: np.ndarray    # text number of each character
    word_hash: np.ndarray     # one uint64 per word
    word_owner: np.ndarray    # text number of each word
    char_start: np.ndarray    # first character of each text (len = texts + 1)


def build_chunk(words_per_text: list[list[str]]) -> Chunk:
    joined = ["".join(w) for w in words_per_text]
    lengths = np.fromiter(map(len, joined), np.int64, len(joined))
    codes = np.frombuffer("".join(joined).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    n = len(codes)
    up, down = _powers(_pow_size(n))
    with np.errstate(over="ignore"):
        prefix = np.r_[np.uint64(0), np.cumsum(codes.astype(np.uint64) * up[:n], dtype=np.uint64)]
    char_start = np.r_[0, np.cumsum(lengths)]
    word_lengths = np.fromiter(map(len, itertools.chain.from_iterable(words_per_text)), np.int64)
    word_owner = np.repeat(np.arange(len(joined)), [len(w) for w in words_per_text])
    # words of one text are contiguous in its characters: their starts follow from their lengths
    ends = np.cumsum(word_lengths)
    starts = ends - word_lengths
    with np.errstate(over="ignore"):
        raw = (prefix[ends] - prefix[starts]) * down[:n + 1][starts]
        word_hash = splitmix64(raw ^ word_lengths.astype(np.uint64))
    return Chunk(prefix, np.repeat(np.arange(len(joined)), lengths), word_hash, word_owner, char_start)


def _pow_size(n: int) -> int:
    return 1 << max(12, int(n).bit_length())  # a few sizes only, so the cache is reused


def window_hashes(chunk: Chunk, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, start) of every `width`-character window inside one text."""
    n = len(chunk.char_owner)
    if n < width:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    count = n - width + 1
    # slices, not gathers: every window at once, then those inside one text (measured 2x faster)
    starts = np.flatnonzero(chunk.char_owner[:count] == chunk.char_owner[width - 1:])
    _, down = _powers(_pow_size(n))
    with np.errstate(over="ignore"):
        raw = (chunk.prefix[width:width + count] - chunk.prefix[:count]) * down[:count]
    return splitmix64(raw[starts] ^ np.uint64(width)), starts


def gram_hashes(chunk: Chunk, n: int = NGRAM) -> tuple[np.ndarray, np.ndarray]:
    """(hash, first word) of every word n-gram inside one text."""
    count = len(chunk.word_hash) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    h = np.zeros(count, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _GRAM_MUL + chunk.word_hash[k:k + count]
    first = np.arange(count)
    keep = chunk.word_owner[first] == chunk.word_owner[first + n - 1]
    return splitmix64(h[keep]), first[keep]


# --------------------------------------------------------------------------- the eval side


@dataclass(frozen=True)
class KeyTable:
    """Sorted unique keys; the eval records owning key k are owners[offsets[k]:offsets[k+1]]."""

    keys: np.ndarray
    offsets: np.ndarray
    owners: np.ndarray

    @staticmethod
    def build(keys: np.ndarray, owners: np.ndarray) -> KeyTable:
        order = np.lexsort((owners, keys))
        keys, owners = keys[order], owners[order]
        fresh = np.r_[True, (keys[1:] != keys[:-1]) | (owners[1:] != owners[:-1])] if len(keys) else np.zeros(0, bool)
        keys, owners = keys[fresh], owners[fresh]  # sorted by key (unsigned), then owner
        unique, first = np.unique(keys, return_index=True)
        return KeyTable(unique, np.r_[first, len(keys)].astype(np.int64), owners.astype(np.int64))

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `hashes`, key numbers) of the hashes that are keys."""
        if not len(self.keys) or not len(hashes):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # a bitmap of the keys' low bits first: one gather per hash instead of a binary search
        # (searchsorted was a third of the scan); rebuilt per call, it costs milliseconds
        low = np.uint64(_FILTER_BITS - 1)
        bitmap = np.zeros(_FILTER_BITS, bool)
        bitmap[(self.keys & low).astype(np.int64)] = True
        maybe = np.flatnonzero(bitmap[(hashes & low).astype(np.int64)])
        pos = np.minimum(np.searchsorted(self.keys, hashes[maybe]), len(self.keys) - 1)
        hit = self.keys[pos] == hashes[maybe]
        return maybe[hit], pos[hit]


@dataclass(frozen=True)
class EvalIndex:
    exact: KeyTable
    tables: dict[str, KeyTable]   # gram, window, whole (the first min_chars of a short prompt)
    whole_chars: dict[int, str]   # a short prompt's characters, to verify a `whole` candidate
    min_chars: int


@dataclass(frozen=True)
class EvalPart:
    """What one batch of eval records puts in the index: (keys, eval indices) per kind, and the
    characters of its short prompts."""

    keys: dict[str, tuple[np.ndarray, np.ndarray]]
    whole_chars: dict[int, str]


def eval_keys_batch(min_chars: int, seed: int, batch: RecordBatch) -> EvalPart:
    rows = [(i, prompt_words(p)) for i, p, e in zip(batch.index, batch.prompt, batch.error) if e is None]
    rows = [(i, w) for i, w in rows if w]
    idx = np.array([i for i, _ in rows], np.int64)
    chunk = build_chunk([w for _, w in rows])
    grams, first = gram_hashes(chunk)
    short = [k for k, (_, w) in enumerate(rows) if len(w) < NGRAM and len("".join(w)) >= min_chars]
    hashes, starts = window_hashes(chunk, min_chars)
    at_start = dict(zip(starts.tolist(), hashes.tolist()))
    keys = {"exact": (np.array([exact_key(w) for _, w in rows], np.uint64), idx),
            "gram": (grams, idx[chunk.word_owner[first]]),
            "window": _seeded_windows(chunk, idx, seed),
            "whole": (np.array([at_start[int(chunk.char_start[k])] for k in short], np.uint64), idx[short])}
    return EvalPart(keys, {int(idx[k]): "".join(rows[k][1]) for k in short})


def _seeded_windows(chunk: Chunk, idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    hashes, starts = window_hashes(chunk, WINDOW)
    owner = chunk.char_owner[starts] if len(starts) else np.zeros(0, np.int64)
    keys, owners = [], []
    for k in np.unique(owner).tolist():
        mine = np.flatnonzero(owner == k)
        # seeded by the record's index, so a record's windows do not depend on its batch
        rng = np.random.default_rng([seed, int(idx[k])])
        chosen = rng.choice(mine, size=min(WINDOWS_PER_PROMPT, len(mine)), replace=False)
        keys.append(hashes[chosen])
        owners.append(np.full(len(chosen), idx[k], np.int64))
    if not keys:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(owners)


def build_eval_index(parts: list[EvalPart], min_chars: int) -> EvalIndex:
    def merged(kind: str) -> KeyTable:
        keys = np.concatenate([p.keys[kind][0] for p in parts]) if parts else np.zeros(0, np.uint64)
        owners = np.concatenate([p.keys[kind][1] for p in parts]) if parts else np.zeros(0, np.int64)
        return KeyTable.build(keys.astype(np.uint64), owners.astype(np.int64))

    whole = {i: text for p in parts for i, text in p.whole_chars.items()}
    return EvalIndex(merged("exact"), {k: merged(k) for k in KINDS}, whole, min_chars)


# --------------------------------------------------------------------------- the training side


@dataclass(frozen=True)
class Hits:
    """(key number, eval index, train index) per kind; at most cap + 1 training records per key."""

    exact: np.ndarray
    kinds: dict[str, np.ndarray]


def scan_batch(index: EvalIndex, scope: str, cap: int, batch: RecordBatch) -> Hits:
    """The eval prompts each training record of the batch contains (see the module docstring)."""
    texts = getattr(batch, scope)
    rows = [(i, prompt_words(t)) for i, t, e in zip(batch.index, texts, batch.error) if e is None]
    prompts = batch.prompt if scope == "prompt" else None
    exact = _exact_hits(index, batch, prompts, rows)
    found: dict[str, list[np.ndarray]] = {k: [] for k in KINDS}
    start = 0
    while start < len(rows):
        end, size = start, 0
        while end < len(rows) and (size < CHUNK_CHARS or end == start):
            size += sum(map(len, rows[end][1]))
            end += 1
        _scan_chunk(index, rows[start:end], found)
        start = end
    kinds = {k: _capped(np.concatenate(v) if v else np.zeros((0, 3), np.int64), cap) for k, v in found.items()}
    return Hits(exact, kinds)


def _exact_hits(index: EvalIndex, batch: RecordBatch, prompts: list[str] | None,
                rows: list[tuple[int, list[str]]]) -> np.ndarray:
    if prompts is None:  # exact means prompt against prompt, whatever text the other kinds scan
        words = [(i, prompt_words(p)) for i, p, e in zip(batch.index, batch.prompt, batch.error) if e is None]
    else:
        words = rows
    keys = np.array([exact_key(w) for _, w in words if w], np.uint64)
    train = np.array([i for i, w in words if w], np.int64)
    return _expand(index.exact, *index.exact.find(keys), train)


def _expand(table: KeyTable, at: np.ndarray, key: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Rows (key, eval index, train index) for every owner of every found key."""
    counts = table.offsets[key + 1] - table.offsets[key]
    starts = np.repeat(table.offsets[key] - np.cumsum(np.r_[0, counts[:-1]]), counts)
    owners = table.owners[starts + np.arange(counts.sum())]
    return np.stack([np.repeat(key, counts), owners, np.repeat(train[at], counts)], axis=1).astype(np.int64)


def _scan_chunk(index: EvalIndex, rows: list[tuple[int, list[str]]], found: dict[str, list[np.ndarray]]) -> None:
    chunk = build_chunk([w for _, w in rows])
    train = np.array([i for i, _ in rows], np.int64)
    grams, first = gram_hashes(chunk)
    at, key = index.tables["gram"].find(grams)
    found["gram"].append(_expand(index.tables["gram"], at, key, train[chunk.word_owner[first]]))
    for kind, width in (("window", WINDOW), ("whole", index.min_chars)):
        table = index.tables[kind]
        if not len(table.keys):
            continue
        hashes, starts = window_hashes(chunk, width)
        at, key = table.find(hashes)
        if not len(at):
            continue
        owner = chunk.char_owner[starts[at]]
        rows_found = _expand(table, np.arange(len(at)), key, train[owner])
        if kind == "whole":
            rows_found = _verified(index, rows_found, rows, train)
        found[kind].append(rows_found)


def _verified(index: EvalIndex, found: np.ndarray, rows: list[tuple[int, list[str]]],
              train: np.ndarray) -> np.ndarray:
    """Candidates whose whole short prompt really occurs in the training text (the window only
    matched its first min_chars characters)."""
    position = {int(i): k for k, i in enumerate(train.tolist())}
    found = np.unique(found, axis=0)
    keep = [r for r, (_, e, t) in enumerate(found.tolist())
            if index.whole_chars[e] in "".join(rows[position[t]][1])]
    return found[keep]


def _capped(found: np.ndarray, cap: int) -> np.ndarray:
    """Unique rows, and per key no more than cap + 1 training records: enough to tell a template."""
    if not len(found):
        return found
    found = np.unique(found, axis=0)
    pairs = np.unique(found[:, [0, 2]], axis=0)
    keys, first = np.unique(pairs[:, 0], return_index=True)
    rank = np.arange(len(pairs)) - np.repeat(first, np.diff(np.r_[first, len(pairs)]))
    allowed = pairs[rank <= cap]
    mask = np.isin(found[:, 0] * (1 << 32) + found[:, 2], allowed[:, 0] * (1 << 32) + allowed[:, 1])
    return found[mask]


def merge_hits(parts: list[Hits], cap: int, index: EvalIndex) -> dict[str, dict[int, set[int]]]:
    """eval index -> training indices, per kind, without the keys found in more than cap records.

    A gram or window match needs two shared keys with the same training record (one when the
    eval prompt has only one): a single 13-gram or window that straddles a shared template and
    the first word after it matches by chance; a copied prompt shares all of its keys."""
    out: dict[str, dict[int, set[int]]] = {"exact": {}}
    for e, t in np.concatenate([p.exact[:, 1:] for p in parts] or [np.zeros((0, 2), np.int64)]).tolist():
        out["exact"].setdefault(e, set()).add(t)
    for kind in KINDS:
        rows = np.concatenate([p.kinds[kind] for p in parts] or [np.zeros((0, 3), np.int64)])
        if not len(rows):
            out[kind] = {}
            continue
        pairs = np.unique(rows[:, [0, 2]], axis=0)
        keys, counts = np.unique(pairs[:, 0], return_counts=True)
        frequent = keys[counts > cap]
        kept = np.unique(rows[~np.isin(rows[:, 0], frequent)], axis=0)
        pair, shared = np.unique(kept[:, 1:], axis=0, return_counts=True)
        owners = index.tables[kind].owners
        per_eval = np.bincount(owners, minlength=int(pair[:, 0].max(initial=0)) + 1) if len(owners) else np.zeros(1, np.int64)
        needed = 1 if kind == "whole" else np.minimum(2, per_eval[pair[:, 0]]) if len(pair) else 1
        found: dict[int, set[int]] = {}
        for e, t in pair[shared >= needed].tolist():
            found.setdefault(e, set()).add(t)
        out[kind] = found
    return out


__all__ = ["EvalIndex", "EvalPart", "Hits", "KINDS", "NGRAM", "WINDOW", "build_eval_index", "eval_keys_batch",
           "merge_hits", "prompt_words", "scan_batch"]
