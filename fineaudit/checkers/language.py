"""The language check: which languages the records are in, and which do not belong."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from fineaudit.text import language_id
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.vectors.integer_hash import splitmix64

UND = language_id.UNDETERMINED
EXCERPT = 80  # characters quoted from a record


@dataclass(frozen=True)
class LanguageParams:
    minority_share: float = field(default=0.1, metadata={
        "help": "a language other than the dominant one holding less than this share of records is a "
                "minority: its records are listed for review"})
    expected_languages: str = field(default="", metadata={
        "help": "comma-separated ISO 639 codes that are never a minority (a deliberately multilingual set)"})
    min_confidence: float = field(default=0.5, metadata={
        "help": "the model's probability below which a text counts as undetermined (short lists, code)"})
    warn_mismatch_fraction: float = field(default=0.05, metadata={
        "help": "warn when more than this share of records answer in another language than asked "
                "(translation tasks do so on purpose)"})
    warn_production_shift: float = field(default=0.1, metadata={
        "help": "warn when the language shares of training and --production differ by more than this "
                "(total variation distance)"})
    max_identified: int = field(default=10000, metadata={
        "help": "about this many records go to the model at most (a seeded sample of those the cheap "
                "rules leave undecided, weighted back to the whole)"})

    def __post_init__(self) -> None:
        for name in ("minority_share", "min_confidence", "warn_mismatch_fraction", "warn_production_shift"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {value}")
        if self.max_identified < 1:
            raise ValueError(f"max_identified must be >= 1, not {self.max_identified}")

    def expected(self) -> frozenset[str]:
        return frozenset(c.strip().lower() for c in self.expected_languages.split(",") if c.strip())


@dataclass
class Languages:
    """Per-record languages of some records (arrays, so a batch's answer stays small)."""

    index: np.ndarray  # int64 record indices
    record: np.ndarray  # the record's language ('' = not identified: outside the model sample)
    prompt: np.ndarray
    response: np.ndarray
    weight: np.ndarray  # float64: 1 for rule-settled records, 1/rate for model-sampled ones, 0 else

    @staticmethod
    def concat(parts: list[Languages]) -> Languages:
        if not parts:
            empty = np.array([], dtype="U8")
            return Languages(np.array([], dtype=np.int64), empty, empty, empty, np.array([], dtype=np.float64))
        return Languages(*(np.concatenate([getattr(p, f) for p in parts])
                           for f in ("index", "record", "prompt", "response", "weight")))


def sampled(indices: list[int], seed: int, rate: float) -> list[bool]:
    """A seeded coin per record index: the same records on every engine and every run."""
    if rate >= 1.0:
        return [True] * len(indices)
    salted = np.asarray(indices, dtype=np.uint64) ^ np.uint64(seed * 0x9E3779B1 % 2 ** 64)
    return (splitmix64(salted) < np.uint64(min(rate, 1.0) * 2.0 ** 64 - 1)).tolist()


def _language(text: str, min_confidence: float, model_allowed: bool) -> tuple[str, bool]:
    """(the text's language, 'und', or '' when the model is needed but not allowed; whether
    the model was needed)."""
    if not text.strip():
        return UND, False
    prose = language_id.clean(text)
    ruled = language_id.by_rule(prose)
    if ruled is not None:
        return ruled, False
    if not model_allowed:
        return "", True
    code, confidence = language_id.by_model(prose)
    return (code if confidence >= min_confidence else UND), True


def identify_batch(min_confidence: float, rate: float, seed: int, batch: RecordBatch) -> Languages:
    rows: list[tuple[int, str, str, str, float]] = []
    coins = sampled(batch.index, seed, rate)
    for index, prompt, response, text, error, allowed in zip(
            batch.index, batch.prompt, batch.response, batch.text, batch.error, coins):
        if error is not None:
            continue  # unparsable: format's finding
        if not prompt.strip() and not response.strip():
            prompt = text  # text and classification layouts: the text is what is asked
        p_lang, p_model = _language(prompt, min_confidence, allowed)
        r_lang, r_model = _language(response, min_confidence, allowed)
        unknown = p_lang == "" or r_lang == ""
        # a record's language is its prompt's: an answer in another language is a mismatch,
        # and a translation task's answer does not make the record foreign
        record = "" if unknown else (p_lang if prompt.strip() else r_lang)
        weight = 0.0 if unknown else (1.0 / rate if rate < 1.0 and (p_model or r_model) else 1.0)
        rows.append((index, record, p_lang, r_lang, weight))
    if not rows:
        return Languages.concat([])
    columns = list(zip(*rows))
    return Languages(np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype="U8"),
                     np.array(columns[2], dtype="U8"), np.array(columns[3], dtype="U8"),
                     np.array(columns[4], dtype=np.float64))


