"""The label_balance check: class shares, rare classes, missing labels and label spelling variants."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status

EXAMPLES_PER_LABEL = 20  # records named per label (and for missing labels); counts stay exact


@dataclass(frozen=True)
class LabelBalanceParams:
    fail_majority_fraction: float = field(default=0.9, metadata={
        "help": "fail when the largest class holds at least this share of the labelled records"})
    warn_majority_fraction: float = field(default=0.7, metadata={
        "help": "warn when the largest class holds at least this share"})
    min_class_count: int = field(default=20, metadata={
        "help": "warn when a class has fewer examples than this"})
    max_imbalance_ratio: float = field(default=10.0, metadata={
        "help": "warn when the largest class is more than this many times the smallest"})


@dataclass
class LabelTally:
    """Label counts of some records, with the first few record indices of each; tallies add up."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)
    missing: int = 0
    missing_examples: list[int] = field(default_factory=list)

    def add(self, other: LabelTally) -> LabelTally:
        self.counts.update(other.counts)
        for label, indices in other.examples.items():
            mine = self.examples.setdefault(label, [])
            mine.extend(indices[: EXAMPLES_PER_LABEL - len(mine)])
        self.missing += other.missing
        self.missing_examples.extend(other.missing_examples[: EXAMPLES_PER_LABEL - len(self.missing_examples)])
        return self


def tally_batch(batch: RecordBatch) -> LabelTally:
    tally = LabelTally()
    for index, label, error in zip(batch.index, batch.label, batch.error):
        if error is not None:
            continue  # unparsable: format's finding
        if label is None:
            tally.missing += 1
            if len(tally.missing_examples) < EXAMPLES_PER_LABEL:
                tally.missing_examples.append(index)
            continue
        tally.counts[label] += 1
        kept = tally.examples.setdefault(label, [])
        if len(kept) < EXAMPLES_PER_LABEL:
            kept.append(index)
    return tally


def normalized_entropy(counts: list[int]) -> float:
    """Shannon entropy over log(k): 1 for equal classes, towards 0 as one class takes over."""
    total = sum(counts)
    if len(counts) < 2 or total == 0:
        return 0.0
    entropy = -sum(c / total * math.log(c / total) for c in counts if c)
    return entropy / math.log(len(counts))


def label_variants(labels: list[str]) -> list[list[str]]:
    """Groups of labels that differ only in case or surrounding/inner whitespace."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(" ".join(label.split()).casefold(), []).append(label)
    return [sorted(g) for g in groups.values() if len(g) > 1]


class LabelBalanceChecker(Checker):
    """Counts the examples per label: the majority class's share, the imbalance ratio, the
    rarest class, records without a label, and labels that differ only in case or whitespace.

    Why it matters: a fine-tuned model learns the base rate first; with 90% of one class it can
    score 90% by always answering it. A class with a handful of examples is barely learnt, and
    `Spam` and `spam ` are two classes to a trainer.

    Fix: collect or up-sample the rare classes (or down-sample the majority), label or drop the
    unlabelled records, and normalize label spelling.
    """

    name = "label_balance"
    parallel_safe = True
    runs_when = "when a label field exists (classification, or label_field)"
    Params = LabelBalanceParams
    order = 70
    codes = {
        "label_balance.majority": "the largest class holds too large a share of the records",
        "label_balance.imbalance": "the largest class is many times the smallest",
        "label_balance.rare_class": "a class with fewer than min_class_count examples",
        "label_balance.missing_label": "records without a label (absent or null)",
        "label_balance.label_variant": "labels that differ only in case or whitespace",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: LabelBalanceParams = ctx.params
        tally = LabelTally()
        for part in data.map_batches(tally_batch, desc="counting labels"):
            tally.add(part)
        if not tally.counts:
            return self.skipped("no record has a label (classification's `label`, or set `label_field`)")
        ranked = sorted(tally.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        labelled = sum(tally.counts.values())
        majority, smallest = ranked[0], ranked[-1]
        metrics = {
            "classes": len(ranked), "counts": dict(ranked),
            "shares": {k: round(v / labelled, 4) for k, v in ranked},
            "majority_class": majority[0], "majority_fraction": round(majority[1] / labelled, 4),
            "minority_class": smallest[0], "min_class_count": smallest[1],
            "imbalance_ratio": round(majority[1] / smallest[1], 3),
            "normalized_entropy": round(normalized_entropy([c for _, c in ranked]), 4),
            "labelled_records": labelled, "missing_labels": tally.missing,
        }
        share, ratio = majority[1] / labelled, majority[1] / smallest[1]  # unrounded, for the thresholds
        findings = self._findings(tally, ranked, share, ratio, p, data.source)
        status, summary = self._status(metrics, share, findings, p)
        thresholds = {"fail_majority_fraction": p.fail_majority_fraction,
                      "warn_majority_fraction": p.warn_majority_fraction,
                      "min_class_count": p.min_class_count, "max_imbalance_ratio": p.max_imbalance_ratio}
        return self.result(status, summary, metrics, findings=findings, thresholds=thresholds)

    @staticmethod
    def _findings(tally: LabelTally, ranked: list[tuple[str, int]], share: float, ratio: float,
                  p: LabelBalanceParams, source: str) -> list[Finding]:
        out = []
        if share >= p.warn_majority_fraction:
            out.append(Finding("label_balance.majority", f"class {ranked[0][0]!r} holds {share:.1%} of "
                               f"{sum(tally.counts.values())} labelled records", source=source))
        if len(ranked) > 1 and ratio > p.max_imbalance_ratio:
            out.append(Finding("label_balance.imbalance", f"class {ranked[0][0]!r} ({ranked[0][1]}) is "
                               f"{ratio:.1f}x class {ranked[-1][0]!r} ({ranked[-1][1]})", source=source))
        out += [Finding("label_balance.rare_class", f"class {label!r} has only {count} examples "
                        f"(min_class_count {p.min_class_count})", tuple(tally.examples[label]), source=source)
                for label, count in ranked if count < p.min_class_count]
        if tally.missing:
            out.append(Finding("label_balance.missing_label", f"{tally.missing} records have no label",
                               tuple(tally.missing_examples), field="label", source=source))
        for variants in label_variants([label for label, _ in ranked]):
            spelled = ", ".join(f"{v!r} ({tally.counts[v]})" for v in variants)
            rarer = sorted(variants, key=lambda v: (tally.counts[v], v))[:-1]
            out.append(Finding("label_balance.label_variant", f"labels differ only in case or whitespace: {spelled}",
                               tuple(sorted(i for v in rarer for i in tally.examples[v])), field="label",
                               source=source))
        return out

    @staticmethod
    def _status(m: dict[str, object], share: float, findings: list[Finding],
                p: LabelBalanceParams) -> tuple[Status, str]:
        what = (f"{m['classes']} classes; {m['majority_class']!r} holds {share:.1%}, smallest "
                f"{m['minority_class']!r} has {m['min_class_count']}")
        if share >= p.fail_majority_fraction:
            return Status.FAIL, what
        if findings:
            kinds = sorted({f.code.split(".", 1)[1].replace("_", " ") for f in findings})
            return Status.WARN, f"{what} ({', '.join(kinds)})"
        return Status.PASS, what
