"""Side tells: phrases whose share differs sharply between two sets of answers.

A preference model learns whatever separates the chosen answers from the rejected ones. When
most rejected answers open with "Sure" and no chosen answer does, the cheapest lesson is
"never say Sure". This module finds such phrases in two lists of texts (chosen vs rejected,
or KTO's desirable vs undesirable):

1. Each text becomes a set of phrases: its openings and closings (the first and last 1-3
   words) and the word trigrams anywhere in it, after `normalize.normalize_text` (NFKC,
   casefold, spaces) and splitting on `\\w+` (so "Sure," and "sure!" are one opening).
2. For every phrase seen in at least `min_count` texts, a pooled two-proportion z-test
   compares its share in side A with its share in side B.
3. Holm's step-down correction keeps the family-wise error at `alpha` over all phrases tried
   (hundreds to tens of thousands), and a phrase is reported only when the shares also differ
   by at least `min_difference` (a significant 4% vs 6% is real but teaches little) and its
   favoured side holds it at least `min_count` times.
4. Phrases that are part of a stronger reported phrase with the same favoured side
   ("sure" and "sure here s") are reported once.

Pure functions on plain lists; the `preference` check calls them on a seeded sample.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fineaudit.text.normalize import normalize_text

WORD = re.compile(r"\w+")
EDGE_WORDS = (1, 2, 3)  # opening and closing lengths tried
NGRAM = 3  # phrases anywhere: word trigrams ("as an ai", "i m sorry", "hope this helps")
KINDS = ("opening", "closing", "phrase")

Phrase = tuple[str, tuple[str, ...]]  # (kind, words)


def words_of(text: str) -> list[str]:
    return WORD.findall(normalize_text(text))


def edges(words: Sequence[str]) -> set[Phrase]:
    """The openings and closings of a text's words, as (kind, words)."""
    found: set[Phrase] = set()
    for k in EDGE_WORDS:
        if len(words) >= k:
            found.add(("opening", tuple(words[:k])))
            found.add(("closing", tuple(words[-k:])))
    return found


# odd 64-bit multipliers that mix three word hashes into one trigram code
MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


@dataclass
class Side:
    """One side's texts: their words, edges, and trigram codes (three word hashes mixed)."""

    indices: list[int]
    words: list[list[str]]
    edges: list[set[Phrase]]
    codes: list[np.ndarray]  # per text, one code per trigram position

    @classmethod
    def of(cls, texts: Sequence[tuple[int, str]]) -> Side:
        side = cls([], [], [], [])
        for index, text in texts:
            words = words_of(text)
            side.indices.append(index)
            side.words.append(words)
            side.edges.append(edges(words))
            side.codes.append(trigram_codes(words))
        return side

    def trigram_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct codes and how many texts hold each (vectorized: 10-20x a Counter of tuples)."""
        held = [np.unique(c) for c in self.codes]
        return np.unique(np.concatenate(held) if held else np.empty(0, np.uint64), return_counts=True)


def trigram_codes(words: Sequence[str]) -> np.ndarray:
    """A 64-bit code per word trigram: str hashes (stable within a process, which is all the
    counting needs), mixed; collisions among a million trigrams have odds near 1e-8."""
    if len(words) < NGRAM:
        return np.empty(0, np.uint64)
    h = np.fromiter(map(hash, words), np.int64, len(words)).view(np.uint64)
    with np.errstate(over="ignore"):
        return (h[:-2] * MIX[0]) ^ (h[1:-1] * MIX[1]) ^ h[2:]


def decode(sides: Sequence[Side], wanted: np.ndarray) -> dict[int, tuple[str, ...]]:
    """The words behind these trigram codes, found in the texts that hold them."""
    out: dict[int, tuple[str, ...]] = {}
    for side in sides:
        for words, codes in zip(side.words, side.codes):
            if len(out) == len(wanted):
                return out
            for position in np.flatnonzero(np.isin(codes, wanted)):
                out.setdefault(int(codes[position]), tuple(words[position:position + NGRAM]))
    return out


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when it cannot be computed)."""
    if not n1 or not n2:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    z = abs(k1 / n1 - k2 / n2) / spread
    return math.erfc(z / math.sqrt(2))


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down test: which hypotheses are rejected at family-wise error `alpha`."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (m - rank):
            break  # every larger p-value is kept too
        rejected[i] = True
    return rejected


@dataclass(frozen=True)
class Tell:
    """A phrase that separates the sides, with its counts in each."""

    kind: str  # opening, closing or phrase
    phrase: str
    count_a: int
    n_a: int
    count_b: int
    n_b: int
    p_value: float
    examples: tuple[int, ...]  # record indices where the phrase sits on its favoured side

    @property
    def share_a(self) -> float:
        return self.count_a / self.n_a if self.n_a else 0.0

    @property
    def share_b(self) -> float:
        return self.count_b / self.n_b if self.n_b else 0.0

    @property
    def favours_a(self) -> bool:
        return self.share_a > self.share_b


