"""Confident learning (Northcutt, Jiang and Chuang 2021) on plain arrays.

Given each record's label and out-of-sample predicted class probabilities, find the records
whose label is likely wrong: per-class confidence thresholds, the confident joint of given
and likely-true labels, calibrated to the label counts, then per given class prune the records
with the largest margin towards each likely-true class, as many as the joint's off-diagonal
count (prune by noise rate). Suspects are ranked by normalized margin. The steps follow
cleanlab 2.9 (`filter.find_label_issues(filter_by="prune_by_noise_rate")`), which the tests
use as an oracle on the same probabilities; cleanlab itself is not a dependency.

`out_of_sample_probs` trains the classifier (hashed word and character n-grams, or given
vectors, and a linear model) with seeded stratified k-fold cross-validation.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

EPS = 1e-6  # cleanlab's fuzzy comparison: a probability this close to a threshold reaches it
MIN_THRESHOLD = 2 * EPS  # thresholds are clipped from below, so an all-zero column never counts


def confident_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per class k: the mean predicted probability of k over the records labelled k."""
    k = probs.shape[1]
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros(k)
    np.add.at(sums, labels, probs[np.arange(len(labels)), labels])
    means = np.where(counts > 0, sums / np.maximum(counts, 1), 2.0)  # an absent class: unreachable
    return np.clip(means, MIN_THRESHOLD, None)


def likely_true(probs: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each record's likely true class (the confident class, the argmax if several), and
    whether any class was confident at all."""
    confident = probs >= thresholds - EPS
    several = confident.sum(axis=1) > 1
    guess = np.where(several, probs.argmax(axis=1), confident.argmax(axis=1))
    return np.asarray(guess), np.asarray(confident.any(axis=1))


def confident_joint(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """C[given, true]: counts of confidently placed records, calibrated so that each row sums to
    the number of records with that given label (and the whole to the number of records)."""
    k = probs.shape[1]
    guess, any_confident = likely_true(probs, confident_thresholds(labels, probs))
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (labels[any_confident], guess[any_confident]), 1)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))  # every class keeps one correct record
    counts = np.bincount(labels, minlength=k)
    calibrated = (joint.T / np.clip(joint.sum(axis=1), 1e-100, None) * counts).T
    calibrated = calibrated / np.clip(calibrated.sum(), 1e-100, None) * counts.sum()
    return np.apply_along_axis(round_preserving_sum, 1, calibrated).astype(np.int64)


def round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Round to integers whose sum is the rounded sum (largest remainders move first)."""
    floats = np.asarray(values, dtype=float)
    ints = floats.round()
    target = np.sum(floats).round()
    while abs(np.sum(ints).round() - target) > EPS:
        diff = np.round(target - np.sum(ints).round())
        step = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), len(floats))
        for i in np.argsort(floats - ints)[::-step][:changes]:
            ints[i] += step
    return ints.astype(np.int64)


def prune_counts(joint: np.ndarray, keep_per_class: int = 1) -> np.ndarray:
    """How many records to prune per (true, given) pair: the joint transposed, with at least
    `keep_per_class` records left in each given class (the shortfall taken evenly from the
    off-diagonal counts of its column)."""
    matrix = joint.T.astype(float)
    diagonal = matrix.diagonal().copy()
    raised = np.maximum(diagonal, keep_per_class)
    per_column = np.maximum(np.count_nonzero(matrix, axis=0) - 1.0, 1.0)
    matrix = np.clip(matrix - (raised - diagonal) / per_column, 0, None)
    np.fill_diagonal(matrix, raised)
    matrix = matrix.astype(np.int64).astype(float)  # cleanlab truncates before rounding rows
    return np.apply_along_axis(round_preserving_sum, 1, matrix).astype(np.int64)


