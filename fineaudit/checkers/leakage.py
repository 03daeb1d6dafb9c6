"""The leakage check: eval records that are exact or near copies of training records."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fineaudit import minhash
from fineaudit.checkers.exact_duplicates import check_scope, excerpts_of, exact_keys_batch
from fineaudit.checkers.near_duplicates import NearDuplicatesParams, band_keys_batch, shingle_sets_of
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, Records, Status
from fineaudit.normalize import Normalization


@dataclass(frozen=True)
class LeakageParams:
    scope: str = field(default="text", metadata={"help": "what is compared: text (the whole record), prompt or response"})
    near: bool = field(default=True, metadata={"help": "also count near duplicates (not only exact copies)"})
    threshold: float = field(default=0.8, metadata={"help": "verified word n-gram Jaccard of a near-duplicate leak"})
    ngram: int = field(default=5, metadata={"help": "words per shingle"})
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations"})
    nfkc: bool = field(default=True, metadata={"help": "compare after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare case-insensitively"})
    max_fraction: float = field(default=0.01, metadata={"help": "fail when more than this share of the eval set leaks; fewer warn"})

    def __post_init__(self) -> None:
        check_scope(self.scope)
        NearDuplicatesParams(threshold=self.threshold, ngram=self.ngram, num_perm=self.num_perm)

    def near_params(self) -> NearDuplicatesParams:
        return NearDuplicatesParams(threshold=self.threshold, ngram=self.ngram, num_perm=self.num_perm,
                                    scope=self.scope, nfkc=self.nfkc, casefold=self.casefold)


Matches = dict[int, dict[int, float]]  # eval index -> {train index: similarity}


def _keyed(data: Records, fn: partial, desc: str) -> tuple[np.ndarray, np.ndarray]:
    parts = data.map_batches(fn, desc=desc)
    keys = np.concatenate([k for k, _ in parts]) if parts else np.zeros(0, np.uint64)
    idx = np.concatenate([i for _, i in parts]) if parts else np.zeros(0, np.int64)
    return keys, idx


def join_keys(train: tuple[np.ndarray, np.ndarray], held: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(eval index, train index) pairs sharing a key, without repeats, sorted."""
    order = np.argsort(train[0], kind="stable")
    tkeys, tidx = train[0][order], train[1][order]
    lo = np.searchsorted(tkeys, held[0], side="left")
    hi = np.searchsorted(tkeys, held[0], side="right")
    counts = hi - lo
    if not counts.sum():
        return np.zeros((0, 2), dtype=np.int64)
    eval_idx = np.repeat(held[1], counts)
    # positions lo..hi-1 of every hit, flattened without a Python loop
    starts = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts)
    train_idx = tidx[starts + np.arange(counts.sum())]
    return np.unique(np.stack([eval_idx, train_idx], axis=1), axis=0)


def exact_leaks(train: Records, held: Records, p: LeakageParams) -> Matches:
    fn = partial(exact_keys_batch, p.scope, Normalization(p.nfkc, p.casefold, True))
    pairs = join_keys(_keyed(train, fn, "leakage: train keys"), _keyed(held, fn, "leakage: eval keys"))
    out: Matches = {}
    for e, t in pairs.tolist():
        out.setdefault(e, {})[t] = 1.0
    return out


def near_leaks(train: Records, held: Records, p: LeakageParams, seed: int) -> Matches:
    lsh = p.near_params().lsh(seed)
    fn = partial(band_keys_batch, lsh)
    pairs = join_keys(_keyed(train, fn, "leakage: train MinHash"), _keyed(held, fn, "leakage: eval MinHash"))
    if not len(pairs):
        return {}
    eval_sets = shingle_sets_of(held, lsh, np.unique(pairs[:, 0]), desc="leakage: verify eval").sets
    train_sets = shingle_sets_of(train, lsh, np.unique(pairs[:, 1]), desc="leakage: verify train").sets
    out: Matches = {}
    for e, t in pairs.tolist():
        similarity = minhash.jaccard(eval_sets[e], train_sets[t])
        if similarity >= p.threshold:
            out.setdefault(e, {})[t] = round(similarity, 4)
    return out


class LeakageChecker(Checker):
    """Eval records that are exact or near duplicates of training records (with --eval).

    Why it matters: an eval example the model has trained on measures memory, not skill, so
    the eval score overstates how the model will do on new inputs; a few percent of leaked
    examples is enough to change which checkpoint or setting looks best.

    Fix: remove the listed eval records (or their training twins), then re-split so that
    near copies stay on one side; deduplicate before splitting next time.
    """

    name = "leakage"
    Params = LeakageParams
    order = 50
    needs = "eval"
    codes = {"leakage.exact": "an eval record identical (after normalization) to training records",
             "leakage.near": "an eval record whose shingles overlap a training record's at the threshold"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: LeakageParams = ctx.params
        held = ctx.eval
        if held is None:
            return self.skipped("needs --eval")
        exact = exact_leaks(data, held, p)
        near = near_leaks(data, held, p, ctx.seed) if p.near else {}
        leaked = sorted(set(exact) | set(near))
        fraction = len(leaked) / len(held) if len(held) else 0.0
        metrics = {"leaked_records": len(leaked), "leaked_fraction": round(fraction, 6),
                   "exact_leaks": len(exact), "near_leaks": len(set(near) - set(exact)),
                   "eval_records": len(held), "threshold": p.threshold, "scope": p.scope}
        thresholds = {"max_fraction": p.max_fraction, "threshold": p.threshold}
        if not leaked:
            return self.result(Status.PASS, "no eval record duplicates a training record", metrics,
                               thresholds=thresholds)
        status = Status.FAIL if fraction > p.max_fraction else Status.WARN
        summary = f"{len(leaked)} of {len(held)} eval records ({fraction:.1%}) duplicate training records"
        return self.result(status, summary, metrics, thresholds=thresholds,
                           findings=self._findings(held, leaked, exact, near, p.scope))

    def _findings(self, held: Records, leaked: list[int], exact: Matches, near: Matches, scope: str) -> list[Finding]:
        records = excerpts_of(held, leaked[:5000], scope)
        out = []
        for e in leaked:
            twins = {**near.get(e, {}), **exact.get(e, {})}
            train_ids = sorted(twins)
            line, text = records.get(e, (None, ""))
            shown = f': "{text}"' if text else ""
            kind = "an exact copy" if e in exact else f"a near duplicate (Jaccard {max(twins.values()):.3f})"
            listed = ", ".join(map(str, train_ids[:12])) + (" …" if len(train_ids) > 12 else "")
            out.append(Finding(code="leakage.exact" if e in exact else "leakage.near", records=(e,),
                               line=line, field=scope, source="eval",
                               message=f"eval record {e} is {kind} of training record"
                                       f"{'s' if len(train_ids) > 1 else ''} {listed}{shown}"))
        return out
