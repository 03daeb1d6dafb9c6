"""The drift check: are the training prompts representative of production's?"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fineaudit.vectors import drift_stats as stats
from fineaudit.text.content_patterns import redact_secrets
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, Record, Records, Status
from fineaudit.vectors.embeddings import (DEFAULT_MODEL, EmbeddingCache, check_model_name, choose_embedder,
                                  default_cache_dir, embed)

METHOD = "domain_classifier_auc_permutation"
PROJECTION_POINTS = 300  # per side: enough for a scatter plot, small enough for a report
EXAMPLES = 3  # prompts quoted in a cluster's message
TYPICAL = 10  # records named by a cluster finding


@dataclass(frozen=True)
class DriftParams:
    sample_size: int = field(default=1000, metadata={
        "help": "prompts sampled per side (seeded); about 30 s cold on a quiet 2-core CPU at 1,000, far less on a GPU"})
    embedding_model: str = field(default=DEFAULT_MODEL, metadata={"path": True,
        "help": "the bundled all-MiniLM-L6-v2, a local sentence-transformers folder, or 'lexical'"})
    max_tokens: int = field(default=128, metadata={
        "help": "tokens embedded per prompt (the default model was trained on 128); 0 = the model's limit"})
    batch_size: int = field(default=64, metadata={"help": "prompts per embedding batch"})
    cache: bool = field(default=True, metadata={
        "help": "keep embeddings on disk (cache_dir, $FINEAUDIT_CACHE_DIR or ~/.cache/fineaudit)"})
    fail_auc: float = field(default=0.75, metadata={"help": "fail when the domain classifier AUC reaches this (and p < alpha)"})
    warn_auc: float = field(default=0.6, metadata={"help": "warn when the domain classifier AUC reaches this (and p < alpha)"})
    alpha: float = field(default=0.01, metadata={"help": "significance level of the permutation test"})
    permutations: int = field(default=1000, metadata={"help": "label permutations of the test (p >= 1/(1+permutations))"})
    folds: int = field(default=5, metadata={"help": "cross-validation folds of the domain classifier"})
    coverage_quantile: float = field(default=0.95, metadata={
        "help": "the coverage radius: this quantile of training's own nearest-neighbour distances"})
    report_uncovered_above: float = field(default=0.1, metadata={
        "help": "report uncovered production topics when more than this share is uncovered "
                "(about 1 - coverage_quantile falls outside by chance)"})
    warn_uncovered_fraction: float = field(default=0.15, metadata={
        "help": "warn when more production than this lies outside training's coverage, whatever the AUC "
                "(about 1 - coverage_quantile does by chance); 1 = never"})
    max_clusters: int = field(default=5, metadata={"help": "most topics the uncovered prompts are grouped into"})
    min_samples: int = field(default=20, metadata={"help": "fewest prompts per side to run the test"})

    def __post_init__(self) -> None:
        check_model_name(self.embedding_model)  # a wrong path is a config error (exit 2), found before any data


@dataclass(frozen=True)
class Side:
    records: list[Record]
    texts: list[str]


def _prompts(data: Records, n: int, seed: int) -> Side:
    kept = [r for r in data.sample(n, seed) if r.parsed and r.prompt.strip()]
    return Side(kept, [r.prompt for r in kept])


def _sample_sizes(train: Side, prod: Side, p: DriftParams) -> dict[str, int]:
    """What the comparison rests on. `sample_size` is the smaller side's count of prompts compared,
    not the setting: with 300 training and 200 production prompts the test can tell no more than
    200 per side apart, and a reader of the report must see that (the setting is `sample_size_limit`)."""
    return {"sample_size": min(len(train.texts), len(prod.texts)), "sample_size_limit": p.sample_size,
            "train_sampled": len(train.texts), "production_sampled": len(prod.texts)}


def drift_status(auc: float, p_value: float, uncovered_fraction: float, p: DriftParams) -> Status:
    """The effect size decides (a significant AUC), or a share of production training never covers:
    a 20% slice of new topics can hide inside an AUC that looks small."""
    if p_value < p.alpha and auc >= p.fail_auc:
        return Status.FAIL
    if p_value < p.alpha and auc >= p.warn_auc or uncovered_fraction > p.warn_uncovered_fraction:
        return Status.WARN
    return Status.PASS


def _cheap_signals(train: Side, prod: Side) -> dict[str, Any]:
    lengths = stats.length_shift([len(stats.words(t)) for t in train.texts],
                                 [len(stats.words(t)) for t in prod.texts])
    vocab = stats.js_divergence(Counter(w for t in train.texts for w in stats.words(t)),
                                Counter(w for t in prod.texts for w in stats.words(t)))
    return {**lengths, "vocabulary_js_divergence": vocab, "label_distribution": _labels(train, prod)}


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _labels(train: Side, prod: Side) -> dict[str, Any] | None:
    prod_labels = Counter(r.label for r in prod.records if r.label is not None)
    if not prod_labels:
        return None
    train_labels = Counter(r.label for r in train.records if r.label is not None)
    return {"train": _by_count(train_labels), "production": _by_count(prod_labels),
            "js_divergence": stats.js_divergence(train_labels, prod_labels)}


def _subset(n: int, k: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n)[:k]) if n > k else np.arange(n)


def _projection(train_x: np.ndarray, prod_x: np.ndarray, prod_cluster: np.ndarray, seed: int) -> dict[str, Any]:
    train_xy, prod_xy = stats.pca_2d(train_x, prod_x, seed)
    ti, pi = _subset(len(train_xy), PROJECTION_POINTS, seed), _subset(len(prod_xy), PROJECTION_POINTS, seed + 1)
    return {"method": "pca", "train": np.round(train_xy[ti], 4).tolist(),
            "production": np.round(prod_xy[pi], 4).tolist(),
            "production_cluster": [int(c) for c in prod_cluster[pi]]}


def _clip(text: str, n: int = 80) -> str:
    flat = redact_secrets(" ".join(text.split()))  # before the cut, which could leave half a key
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _cluster_finding(cluster: stats.Cluster, number: int, prod: Side, positions: np.ndarray) -> Finding:
    typical = [int(positions[i]) for i in cluster.members]
    examples = "; ".join(repr(_clip(prod.texts[i])) for i in typical[:EXAMPLES])
    size = len(typical)
    message = (f"uncovered topic {number}: {size} production prompts ({size / len(prod.texts):.0%} of the "
               f"sample) lie farther from every training prompt than training's own spread, e.g. {examples}")
    return Finding(code="drift.uncovered_cluster", message=message, source="production",
                   records=tuple(prod.records[i].index for i in typical[:TYPICAL]))


class DriftChecker(Checker[DriftParams]):
    """Compares the training prompts with a sample of production inputs: whether, how much,
    and where they differ (domain-classifier AUC with a permutation test, coverage, topics
    production asks about that training never shows, length and vocabulary shift).

    Why it matters: a fine-tune learns the inputs it is shown. Training prompts that do not look
    like production's (other topics, other lengths, another register) teach behaviour for the
    wrong questions, and the gap shows up only after deployment.

    Fix: add training examples like the uncovered production topics listed in the findings
    (collect and label real production prompts), or drop training data far from production.
    """

    name = "drift"
    parallel_safe = True
    Params = DriftParams
    order = 90
    needs = "production"
    codes = {"drift.shift": "a classifier tells training prompts from production prompts (AUC at or "
                            "above warn_auc / fail_auc, p < alpha)",
             "drift.uncovered_cluster": "a topic of production prompts that no training prompt is near",
             "drift.too_few": "too few non-empty prompts on one side to test"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        assert ctx.production is not None
        train, prod = _prompts(data, p.sample_size, ctx.seed), _prompts(ctx.production, p.sample_size, ctx.seed)
        thresholds = {"fail_auc": p.fail_auc, "warn_auc": p.warn_auc, "alpha": p.alpha,
                      "coverage_quantile": p.coverage_quantile, "warn_uncovered_fraction": p.warn_uncovered_fraction}
        if min(len(train.texts), len(prod.texts)) < p.min_samples:
            return self._too_few(train, prod, p, thresholds)
        choice = choose_embedder(p.embedding_model, p.batch_size, p.max_tokens)
        cache = EmbeddingCache(default_cache_dir(ctx.cache_dir)) if p.cache else None
        try:
            train_x, train_stats = embed(choice.embedder, train.texts, cache, ctx.progress, "drift: embedding training")
            prod_x, prod_stats = embed(choice.embedder, prod.texts, cache, ctx.progress, "drift: embedding production")
        finally:
            if cache is not None:
                cache.close()
        test = stats.domain_classifier_test(train_x, prod_x, seed=ctx.seed, folds=p.folds,
                                            permutations=p.permutations)
        cover = stats.coverage(train_x, prod_x, p.coverage_quantile)
        status = drift_status(test.auc, test.p_value, cover.uncovered_fraction, p)
        findings, prod_cluster = self._uncovered(cover, prod_x, prod, p, ctx.seed)
        metrics = {"method": METHOD, "embedding_model": getattr(choice.embedder, "name", choice.embedder.model_id),
                   "statistic": round(test.auc, 4), "p_value": test.p_value,
                   "drift_detected": status is not Status.PASS,
                   "uncovered_fraction": round(cover.uncovered_fraction, 4),
                   **_sample_sizes(train, prod, p), "coverage_radius": round(cover.radius, 4), "permutations": test.permutations,
                   "folds": test.folds, **_cheap_signals(train, prod),
                   # a duration, like duration_s; how much came from the cache would make the
                   # report of a re-run differ from the first, so it is left out
                   "embedding_seconds": round(train_stats.seconds + prod_stats.seconds, 2),
                   "projection": _projection(train_x, prod_x, prod_cluster, ctx.seed)}
        summary = self._summary(status, test, cover, choice.note, p)
        if status is not Status.PASS:
            findings.insert(0, Finding(code="drift.shift", message=summary, source="production"))
        return self.result(status, summary, metrics, findings=findings, thresholds=thresholds)

    def _uncovered(self, cover: stats.Coverage, prod_x: np.ndarray, prod: Side, p: DriftParams,
                   seed: int) -> tuple[list[Finding], np.ndarray]:
        labels = np.full(len(prod.texts), -1, dtype=np.int64)
        if cover.uncovered_fraction <= p.report_uncovered_above:
            return [], labels
        positions = np.flatnonzero(cover.uncovered)
        clusters = stats.cluster_uncovered(prod_x[positions], p.max_clusters, seed)
        for number, cluster in enumerate(clusters):
            labels[positions[list(cluster.members)]] = number
        return [_cluster_finding(c, n, prod, positions) for n, c in enumerate(clusters)], labels

    @staticmethod
    def _summary(status: Status, test: stats.ClassifierTest, cover: stats.Coverage, note: str,
                 p: DriftParams) -> str:
        verdict = {Status.FAIL: "production differs strongly from training",
                   Status.WARN: "production differs somewhat from training",
                   Status.PASS: "no material drift between training and production"}[status]
        if status is Status.WARN and not (test.p_value < p.alpha and test.auc >= p.warn_auc):
            verdict = "part of production lies outside what training covers"
        text = (f"{verdict}: domain classifier AUC {test.auc:.2f} (p={test.p_value:.3g}); "
                f"{cover.uncovered_fraction:.0%} of production prompts lie outside training's coverage")
        return f"{text}. Note: {note}" if note else text

    def _too_few(self, train: Side, prod: Side, p: DriftParams, thresholds: dict[str, Any]) -> CheckResult:
        message = (f"too few prompts to test drift: {len(train.texts)} training and {len(prod.texts)} "
                   f"production (need {p.min_samples} non-empty prompts per side)")
        metrics = {"method": METHOD, "embedding_model": p.embedding_model, "statistic": None,
                   "p_value": None, "drift_detected": False, "uncovered_fraction": None,
                   **_sample_sizes(train, prod, p)}
        return self.result(Status.WARN, message, metrics, thresholds=thresholds,
                           findings=[Finding(code="drift.too_few", message=message, source="production")])
