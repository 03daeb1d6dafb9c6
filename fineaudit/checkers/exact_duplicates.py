"""The exact_duplicates check: records identical after normalization."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fineaudit.content_patterns import redact_secrets
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.normalize import Normalization, key_of_normalized, normalize_text

SCOPES = ("text", "prompt", "response")
EXCERPT = 80  # characters of the duplicated text shown in a finding


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")


@dataclass(frozen=True)
class ExactDuplicatesParams:
    scope: str = field(default="text", metadata={
        "help": "what must be identical: text (the whole record), prompt or response"})
    nfkc: bool = field(default=True, metadata={"help": "compare after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare case-insensitively"})
    collapse_whitespace: bool = field(default=True, metadata={
        "help": "compare with runs of whitespace collapsed to one space"})
    max_fraction: float = field(default=0.01, metadata={
        "help": "fail when more than this share of records are duplicates to drop; fewer warn"})

    def __post_init__(self) -> None:
        check_scope(self.scope)

    @property
    def normalization(self) -> Normalization:
        return Normalization(self.nfkc, self.casefold, self.collapse_whitespace)


def view_of(batch: RecordBatch, scope: str) -> list[str]:
    """The compared text of each record; "" for records that did not parse."""
    return [text if error is None else "" for text, error in zip(getattr(batch, scope), batch.error)]


def exact_keys_batch(scope: str, how: Normalization, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(key, index) of every parsed record whose compared text is not empty after normalization."""
    keys, indices = [], []
    for index, text in zip(batch.index, view_of(batch, scope)):
        normalized = normalize_text(text, how)
        if normalized:  # empty prompts/responses are other checks' business
            keys.append(key_of_normalized(normalized))
            indices.append(index)
    return np.array(keys, dtype=np.uint64), np.array(indices, dtype=np.int64)


def exact_groups(data: Records, p: ExactDuplicatesParams, desc: str | None = None) -> list[list[int]]:
    """Groups of records with the same normalized text, each sorted, ordered by first index."""
    return data.group_by_key(partial(exact_keys_batch, p.scope, p.normalization), desc=desc)


def size_histogram(groups: list[list[int]]) -> dict[str, int]:
    """{"2": groups of two, "3": ...}: string keys, sizes ascending (the report's chart shape)."""
    sizes = Counter(len(g) for g in groups)
    return {str(size): sizes[size] for size in sorted(sizes)}


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a record's text for a finding: secrets masked before the cut, which could
    otherwise leave half a key that no detector recognizes."""
    text = redact_secrets(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


Excerpt = tuple[int | None, str]  # (1-based line or None, start of the compared text)


def excerpts_batch(scope: str, wanted: np.ndarray, batch: RecordBatch) -> dict[int, Excerpt]:
    index = np.asarray(batch.index, dtype=np.int64)
    texts = getattr(batch, scope)
    return {int(index[r]): (batch.line[r], excerpt(texts[r])) for r in np.flatnonzero(np.isin(index, wanted))}


def excerpts_of(data: Records, indices: list[int], scope: str) -> dict[int, Excerpt]:
    """Line and excerpt of a few records, read in the engine's workers (not one by one here)."""
    if not indices:
        return {}
    wanted = np.unique(np.asarray(indices, dtype=np.int64))
    found: dict[int, Excerpt] = {}
    for part in data.map_batches(partial(excerpts_batch, scope, wanted), desc=None):
        found.update(part)
    return found


class ExactDuplicatesChecker(Checker):
    """Records whose text is identical after normalization (Unicode NFKC, case, whitespace).

    Why it matters: a repeated example is trained on several times per epoch, so the model
    overfits to it and memorizes its exact wording; heavy repetition also inflates the
    dataset's apparent size and skews what the model learns to favour.

    Fix: run `fineaudit dedup DATA --out CLEAN`, which keeps the first record of every group
    (it drops near duplicates too), or remove the listed records by hand.
    """

    name = "exact_duplicates"
    Params = ExactDuplicatesParams
    order = 30
    codes = {"exact_duplicates.group": "records identical after normalization (one finding per group)"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: ExactDuplicatesParams = ctx.params
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
