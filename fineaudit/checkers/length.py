"""The length check: token counts against the context window, and production coverage."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from fineaudit.core import AuditContext, Checker, CheckResult, Finding, ReadOptions, RecordBatch, Records, Status
from fineaudit.text.record_tokens import PROMPT, RESPONSE, count_parts
from fineaudit.text.token_counting import DEFAULT_TOKENIZER, TOKENS_KEY, RecordTokens, count_tokens, resolve_spec

FINDINGS_PER_BATCH = 200  # records named per batch and kind; the counts stay exact beyond it
MAX_OUTLIER_FINDINGS = 100
HISTOGRAM_BINS = 30


@dataclass(frozen=True)
class LengthParams:
    tokenizer: str = field(default=DEFAULT_TOKENIZER, metadata={"path": True,
        "help": "cl100k_base, o200k_base, a local tokenizer.json or a folder holding one, or 'default'"})
    max_length: int = field(default=4096, metadata={
        "help": "your training context length in tokens; longer records get truncated"})
    max_truncated_fraction: float = field(default=0.01, metadata={
        "help": "fail when more than this share of records is longer than max_length"})
    tokens_per_message: int = field(default=4, metadata={
        "help": "chat-template tokens around each turn (role, start and end markers)"})
    tokens_per_record: int = field(default=3, metadata={
        "help": "template tokens once per record (BOS, assistant priming); 4 + 3 is OpenAI's count"})
    near_empty_tokens: int = field(default=2, metadata={
        "help": "warn on responses of at most this many tokens (empty ones fail)"})
    outlier_iqr: float = field(default=3.0, metadata={
        "help": "an outlier lies this many interquartile ranges of log length beyond the quartiles"})
    outlier_min_ratio: float = field(default=5.0, metadata={"min": 1, "help":
        "and at least this many times longer or shorter than the median: in a set of short texts "
        "(classification, median 18 tokens) a 70-token one is within the spread of language, not an outlier"})
    coverage_percentile: float = field(default=95.0, metadata={
        "help": "with --production: warn when this percentile of production prompts is beyond training's"})

    def __post_init__(self) -> None:
        resolve_spec(self.tokenizer)  # a bad spec is a config error, before any data is read
        if self.max_length < 1:
            raise ValueError("length.max_length must be at least 1")


@dataclass
class BatchLengths:
    """What one batch contributes: per-record token counts and the records worth naming."""

    index: np.ndarray
    prompt: np.ndarray
    response: np.ndarray
    total: np.ndarray
    empty: list[tuple[int, int | None]]
    near_empty: list[tuple[int, int | None, int]]
    over: list[tuple[int, int | None, int]]
    counts: dict[str, int]


def measure_batch(spec: str, layout: str, per_message: int, per_record: int, max_length: int,
                  near_empty: int, responses_expected: bool, batch: RecordBatch,
                  options: ReadOptions | None = None) -> BatchLengths:
    counts = count_parts(spec, layout, batch, options)
    rows, records, sums = counts.rows, counts.parts, counts.sums
    total = counts.totals(per_message, per_record)
    out = BatchLengths(np.asarray([batch.index[i] for i in rows], np.int64), sums[:, PROMPT].copy(),
                       sums[:, RESPONSE].copy(), total, [], [], [], {"empty": 0, "near_empty": 0, "over": 0})
    for k, i in enumerate(rows):
        ref = (batch.index[i], batch.line[i])
        if total[k] > max_length:
            _note(out, "over", out.over, (*ref, int(total[k])))
        if not responses_expected or not records[k][1]:
            continue
        if not batch.response[i].strip():
            _note(out, "empty", out.empty, ref)
        elif out.response[k] <= near_empty:
            _note(out, "near_empty", out.near_empty, (*ref, int(out.response[k])))
    return out


def _note(out: BatchLengths, kind: str, kept: list[Any], item: Any) -> None:
    out.counts[kind] += 1
    if len(kept) < FINDINGS_PER_BATCH:
        kept.append(item)


def prompt_lengths(spec: str, batch: RecordBatch) -> np.ndarray:
    texts = [p for p, e in zip(batch.prompt, batch.error) if e is None]
    return np.asarray(count_tokens(spec, texts), dtype=np.int64)


def percentiles(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"p50": 0, "p95": 0, "p99": 0, "max": 0, "min": 0, "mean": 0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1),
            "max": int(values.max()), "min": int(values.min()), "mean": round(float(values.mean()), 1)}


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, list[Any]]:
    """Log-spaced bins: lengths are right-skewed, and linear bins would put nearly all in one."""
    if len(values) == 0:
        return {"edges": [0.0, 1.0], "counts": [0]}
    low, high = max(1.0, float(values.min())), max(1.0, float(values.max()))
    edges = np.unique(np.round(np.geomspace(low, high, bins + 1), 1)) if high > low else np.array([low, low + 1])
    edges[0], edges[-1] = min(edges[0], float(values.min())), max(edges[-1], float(values.max()))
    counts, _ = np.histogram(values, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def outlier_positions(total: np.ndarray, k: float, min_ratio: float = 1.0) -> np.ndarray:
    """Positions beyond k IQRs of log length past the quartiles (Tukey's far-out fences) that are
    also at least `min_ratio` times longer or shorter than the median."""
    if len(total) < 20:
        return np.zeros(0, dtype=np.int64)
    logs = np.log1p(total)
    q1, q3 = np.percentile(logs, [25, 75])
    spread = max(q3 - q1, 0.05)  # a tiny floor, so near-constant lengths do not flag every wobble
    far = (logs > q3 + k * spread) | (logs < q1 - k * spread)
    median = max(float(np.median(total)), 1.0)
    ratio = np.maximum(total / median, median / np.maximum(total, 1))
    return np.flatnonzero(far & (ratio >= min_ratio))


_BLOCKING_FIRST = ("length.empty_response", "length.over_max_length", "length.near_empty_response")


class LengthChecker(Checker[LengthParams]):
    """Counts tokens per record (prompt, response, whole record with chat-template overhead)
    with your tokenizer, against your context length; with --production, checks that training
    covers the prompt lengths production sends.

    Why it matters: a record longer than the training context is truncated without a word,
    often cutting off the response the model was meant to learn; an empty response teaches the
    model to answer with nothing; and a model fine-tuned on short prompts degrades on longer
    production inputs. The total tells you what an epoch costs.

    Fix: set `max_length` (and `tokenizer`) to your model's; split, shorten or drop the named
    records; fill or remove empty responses; add training examples as long as production's.
    """

    name = "length"
    parallel_safe = True
    Params = LengthParams
    order = 80
    codes = {
        "length.over_max_length": "a record longer than max_length tokens: truncated in training",
        "length.empty_response": "a response that is empty or whitespace",
        "length.near_empty_response": "a response of at most near_empty_tokens tokens (not where the median "
                                      "answer is that short: multiple choice)",
        "length.outlier": "a record far longer or shorter than the rest (log-scale IQR fences)",
        "length.production_longer": "production prompts run longer than training prompts",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        fn = partial(measure_batch, p.tokenizer, ctx.format, p.tokens_per_message,
                     p.tokens_per_record, p.max_length, p.near_empty_tokens,
                     ctx.format not in ("classification", "text"), options=ctx.options)
        parts = data.map_batches(fn, desc="counting tokens")
        index = np.concatenate([b.index for b in parts]) if parts else np.zeros(0, np.int64)
        lengths = {name: np.concatenate([getattr(b, name) for b in parts]) if parts else np.zeros(0, np.int64)
                   for name in ("prompt", "response", "total")}
        counts = {k: sum(b.counts[k] for b in parts) for k in ("empty", "near_empty", "over")}
        ctx.shared[TOKENS_KEY] = RecordTokens(p.tokenizer, index, lengths["total"])
        findings = self._record_findings(parts, p, data.source)
        short_by_design = bool(len(lengths["response"])) and float(np.median(lengths["response"])) <= p.near_empty_tokens
        if short_by_design:  # one-letter answers to multiple-choice prompts: short on purpose
            findings = [f for f in findings if f.code != "length.near_empty_response"]
        outliers = self._outlier_findings(data, index, lengths["total"], p)
        coverage, coverage_finding = self._coverage(ctx, lengths["prompt"], p)
        metrics = self._metrics(p, lengths, counts, len(outliers), coverage)
        metrics["short_answers_by_design"] = short_by_design
        judged = {**counts, "near_empty": 0} if short_by_design else counts
        status, summary = self._status(metrics, judged, outliers, coverage_finding, p)
        thresholds = {"max_length": p.max_length, "max_truncated_fraction": p.max_truncated_fraction,
                      "near_empty_tokens": p.near_empty_tokens, "outlier_iqr": p.outlier_iqr,
                      "outlier_min_ratio": p.outlier_min_ratio,
                      "coverage_percentile": p.coverage_percentile}
        findings += outliers + ([coverage_finding] if coverage_finding else [])
        result = self.result(status, summary, metrics, findings=findings, thresholds=thresholds)
        total = sum(judged.values()) + len(outliers) + bool(coverage_finding)
        return result if total <= len(findings) else _with_total(result, total)

    @staticmethod
    def _record_findings(parts: list[BatchLengths], p: LengthParams, source: str) -> list[Finding]:
        out = []
        for b in parts:
            out += [Finding("length.over_max_length", f"{n} tokens, over max_length {p.max_length}: "
                            f"{n - p.max_length} tokens would be truncated", (i,), line, None, source)
                    for i, line, n in b.over]
            out += [Finding("length.empty_response", "the response is empty", (i,), line, None, source)
                    for i, line in b.empty]
            out += [Finding("length.near_empty_response", f"the response is only {n} token(s)",
                            (i,), line, None, source) for i, line, n in b.near_empty]
        # what fails the check first, so the first findings shown explain the status
        return sorted(out, key=lambda f: (_BLOCKING_FIRST.index(f.code), f.records))

    @staticmethod
    def _outlier_findings(data: Records, index: np.ndarray, total: np.ndarray, p: LengthParams) -> list[Finding]:
        positions = outlier_positions(total, p.outlier_iqr, p.outlier_min_ratio)
        if len(positions) == 0:
            return []
        median = float(np.median(total))
        # the most extreme first, so the kept findings are the ones worth reading
        ranked = sorted(positions.tolist(), key=lambda k: -abs(np.log1p(total[k]) - np.log1p(median)))
        chosen = ranked[:MAX_OUTLIER_FINDINGS]
        lines = {r.index: r.line for r in data.take([int(index[k]) for k in chosen])}
        return [Finding("length.outlier", f"{int(total[k])} tokens against a median of {median:.0f}",
                        (int(index[k]),), lines.get(int(index[k])), None, data.source)
                for k in sorted(chosen)]

    @staticmethod
    def _coverage(ctx: AuditContext, train_prompt: np.ndarray,
                  p: LengthParams) -> tuple[dict[str, Any] | None, Finding | None]:
        if ctx.production is None or len(ctx.production) == 0 or len(train_prompt) == 0:
            return None, None
        prod = ctx.production.map_batches(partial(prompt_lengths, p.tokenizer), desc="counting production tokens")
        prod_lengths = np.concatenate(prod) if prod else np.zeros(0, np.int64)
        if len(prod_lengths) == 0:
            return None, None
        q = p.coverage_percentile
        train_q, prod_q = (float(np.percentile(v, q)) for v in (train_prompt, prod_lengths))
        beyond = float(np.mean(prod_lengths > train_q))
        coverage = {"records": int(len(prod_lengths)), "percentile": q,
                    "train_prompt_percentile": round(train_q, 1), "production_prompt_percentile": round(prod_q, 1),
                    "production_prompt": percentiles(prod_lengths),
                    "beyond_train_fraction": round(beyond, 4)}
        if prod_q <= train_q:
            return coverage, None
        message = (f"production prompts' p{q:g} is {prod_q:.0f} tokens, beyond the {train_q:.0f} that "
                   f"{q:g}% of training prompts reach; {beyond:.1%} of production prompts are longer")
        return coverage, Finding("length.production_longer", message, source="production")

    @staticmethod
    def _metrics(p: LengthParams, lengths: dict[str, np.ndarray], counts: dict[str, int], outliers: int,
                 coverage: dict[str, Any] | None) -> dict[str, Any]:
        total = lengths["total"]
        stats = percentiles(total)
        return {"tokenizer": p.tokenizer, "records_counted": int(len(total)),
                "p50": stats["p50"], "p95": stats["p95"], "p99": stats["p99"], "max": stats["max"],
                "max_length": p.max_length, "over_max_length": counts["over"],
                "over_max_length_fraction": round(counts["over"] / len(total), 6) if len(total) else 0.0,
                "empty_responses": counts["empty"], "near_empty_responses": counts["near_empty"],
                "outliers": outliers, "tokens_per_epoch": int(total.sum()),
                "prompt": percentiles(lengths["prompt"]), "response": percentiles(lengths["response"]),
                "total": stats, "tokens_per_message": p.tokens_per_message,
                "tokens_per_record": p.tokens_per_record, "histogram": histogram(total),
                "production": coverage}

    @staticmethod
    def _status(m: dict[str, Any], counts: dict[str, int], outliers: list[Finding],
                coverage: Finding | None, p: LengthParams) -> tuple[Status, str]:
        over = f"{_plural(counts['over'], 'record')} over max_length {p.max_length} ({m['over_max_length_fraction']:.2%})"
        if m["over_max_length_fraction"] > p.max_truncated_fraction or counts["empty"]:
            parts = [over if counts["over"] else "", f"{_plural(counts['empty'], 'empty response')}" if counts["empty"] else ""]
            return Status.FAIL, "; ".join(s for s in parts if s)
        warnings = [over if counts["over"] else "",
                    f"{_plural(counts['near_empty'], 'near-empty response')}" if counts["near_empty"] else "",
                    f"{len(outliers)} length outliers" if outliers else "",
                    "production prompts run longer than training's" if coverage else ""]
        if any(warnings):
            return Status.WARN, "; ".join(w for w in warnings if w)
        return Status.PASS, (f"p50 {m['p50']:.0f}, p95 {m['p95']:.0f}, max {m['max']} tokens "
                             f"({m['tokenizer']}); {m['tokens_per_epoch']:,} tokens per epoch")


def _with_total(result: CheckResult, total: int) -> CheckResult:
    from dataclasses import replace

    return replace(result, findings_total=total)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
