"""The near_duplicates check: MinHash + LSH candidates, each verified by exact Jaccard."""
from __future__ import annotations

from fineaudit.vectors import minhash
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, Records, Status
from fineaudit.vectors.duplicate_groups import Excerpt, NearDuplicatesParams, near_clusters_with_excerpts, size_histogram
from fineaudit.vectors.minhash import Cluster

__all__ = ["NearDuplicatesChecker", "NearDuplicatesParams"]


class NearDuplicatesChecker(Checker[NearDuplicatesParams]):
    """Records whose word n-grams mostly overlap (MinHash/LSH, every pair verified exactly).

    Why it matters: paraphrased or lightly edited copies (templated generations, re-scraped
    pages, a seed answer regenerated twice) weigh on the model like exact copies: it overfits
    to them, and the dataset is less diverse than its size suggests.

    Fix: run `fineaudit dedup DATA --out CLEAN` (keeps the first record of every cluster), or
    raise `threshold` if the listed clusters are legitimately similar (e.g. shared templates).
    """

    name = "near_duplicates"
    parallel_safe = True
    Params = NearDuplicatesParams
    order = 40
    codes = {"near_duplicates.cluster": "records whose word n-gram Jaccard to the cluster's first record is at "
                                        "or above the threshold (one finding per cluster)"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        lsh = p.lsh(ctx.seed)
        clusters, excerpts = near_clusters_with_excerpts(data, p, ctx.seed)
        dropped = sum(len(c.members) - 1 for c in clusters)
        fraction = dropped / len(data) if len(data) else 0.0
        metrics = {"duplicate_records": dropped, "clusters": len(clusters),
                   "duplicate_fraction": round(fraction, 6), "threshold": p.threshold,
                   "cluster_sizes": size_histogram([list(c.members) for c in clusters]),
                   "lowest_similarity": min((c.lowest for c in clusters), default=None),
                   "ngram": p.ngram, "num_perm": p.num_perm, "bands": lsh.bands, "rows": lsh.rows,
                   "miss_probability_at_threshold": _rounded(minhash.false_negative_rate(p.threshold, lsh.bands, lsh.rows))}
        thresholds = {"threshold": p.threshold, "max_fraction": p.max_fraction}
        if not clusters:
            return self.result(Status.PASS, f"no near duplicates at Jaccard >= {p.threshold}",
                               metrics, thresholds=thresholds)
        status = Status.FAIL if fraction > p.max_fraction else Status.WARN
        summary = (f"{dropped} near-duplicate record{'s' if dropped != 1 else ''} ({fraction:.1%}) in "
                   f"{len(clusters)} cluster{'s' if len(clusters) != 1 else ''} at Jaccard >= {p.threshold} "
                   f"of word {p.ngram}-grams")
        return self.result(status, summary, metrics, findings=self._findings(clusters, excerpts, p),
                           thresholds=thresholds,
                           score=None if status is Status.WARN else max(0.0, 1.0 - fraction * 2))

    def _findings(self, clusters: list[Cluster], excerpts: dict[int, Excerpt],
                  p: NearDuplicatesParams) -> list[Finding]:
        findings = []
        for c in clusters:
            line, text = excerpts.get(c.kept, (None, ""))
            shown = f': "{text}"' if text else ""
            findings.append(Finding(
                code="near_duplicates.cluster", records=c.members, line=line, field=p.scope,
                message=f"{len(c.members)} near-duplicate records {_listing(c.members)} "
                        f"(lowest verified Jaccard to record {c.kept}: {c.lowest:.4f}){shown}"))
        return findings


def _rounded(value: float) -> float:
    return float(f"{value:.3g}")


def _listing(members: tuple[int, ...], limit: int = 12) -> str:
    shown = ", ".join(map(str, members[:limit]))
    return shown + (f", … ({len(members) - limit} more)" if len(members) > limit else "")

