"""The exact_duplicates check: records identical after normalization."""
from __future__ import annotations

from fineaudit.core import AuditContext, Checker, CheckResult, Finding, Records, Status
from fineaudit.vectors.duplicate_groups import ExactDuplicatesParams, exact_groups, excerpts_of, size_histogram

__all__ = ["ExactDuplicatesChecker", "ExactDuplicatesParams"]


class ExactDuplicatesChecker(Checker[ExactDuplicatesParams]):
    """Records whose text is identical after normalization (Unicode NFKC, case, whitespace).

    Why it matters: a repeated example is trained on several times per epoch, so the model
    overfits to it and memorizes its exact wording; heavy repetition also inflates the
    dataset's apparent size and skews what the model learns to favour.

    Fix: run `fineaudit dedup DATA --out CLEAN`, which keeps the first record of every group
    (it drops near duplicates too), or remove the listed records by hand.
    """

    name = "exact_duplicates"
    parallel_safe = True
    Params = ExactDuplicatesParams
    order = 30
    codes = {"exact_duplicates.group": "records identical after normalization (one finding per group)"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        groups = exact_groups(data, p, desc="exact duplicates")
        dropped = sum(len(g) - 1 for g in groups)
        fraction = dropped / len(data) if len(data) else 0.0
        metrics = {"duplicate_records": dropped, "duplicate_groups": len(groups),
                   "duplicate_fraction": round(fraction, 6), "group_sizes": size_histogram(groups),
                   "largest_group": max((len(g) for g in groups), default=0), "scope": p.scope}
        thresholds = {"max_fraction": p.max_fraction}
        if not groups:
            return self.result(Status.PASS, "no exact duplicates", metrics, thresholds=thresholds)
        findings = self._findings(data, groups, p.scope)
        status = Status.FAIL if fraction > p.max_fraction else Status.WARN
        summary = (f"{dropped} duplicate record{'s' if dropped != 1 else ''} ({fraction:.1%}) in "
                   f"{len(groups)} group{'s' if len(groups) != 1 else ''} of identical {p.scope}")
        return self.result(status, summary, metrics, findings=findings, thresholds=thresholds,
                           score=None if status is Status.WARN else max(0.0, 1.0 - fraction * 5))

    def _findings(self, data: Records, groups: list[list[int]], scope: str) -> list[Finding]:
        first = excerpts_of(data, [g[0] for g in groups[:5000]], scope)  # the first groups only
        findings = []
        for group in groups:
            line, text = first.get(group[0], (None, ""))
            shown = f': "{text}"' if text else ""
            listed = ", ".join(map(str, group[:12])) + (f", … ({len(group) - 12} more)" if len(group) > 12 else "")
            findings.append(Finding(
                code="exact_duplicates.group", records=tuple(group), line=line, field=scope,
                message=f"{len(group)} records with the same {scope} after normalization: "
                        f"{listed}{shown}"))
        return findings
