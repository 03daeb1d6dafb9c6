"""The statistics behind the drift check, on plain arrays: no records, no config.

- `domain_classifier_test`: cross-validated ridge classifier (train vs production) ROC AUC,
  with an exact permutation test. Ridge predictions are linear in the labels, so the
  out-of-fold scores of every permuted labelling come from one matrix product: a thousand
  full cross-validated re-fits cost about as much as a few ordinary ones.
- `coverage`: each production point's cosine distance to its nearest training point against
  the training set's own nearest-neighbour distances.
- `cluster_uncovered`: a few k-means topics among the uncovered production points.
- cheap signals: length KS / Wasserstein, vocabulary Jensen-Shannon, label distributions.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
# Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan):
# a \w+ run there is a whole clause, so two texts on one topic share no "word"; their
# vocabulary is compared in character bigrams instead (the usual unit for unsegmented text).
_UNSPACED_CHARS = ("\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff"
                   "\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff\U00020000-\U0002fa1f")
_TERM = re.compile(f"([{_UNSPACED_CHARS}]+)|[^\\W{_UNSPACED_CHARS}]+")


# --------------------------------------------------------------------------- classifier test


@dataclass(frozen=True)
class ClassifierTest:
    auc: float
    p_value: float
    permutations: int
    folds: int


def _fold_ids(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified fold numbers: each class dealt round-robin after a seeded shuffle."""
    ids = np.empty(len(labels), dtype=np.int64)
    for value in (0, 1):
        members = np.flatnonzero(labels == value)
        ids[rng.permutation(members)] = np.arange(len(members)) % folds
    return ids


