"""The preference check: pairs (DPO, ORPO) and unpaired answers (KTO) that teach what they mean to."""
from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import xxhash

from fineaudit.dataset import formats
from fineaudit.core import (AuditContext, Checker, CheckResult, Finding, ReadOptions, Record, RecordBatch, Records,
                            Status)
from fineaudit.text.normalize import Normalization, normalize_text
from fineaudit.text.side_tells import Tell, TellSearch, find_tells

LISTED = 1000  # records listed per finding code; the counts stay exact
# pair findings (in report order) that carry the two texts for a human report: the reports keep
# the first max_findings (50 by default) of a check, so more would only be read to be dropped
DETAILED = 300
DETAIL_CHARS = 2000  # per side, as the HTML report shows it
PAIR_CODES = ("identical_pair", "near_identical_pair", "prompt_in_response")
# length histogram bins (words): 0, 1, 2-3, 4-7, ... 4096+; fixed edges so tallies add up
HIST_EDGES = [0] + [2 ** k for k in range(13)]
# score columns of preference sets (UltraFeedback, HelpSteer, Nectar...): (chosen key, rejected key)
# TRL (KTOConfig): desirable_weight * desirable : undesirable_weight * undesirable in [1, 4/3]
KTO_RATIO = (1.0, 4 / 3)
PUNCTUATION = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))
EXACT = Normalization(casefold=False)  # NFKC and spacing only
TRANSCRIPT = re.compile(r"\n\s*(?:Human|Assistant):")


