"""The cost check: the tokens a training run bills, its epochs, and what it costs (no price is fetched)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.text.record_tokens import count_parts
from fineaudit.text.token_counting import DEFAULT_TOKENIZER, TOKENS_KEY, RecordTokens, resolve_spec

PRESETS = ("openai-cookbook", "per-token", "gpu-hours")
MAX_NAMED = 1000  # records named by the truncation finding
DEFAULT_EPOCHS = 3  # OpenAI's target; also what per-token and gpu-hours assume when epochs = 0
# OpenAI's chat count (its data-prep notebook): 3 tokens per message plus the role's token
# (one in cl100k_base for system/user/assistant), and 3 to prime the reply: length's defaults
TOKENS_PER_MESSAGE, TOKENS_PER_RECORD = 4, 3


@dataclass(frozen=True)
class CostParams:
    preset: str = field(default="openai-cookbook", metadata={
        "help": "openai-cookbook (OpenAI's epoch rule and token cap), per-token, or gpu-hours"})
    epochs: int = field(default=0, metadata={
        "help": "training epochs; 0 = the preset's rule (cookbook: 3, raised to 100 example-passes, "
                "lowered to 25,000; others: 3)"})
    max_tokens_per_example: int = field(default=16385, metadata={
        "help": "tokens billed per example at most; longer ones are truncated (OpenAI: 16,385)"})
    price_per_million_tokens: float = field(default=0.0, metadata={
        "help": "your provider's training price per 1M tokens (0 = tokens only, no cost)"})
    currency: str = field(default="USD", metadata={"help": "the currency of the prices and the budget"})
    packing: bool = field(default=True, metadata={
        "help": "per-token/gpu-hours: examples packed into sequences (off: each padded to max_tokens_per_example)"})
    validation_tokens: bool = field(default=False, metadata={
        "help": "per-token/gpu-hours: also bill the --eval set's tokens once per epoch"})
    model_parameters: float = field(default=0.0, metadata={
        "help": "gpu-hours: the model's parameter count (8e9 for an 8B model)"})
    gpu_flops: float = field(default=989e12, metadata={
        "help": "gpu-hours: one GPU's peak FLOP/s (989e12: H100 SXM dense BF16)"})
    utilization: float = field(default=0.4, metadata={
        "help": "gpu-hours: the share of peak FLOP/s training reaches (MFU; 0.3-0.5 is typical)"})
    gpu_price_per_hour: float = field(default=0.0, metadata={"help": "gpu-hours: price of one GPU-hour"})
    budget: float = field(default=0.0, metadata={
        "help": "fail when the estimated cost is above this (0 = no budget; the check never blocks)"})
    tokenizer: str = field(default=DEFAULT_TOKENIZER, metadata={"path": True,
        "help": "used only when length did not run (its counts are used otherwise)"})

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"cost.preset must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        if self.epochs < 0 or self.max_tokens_per_example < 1:
            raise ValueError("cost.epochs must be >= 0 and max_tokens_per_example >= 1")
        for name in ("price_per_million_tokens", "model_parameters", "gpu_flops", "gpu_price_per_hour", "budget"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"cost.{name} must be a finite number >= 0")
        if not 0.0 < self.utilization <= 1.0:
            raise ValueError("cost.utilization must be in (0, 1]")
        if self.gpu_flops <= 0:
            raise ValueError("cost.gpu_flops must be above 0")
        resolve_spec(self.tokenizer)


def cookbook_epochs(examples: int, target: int = DEFAULT_EPOCHS, min_passes: int = 100,
                    max_passes: int = 25000) -> int:
    """OpenAI's default epochs (Chat_finetuning_data_prep.ipynb): 3, raised so that a small set
    is seen at least 100 times, lowered so that a large one is seen at most 25,000, within 1..25."""
    if examples <= 0:
        return target
    if examples * target < min_passes:
        return min(25, min_passes // examples)
    if examples * target > max_passes:
        return max(1, max_passes // examples)
    return target


def record_tokens_batch(spec: str, layout: str, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(index, tokens) of each parsed record, counted as length counts them (its default overhead);
    used only when length did not run in this audit."""
    counts = count_parts(spec, layout, batch)
    return (np.asarray([batch.index[i] for i in counts.rows], np.int64),
            counts.totals(TOKENS_PER_MESSAGE, TOKENS_PER_RECORD))


@dataclass(frozen=True)
class Tokens:
    index: np.ndarray
    per_record: np.ndarray
    source: str          # "length" or "cost"
    tokenizer: str


def training_tokens(data: Records, ctx: AuditContext, p: CostParams) -> Tokens:
    shared = ctx.shared.get(TOKENS_KEY)
    if isinstance(shared, RecordTokens):
        return Tokens(np.asarray(shared.index, np.int64), np.asarray(shared.total, np.int64), "length",
                      shared.tokenizer)
    return Tokens(*_count(data, ctx.format, p.tokenizer), "cost (length did not run)", p.tokenizer)


def _count(data: Records, layout: str, spec: str) -> tuple[np.ndarray, np.ndarray]:
    parts = data.map_batches(partial(record_tokens_batch, spec, layout), desc="cost: counting tokens")
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([i for i, _ in parts]), np.concatenate([t for _, t in parts])


@dataclass(frozen=True)
class Estimate:
    per_epoch: int
    epochs: int
    total: int
    cost: float | None
    extra: dict[str, Any]