def _out_of_fold_scores(x: np.ndarray, targets: np.ndarray, fold: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge out-of-fold predictions for each column of targets (n x P): one solve per fold."""
    xb = np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)])  # the intercept column
    penalty = alpha * np.eye(xb.shape[1], dtype=np.float64)
    penalty[-1, -1] = 1e-6  # leave the intercept (nearly) unpenalised
    out = np.empty(targets.shape, dtype=np.float64)
    for k in np.unique(fold):
        test, train = fold == k, fold != k
        xt = xb[train].astype(np.float64)
        weights = np.linalg.solve(xt.T @ xt + penalty, xt.T @ targets[train])
        out[test] = xb[test].astype(np.float64) @ weights
    return out


def _auc_columns(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC of each column of scores (n x P) against labels permuted per column (n x P)."""
    ranks = scores.argsort(axis=0).argsort(axis=0).astype(np.float64) + 1.0  # ties have measure zero
    n_pos = labels[:, 0].sum()
    n_neg = len(labels) - n_pos
    rank_sum = (ranks * labels).sum(axis=0)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def domain_classifier_test(train: np.ndarray, production: np.ndarray, *, seed: int = 0,
                           folds: int = 5, permutations: int = 1000, alpha: float = 1.0) -> ClassifierTest:
    """Can a classifier tell production from training? Cross-validated AUC and its p-value.

    The p-value is (1 + #{permuted AUC >= observed}) / (1 + permutations), where each permuted
    AUC re-runs the whole cross-validation on shuffled domain labels."""
    x = np.vstack([train, production]).astype(np.float32)
    labels = np.r_[np.zeros(len(train)), np.ones(len(production))]
    rng = np.random.default_rng(seed)
    fold = _fold_ids(labels, folds, rng)
    shuffled = np.column_stack([labels] + [rng.permutation(labels) for _ in range(permutations)])
    auc = _auc_columns(_out_of_fold_scores(x, shuffled - 0.5, fold, alpha), shuffled)
    p_value = (1 + int(np.sum(auc[1:] >= auc[0]))) / (1 + permutations)
    return ClassifierTest(auc=float(auc[0]), p_value=p_value, permutations=permutations, folds=folds)


# --------------------------------------------------------------------------- coverage


def nearest_similarity(queries: np.ndarray, points: np.ndarray, exclude_self: bool = False,
                       chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each (normalised) query to its nearest point, and that point's index."""
    best = np.empty(len(queries), dtype=np.float32)
    where = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        sims = queries[start:start + chunk] @ points.T
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, rows + start] = -np.inf
        where[start:start + chunk] = sims.argmax(axis=1)
        best[start:start + chunk] = sims.max(axis=1)
    return best, where


@dataclass(frozen=True)
class Coverage:
    radius: float  # cosine distance
    distances: np.ndarray  # each production point's distance to its nearest training point
    uncovered: np.ndarray  # bool mask over production

    @property
    def uncovered_fraction(self) -> float:
        return float(self.uncovered.mean()) if len(self.uncovered) else 0.0


def coverage(train: np.ndarray, production: np.ndarray, quantile: float = 0.95) -> Coverage:
    """Production points farther from training than `quantile` of training's own NN distances."""
    own, _ = nearest_similarity(train, train, exclude_self=True)
    radius = float(np.quantile(1.0 - own, quantile))
    sims, _ = nearest_similarity(production, train)
    distances = 1.0 - sims
    return Coverage(radius=radius, distances=distances, uncovered=distances > radius)


# --------------------------------------------------------------------------- clusters


@dataclass(frozen=True)
class Cluster:
    members: tuple[int, ...]  # positions in the production sample, most typical first


def cluster_uncovered(points: np.ndarray, max_clusters: int = 5, seed: int = 0,
                      min_per_cluster: int = 5) -> list[Cluster]:
    """A few k-means topics (k by silhouette), largest first; members ordered by typicality."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if len(points) == 0:
        return []
    best_labels, best_score = np.zeros(len(points), dtype=np.int64), -1.0
    for k in range(2, min(max_clusters, len(points) // min_per_cluster) + 1):
        model = KMeans(k, n_init=4, random_state=seed).fit(points)
        score = silhouette_score(points, model.labels_, metric="cosine")
        if score > best_score:
            best_labels, best_score = model.labels_, float(score)
    return _clusters_by_size(points, best_labels)


def _clusters_by_size(points: np.ndarray, labels: np.ndarray) -> list[Cluster]:
    clusters = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = points[members].mean(axis=0)
        typicality = points[members] @ centre  # nearest the centre = most typical
        order = members[np.argsort(-typicality, kind="stable")]
        clusters.append(Cluster(tuple(int(i) for i in order)))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


# --------------------------------------------------------------------------- projection


def pca_2d(train: np.ndarray, production: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    both = np.vstack([train, production])
    if len(both) < 2:
        return np.zeros((len(train), 2)), np.zeros((len(production), 2))
    xy = PCA(2, random_state=seed).fit_transform(both)
    return xy[:len(train)], xy[len(train):]


# --------------------------------------------------------------------------- cheap signals


def length_shift(train_lengths: Sequence[int], production_lengths: Sequence[int]) -> dict[str, float]:
    from scipy.stats import ks_2samp, wasserstein_distance

    ks = ks_2samp(train_lengths, production_lengths)
    return {"length_ks_statistic": round(float(ks.statistic), 4),
            "length_ks_p_value": float(ks.pvalue),
            "length_wasserstein": round(float(wasserstein_distance(train_lengths, production_lengths)), 4)}


def words(text: str) -> list[str]:
    """Vocabulary terms: lower-cased words, and character bigrams of runs in unspaced scripts."""
    lower = text.lower()
    if text.isascii():
        return _WORD.findall(lower)
    terms: list[str] = []
    for m in _TERM.finditer(lower):
        run = m.group(1)
        if run is None:
            terms.append(m.group())
        else:
            terms.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    return terms


def js_divergence(a: Counter[str], b: Counter[str]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two frequency tables."""
    from scipy.spatial.distance import jensenshannon

    keys = sorted(set(a) | set(b))
    if not keys or not sum(a.values()) or not sum(b.values()):
        return 0.0
    p = np.array([a[k] for k in keys], dtype=np.float64)
    q = np.array([b[k] for k in keys], dtype=np.float64)
    return round(float(jensenshannon(p, q, base=2)) ** 2, 4)