@dataclass(frozen=True)
class PreferenceParams:
    near_threshold: float = field(default=0.9, metadata={
        "help": "word n-gram Jaccard of the two sides at or above which a pair is near-identical", "max": 1})
    ngram: int = field(default=1, metadata={
        "help": "words per n-gram for near_threshold (1: word sets; short answers differ in one word)",
        "min": 1, "max": 10})
    min_longer_fraction: float = field(default=0.2, metadata={
        "help": "warn when the share of pairs whose chosen side is longer is surely below this (95% Wilson interval)"})
    max_longer_fraction: float = field(default=0.8, metadata={
        "help": "warn when that share is surely above this (95% Wilson interval)"})
    tell_alpha: float = field(default=0.01, metadata={
        "help": "family-wise error of the side-tell tests (Holm over every phrase tried)", "max": 1})
    tell_min_difference: float = field(default=0.2, metadata={
        "help": "report a side tell only when its shares on the two sides differ by at least this", "max": 1})
    tell_min_count: int = field(default=10, metadata={"help": "phrases seen in fewer answers are not tried"})
    tell_sample: int = field(default=2000, metadata={
        "help": "pairs (seeded sample) searched for side tells; 0 = all", "max": 10_000_000})
    min_prompt_words: int = field(default=3, metadata={
        "help": "a side repeating a prompt of at least this many words is prompt_in_response"})
    max_tie_fraction: float = field(default=0.0, metadata={
        "help": "warn when more than this share of scored pairs have equal scores"})
    max_inverted_fraction: float = field(default=0.0, metadata={
        "help": "warn when more than this share of scored pairs score the rejected side higher"})

    def __post_init__(self) -> None:
        if not 0.0 < self.near_threshold <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], not {self.near_threshold}")
        if not 1 <= self.ngram <= 10 or self.tell_min_count < 1 or self.min_prompt_words < 1:
            raise ValueError("ngram must be 1..10; tell_min_count and min_prompt_words at least 1")
        if not 0.0 <= self.min_longer_fraction < self.max_longer_fraction <= 1.0:
            raise ValueError("need 0 <= min_longer_fraction < max_longer_fraction <= 1")
        if not 0.0 < self.tell_alpha <= 1.0 or not 0.0 <= self.tell_min_difference <= 1.0:
            raise ValueError("tell_alpha must be in (0, 1] and tell_min_difference in [0, 1]")
        if self.tell_sample < 0 or not all(0.0 <= f <= 1.0 for f in (self.max_tie_fraction, self.max_inverted_fraction)):
            raise ValueError("tell_sample must be >= 0; tie and inverted fractions in [0, 1]")
        for name in ("near_threshold", "min_longer_fraction", "max_longer_fraction", "tell_alpha",
                     "tell_min_difference", "max_tie_fraction", "max_inverted_fraction"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")


# --------------------------------------------------------------------------- per batch


@dataclass
class Flags:
    """Records flagged under one code: an exact count and the first LISTED (index, line, detail)."""

    count: int = 0
    items: list[tuple[int, int | None, str]] = field(default_factory=list)

    def add(self, index: int, line: int | None, detail: str = "") -> None:
        self.count += 1
        if len(self.items) < LISTED:
            self.items.append((index, line, detail))

    def merge(self, other: Flags) -> None:
        self.count += other.count
        self.items.extend(other.items[: LISTED - len(self.items)])


CODES = ("identical_pair", "near_identical_pair", "empty_side", "prompt_in_response", "implicit_prompt",
         "tie", "inverted")


@dataclass
class Tally:
    """What one batch of pairs (or KTO answers) adds up to; tallies merge."""

    flags: dict[str, Flags] = field(default_factory=lambda: {c: Flags() for c in CODES})
    pairs: int = 0
    compared: int = 0  # pairs with both sides non-empty (length comparisons)
    chosen_longer: int = 0
    equal_length: int = 0
    ratios: list[float] = field(default_factory=list)  # chosen words / rejected words
    hist_a: list[int] = field(default_factory=lambda: [0] * len(HIST_EDGES))
    hist_b: list[int] = field(default_factory=lambda: [0] * len(HIST_EDGES))
    words_a: list[int] = field(default_factory=list)
    words_b: list[int] = field(default_factory=list)
    scored: int = 0
    desirable: int = 0
    undesirable: int = 0
    # one key per pair for contradictions: (prompt, unordered answers) and the orientation
    keys: list[int] = field(default_factory=list)
    orient: list[int] = field(default_factory=list)
    key_index: list[int] = field(default_factory=list)

    def merge(self, other: Tally) -> Tally:
        for code, flags in other.flags.items():
            self.flags[code].merge(flags)
        for name in ("pairs", "compared", "chosen_longer", "equal_length", "scored", "desirable", "undesirable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("ratios", "words_a", "words_b", "keys", "orient", "key_index"):
            getattr(self, name).extend(getattr(other, name))
        self.hist_a = [a + b for a, b in zip(self.hist_a, other.hist_a)]
        self.hist_b = [a + b for a, b in zip(self.hist_b, other.hist_b)]
        return self


@dataclass(frozen=True)
class Settings:
    """What a worker needs (picklable)."""

    layout: str
    options: ReadOptions
    near_threshold: float
    ngram: int
    min_prompt_words: int


def hist_bin(words: int) -> int:
    return 0 if words <= 0 else min(words.bit_length(), len(HIST_EDGES) - 1)


def shingles(words: list[bytes], n: int) -> set[Hashable]:
    """Word n-grams (words: normalized text with ASCII punctuation made spaces, split)."""
    if n == 1:
        return set(words)
    if len(words) <= n:
        return {tuple(words)}
    return set(zip(*(words[i:] for i in range(n))))


def jaccard(a: set[Hashable], b: set[Hashable]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def last_prompt_turn(pair: formats.Pair) -> str:
    """The user turn the answers reply to (the last one); in a transcript, its last Human turn."""
    turn = next((m for m in reversed(pair.prompt) if m.role == "user"), None)
    if turn is None:
        return ""
    text = formats.as_text(turn.content)
    if turn.content_key == "" and "\n\nHuman:" in text:  # an HH transcript's shared beginning
        text = text.rsplit("\n\nHuman:", 1)[1].split("\n\nAssistant:", 1)[0]
    return text


def _key(*parts: bytes) -> int:
    return xxhash.xxh3_64_intdigest(b"\x1f".join(parts))


class Row(NamedTuple):
    """The columns of one record this check reads (cheaper than building a Record)."""

    idx: int  # `index` would shadow tuple.index
    line: int | None
    prompt: str
    response: str
    rejected: str
    raw: str
    turns: int


# keys that make a record worth parsing: an implicit prompt has none of the first, and scores
# carry one of the second (one regex scan each costs far less than json.loads)
EXPLICIT_KEY = re.compile(r'"(?:prompt|conversations|input)"\s*:')
SCORE_KEY = re.compile("|".join(f'"{key}"' for pair in formats.SCORE_KEYS for key in pair))


def tally_batch(s: Settings, batch: RecordBatch) -> Tally:
    tally = Tally()
    columns = (batch.index, batch.line, batch.prompt, batch.response, batch.rejected, batch.raw, batch.turns)
    for error, row in zip(batch.error, map(Row._make, zip(*columns))):
        if error is not None:
            continue  # unparsable: format's finding
        if s.layout == "kto":
            _tally_kto(s, tally, row, formats.mapped(json.loads(row.raw), s.options))
        else:
            _tally_pair(s, tally, row)
    return tally


def _needs_parsing(s: Settings, row: Row) -> bool:
    """Whether the views leave something out: an implicit prompt (divergence), scores, mapped
    columns. Parsing every record took a third of the check."""
    raw = row.raw
    return bool(s.options.fields) or not EXPLICIT_KEY.search(raw) or SCORE_KEY.search(raw) is not None


def _parsed_pair(s: Settings, row: Row) -> tuple[Any, formats.Pair]:
    obj = formats.mapped(json.loads(row.raw), s.options)
    if not isinstance(obj, dict):
        return obj, formats.Pair([], [], [])
    found = formats.variant_of(obj)
    return obj, formats.preference_pair(obj, found[1] if found and found[0] == "preference" else "explicit")


class Words(NamedTuple):
    """One answer as this check compares it."""

    folded: bytes  # NFKC (non-ASCII only), casefolded, UTF-8
    words: list[bytes]  # folded with ASCII punctuation made spaces, split: \\w+ runs on ASCII
    length: int  # whitespace-separated words (the length measure)


def words_of(text: str) -> Words:
    """bytes.translate and bytes.split: 5-10x str.translate with a dict table on long answers."""
    base = text if text.isascii() else unicodedata.normalize("NFKC", text)
    folded = base.casefold().encode("utf-8", "surrogatepass")
    return Words(folded, folded.translate(PUNCTUATION).split(), len(folded.split()))


def _tally_pair(s: Settings, tally: Tally, rec: Row) -> None:
    tally.pairs += 1
    pair = None
    if _needs_parsing(s, rec):
        obj, pair = _parsed_pair(s, rec)
        if pair.diverged:
            tally.flags["implicit_prompt"].add(rec.idx, rec.line)
        _tally_scores(tally, rec, obj)
    chosen, rejected = rec.response, rec.rejected
    empty = [side for side, text in (("chosen", chosen), ("rejected", rejected)) if not text.strip()]
    if empty:
        tally.flags["empty_side"].add(rec.idx, rec.line, " and ".join(empty))
    c, r = words_of(chosen), words_of(rejected)
    side_c, side_r = c.folded, r.folded
    tally.keys.append(_key(rec.prompt.encode("utf-8", "surrogatepass"), min(side_c, side_r), max(side_c, side_r)))
    tally.orient.append(int(side_c <= side_r))
    tally.key_index.append(rec.idx)
    _tally_prompt_repeat(s, tally, rec, pair, (("chosen", chosen), ("rejected", rejected)))
    if empty:
        return
    if c.words == r.words and normalize_text(chosen) == normalize_text(rejected):  # words equal: rare
        tally.flags["identical_pair"].add(rec.idx, rec.line)
    elif min(c.length, r.length) >= max(c.length, r.length) / 2:  # a side twice as long is not near
        similarity = jaccard(shingles(c.words, s.ngram), shingles(r.words, s.ngram))
        if similarity >= s.near_threshold:
            tally.flags["near_identical_pair"].add(rec.idx, rec.line, f"{similarity:.3f}")
    _tally_lengths(tally, c.length, r.length)


def _tally_lengths(tally: Tally, words_c: int, words_r: int) -> None:
    tally.compared += 1
    tally.chosen_longer += words_c > words_r
    tally.equal_length += words_c == words_r
    tally.ratios.append(words_c / max(words_r, 1))  # both sides are non-empty here
    tally.words_a.append(words_c)
    tally.words_b.append(words_r)
    tally.hist_a[hist_bin(words_c)] += 1
    tally.hist_b[hist_bin(words_r)] += 1


def _tally_prompt_repeat(s: Settings, tally: Tally, rec: Row, pair: formats.Pair | None,
                         sides: Sequence[tuple[str, str]]) -> None:
    """A side that carries a transcript marker, or starts with the prompt it answers (the last
    user turn; read from the record only when the answer's first word is in the prompt view)."""
    # case kept: a template bug repeats the prompt as written, while an answer that opens with
    # the question as a Title Case heading (dpo_en_demo record 139) is a style, not a defect
    for side, text in sides:
        marker = TRANSCRIPT.search(text)
        if marker:
            tally.flags["prompt_in_response"].add(rec.idx, rec.line, f"{side} carries {marker.group().strip()!r}")
            continue
        first = text.split(None, 1)[:1]
        if not first or first[0] not in rec.prompt:
            continue
        if pair is None and rec.turns > 2:  # multi-turn: the views join every user turn
            pair = _parsed_pair(s, rec)[1]
        prompt = (last_prompt_turn(pair) if pair else "") or rec.prompt
        if prompt.lstrip().startswith(first[0]) and _repeats(prompt, text, s.min_prompt_words):
            tally.flags["prompt_in_response"].add(rec.idx, rec.line, f"{side} starts by repeating the prompt")


def _repeats(prompt: str, text: str, min_words: int) -> bool:
    """The text starts with the whole prompt (NFKC, spacing ignored) of at least min_words words."""
    norm_prompt = normalize_text(prompt, EXACT)
    return len(norm_prompt.split()) >= min_words and \
        normalize_text(text[: len(prompt) * 2 + 100], EXACT).startswith(norm_prompt)


def _tally_scores(tally: Tally, rec: Row, obj: Any) -> None:
    score_c, score_r = formats.preference_scores(obj)
    if score_c is None or score_r is None:
        return
    tally.scored += 1
    if score_c == score_r:
        tally.flags["tie"].add(rec.idx, rec.line, f"{score_c:g} = {score_r:g}")
    elif score_c < score_r:
        tally.flags["inverted"].add(rec.idx, rec.line, f"chosen {score_c:g} < rejected {score_r:g}")


def kto_label(obj: Any, options: ReadOptions) -> bool | None:
    """A KTO record's desirability (its boolean `label`); None when it has none."""
    label = next((p.text for p in formats.fields(obj, "kto", options) if p.role == "label"), None)
    return {"true": True, "false": False}.get(label or "")


def _tally_kto(s: Settings, tally: Tally, rec: Row, obj: Any) -> None:
    desirable = kto_label(obj, ReadOptions())  # obj is already mapped
    if desirable is None:
        return  # format reports the missing or non-boolean label
    if desirable:
        tally.desirable += 1
    else:
        tally.undesirable += 1
    answer = rec.response
    if not answer.strip():
        tally.flags["empty_side"].add(rec.idx, rec.line, "desirable" if desirable else "undesirable")
    answer_words = words_of(answer)
    tally.keys.append(_key(rec.prompt.encode("utf-8", "surrogatepass"), answer_words.folded))
    tally.orient.append(int(desirable))
    tally.key_index.append(rec.idx)
    (tally.words_a if desirable else tally.words_b).append(answer_words.length)
    (tally.hist_a if desirable else tally.hist_b)[hist_bin(answer_words.length)] += 1
    pair = formats.Pair(formats.message_list(obj.get("prompt"), "prompt") if "prompt" in obj else
                        formats.chat_messages(obj), [], [])
    _tally_prompt_repeat(s, tally, rec, pair, (("desirable" if desirable else "undesirable", answer),))


def contradictions(tally: Tally) -> list[list[int]]:
    """Groups of records with one prompt and one pair of answers in both orders (KTO: one answer
    labelled both desirable and undesirable), each sorted, ordered by first index."""
    if not tally.keys:
        return []
    keys = np.array(tally.keys, dtype=np.uint64)
    orient = np.array(tally.orient, dtype=np.int8)
    index = np.array(tally.key_index, dtype=np.int64)
    order = np.lexsort((index, keys))
    keys, orient, index = keys[order], orient[order], index[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    groups = []
    for lo, hi in zip(starts, np.r_[starts[1:], len(keys)]):
        if hi - lo > 1 and orient[lo:hi].min() != orient[lo:hi].max():
            groups.append(sorted(index[lo:hi].tolist()))
    return sorted(groups)


# --------------------------------------------------------------------------- statistics


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a binomial share k/n (sound for small n and shares near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    share = k / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def kto_weights(desirable: int, undesirable: int) -> dict[str, Any]:
    """TRL's KTO guidance: desirable_weight * desirable / (undesirable_weight * undesirable) in
    [1, 4/3]. The rarer side is up-weighted, the other kept at 1; the weight range that fits."""
    if not desirable or not undesirable:
        return {"ratio": None, "in_range": False, "desirable_weight": None, "undesirable_weight": None,
                "weight_range": None}
    ratio = desirable / undesirable
    low, high = KTO_RATIO
    if low <= ratio <= high:
        return {"ratio": round(ratio, 4), "in_range": True, "desirable_weight": 1.0, "undesirable_weight": 1.0,
                "weight_range": None}
    if ratio > high:  # more desirable: undesirable_weight in [D / (U * 4/3), D / U]
        span = [round(ratio / high, 2), round(ratio / low, 2)]
        return {"ratio": round(ratio, 4), "in_range": False, "desirable_weight": 1.0,
                "undesirable_weight": span[1], "weight_range": {"undesirable_weight": span}}
    span = [round(low / ratio, 2), round(high / ratio, 2)]  # more undesirable: up-weight desirable
    return {"ratio": round(ratio, 4), "in_range": False, "desirable_weight": span[0], "undesirable_weight": 1.0,
            "weight_range": {"desirable_weight": span}}


def median(values: Sequence[float]) -> float | None:
    return float(np.median(np.asarray(values, dtype=np.float64))) if len(values) else None


def pair_detail(rec: Record, kto: bool) -> list[dict[str, str]]:
    """A record's two sides as the HTML report shows them side by side, titled by line."""
    where = f"line {rec.line}" if rec.line is not None else f"record {rec.index}"
    if kto:
        sides = (("prompt", rec.prompt), ("answer", rec.response))  # the prompt it repeats
    else:
        sides = (("chosen", rec.response), ("rejected", rec.rejected))
    return [{"title": f"{where} · {name}", "text": text[:DETAIL_CHARS]} for name, text in sides]


# --------------------------------------------------------------------------- the check


MESSAGES = {
    "identical_pair": "chosen and rejected are the same text (after normalization): the pair teaches nothing",
    "near_identical_pair": "chosen and rejected are near-identical (word Jaccard {detail})",
    "empty_side": "empty answer on the {detail} side",
    "prompt_in_response": "{detail}",
    "implicit_prompt": "chosen and rejected differ before their last assistant turn: the shared beginning "
                       "is not the whole prompt (TRL's implicit prompt extraction would take a wrong one)",
    "tie": "chosen and rejected have the same score ({detail}): the preference is arbitrary",
    "inverted": "the rejected answer scores higher ({detail})",
}


class PreferenceChecker(Checker[PreferenceParams]):
    """Checks preference pairs (DPO, ORPO) and KTO answers: identical, near-identical and empty
    sides, length bias, phrases that tell the sides apart, prompts repeated in answers, implicit
    prompts that hide a divergence, contradictory and tied or inverted pairs, and KTO's balance.

    Why it matters: a preference model learns whatever separates the chosen answer from the
    rejected one. An identical pair teaches nothing; a systematic difference that has nothing
    to do with quality (the chosen side is longer, the rejected side opens with "Sure") is
    learned as eagerly as the real one; a pair given both ways cancels itself; and KTO's loss
    needs its desirable and undesirable weights set to the data's balance.

    Fix: drop identical and empty pairs, re-sample or re-label pairs to balance length and
    remove the tell phrases (or strip them from both sides), fix the prompt extraction, and
    set KTOConfig's desirable_weight / undesirable_weight to the suggested values.
    """

    name = "preference"
    parallel_safe = True
    runs_when = "when the layout is preference or kto"
    Params = PreferenceParams
    order = 85
    codes = {
        "preference.identical_pair": "chosen and rejected are the same text after normalization",
        "preference.near_identical_pair": "chosen and rejected are near-identical (word n-gram Jaccard)",
        "preference.empty_side": "a pair side (or a KTO answer) is empty",
        "preference.length_bias": "the chosen side is longer in far more (or far fewer) pairs than chance",
        "preference.side_tell": "a phrase (opening, closing, trigram) far more common on one side",
        "preference.prompt_in_response": "an answer starts by repeating the prompt or carries transcript markers",
        "preference.implicit_prompt": "an implicit-prompt pair whose sides differ before the last assistant turn",
        "preference.contradictory_pairs": "one prompt with the same two answers preferred both ways",
        "preference.tie": "a scored pair whose chosen and rejected scores are equal",
        "preference.inverted": "a scored pair whose rejected side scores higher",
        "preference.kto_imbalance": "KTO desirable:undesirable outside TRL's 1 to 4/3 without weights",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        if ctx.format not in ("preference", "kto"):
            return self.skipped("not preference data (layout preference or kto)")
        p = self.params(ctx)
        settings = Settings(ctx.format, ctx.options, p.near_threshold, p.ngram, p.min_prompt_words)
        tally = Tally()
        for part in data.map_batches(partial(tally_batch, settings), desc="preference pairs"):
            tally.merge(part)
        kto = ctx.format == "kto"
        search, sampled = self._side_tells(data, ctx, p, kto)
        findings = self._with_pairs(self._record_findings(tally, data.source), data, kto)
        groups = contradictions(tally)
        findings += self._contradiction_findings(groups, kto, data.source)
        metrics = self._metrics(tally, search.tells, search.tested, sampled, kto)
        metrics["contradictory_pairs"] = len(groups)
        findings += self._length_findings(tally, metrics, p, data.source)
        findings += [self._tell_finding(t, kto, search.tested, sampled, data.source) for t in search.tells]
        findings += self._kto_findings(tally, metrics, kto, data.source)
        findings += self._score_findings(tally, p, data.source)
        return self._result(findings, metrics, p, kto)

    # ---- side tells

    def _side_tells(self, data: Records, ctx: AuditContext, p: PreferenceParams, kto: bool) -> tuple[TellSearch, int]:
        records = data.sample(p.tell_sample or len(data), ctx.seed)
        side_a: list[tuple[int, str]] = []
        side_b: list[tuple[int, str]] = []
        for rec in records:
            if rec.error is not None:
                continue
            if kto:
                desirable = kto_label(formats.mapped(rec.data(), ctx.options), ReadOptions())
                if desirable is not None and rec.response.strip():
                    (side_a if desirable else side_b).append((rec.index, rec.response))
            elif rec.response.strip() and rec.rejected.strip():
                side_a.append((rec.index, rec.response))
                side_b.append((rec.index, rec.rejected))
        search = find_tells(side_a, side_b, alpha=p.tell_alpha, min_difference=p.tell_min_difference,
                            min_count=p.tell_min_count)
        return search, len(records)

    @staticmethod
    def _tell_finding(t: Tell, kto: bool, tested: int, sampled: int, source: str) -> Finding:
        a, b = ("desirable", "undesirable") if kto else ("chosen", "rejected")
        more, less = (a, b) if t.favours_a else (b, a)
        share = {a: (t.share_a, t.count_a, t.n_a), b: (t.share_b, t.count_b, t.n_b)}
        where = {"opening": "open with", "closing": "close with", "phrase": "contain"}[t.kind]
        message = (f"{more} answers {where} {t.phrase!r} in {share[more][0]:.1%} ({share[more][1]}/{share[more][2]}) "
                   f"vs {less} {share[less][0]:.1%} ({share[less][1]}/{share[less][2]}); p={t.p_value:.2g}, significant "
                   f"after Holm's correction for the {tested} phrases tried in {sampled} sampled records: "
                   "a model learns this phrase as a preference signal")
        return Finding("preference.side_tell", message, t.examples, field=more, source=source)

    # ---- findings

    @staticmethod
    def _record_findings(tally: Tally, source: str) -> list[Finding]:
        out = []
        for code in ("identical_pair", "near_identical_pair", "empty_side", "prompt_in_response", "implicit_prompt"):
            for index, line, detail in tally.flags[code].items:
                out.append(Finding(f"preference.{code}", MESSAGES[code].format(detail=detail), (index,),
                                   line=line, source=source))
        return out

    @staticmethod
    def _with_pairs(findings: list[Finding], data: Records, kto: bool) -> list[Finding]:
        """The first DETAILED pair findings with the two texts they compare (chosen and rejected;
        a KTO answer beside its prompt), read back in one `take` of those records only."""
        wanted = [i for i, f in enumerate(findings) if f.code.split(".", 1)[1] in PAIR_CODES][:DETAILED]
        if not wanted:
            return findings
        records = {r.index: r for r in data.take(sorted({findings[i].records[0] for i in wanted}))}
        out = list(findings)
        for i in wanted:
            rec = records.get(findings[i].records[0])
            if rec is not None:
                out[i] = replace(findings[i], detail={"pair": pair_detail(rec, kto)})
        return out

    @staticmethod
    def _contradiction_findings(groups: list[list[int]], kto: bool, source: str) -> list[Finding]:
        what = ("the same prompt and answer are labelled both desirable and undesirable" if kto else
                "the same prompt and answers appear with chosen and rejected swapped")
        return [Finding("preference.contradictory_pairs", f"{what} (records {', '.join(map(str, g[:10]))})",
                        tuple(g), source=source) for g in groups[:LISTED]]

    @staticmethod
    def _length_findings(tally: Tally, m: dict[str, Any], p: PreferenceParams, source: str) -> list[Finding]:
        low, high = m.get("chosen_longer_ci") or (0.0, 1.0)
        differing = tally.compared - tally.equal_length
        if not differing or p.min_longer_fraction <= high and low <= p.max_longer_fraction:
            return []
        message = (f"the chosen answer is longer (in words) in {tally.chosen_longer / differing:.1%} of the "
                   f"{differing} pairs of different lengths (95% CI {low:.1%}-{high:.1%}, expected within "
                   f"{p.min_longer_fraction:.0%}-{p.max_longer_fraction:.0%}); median chosen/rejected length "
                   f"ratio {m['length_ratio']}: a model learns length as quality")
        return [Finding("preference.length_bias", message, source=source)]

    @staticmethod
    def _kto_findings(tally: Tally, m: dict[str, Any], kto: bool, source: str) -> list[Finding]:
        if not kto or m["kto_ratio_in_range"]:
            return []
        weights = m["suggested_weights"]
        if weights["ratio"] is None:
            message = (f"{tally.desirable} desirable and {tally.undesirable} undesirable answers: KTO needs both; "
                       "TRL advises a conservative learning rate when only one kind is present")
        else:
            span = weights["weight_range"]
            message = (f"{tally.desirable} desirable vs {tally.undesirable} undesirable (ratio {weights['ratio']:.3g}): "
                       f"TRL wants desirable_weight*{tally.desirable} : undesirable_weight*{tally.undesirable} in "
                       f"1 to 4/3; set desirable_weight={weights['desirable_weight']:g}, "
                       f"undesirable_weight={weights['undesirable_weight']:g} (range {span})")
        return [Finding("preference.kto_imbalance", message, field="label", source=source)]

    @staticmethod
    def _score_findings(tally: Tally, p: PreferenceParams, source: str) -> list[Finding]:
        out = []
        for code, limit in (("tie", p.max_tie_fraction), ("inverted", p.max_inverted_fraction)):
            flags = tally.flags[code]
            if tally.scored and flags.count / tally.scored > limit:
                out += [Finding(f"preference.{code}", MESSAGES[code].format(detail=detail), (index,), line=line,
                                source=source) for index, line, detail in flags.items]
        return out

    # ---- metrics and verdict

    @staticmethod
    def _metrics(tally: Tally, tells: Sequence[Tell], tested: int, sampled: int, kto: bool) -> dict[str, Any]:
        a, b = ("desirable", "undesirable") if kto else ("chosen", "rejected")
        share = tally.chosen_longer / tally.compared if tally.compared else None
        # the interval is over pairs whose lengths differ: equal lengths show no bias either way
        differing = tally.compared - tally.equal_length
        ci = wilson_interval(tally.chosen_longer, differing) if differing else None
        ratio = median(tally.ratios) if tally.ratios else None
        metrics: dict[str, Any] = {
            "pairs": tally.pairs,
            "identical_pairs": tally.flags["identical_pair"].count,
            "near_identical_pairs": tally.flags["near_identical_pair"].count,
            "empty_sides": tally.flags["empty_side"].count,
            "chosen_longer_fraction": round(share, 4) if share is not None else None,
            "chosen_longer_ci": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
            "equal_length_pairs": tally.equal_length,
            "length_ratio": round(ratio, 4) if ratio is not None else None,
            f"median_words_{a}": median(tally.words_a), f"median_words_{b}": median(tally.words_b),
            "length_histogram": {"edges": HIST_EDGES, a: tally.hist_a, b: tally.hist_b},
            "side_tells": [{"kind": t.kind, "phrase": t.phrase, "favours": a if t.favours_a else b,
                            f"{a}_share": round(t.share_a, 4), f"{b}_share": round(t.share_b, 4),
                            f"{a}_count": t.count_a, f"{b}_count": t.count_b, "p_value": t.p_value}
                           for t in tells],
            "side_tell_phrases_tested": tested, "side_tell_sample": sampled,
            "prompt_in_response": tally.flags["prompt_in_response"].count,
            "implicit_prompt_pairs": tally.flags["implicit_prompt"].count,
            "scored_pairs": tally.scored,
            "tie_fraction": round(tally.flags["tie"].count / tally.scored, 4) if tally.scored else None,
            "inverted_fraction": round(tally.flags["inverted"].count / tally.scored, 4) if tally.scored else None,
        }
        if kto:
            weights = kto_weights(tally.desirable, tally.undesirable)
            metrics.update({"answers": tally.desirable + tally.undesirable,  # KTO has answers, not pairs
                            "desirable": tally.desirable, "undesirable": tally.undesirable,
                            "desirable_fraction": round(tally.desirable / max(tally.desirable + tally.undesirable, 1), 4),
                            "kto_ratio_in_range": weights["in_range"], "suggested_weights": weights})
        return metrics

    def _result(self, findings: list[Finding], metrics: dict[str, Any], p: PreferenceParams, kto: bool) -> CheckResult:
        thresholds = {"near_threshold": p.near_threshold, "ngram": p.ngram,
                      "longer_fraction": [p.min_longer_fraction, p.max_longer_fraction],
                      "tell_alpha": p.tell_alpha, "tell_min_difference": p.tell_min_difference,
                      "max_tie_fraction": p.max_tie_fraction, "max_inverted_fraction": p.max_inverted_fraction}
        if kto:
            thresholds["kto_ratio"] = [KTO_RATIO[0], round(KTO_RATIO[1], 4)]
        kinds = sorted({f.code.split(".", 1)[1].replace("_", " ") for f in findings})
        unit = "answers" if kto else "pairs"
        total = metrics["desirable"] + metrics["undesirable"] if kto else metrics["pairs"]
        what = f"{total} {unit}" + (f" ({metrics['desirable']} desirable, {metrics['undesirable']} undesirable)" if kto else "")
        if metrics["identical_pairs"]:
            return self.result(Status.FAIL, f"{what}; {metrics['identical_pairs']} identical pairs ({', '.join(kinds)})",
                               metrics, findings=findings, thresholds=thresholds)
        if findings:
            return self.result(Status.WARN, f"{what}; {', '.join(kinds)}", metrics, findings=findings,
                               thresholds=thresholds)
        return self.result(Status.PASS, f"{what}; no pair problems found", metrics, thresholds=thresholds)
