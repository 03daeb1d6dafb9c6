"""The eval_split check: is there a held-out eval set, and what can one of its size show?"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from statistics import NormalDist
from typing import Any

import numpy as np
import xxhash

from fineaudit.vectors import drift_stats
from fineaudit.text.content_patterns import redact_secrets
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.text.normalize import text_key
from fineaudit.text.skeletons import PLACEHOLDERS, skeleton

MAX_TEMPLATE_FINDINGS = 50


@dataclass(frozen=True)
class EvalSplitParams:
    confidence: float = field(default=0.95, metadata={"help": "confidence level of the interval and the test"})
    power: float = field(default=0.8, metadata={"help": "power of the test behind min_detectable_difference"})
    baseline_accuracy: float = field(default=0.5, metadata={
        "help": "the accuracy the eval is expected to measure (0.5 is the widest, the safe default)"})
    max_detectable_difference: float = field(default=0.2, metadata={
        "help": "warn when the eval set cannot detect a change in accuracy smaller than this (0.2 = 20 points)"})
    max_length_ks: float = field(default=0.2, metadata={
        "help": "warn when eval and train word lengths differ by more than this KS statistic (p < 0.01)"})
    max_label_js: float = field(default=0.1, metadata={
        "help": "warn when eval and train label shares differ by more than this Jensen-Shannon divergence"})
    templates: bool = field(default=True, metadata={
        "help": "warn on eval prompts whose skeleton (numbers, names, quotes masked) occurs in training"})

    def __post_init__(self) -> None:
        for name in ("confidence", "power", "baseline_accuracy"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"eval_split.{name} must be between 0 and 1 (exclusive)")
        for name in ("max_detectable_difference", "max_length_ks", "max_label_js"):
            value = getattr(self, name)
            if not math.isfinite(value) or not 0.0 < value <= 1.0:
                raise ValueError(f"eval_split.{name} must be in (0, 1]")


def ci_halfwidth(n: int, p: EvalSplitParams) -> float:
    """Half-width of the normal-approximation confidence interval of an accuracy measured on n."""
    z = NormalDist().inv_cdf(0.5 + p.confidence / 2)
    acc = p.baseline_accuracy
    return z * math.sqrt(acc * (1 - acc) / n)


def min_detectable_difference(n: int, p: EvalSplitParams) -> float:
    """The smallest change in accuracy between two models, each scored on n examples, that a
    two-sided test at 1 - confidence detects with the given power: (z_a/2 + z_b) sqrt(2 p(1-p)/n).
    60 examples at p = 0.5: 0.256, 25 points."""
    normal = NormalDist()
    z = normal.inv_cdf(0.5 + p.confidence / 2) + normal.inv_cdf(p.power)
    acc = p.baseline_accuracy
    return z * math.sqrt(2 * acc * (1 - acc) / n)


def records_for(difference: float, p: EvalSplitParams) -> int:
    """Eval records needed to detect `difference` (the inverse of min_detectable_difference)."""
    normal = NormalDist()
    z = normal.inv_cdf(0.5 + p.confidence / 2) + normal.inv_cdf(p.power)
    acc = p.baseline_accuracy
    return math.ceil(2 * acc * (1 - acc) * (z / difference) ** 2)


@dataclass
class SideStats:
    """One batch's (or a whole side's) labels, word lengths and prompt skeleton keys."""

    labels: Counter[str]
    lengths: np.ndarray
    skeleton_keys: np.ndarray
    skeleton_index: np.ndarray


def side_batch(templates: bool, batch: RecordBatch) -> SideStats:
    rows = [i for i, e in enumerate(batch.error) if e is None]
    labels: Counter[str] = Counter(label for label in (batch.label[i] for i in rows) if label is not None)
    lengths = np.asarray([len(batch.text[i].split()) for i in rows], np.int32)
    keys, index = [], []
    if templates:
        for i in rows:
            shape = skeleton(batch.prompt[i])
            # a skeleton without a slot is the prompt itself: leakage's business, not a template
            if any(ph in shape for ph in PLACEHOLDERS):
                keys.append(xxhash.xxh3_64_intdigest(shape.encode("utf-8", "surrogatepass")))
                index.append(batch.index[i])
    return SideStats(labels, lengths, np.asarray(keys, np.uint64), np.asarray(index, np.int64))


def merged(parts: list[SideStats]) -> SideStats:
    labels: Counter[str] = Counter()
    for part in parts:
        labels.update(part.labels)
    cat = (lambda name, dtype: np.concatenate([getattr(x, name) for x in parts]) if parts else np.zeros(0, dtype))
    return SideStats(labels, cat("lengths", np.int32), cat("skeleton_keys", np.uint64), cat("skeleton_index", np.int64))


def text_keys_batch(batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    rows = [(i, t) for i, t, e in zip(batch.index, batch.text, batch.error) if e is None and t.strip()]
    return np.asarray([text_key(t) for _, t in rows], np.uint64), np.asarray([i for i, _ in rows], np.int64)


def prompts_batch(wanted: np.ndarray, batch: RecordBatch) -> dict[int, tuple[int | None, str]]:
    index = np.asarray(batch.index, np.int64)
    return {int(index[r]): (batch.line[r], batch.prompt[r]) for r in np.flatnonzero(np.isin(index, wanted))}


def _clip(text: str, n: int = 80) -> str:
    flat = redact_secrets(" ".join(text.split()))
    return flat if len(flat) <= n else flat[: n - 1] + "…"


class EvalSplitChecker(Checker[EvalSplitParams]):
    """Whether a held-out eval set exists and what it can show: the 95% confidence half-width
    and the smallest accuracy change it can detect for its size, duplicates inside it, label
    and length distributions against training, and eval prompts built from training's templates.

    Why it matters: without a held-out eval you cannot tell whether fine-tuning improved the
    model or just memorized; a 60-example eval can only show a change of about 25 points, so
    smaller gains read as noise; an eval that repeats itself, or whose labels and lengths do not
    look like training's, measures something else; and an eval item built from a training
    template (only the numbers or names changed) rewards the template, not the skill.

    Fix: hold out 100 or more examples (`fineaudit sample DATA -n 100 --seed 0 --out eval.jsonl`,
    then remove them from training) and pass them with --eval; grow it to the size that
    `records_needed` says; deduplicate it; stratify the split by label; write new eval items
    rather than re-filling training templates.
    """

    name = "eval_split"
    parallel_safe = True
    Params = EvalSplitParams
    order = 170
    runs_when = "always (warns when no --eval is given)"
    codes = {"eval_split.missing": "no --eval: no held-out set to tell learning from memorizing",
             "eval_split.too_small": "the eval set cannot detect a change smaller than max_detectable_difference",
             "eval_split.duplicate": "records repeated inside the eval set (one finding per group)",
             "eval_split.label_shift": "eval labels are distributed unlike training's",
             "eval_split.length_shift": "eval records are longer or shorter than training's",
             "eval_split.template": "an eval prompt whose skeleton (slots masked) occurs in training"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        thresholds = {"max_detectable_difference": p.max_detectable_difference, "confidence": p.confidence,
                      "power": p.power, "max_length_ks": p.max_length_ks, "max_label_js": p.max_label_js}
        if ctx.eval is None:
            return self._missing(p, thresholds)
        held = ctx.eval
        train = merged(data.map_batches(partial(side_batch, p.templates), desc="eval split: training"))
        evals = merged(held.map_batches(partial(side_batch, p.templates), desc="eval split: eval"))
        n = len(evals.lengths)
        groups = held.group_by_key(text_keys_batch, desc="eval split: duplicates")
        metrics: dict[str, Any] = {
            "eval_records": n, "ci_halfwidth": round(ci_halfwidth(n, p), 4) if n else None,
            "min_detectable_difference": round(min_detectable_difference(n, p), 4) if n else None,
            "records_needed": records_for(p.max_detectable_difference, p),
            "eval_duplicates": sum(len(g) - 1 for g in groups), "baseline_accuracy": p.baseline_accuracy}
        findings = self._size(n, metrics, p) + self._duplicates(groups)
        findings += self._distributions(train, evals, metrics, p)
        findings += self._templates(train, evals, held, metrics) if p.templates else []
        status = Status.WARN if findings else Status.PASS
        return self.result(status, self._summary(n, metrics), metrics, findings=findings, thresholds=thresholds)

    def _missing(self, p: EvalSplitParams, thresholds: dict[str, Any]) -> CheckResult:
        needed = records_for(p.max_detectable_difference, p)
        message = (f"no --eval given: hold out at least {needed} examples (to see a "
                   f"{p.max_detectable_difference:.0%} change), e.g. `fineaudit sample DATA -n {needed} --seed 0 "
                   f"--out eval.jsonl`, remove them from training, and audit with --eval eval.jsonl")
        metrics = {"eval_records": 0, "ci_halfwidth": None, "min_detectable_difference": None,
                   "eval_duplicates": 0, "records_needed": needed}
        return self.result(Status.WARN, "no held-out eval set (--eval)", metrics, thresholds=thresholds,
                           findings=[Finding("eval_split.missing", message)])

    @staticmethod
    def _size(n: int, metrics: dict[str, Any], p: EvalSplitParams) -> list[Finding]:
        mdd = metrics["min_detectable_difference"]
        if mdd is not None and mdd <= p.max_detectable_difference:
            return []
        shown = f"{mdd * 100:.0f}-point" if mdd is not None else "no"
        return [Finding("eval_split.too_small", source="eval", message=(
            f"{n} eval examples can show only a {shown} change in accuracy ({p.power:.0%} power, "
            f"{p.confidence:.0%} confidence; ±{(metrics['ci_halfwidth'] or 0) * 100:.0f} points on one score); "
            f"{metrics['records_needed']} are needed for {p.max_detectable_difference * 100:.0f} points"))]

    @staticmethod
    def _duplicates(groups: list[list[int]]) -> list[Finding]:
        return [Finding("eval_split.duplicate", f"{len(g)} identical eval records: {', '.join(map(str, g[:12]))}"
                        + (" …" if len(g) > 12 else ""), records=tuple(g), source="eval") for g in groups]

    @staticmethod
    def _distributions(train: SideStats, evals: SideStats, metrics: dict[str, Any],
                       p: EvalSplitParams) -> list[Finding]:
        out = []
        if len(train.lengths) and len(evals.lengths) >= 2:
            shift = drift_stats.length_shift(train.lengths.tolist(), evals.lengths.tolist())
            metrics.update(shift)
            if shift["length_ks_statistic"] > p.max_length_ks and shift["length_ks_p_value"] < 0.01:
                out.append(Finding("eval_split.length_shift", source="eval", message=(
                    f"eval records run {np.median(evals.lengths):.0f} words at the median against training's "
                    f"{np.median(train.lengths):.0f} (KS {shift['length_ks_statistic']:.2f})")))
        if train.labels and evals.labels:
            js = drift_stats.js_divergence(train.labels, evals.labels)
            metrics["label_js_divergence"] = js
            metrics["eval_labels"] = dict(evals.labels.most_common())
            unseen = sorted(set(evals.labels) - set(train.labels))
            if js > p.max_label_js or unseen:
                extra = f"; labels never seen in training: {', '.join(unseen[:10])}" if unseen else ""
                out.append(Finding("eval_split.label_shift", source="eval", message=(
                    f"eval labels are distributed unlike training's (Jensen-Shannon {js:.3f}){extra}")))
        return out

    @staticmethod
    def _templates(train: SideStats, evals: SideStats, held: Records, metrics: dict[str, Any]) -> list[Finding]:
        shared = np.isin(evals.skeleton_keys, np.unique(train.skeleton_keys))
        hit = np.sort(evals.skeleton_index[shared])
        metrics["template_leaks"] = int(len(hit))
        if not len(hit):
            return []
        shown = hit[:MAX_TEMPLATE_FINDINGS]
        prompts: dict[int, tuple[int | None, str]] = {}
        for part in held.map_batches(partial(prompts_batch, shown), desc=None):
            prompts.update(part)
        return [Finding("eval_split.template", records=(int(e),), line=prompts.get(int(e), (None, ""))[0],
                        field="prompt", source="eval",
                        message=f"eval record {e}'s prompt fills a template that training uses: "
                                f"\"{_clip(skeleton(prompts.get(int(e), (None, ''))[1]))}\"")
                for e in shown.tolist()]

    @staticmethod
    def _summary(n: int, metrics: dict[str, Any]) -> str:
        mdd = metrics["min_detectable_difference"]
        if mdd is None:
            return "the eval set has no parsable record"
        return (f"{n} eval records: ±{metrics['ci_halfwidth'] * 100:.1f} points on one accuracy (95% CI), "
                f"changes under {mdd * 100:.0f} points undetectable")
