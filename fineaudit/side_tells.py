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

from fineaudit.normalize import normalize_text

WORD = re.compile(r"\w+")
EDGE_WORDS = (1, 2, 3)  # opening and closing lengths tried
NGRAM = 3  # phrases anywhere: word trigrams ("as an ai", "i m sorry", "hope this helps")
KINDS = ("opening", "closing", "phrase")

Phrase = tuple[str, tuple[str, ...]]  # (kind, words)


def phrases(text: str) -> set[Phrase]:
    """Every opening, closing and trigram of a text, as (kind, words)."""
    words = WORD.findall(normalize_text(text))
    found: set[Phrase] = set()
    for k in EDGE_WORDS:
        if len(words) >= k:
            found.add(("opening", tuple(words[:k])))
            found.add(("closing", tuple(words[-k:])))
    found.update(("phrase", gram) for gram in zip(*(words[i:] for i in range(NGRAM))))
    return found


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


def find_tells(side_a: Sequence[tuple[int, str]], side_b: Sequence[tuple[int, str]], *, alpha: float = 0.01,
               min_difference: float = 0.2, min_count: int = 10, max_tells: int = 10,
               examples: int = 5) -> TellSearch:
    """Phrases whose share in side A's texts differs from side B's (see the module docstring).

    Each side is a list of (record index, text); the tells come strongest first."""
    sets_a = [(i, phrases(t)) for i, t in side_a]
    sets_b = [(i, phrases(t)) for i, t in side_b]
    count_a: Counter[Phrase] = Counter(p for _, s in sets_a for p in s)
    count_b: Counter[Phrase] = Counter(p for _, s in sets_b for p in s)
    n_a, n_b = len(sets_a), len(sets_b)
    tried = [p for p in count_a.keys() | count_b.keys() if count_a[p] + count_b[p] >= min_count]
    tried.sort()  # deterministic order for ties in p
    p_values = [two_proportion_p(count_a[p], n_a, count_b[p], n_b) for p in tried]
    significant = holm(p_values, alpha)
    # a tell must also be common on its favoured side: 4 of 10 answers is no pattern, and the
    # z-test's normal approximation is poor at such counts (kto_en_demo cut to 10 undesirable)
    ranked = sorted((p_values[i], -abs(count_a[p] / n_a - count_b[p] / n_b), p)
                    for i, p in enumerate(tried) if significant[i]
                    and abs(count_a[p] / n_a - count_b[p] / n_b) >= min_difference
                    and (count_a[p] if count_a[p] / n_a > count_b[p] / n_b else count_b[p]) >= min_count)
    kept: list[tuple[Phrase, bool]] = []
    tells: list[Tell] = []
    for p_value, _, phrase in ranked:
        favours_a = count_a[phrase] / n_a > count_b[phrase] / n_b
        if _overlaps(kept, phrase, favours_a):
            continue
        kept.append((phrase, favours_a))
        holders = sets_a if favours_a else sets_b
        shown = tuple(i for i, s in holders if phrase in s)[:examples]
        tells.append(Tell(phrase[0], " ".join(phrase[1]), count_a[phrase], n_a, count_b[phrase], n_b,
                          p_value, shown))
        if len(tells) >= max_tells:
            break
    return TellSearch(tuple(tells), len(tried))


__all__ = ["KINDS", "Tell", "TellSearch", "find_tells", "holm", "phrases", "two_proportion_p"]