def shares(codes: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """code -> weighted share among identified records, largest first."""
    totals: Counter[str] = Counter()
    for code, w in zip(codes.tolist(), weights.tolist()):
        if code and w > 0:
            totals[code] += w
    whole = sum(totals.values())
    return {c: round(v / whole, 4) for c, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))} if whole else {}


PROBE = 1000  # records sampled to estimate how many the rules leave to the model


def model_rate(data: Records, max_identified: int, seed: int) -> float:
    """The share of rule-unsettled records to send to the model so that about max_identified
    go there: estimated on a seeded probe, since English data leaves most records to the
    rules (72% of the Alpaca sample) and gibberish or other languages leave them all."""
    if len(data) <= max_identified:
        return 1.0
    probe = [r for r in data.sample(PROBE, seed) if r.parsed]
    needing = sum(1 for r in probe if any(
        t.strip() and language_id.by_rule(language_id.clean(t)) is None for t in (r.prompt or r.text, r.response)))
    expected = len(data) * max(needing, 1) / max(len(probe), 1)
    return min(1.0, max_identified / expected)


def identify(data: Records, p: LanguageParams, seed: int, desc: str) -> tuple[Languages, float]:
    """Every record's languages, and the share of rule-undecided records the model saw."""
    rate = model_rate(data, p.max_identified, seed)
    parts = data.map_batches(partial(identify_batch, p.min_confidence, rate, seed), desc=desc)
    return Languages.concat(parts), rate


def total_variation(a: dict[str, float], b: dict[str, float]) -> float:
    return round(0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)), 4)


