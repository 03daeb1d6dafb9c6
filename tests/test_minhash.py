"""The vectorized shingling, MinHash and clustering against plain-Python references."""
from __future__ import annotations

import re

import numpy as np
import pytest

from fineaudit.vectors import minhash
from fineaudit.text.normalize import Normalization, normalize_text


def reference_shingles(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", normalize_text(text, Normalization(collapse_whitespace=False)))
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


def sets_of(texts: list[str], n: int) -> list[np.ndarray]:
    words, offsets = minhash.word_hashes(texts, Normalization(collapse_whitespace=False))
    return minhash.shingle_sets(*minhash.shingle_hashes(words, offsets, n))


TEXTS = ["the quick brown fox jumps over the lazy dog and runs away",
         "The QUICK brown fox   jumps over the lazy dog and runs home!",
         "short text", "", "...!?", "one", "Straße ist groß und die Straße ist lang",
         "ｆｕｌｌｗｉｄｔｈ letters fold to ascii", "naïve café_au_lait 3.14 déjà-vu", "日本語 の テキスト です よ ね"]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shingle_counts_and_jaccard_match_python(n: int) -> None:
    sets = sets_of(TEXTS, n)
    refs = [reference_shingles(t, n) for t in TEXTS]
    assert [len(s) for s in sets] == [len(r) for r in refs]
    for i in range(len(TEXTS)):
        for j in range(len(TEXTS)):
            if refs[i] or refs[j]:
                expected = len(refs[i] & refs[j]) / len(refs[i] | refs[j])
                assert minhash.jaccard(sets[i], sets[j]) == pytest.approx(expected)


@pytest.mark.parametrize("a, b, same", [
    ("hello world", "HELLO   world!", True),       # short texts still match their copies
    ("hello world", "hello world again", False),   # one shingle each, and they differ
    ("a b c d e f g", "a b c d e f g", True),
    ("a b c d e f g", "g f e d c b a", False),     # order matters
])
def test_short_and_ordered_texts(a: str, b: str, same: bool) -> None:
    x, y = sets_of([a, b], 5)
    assert (minhash.jaccard(x, y) == 1.0) is same


def test_signatures_are_seeded_and_estimate_jaccard() -> None:
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(5000)]
    base = list(rng.choice(vocab, 300))
    edited = base[:]
    for k in rng.choice(300, 15, replace=False):
        edited[k] = "edit"
    texts = [" ".join(base), " ".join(edited)]
    words, offsets = minhash.word_hashes(texts)
    shingles, so = minhash.shingle_hashes(words, offsets, 5)
    sig = minhash.signatures(shingles, so, 256, seed=3)
    assert (sig == minhash.signatures(shingles, so, 256, seed=3)).all()
    assert not (sig == minhash.signatures(shingles, so, 256, seed=4)).all()
    true = minhash.jaccard(*minhash.shingle_sets(shingles, so))
    assert abs((sig[0] == sig[1]).mean() - true) < 0.1


def test_choose_bands_is_generous_at_the_threshold() -> None:
    bands, rows = minhash.choose_bands(0.8, 128)
    assert bands * rows <= 128
    assert minhash.false_negative_rate(0.8, bands, rows) <= 0.001
    assert minhash.candidate_probability(0.3, bands, rows) < 0.25


def test_greedy_clusters_do_not_chain() -> None:
    # 1 ~ 0 and 2 ~ 1, but 2 is far from 0: no transitive cluster {0, 1, 2}
    a = np.arange(0, 100, dtype=np.uint64)
    b = np.arange(10, 110, dtype=np.uint64)
    c = np.arange(20, 120, dtype=np.uint64)
    sets = {0: a, 1: b, 2: c}
    assert minhash.jaccard(a, b) > 0.8 and minhash.jaccard(a, c) < 0.8
    clusters = minhash.greedy_clusters([[0, 1, 2]], sets, 0.8)
    assert [c.members for c in clusters] == [(0, 1)]
    assert clusters[0].lowest == pytest.approx(90 / 110, abs=1e-4)
