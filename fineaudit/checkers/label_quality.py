"""The label_quality check: records whose label a cross-validated classifier confidently disputes."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fineaudit.vectors import confident_learning as cl
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.vectors.duplicate_groups import excerpt
from fineaudit.vectors.embeddings import DEFAULT_MODEL, EmbeddingCache, check_model_name, choose_embedder, default_cache_dir, embed

FEATURES = ("hashed", "embeddings")
SMALL_EXAMPLES = 20  # records named per too-small class


@dataclass(frozen=True)
class LabelQualityParams:
    features: str = field(default="hashed", metadata={
        "help": "hashed (word and character n-grams, no model) or embeddings (drift's sentence model, cached)"})
    folds: int = field(default=5, metadata={"help": "cross-validation folds (each record is judged by a model that never saw it)"})
    min_per_fold: int = field(default=5, metadata={
        "help": "classes with fewer than this many examples per fold are reported as too small to learn, never flagged"})
    fail_fraction: float = field(default=0.1, metadata={
        "help": "fail when more than this share of the examined records is suspected; any suspect warns"})
    embedding_model: str = field(default=DEFAULT_MODEL, metadata={
        "path": True, "help": "sentence-transformers model of features = embeddings"})

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}, not {self.features!r}")
        if not 2 <= self.folds <= 50 or not 1 <= self.min_per_fold <= 1000:
            raise ValueError("folds must be in [2, 50] and min_per_fold in [1, 1000]")
        if not (math.isfinite(self.fail_fraction) and 0.0 <= self.fail_fraction <= 1.0):
            raise ValueError(f"fail_fraction must be in [0, 1], not {self.fail_fraction}")
        if self.features == "embeddings":
            check_model_name(self.embedding_model)


@dataclass
class Labelled:
    """Index, line, text and label of the labelled, parsed records of some batches; parts add up."""

    index: list[int] = field(default_factory=list)
    line: list[int | None] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)

    def add(self, other: Labelled) -> Labelled:
        for name in ("index", "line", "text", "label"):
            getattr(self, name).extend(getattr(other, name))
        return self


def labelled_batch(batch: RecordBatch) -> Labelled:
    out = Labelled()
    for index, line, text, label, error in zip(batch.index, batch.line, batch.text, batch.label, batch.error):
        if error is None and label is not None:  # unparsable: format's; unlabelled: label_balance's
            out.index.append(index)
            out.line.append(line)
            out.text.append(text)
            out.label.append(label)
    return out


@dataclass(frozen=True)
class Suspect:
    position: int  # in the examined records
    given: str
    suggested: str
    score: float  # normalized margin: low = likely mislabeled


def learnable(labels: list[str], folds: int, min_per_fold: int) -> tuple[list[str], dict[str, int]]:
    """The classes with enough examples to learn, sorted, and the too-small ones with their counts."""
    counts = Counter(labels)
    small = {c: n for c, n in counts.items() if n < folds * min_per_fold}
    return sorted(c for c in counts if c not in small), dict(sorted(small.items()))


def find_suspects(x: Any, y: np.ndarray, classes: list[str], folds: int, seed: int) -> tuple[list[Suspect], float]:
    """Confident learning on out-of-sample probabilities, ranked by normalized margin, and the
    model's balanced accuracy. A model that cannot predict the labels judges none of them."""
    probs = cl.out_of_sample_probs(x, y, folds, seed)
    accuracy = cl.balanced_accuracy(y, probs)
    if accuracy < informative(len(classes)):
        return [], accuracy
    flagged = np.flatnonzero(cl.prune_by_noise_rate(y, probs))
    margin = cl.normalized_margin(y, probs)
    others = probs.copy()
    others[np.arange(len(y)), y] = -np.inf
    suggested = others.argmax(axis=1)
    order = flagged[np.lexsort((flagged, margin[flagged]))]
    return [Suspect(int(i), classes[y[i]], classes[suggested[i]], float(margin[i])) for i in order], accuracy


def informative(classes: int) -> float:
    """The balanced accuracy a classifier needs before its disagreement means anything: halfway
    from chance (1/k) to perfect. Confident learning assumes an informative model; on labels the
    text does not predict (random labels: 0.25 of 4) it would flag a third of the records."""
    return (1.0 + 1.0 / classes) / 2.0