class LanguageChecker(Checker):
    """Identifies the language of every prompt and response (offline, fastText `lid.176.ftz`):
    language shares, the dominant language, records in a minority language, prompts answered
    in another language, and training vs production language shares.

    Why it matters: a model fine-tuned on English with a few hundred stray German or Spanish
    records learns to switch language now and then; answers in another language than the
    question teach it to ignore the user's language; and a model trained in one language
    serves users who write in another poorly.

    Fix: review the listed records: drop or translate the strays, or declare the languages
    you mean to train on in `expected_languages`; collect training data in the languages
    production shows.
    """

    name = "language"
    parallel_safe = True
    Params = LanguageParams
    order = 95
    codes = {
        "language.minority": "records in a language other than the dominant one, holding less than "
                             "minority_share (one finding per language; lists exactly those records)",
        "language.mismatch": "records whose response is in another language than their prompt",
        "language.production_shift": "a language production uses that training under-represents",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: LanguageParams = ctx.params
        found, rate = identify(data, p, ctx.seed, "identifying languages")
        judged = found.weight > 0
        languages = shares(found.record[judged], found.weight[judged])
        determined = {c: s for c, s in languages.items() if c != UND}
        dominant = next(iter(determined), UND)
        minority = self._minority(found, languages, dominant, p)
        mismatched = self._mismatched(found)
        metrics: dict[str, Any] = {
            "languages": languages, "dominant_language": dominant,
            "minority_records": int(sum(len(r) for r in minority.values())),
            "mismatched_records": int(len(mismatched)),
            "prompt_languages": shares(found.prompt[judged], found.weight[judged]),
            "response_languages": shares(found.response[judged], found.weight[judged]),
            "identified_records": int(judged.sum()), "model_sample_rate": round(rate, 4),
        }
        findings = self._minority_findings(data, minority, languages, dominant)
        findings += self._mismatch_findings(data, found, mismatched)
        shift = self._production(ctx, p, languages, metrics, findings)
        mismatch_fraction = len(mismatched) / max(1, int(judged.sum()))
        status = Status.WARN if (minority or mismatch_fraction > p.warn_mismatch_fraction
                                 or shift > p.warn_production_shift) else Status.PASS
        summary = self._summary(metrics, languages, dominant)
        thresholds = {"minority_share": p.minority_share, "min_confidence": p.min_confidence,
                      "warn_mismatch_fraction": p.warn_mismatch_fraction,
                      "warn_production_shift": p.warn_production_shift}
        return self.result(status, summary, metrics, findings=findings, thresholds=thresholds)

    @staticmethod
    def _minority(found: Languages, languages: dict[str, float], dominant: str,
                  p: LanguageParams) -> dict[str, list[int]]:
        expected = p.expected() | {dominant, UND, ""}
        small = {c for c, s in languages.items() if c not in expected and s < p.minority_share}
        out: dict[str, list[int]] = {}
        for index, code in zip(found.index.tolist(), found.record.tolist()):
            if code in small:
                out.setdefault(code, []).append(index)
        return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0])))

    @staticmethod
    def _mismatched(found: Languages) -> np.ndarray:
        p, r = found.prompt, found.response
        ok = (p != UND) & (r != UND) & (p != "") & (r != "")
        return found.index[ok & (p != r)]

    def _minority_findings(self, data: Records, minority: dict[str, list[int]], languages: dict[str, float],
                           dominant: str) -> list[Finding]:
        findings = []
        for code, records in minority.items():
            example = data.take(records[:1])[0]
            findings.append(Finding(
                "language.minority", f"{len(records)} record{'s' if len(records) != 1 else ''} in {code!r} "
                f"({languages.get(code, 0.0):.1%}) where {languages.get(dominant, 0.0):.0%} are {dominant!r}, e.g. "
                f"record {example.index}: {_excerpt(example.prompt or example.text)!r}",
                tuple(records), line=example.line if len(records) == 1 else None, source=data.source))
        return findings

    @staticmethod
    def _mismatch_findings(data: Records, found: Languages, mismatched: np.ndarray) -> list[Finding]:
        pairs: dict[tuple[str, str], list[int]] = {}
        position = {int(i): k for k, i in enumerate(found.index.tolist())}
        for index in mismatched.tolist():
            k = position[index]
            pairs.setdefault((str(found.prompt[k]), str(found.response[k])), []).append(index)
        findings = []
        for (asked, answered), records in sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            example = data.take(records[:1])[0]
            findings.append(Finding(
                "language.mismatch", f"{len(records)} prompt{'s' if len(records) != 1 else ''} in {asked!r} "
                f"answered in {answered!r}, e.g. record {example.index}: {_excerpt(example.response)!r}",
                tuple(records), field="response", source=data.source))
        return findings

    @staticmethod
    def _production(ctx: AuditContext, p: LanguageParams, languages: dict[str, float],
                    metrics: dict[str, Any], findings: list[Finding]) -> float:
        if ctx.production is None or not len(ctx.production):
            return 0.0
        prod, _ = identify(ctx.production, p, ctx.seed, "identifying production languages")
        judged = prod.weight > 0
        prod_shares = shares(prod.record[judged], prod.weight[judged])
        shift = total_variation(languages, prod_shares)
        metrics["production_languages"] = prod_shares
        metrics["production_language_shift"] = shift
        for code, share in prod_shares.items():
            if code != UND and share >= 0.05 and languages.get(code, 0.0) < share / 2:
                records = prod.index[judged & (prod.record == code)][:20].tolist()
                findings.append(Finding(
                    "language.production_shift", f"{share:.1%} of production is {code!r}, "
                    f"{languages.get(code, 0.0):.1%} of training", tuple(records), source="production"))
        return shift

    @staticmethod
    def _summary(metrics: dict[str, Any], languages: dict[str, float], dominant: str) -> str:
        if dominant == UND:
            return "no record's language could be determined"
        top = ", ".join(f"{c} {s:.1%}" for c, s in list(languages.items())[:4])
        extra = []
        if metrics["minority_records"]:
            extra.append(f"{metrics['minority_records']} in minority languages")
        if metrics["mismatched_records"]:
            extra.append(f"{metrics['mismatched_records']} answered in another language")
        return f"{top}" + (f"; {', '.join(extra)}" if extra else "")


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[:EXCERPT] + "…"