def prune_by_noise_rate(labels: np.ndarray, probs: np.ndarray, keep_per_class: int = 1) -> np.ndarray:
    """Boolean mask of the records confident learning flags as mislabeled."""
    k = probs.shape[1]
    counts = prune_counts(confident_joint(labels, probs), keep_per_class)
    flagged = np.zeros(len(labels), dtype=bool)
    for given in range(k):
        members = np.flatnonzero(labels == given)
        if len(members) <= keep_per_class:
            continue  # too few to prune any
        mask = np.zeros(len(members), dtype=bool)
        for true in range(k):
            if true != given and counts[true, given] > 0:
                margin = probs[members, true] - probs[members, given]
                mask[np.argsort(-margin)[:counts[true, given]]] = True
        flagged[members] = mask
    # a record whose given label is (within EPS) the model's own top choice is never a suspect
    nudged = probs.copy()
    nudged[np.arange(len(labels)), labels] += EPS
    flagged[nudged.argmax(axis=1) == labels] = False
    return flagged


def normalized_margin(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Label quality in [0, 1]: (p[given] - max p[other] + 1) / 2; low means likely mislabeled."""
    rows = np.arange(len(labels))
    given = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = -np.inf
    return (given - others.max(axis=1) + 1.0) / 2.0


# --------------------------------------------------------------------------- the classifier


CHAR_PREFIX = 300  # characters of each text cut into character n-grams (their cost grows with length)


def hashed_features(texts: Sequence[str], n_features: int = 2 ** 20) -> object:
    """Sparse TF-IDF-weighted hashed word 1-2-grams (whole text) and character 3-5-grams within
    words (first CHAR_PREFIX characters), L2 normalized: spelling variants and short texts still
    share features, no vocabulary is fitted. Character n-grams cost about three hashes per
    character, so a long text contributes them from its start only (most SMS, intents and
    reviews are shorter than the prefix)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.preprocessing import normalize

    words = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False,
                              norm=None, lowercase=True, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    chars = HashingVectorizer(n_features=n_features, analyzer="char_wb", ngram_range=(3, 5),
                              alternate_sign=False, norm=None, lowercase=True)
    x = hstack([words.transform(texts), chars.transform([t[:CHAR_PREFIX] for t in texts])], format="csr")
    x = TfidfTransformer(sublinear_tf=True).fit_transform(x)
    return normalize(x)


def out_of_sample_probs(x: object, labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Predicted class probabilities of each record from a model that never saw it: a logistic
    regression (SGD, log loss) trained on the other folds of a seeded stratified k-fold split."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import StratifiedKFold

    k = int(labels.max()) + 1
    probs = np.zeros((len(labels), k))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, held in split.split(np.zeros(len(labels)), labels):
        model = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=epochs(len(train)), tol=1e-4,
                              random_state=seed, class_weight=class_weights(labels[train]),
                              n_jobs=min(k, os.cpu_count() or 1) if k > 2 else None)  # one-vs-rest in threads
        with warnings.catch_warnings():  # enough updates for ranking; full convergence is not needed
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[train], labels[train])  # type: ignore[index]
        probs[np.ix_(held, model.classes_)] = model.predict_proba(x[held])  # type: ignore[index]
    return probs


UPDATES = 1_000_000  # SGD steps per fit: convergence depends on updates, not on passes over the data


def epochs(n: int) -> int:
    """Passes over n training records: 50 for a few thousand (SMS Spam), fewer for more."""
    return int(min(50, max(5, math.ceil(UPDATES / max(n, 1)))))


def balanced_accuracy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean over classes of the share of its records the model predicts as it (chance: 1/k)."""
    hits = probs.argmax(axis=1) == labels
    return float(np.mean([hits[labels == c].mean() for c in np.unique(labels)]))


# Measured on SMS Spam with 5% of labels flipped (docs/labels.md): a weaker penalty fits the flipped
# labels too and loses precision; a stronger one misses the flips of one-way noise.
ALPHA = 3e-5
WEIGHT_POWER = 0.25  # 0 = plain, 1 = sklearn's "balanced"


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """A mild correction for imbalance, ((n / (k * count)) ** 0.25): full balancing makes the
    minority class swallow borderline majority records (precision 0.75 instead of 0.90 on SMS
    Spam), none lets a one-way flip of the minority class pass as the majority (recall 0.51)."""
    counts = np.bincount(labels)
    present = np.flatnonzero(counts)
    weights = (len(labels) / (len(present) * counts[present])) ** WEIGHT_POWER
    return {int(c): float(w) for c, w in zip(present, weights)}


__all__ = ["balanced_accuracy", "confident_joint", "confident_thresholds", "hashed_features", "normalized_margin",
           "out_of_sample_probs", "prune_by_noise_rate"]
