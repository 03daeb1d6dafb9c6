"""confident_learning: the same records as cleanlab's prune_by_noise_rate on the same probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from fineaudit.vectors import confident_learning as cl


def noisy_probs(n: int, k: int, flip: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels with a share flipped, and probabilities of a decent classifier of the true labels."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    flipped = rng.random(n) < flip
    labels = np.where(flipped, (true + rng.integers(1, k, n)) % k, true) if k > 1 else true
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += rng.uniform(2, 6, n)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probs, labels != true


@pytest.mark.parametrize("n, k, flip, seed", [
    (500, 2, 0.05, 0), (500, 2, 0.2, 1), (2000, 5, 0.1, 2), (3000, 20, 0.05, 3), (300, 3, 0.0, 4),
    (1000, 4, 0.3, 5),
])
def test_same_records_as_cleanlab(n: int, k: int, flip: float, seed: int) -> None:
    filter_ = pytest.importorskip("cleanlab.filter", reason="cleanlab is the test-only oracle (dev extra)")
    labels, probs, _ = noisy_probs(n, k, flip, seed)
    ours = cl.prune_by_noise_rate(labels, probs)
    theirs = filter_.find_label_issues(labels, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    assert np.array_equal(ours, theirs)


def test_finds_flipped_labels() -> None:
    labels, probs, flipped = noisy_probs(2000, 3, 0.1, 7)
    found = cl.prune_by_noise_rate(labels, probs)
    assert (found & flipped).sum() / found.sum() > 0.8
    assert (found & flipped).sum() / flipped.sum() > 0.5


@pytest.mark.parametrize("labels, probs, expected", [
    ([0, 1], [[0.9, 0.1], [0.2, 0.8]], [0.9, 0.8]),
    ([0, 1], [[0.1, 0.9], [0.5, 0.5]], [0.1, 0.5]),
])
def test_normalized_margin(labels: list[int], probs: list[list[float]], expected: list[float]) -> None:
    assert np.allclose(cl.normalized_margin(np.asarray(labels), np.asarray(probs)), expected)


def test_confident_joint_rows_sum_to_label_counts() -> None:
    labels, probs, _ = noisy_probs(800, 4, 0.15, 9)
    joint = cl.confident_joint(labels, probs)
    assert joint.sum(axis=1).tolist() == np.bincount(labels, minlength=4).tolist()


def test_out_of_sample_probs_are_seeded() -> None:
    texts = [f"spam offer win prize {i}" if i % 3 == 0 else f"see you at lunch {i}" for i in range(90)]
    labels = np.asarray([1 if i % 3 == 0 else 0 for i in range(90)])
    x = cl.hashed_features(texts)
    first = cl.out_of_sample_probs(x, labels, 3, seed=1)
    assert np.array_equal(first, cl.out_of_sample_probs(x, labels, 3, seed=1))
    assert (first.argmax(axis=1) == labels).mean() > 0.95