class LabelQualityChecker(Checker[LabelQualityParams]):
    """Records whose label is likely wrong: a classifier trained by cross-validation on the other
    records confidently predicts another label (confident learning, pruned by noise rate).

    Each record is scored by a model that never saw it (seeded stratified k-fold, a logistic
    regression on hashed word and character n-grams, or on sentence embeddings); per-class
    confidence thresholds give the confident joint of given and likely-true labels, and the
    records with the largest margin towards another class are flagged, as many as the joint
    estimates for that pair. Each suspect names its label, the suggested one and the score
    (normalized margin: 0 = surely the other class, 0.5 = undecided). Classes with too few
    examples to learn are reported, never flagged.

    Why it matters: a fine-tuned model learns the labels it is given: every wrong label teaches
    the wrong answer to an input like it, and a few percent of noise measurably lowers accuracy
    and calibration. Ambiguous examples ("if you're not sure what the right answer is, the model
    won't be either") show up here too.

    Fix: review the listed records from the lowest score up; relabel or drop the wrong ones, and
    write a labelling rule for the ambiguous ones. A suspect is a prompt for review, not proof.
    """

    name = "label_quality"
    parallel_safe = True
    runs_when = "when a label field exists (classification, or label_field)"
    Params = LabelQualityParams
    order = 72
    codes = {
        "label_quality.suspected_mislabeled": "a record whose label a cross-validated classifier confidently disputes "
                                              "(given label, suggested label, score)",
        "label_quality.class_too_small": "a class with fewer than folds x min_per_fold examples: not learnable, "
                                         "so its records are not judged",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        if ctx.format == "kto" and not ctx.options.label:
            # KTO's true/false judges whether an answer is desirable: a text classifier of the
            # record cannot second-guess that, and would flag noise
            return self.skipped("kto labels judge answers, not classes (map a class column with --field label=...)")
        found = Labelled()
        for part in data.map_batches(labelled_batch, desc="label quality: reading labels"):
            found.add(part)
        if not found.label:
            return self.skipped("no record has a label (classification's `label`, or set `label_field`)")
        classes, small = learnable(found.label, p.folds, p.min_per_fold)
        keep = [i for i, label in enumerate(found.label) if label not in small]
        method = f"confident learning (prune by noise rate), {p.features} features, {p.folds}-fold logistic regression"
        suspects: list[Suspect] = []
        accuracy: float | None = None
        if len(classes) >= 2:
            y = np.searchsorted(np.asarray(classes), np.asarray([found.label[i] for i in keep]))
            x = self._features([found.text[i] for i in keep], p, ctx)
            suspects, accuracy = find_suspects(x, y, classes, p.folds, ctx.seed)
        examined = len(keep)
        fraction = len(suspects) / examined if examined else 0.0
        metrics = {"method": method, "suspected_mislabeled": len(suspects), "suspected_fraction": round(fraction, 6),
                   "examined_records": examined, "classes": len(classes), "classes_too_small": len(small),
                   "cv_balanced_accuracy": None if accuracy is None else round(accuracy, 4),
                   "suspects_by_label": dict(Counter(f"{s.given} -> {s.suggested}" for s in suspects).most_common())}
        findings = self._suspect_findings(suspects, keep, found, data.source)
        findings += self._small_findings(small, found, p, data.source)
        thresholds = {"fail_fraction": p.fail_fraction, "folds": p.folds, "min_per_fold": p.min_per_fold}
        if accuracy is not None and accuracy < informative(len(classes)):
            return self.result(Status.PASS, f"labels not predictable from the text (cross-validated balanced accuracy "
                               f"{accuracy:.2f} < {informative(len(classes)):.2f}): not judged", metrics,
                               findings=findings, thresholds=thresholds)
        return self.result(*self._status(len(suspects), fraction, examined, small, len(classes), p),
                           metrics, findings=findings, thresholds=thresholds)

    @staticmethod
    def _features(texts: list[str], p: LabelQualityParams, ctx: AuditContext) -> Any:
        if p.features == "hashed":
            return cl.hashed_features(texts)
        choice = choose_embedder(p.embedding_model)
        cache = EmbeddingCache(default_cache_dir(ctx.cache_dir))
        try:
            vectors, _ = embed(choice.embedder, texts, cache, ctx.progress, "label quality: embedding")
        finally:
            cache.close()
        return vectors

    @staticmethod
    def _suspect_findings(suspects: list[Suspect], keep: list[int], found: Labelled, source: str) -> list[Finding]:
        out = []
        for s in suspects:
            at = keep[s.position]
            out.append(Finding(
                "label_quality.suspected_mislabeled", records=(found.index[at],), line=found.line[at], field="label",
                message=f"labelled {s.given!r}, looks like {s.suggested!r} (score {s.score:.3f}): "
                        f"\"{excerpt(found.text[at])}\"", source=source))
        return out

    @staticmethod
    def _small_findings(small: dict[str, int], found: Labelled, p: LabelQualityParams, source: str) -> list[Finding]:
        out = []
        for label, count in small.items():
            members = tuple(i for i, lab in zip(found.index, found.label) if lab == label)[:SMALL_EXAMPLES]
            out.append(Finding(
                "label_quality.class_too_small", records=members, field="label", source=source,
                message=f"class {label!r} has {count} examples, fewer than {p.folds * p.min_per_fold} "
                        f"({p.min_per_fold} per fold x {p.folds} folds): its labels are not judged"))
        return out

    @staticmethod
    def _status(suspected: int, fraction: float, examined: int, small: dict[str, int], classes: int,
                p: LabelQualityParams) -> tuple[Status, str]:
        if classes < 2:
            return Status.PASS, (f"fewer than two classes with {p.folds * p.min_per_fold} examples: nothing to "
                                 f"compare ({len(small)} too small)")
        tail = f"; {len(small)} classes too small to judge" if small else ""
        if not suspected:
            return Status.PASS, f"no suspected mislabels in {examined} records{tail}"
        what = f"{suspected} suspected mislabeled record{'s' if suspected != 1 else ''} ({fraction:.1%}){tail}"
        return (Status.FAIL if fraction > p.fail_fraction else Status.WARN), what
