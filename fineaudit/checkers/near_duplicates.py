"""The near_duplicates check: MinHash + LSH candidates, each verified by exact Jaccard."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fineaudit import minhash
from fineaudit.checkers.exact_duplicates import Excerpt, check_scope, excerpt, size_histogram, view_of
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.minhash import Cluster
from fineaudit.normalize import Normalization


@dataclass(frozen=True)
class NearDuplicatesParams:
    threshold: float = field(default=0.8, metadata={
        "help": "verified Jaccard similarity of word n-gram sets at or above which records are near duplicates"})
    ngram: int = field(default=5, metadata={"help": "words per shingle (texts with fewer words form one shingle)"})
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations"})
    bands: int = field(default=0, metadata={"help": "LSH bands; 0 = chosen for the threshold (generous recall)"})
    rows: int = field(default=0, metadata={"help": "rows per LSH band; 0 = chosen for the threshold"})
    scope: str = field(default="text", metadata={"help": "what is compared: text (the whole record), prompt or response"})
    nfkc: bool = field(default=True, metadata={"help": "compare after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare case-insensitively"})
    max_fraction: float = field(default=0.05, metadata={
        "help": "fail when more than this share of records are near duplicates to drop; fewer warn"})

    def __post_init__(self) -> None:
        check_scope(self.scope)
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.ngram < 1 or self.num_perm < 1 or self.bands < 0 or self.rows < 0:
            raise ValueError("ngram and num_perm must be >= 1, bands and rows >= 0")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands * self.rows}) exceeds num_perm ({self.num_perm})")

    def lsh(self, seed: int) -> Lsh:
        bands, rows = (self.bands, self.rows) if self.bands and self.rows else \
            minhash.choose_bands(self.threshold, self.num_perm)
        return Lsh(self.scope, self.ngram, Normalization(self.nfkc, self.casefold, False),
                   self.num_perm, seed, bands, rows)


@dataclass(frozen=True)
class Lsh:
    """Everything a worker needs to shingle, sign and band a batch the same way everywhere."""

    scope: str
    ngram: int
    how: Normalization
    num_perm: int
    seed: int
    bands: int
    rows: int


def _shingles(lsh: Lsh, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    words, offsets = minhash.word_hashes(texts, lsh.how)
    return minhash.shingle_hashes(words, offsets, lsh.ngram)


def band_keys_batch(lsh: Lsh, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(LSH band key, record index) pairs: bands records of every record with shingles."""
    shingles, offsets = _shingles(lsh, view_of(batch, lsh.scope))
    keys = minhash.band_keys(minhash.signatures(shingles, offsets, lsh.num_perm, lsh.seed),
                             lsh.bands, lsh.rows)
    has = np.diff(offsets) > 0
    index = np.asarray(batch.index, dtype=np.int64)[has]
    return keys[has].ravel(), np.repeat(index, lsh.bands)


@dataclass
class Verification:
    """What the second pass brings back for the records in some LSH group."""

    sets: dict[int, np.ndarray] = field(default_factory=dict)  # exact shingle sets
    sigs: dict[int, np.ndarray] = field(default_factory=dict)  # MinHash signatures
    excerpts: dict[int, Excerpt] = field(default_factory=dict)  # for findings

    def update(self, other: Verification) -> Verification:
        self.sets.update(other.sets)
        self.sigs.update(other.sigs)
        self.excerpts.update(other.excerpts)
        return self


def shingle_sets_batch(lsh: Lsh, wanted: np.ndarray, batch: RecordBatch) -> Verification:
    """Shingle sets, signatures and excerpts of this batch's records listed in `wanted`."""
    index = np.asarray(batch.index, dtype=np.int64)
    rows = np.flatnonzero(np.isin(index, wanted))
    if not len(rows):
        return Verification()
    texts = view_of(batch, lsh.scope)
    shingles, offsets = _shingles(lsh, [texts[r] for r in rows])
    sigs = minhash.signatures(shingles, offsets, lsh.num_perm, lsh.seed)
    ids = index[rows].tolist()
    return Verification(dict(zip(ids, minhash.shingle_sets(shingles, offsets))), dict(zip(ids, sigs)),
                        {i: (batch.line[r], excerpt(texts[r])) for i, r in zip(ids, rows.tolist())})


def shingle_sets_of(data: Records, lsh: Lsh, wanted: np.ndarray, desc: str | None = None) -> Verification:
    found = Verification()
    for part in data.map_batches(partial(shingle_sets_batch, lsh, wanted), desc=desc):
        found.update(part)
    return found


def near_clusters_with_excerpts(data: Records, p: NearDuplicatesParams, seed: int) -> tuple[list[Cluster], dict[int, Excerpt]]:
    lsh = p.lsh(seed)
    groups = data.group_by_key(partial(band_keys_batch, lsh), desc="near duplicates: MinHash")
    if not groups:
        return [], {}
    wanted = np.unique(np.concatenate([np.asarray(g, dtype=np.int64) for g in groups]))
    found = shingle_sets_of(data, lsh, wanted, desc="near duplicates: verify")
    return minhash.greedy_clusters(groups, found.sets, p.threshold, found.sigs), found.excerpts


def near_clusters(data: Records, p: NearDuplicatesParams, seed: int) -> list[Cluster]:
    """Verified near-duplicate clusters, ordered by kept record; the checker's and dedup's logic."""
    return near_clusters_with_excerpts(data, p, seed)[0]


class NearDuplicatesChecker(Checker):
    """Records whose word n-grams mostly overlap (MinHash/LSH, every pair verified exactly).

    Why it matters: paraphrased or lightly edited copies (templated generations, re-scraped
    pages, a seed answer regenerated twice) weigh on the model like exact copies: it overfits
    to them, and the dataset is less diverse than its size suggests.

    Fix: run `fineaudit dedup DATA --out CLEAN` (keeps the first record of every cluster), or
    raise `threshold` if the listed clusters are legitimately similar (e.g. shared templates).
    """

    name = "near_duplicates"
    Params = NearDuplicatesParams
    order = 40
    codes = {"near_duplicates.cluster": "records whose word n-gram Jaccard to the cluster's first record is at "
                                        "or above the threshold (one finding per cluster)"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: NearDuplicatesParams = ctx.params
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