def estimate(tokens: np.ndarray, validation: int, p: CostParams) -> Estimate:
    capped = np.minimum(tokens, p.max_tokens_per_example)
    if p.preset == "openai-cookbook":
        epochs = p.epochs or cookbook_epochs(len(tokens))
        per_epoch = int(capped.sum())
        total = per_epoch * epochs
        return Estimate(per_epoch, epochs, total, _per_token_cost(total, p), {})
    per_epoch = int(capped.sum()) if p.packing else len(tokens) * p.max_tokens_per_example
    per_epoch += validation
    epochs = p.epochs or DEFAULT_EPOCHS
    total = per_epoch * epochs
    if p.preset == "per-token":
        return Estimate(per_epoch, epochs, total, _per_token_cost(total, p), {"packing": p.packing})
    # training FLOPs ~ 6 x parameters x tokens (forward 2, backward 4; Kaplan et al. 2020)
    flops = 6.0 * p.model_parameters * total
    hours = flops / (p.gpu_flops * p.utilization) / 3600.0
    cost = hours * p.gpu_price_per_hour if p.model_parameters and p.gpu_price_per_hour else None
    return Estimate(per_epoch, epochs, total, cost, {"packing": p.packing, "training_flops": flops,
                                                     "gpu_hours": round(hours, 6) if p.model_parameters else None})


def _per_token_cost(total: int, p: CostParams) -> float | None:
    return total / 1e6 * p.price_per_million_tokens if p.price_per_million_tokens else None


def money(amount: float) -> str:
    """Cents from one unit up; below it, four significant digits (a 0.0009 run is not 0.00)."""
    return f"{amount:,.2f}" if abs(amount) >= 1 or amount == 0 else f"{amount:.4g}"


class CostChecker(Checker[CostParams]):
    """What one training run will bill: tokens per epoch (each example capped at
    max_tokens_per_example), the epochs (OpenAI's rule by default), the total, and the cost at
    the price you give (per million tokens, or GPU-hours from the model size); never fetches a price.

    Why it matters: fine-tuning is billed by the token and by the epoch, and a dataset twice as
    long as you think costs twice as much to train, every time you retrain; whether fine-tuning
    is worth it at all is a sum of these figures. Examples over the cap are truncated yet billed.

    Fix: set `price_per_million_tokens` (or the gpu-hours settings) and a `budget` to gate on;
    shorten or drop the longest examples, deduplicate, or train fewer epochs to cost less.
    """

    name = "cost"
    after = ("length",)  # bills the token counts that length leaves in ctx.shared
    parallel_safe = True
    Params = CostParams
    order = 180  # after length (80), whose token counts it reads
    runs_when = "always (not blocking unless a budget is set)"
    codes = {"cost.over_budget": "the estimated cost is above `budget`",
             "cost.truncated": "examples longer than max_tokens_per_example: truncated, billed for the cap",
             "cost.no_price": "a budget is set but no price, so the cost cannot be checked against it"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        tokens = training_tokens(data, ctx, p)
        validation = 0
        if p.validation_tokens and p.preset != "openai-cookbook" and ctx.eval is not None:
            validation = int(np.minimum(_count(ctx.eval, ctx.format, tokens.tokenizer)[1], p.max_tokens_per_example).sum())
        est = estimate(tokens.per_record, validation, p)
        truncated = tokens.index[tokens.per_record > p.max_tokens_per_example]
        metrics = {"billing_tokens_per_epoch": est.per_epoch, "epochs": est.epochs,
                   "total_billing_tokens": est.total, "currency": p.currency,
                   # rounded for the report only: the budget is compared with the unrounded cost
                   "estimated_cost": None if est.cost is None else round(est.cost, 6),
                   "preset": p.preset, "tokens_from": tokens.source, "tokenizer": tokens.tokenizer,
                   "records_counted": int(len(tokens.per_record)), "max_tokens_per_example": p.max_tokens_per_example,
                   "truncated_examples": int(len(truncated)), "validation_tokens_per_epoch": validation, **est.extra}
        thresholds = {"budget": p.budget or None, "max_tokens_per_example": p.max_tokens_per_example}
        findings = self._findings(est, truncated, p)
        # the contract: not blocking unless a budget is set, so without one the status stays pass
        # (a warning would block under --fail-on warn); truncation is named, not judged: length judges it
        codes = {f.code for f in findings}
        status = Status.FAIL if "cost.over_budget" in codes else Status.WARN if "cost.no_price" in codes else Status.PASS
        return self.result(status, self._summary(est, p), metrics, findings=findings, thresholds=thresholds)

    @staticmethod
    def _findings(est: Estimate, truncated: np.ndarray, p: CostParams) -> list[Finding]:
        out = []
        if p.budget and est.cost is not None and est.cost > p.budget:
            out.append(Finding("cost.over_budget", f"estimated {money(est.cost)} {p.currency} is above the "
                                                   f"budget of {money(p.budget)} {p.currency}"))
        elif p.budget and est.cost is None:
            out.append(Finding("cost.no_price", "a budget is set but no price: set price_per_million_tokens "
                                                "(or model_parameters and gpu_price_per_hour for gpu-hours)"))
        if len(truncated):
            out.append(Finding("cost.truncated", f"{len(truncated)} example(s) exceed max_tokens_per_example "
                                                 f"({p.max_tokens_per_example}): truncated in training, billed for the cap",
                               records=tuple(int(i) for i in truncated[:MAX_NAMED])))
        return out

    @staticmethod
    def _summary(est: Estimate, p: CostParams) -> str:
        text = (f"{est.per_epoch:,} billing tokens per epoch x {est.epochs} epochs = {est.total:,} tokens "
                f"({p.preset})")
        if est.cost is not None:
            return f"{text}: about {money(est.cost)} {p.currency}"
        missing = "model_parameters and gpu_price_per_hour" if p.preset == "gpu-hours" else "price_per_million_tokens"
        return f"{text}; set {missing} for a cost"
