"""The conflicting_labels check: the same input with different labels or different answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from itertools import combinations

import numpy as np
import orjson

from fineaudit.dataset import formats

from fineaudit.vectors import minhash
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.vectors.duplicate_groups import NearDuplicatesParams, exact_groups_by, excerpts_of, near_clusters
from fineaudit.text.normalize import Normalization, normalize_text, text_key


@dataclass(frozen=True)
class ConflictingLabelsParams:
    response_similarity: float = field(default=0.5, metadata={
        "help": "responses to the same prompt whose word 3-gram Jaccard is below this are materially different"})
    near_inputs: bool = field(default=True, metadata={
        "help": "labels: also compare inputs that are near duplicates (word 5-gram Jaccard >= near_threshold)"})
    near_threshold: float = field(default=0.9, metadata={"help": "Jaccard threshold of near_inputs"})
    nfkc: bool = field(default=True, metadata={"help": "compare inputs after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare inputs case-insensitively"})
    ignore_punctuation: bool = field(default=True, metadata={
        "help": "compare inputs without punctuation and hyphens ('top-up' = 'top up', '?' ignored)"})
    open_prompt_words: int = field(default=4, metadata={
        "help": "a prompt of at most this many words whose answers are all longer than it (a greeting, "
                "'tell me a joke') is open: different answers to it are not response conflicts; 0 = off"})
    response_conflicts_fail: bool = field(default=False, metadata={
        "help": "fail (not warn) on different responses to one prompt; several good answers can be fine"})
    dedup_drops_conflicts: bool = field(default=False, metadata={
        "help": "`fineaudit dedup` drops duplicates whose labels differ too (default: keeps such groups whole and lists them)"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.response_similarity <= 1.0 or not 0.0 < self.near_threshold <= 1.0:
            raise ValueError("response_similarity must be in [0, 1] and near_threshold in (0, 1]")
        if not 0 <= self.open_prompt_words <= 1000:
            raise ValueError(f"open_prompt_words must be in [0, 1000], not {self.open_prompt_words}")

    @property
    def normalization(self) -> Normalization:
        return Normalization(self.nfkc, self.casefold, True, punctuation=self.ignore_punctuation)


@dataclass(frozen=True)
class Answer:
    """What a record answers to its prompt (its label, or its response's word 3-grams), and
    what else decides whether two records ask the same thing."""

    label: str | None
    response_key: int
    shingles: np.ndarray
    setting_key: int  # records with different system prompts or tools are different inputs
    prompt_words: int
    response_words: int


def answers_batch(wanted: np.ndarray, batch: RecordBatch) -> dict[int, Answer]:
    index = np.asarray(batch.index, dtype=np.int64)
    rows = np.flatnonzero(np.isin(index, wanted)).tolist()
    if not rows:
        return {}
    responses = [batch.response[r] for r in rows]
    words, offsets = minhash.word_hashes(responses)
    sets = minhash.shingle_sets(*minhash.shingle_hashes(words, offsets, 3))
    loose = Normalization(punctuation=True)
    return {int(index[r]): Answer(batch.label[r], text_key(text), shingles, setting_key(batch, r),
                                  len(normalize_text(batch.prompt[r], loose).split()), len(text.split()))
            for r, text, shingles in zip(rows, responses, sets)}


def setting_key(batch: RecordBatch, row: int) -> int:
    """A key of what the model is given besides the prompt: the system prompt and the tools
    declared (a record offering other functions asks a different question)."""
    try:
        tools = formats.declared_tools(orjson.loads(batch.raw[row]))
    except orjson.JSONDecodeError:
        tools = None
    declared = orjson.dumps(tools[0], option=orjson.OPT_SORT_KEYS).decode() if tools else ""
    return text_key(f"{batch.system[row] or ''}\0{declared}")


def input_groups(data: Records, p: ConflictingLabelsParams, seed: int, near: bool) -> list[list[int]]:
    """Groups of records with the same normalized prompt, and near-identical ones (if `near`)."""
    groups = exact_groups_by(data, "prompt", p.normalization, desc="conflicting labels")
    if near:
        similar = NearDuplicatesParams(threshold=p.near_threshold, scope="prompt", nfkc=p.nfkc, casefold=p.casefold)
        seen = {tuple(g) for g in groups}
        groups += [list(c.members) for c in near_clusters(data, similar, seed) if c.members not in seen]
        groups.sort(key=lambda g: g[0])
    return groups


def same_system(members: list[int], answers: dict[int, Answer]) -> list[list[int]]:
    """A group split by system prompt and tools: only records given the same ask the same thing."""
    parts: dict[int, list[int]] = {}
    for i in members:
        parts.setdefault(answers[i].setting_key, []).append(i)
    return [part for part in parts.values() if len(part) > 1]


def is_open_prompt(members: list[int], answers: dict[int, Answer], max_words: int) -> bool:
    """A short prompt that every answer elaborates on ('Hi', 'Tell me a joke', 'Who are you?'):
    it has many good answers, so different ones are not a conflict. A short question with a
    short answer ('2+2?' -> '4' vs '5') is not open."""
    words = max(answers[i].prompt_words for i in members)
    return 0 < words <= max_words and all(answers[i].response_words > words for i in members)


def label_conflict(members: list[int], answers: dict[int, Answer]) -> str | None:
    labels = sorted({str(answers[i].label) for i in members if answers[i].label is not None})
    return f"labels {', '.join(map(repr, labels))}" if len(labels) > 1 else None


def response_conflict(members: list[int], answers: dict[int, Answer], below: float) -> str | None:
    distinct: dict[int, int] = {}
    for i in members:  # identical responses agree; compare each distinct one once
        distinct.setdefault(answers[i].response_key, i)
    lowest = min((minhash.jaccard(answers[a].shingles, answers[b].shingles)
                  for a, b in combinations(distinct.values(), 2)), default=1.0)
    return f"responses as different as Jaccard {lowest:.2f}" if lowest < below else None


class ConflictingLabelsChecker(Checker[ConflictingLabelsParams]):
    """The same input with different labels (classification) or materially different answers.

    Inputs are the same when they are equal after Unicode NFKC, case, punctuation and spacing
    are set aside ("Has my top-up gone through?" = "has my top up gone through") or near
    duplicates at word 5-gram Jaccard >= 0.9 (for labels), and their system prompts and tools match. Open prompts (a
    few words that every answer elaborates on, such as a greeting) are not response conflicts.

    Why it matters: a model trained on one input with two labels learns noise: whichever
    label wins is arbitrary, and the contradiction caps the accuracy any model can reach.
    For chat and instruction data, very different answers to one prompt may be fine (there
    are several good answers) or may be a sign of a merge of two sources with other rules.

    Fix: relabel or drop the conflicting records; for responses, check that each answer is
    one you want the model to give, and keep one if they contradict each other.
    """

    name = "conflicting_labels"
    parallel_safe = True
    Params = ConflictingLabelsParams
    order = 45
    codes = {"conflicting_labels.label": "the same normalized input with different labels",
             "conflicting_labels.response": "the same normalized prompt with materially different responses"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        by_label = ctx.format == "classification"
        # a near-identical prompt may rightly get another answer ("factorial of 5" vs "of 6"),
        # but not another label: near inputs are compared for labels only
        groups = input_groups(data, p, ctx.seed, near=p.near_inputs and by_label)
        wanted = np.unique(np.concatenate([np.asarray(g, dtype=np.int64) for g in groups])) if groups else np.zeros(0, np.int64)
        answers: dict[int, Answer] = {}
        if len(wanted):
            for part in data.map_batches(partial(answers_batch, wanted), desc="conflicting labels: answers"):
                answers.update(part)
        conflicts = self._conflicts(groups, answers, by_label, p)
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

    @staticmethod
    def _conflicts(groups: list[list[int]], answers: dict[int, Answer], by_label: bool,
                   p: ConflictingLabelsParams) -> list[tuple[list[int], str]]:
        out = []
        for group in groups:
            for part in same_system(group, answers):
                if by_label:
                    why = label_conflict(part, answers)
                elif is_open_prompt(part, answers, p.open_prompt_words):
                    continue
                else:
                    why = response_conflict(part, answers, p.response_similarity)
                if why:
                    out.append((part, why))
        return out

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