@dataclass(frozen=True)
class TellSearch:
    tells: tuple[Tell, ...]
    tested: int  # phrases with enough support: the number of tests Holm corrects for


def _contains(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    return any(big[i:i + len(small)] == small for i in range(len(big) - len(small) + 1))


def _overlaps(found: Iterable[tuple[Phrase, bool]], phrase: Phrase, favours_a: bool) -> bool:
    words = phrase[1]
    return any(side == favours_a and (_contains(w, words) or _contains(words, w)) for (_, w), side in found)


def _aligned(keys_a: np.ndarray, counts_a: np.ndarray, keys_b: np.ndarray,
             counts_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two (keys, counts) tables on their union of keys."""
    keys = np.union1d(keys_a, keys_b)
    a = np.zeros(len(keys), np.int64)
    b = np.zeros(len(keys), np.int64)
    a[np.searchsorted(keys, keys_a)] = counts_a
    b[np.searchsorted(keys, keys_b)] = counts_b
    return keys, a, b


def p_values(a: np.ndarray, n_a: int, b: np.ndarray, n_b: int) -> np.ndarray:
    """two_proportion_p over arrays of counts."""
    from scipy import special  # lazily: every audit imports this module, few reach here
    pooled = (a + b) / (n_a + n_b)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(a / n_a - b / n_b) / spread
    return np.where(spread > 0, special.erfc(z / math.sqrt(2)), 1.0)


def holm_mask(p: np.ndarray, alpha: float) -> np.ndarray:
    """`holm` on an array."""
    order = np.argsort(p, kind="stable")
    m = len(p)
    failed = np.flatnonzero(p[order] > alpha / (m - np.arange(m)))
    keep = np.zeros(m, bool)
    keep[order[: failed[0] if len(failed) else m]] = True
    return keep


def find_tells(side_a: Sequence[tuple[int, str]], side_b: Sequence[tuple[int, str]], *, alpha: float = 0.01,
               min_difference: float = 0.2, min_count: int = 10, max_tells: int = 10,
               examples: int = 5) -> TellSearch:
    """Phrases whose share in side A's texts differs from side B's (see the module docstring).

    Each side is a list of (record index, text); the tells come strongest first."""
    a, b = Side.of(side_a), Side.of(side_b)
    n_a, n_b = len(a.indices), len(b.indices)
    if not n_a or not n_b:
        return TellSearch((), 0)
    edge_a = Counter(p for e in a.edges for p in e)
    edge_b = Counter(p for e in b.edges for p in e)
    names: list[Phrase] = sorted(p for p in edge_a.keys() | edge_b.keys() if edge_a[p] + edge_b[p] >= min_count)
    codes, grams_a, grams_b = _aligned(*a.trigram_counts(), *b.trigram_counts())
    supported = grams_a + grams_b >= min_count
    codes = codes[supported]
    count_a = np.concatenate([np.array([edge_a[p] for p in names], np.int64), grams_a[supported]])
    count_b = np.concatenate([np.array([edge_b[p] for p in names], np.int64), grams_b[supported]])
    p = p_values(count_a, n_a, count_b, n_b)
    share_a, share_b = count_a / n_a, count_b / n_b
    # a tell must also be common on its favoured side: 4 of 10 answers is no pattern, and the
    # z-test's normal approximation is poor at such counts (kto_en_demo cut to 10 undesirable)
    favoured = np.where(share_a > share_b, count_a, count_b)
    strong = np.flatnonzero(holm_mask(p, alpha) & (np.abs(share_a - share_b) >= min_difference)
                            & (favoured >= min_count))
    grams = decode((a, b), codes[strong[strong >= len(names)] - len(names)])

    def phrase(i: int) -> Phrase:
        return names[i] if i < len(names) else ("phrase", grams[int(codes[i - len(names)])])

    ranked = sorted((float(p[i]), -abs(float(share_a[i] - share_b[i])), phrase(int(i)), int(i)) for i in strong)
    kept: list[tuple[Phrase, bool]] = []
    tells: list[Tell] = []
    for p_value, _, found, i in ranked:
        favours_a = bool(share_a[i] > share_b[i])
        if _overlaps(kept, found, favours_a):
            continue
        kept.append((found, favours_a))
        tells.append(Tell(found[0], " ".join(found[1]), int(count_a[i]), n_a, int(count_b[i]), n_b, p_value,
                          _holders(a if favours_a else b, found, i - len(names), codes, examples)))
        if len(tells) >= max_tells:
            break
    return TellSearch(tuple(tells), len(count_a))


def _holders(side: Side, found: Phrase, position: int, codes: np.ndarray, limit: int) -> tuple[int, ...]:
    """The first records of a side whose text holds the phrase."""
    if found[0] != "phrase":
        return tuple(i for i, e in zip(side.indices, side.edges) if found in e)[:limit]
    code = codes[position]
    return tuple(i for i, held in zip(side.indices, side.codes) if np.any(held == code))[:limit]


__all__ = ["KINDS", "Tell", "TellSearch", "edges", "find_tells", "holm", "holm_mask", "p_values",
           "two_proportion_p", "words_of"]
