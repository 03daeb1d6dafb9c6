"""The conflicting_labels check: the same input with different labels or different answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from itertools import combinations

import numpy as np

from fineaudit import minhash
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.duplicate_groups import ExactDuplicatesParams, NearDuplicatesParams, exact_groups, excerpts_of, near_clusters
from fineaudit.normalize import text_key


@dataclass(frozen=True)
class ConflictingLabelsParams:
    response_similarity: float = field(default=0.5, metadata={
        "help": "responses to the same prompt whose word 3-gram Jaccard is below this are materially different"})
    near_inputs: bool = field(default=False, metadata={
        "help": "also compare inputs that are near duplicates (near_duplicates settings, over the prompt)"})
    near_threshold: float = field(default=0.9, metadata={"help": "Jaccard threshold of near_inputs"})
    nfkc: bool = field(default=True, metadata={"help": "compare inputs after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare inputs case-insensitively"})
    response_conflicts_fail: bool = field(default=False, metadata={
        "help": "fail (not warn) on different responses to one prompt; several good answers can be fine"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.response_similarity <= 1.0 or not 0.0 < self.near_threshold <= 1.0:
            raise ValueError("response_similarity must be in [0, 1] and near_threshold in (0, 1]")


@dataclass(frozen=True)
class Answer:
    """What a record answers to its prompt: its label, or its response's word 3-grams."""

    label: str | None
    response_key: int
    shingles: np.ndarray


def answers_batch(wanted: np.ndarray, batch: RecordBatch) -> dict[int, Answer]:
    index = np.asarray(batch.index, dtype=np.int64)
    rows = np.flatnonzero(np.isin(index, wanted)).tolist()
    if not rows:
        return {}
    responses = [batch.response[r] for r in rows]
    words, offsets = minhash.word_hashes(responses)
    sets = minhash.shingle_sets(*minhash.shingle_hashes(words, offsets, 3))
    return {int(index[r]): Answer(batch.label[r], text_key(text), shingles)
            for r, text, shingles in zip(rows, responses, sets)}


def input_groups(data: Records, p: ConflictingLabelsParams, seed: int) -> list[list[int]]:
    """Groups of records with the same normalized prompt (and near-identical ones if asked)."""
    groups = exact_groups(data, ExactDuplicatesParams(scope="prompt", nfkc=p.nfkc, casefold=p.casefold),
                          desc="conflicting labels")
    if p.near_inputs:
        near = NearDuplicatesParams(threshold=p.near_threshold, scope="prompt", nfkc=p.nfkc, casefold=p.casefold)
        seen = {tuple(g) for g in groups}
        groups += [list(c.members) for c in near_clusters(data, near, seed) if c.members not in seen]
        groups.sort(key=lambda g: g[0])
    return groups


def label_conflict(members: list[int], answers: dict[int, Answer]) -> str | None:
    labels = sorted({str(answers[i].label) for i in members if answers[i].label is not None})
    return f"labels {', '.join(map(repr, labels))}" if len(labels) > 1 else None


def response_conflict(members: list[int], answers: dict[int, Answer], below: float) -> str | None:
    distinct: dict[str, int] = {}
    for i in members:  # identical responses agree; compare each distinct one once
        distinct.setdefault(answers[i].response_key, i)
    lowest = min((minhash.jaccard(answers[a].shingles, answers[b].shingles)
                  for a, b in combinations(distinct.values(), 2)), default=1.0)
    return f"responses as different as Jaccard {lowest:.2f}" if lowest < below else None


class ConflictingLabelsChecker(Checker):
    """The same input with different labels (classification) or materially different answers.

    Why it matters: a model trained on one input with two labels learns noise: whichever
    label wins is arbitrary, and the contradiction caps the accuracy any model can reach.
    For chat and instruction data, very different answers to one prompt may be fine (there
    are several good answers) or may be a sign of a merge of two sources with other rules.

    Fix: relabel or drop the conflicting records; for responses, check that each answer is
    one you want the model to give, and keep one if they contradict each other.
    """

    name = "conflicting_labels"
    Params = ConflictingLabelsParams
    order = 45
    codes = {"conflicting_labels.label": "the same normalized input with different labels",
             "conflicting_labels.response": "the same normalized prompt with materially different responses"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: ConflictingLabelsParams = ctx.params
        by_label = ctx.format == "classification"
        groups = input_groups(data, p, ctx.seed)
        wanted = np.unique(np.concatenate([np.asarray(g, dtype=np.int64) for g in groups])) if groups else np.zeros(0, np.int64)
        answers: dict[int, Answer] = {}
        if len(wanted):
            for part in data.map_batches(partial(answers_batch, wanted), desc="conflicting labels: answers"):
                answers.update(part)
        conflicts = [(g, why) for g in groups
                     if (why := label_conflict(g, answers) if by_label
                         else response_conflict(g, answers, p.response_similarity))]
        records = sorted({i for g, _ in conflicts for i in g})
        metrics = {"conflict_groups": len(conflicts), "conflicting_records": len(records),
                   "compared": "label" if by_label else "response", "input_groups": len(groups)}
        thresholds = {"response_similarity": p.response_similarity}
        if not conflicts:
            return self.result(Status.PASS, "no conflicting labels", metrics, thresholds=thresholds)
        status = Status.FAIL if by_label or p.response_conflicts_fail else Status.WARN
        what = "labels" if by_label else "responses"
        summary = f"{len(conflicts)} inputs with conflicting {what} ({len(records)} records)"
        return self.result(status, summary, metrics, thresholds=thresholds,
                           findings=self._findings(data, conflicts, by_label))

    def _findings(self, data: Records, conflicts: list[tuple[list[int], str]], by_label: bool) -> list[Finding]:
        first = excerpts_of(data, [g[0] for g, _ in conflicts[:5000]], "prompt")
        code = "conflicting_labels.label" if by_label else "conflicting_labels.response"
        out = []
        for members, why in conflicts:
            line, text = first.get(members[0], (None, ""))
            shown = f' for "{text}"' if text else ""
            out.append(Finding(code=code, records=tuple(members), line=line,
                               field="label" if by_label else "response",
                               message=f"records {', '.join(map(str, members[:12]))} share an input "
                                       f"but have {why}{shown}"))
        return out

