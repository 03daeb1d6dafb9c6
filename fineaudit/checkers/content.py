"""The content check: secrets, PII, boilerplate, encoding damage, placeholders, repetition."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import orjson

from fineaudit.text.content_patterns import (find_boilerplate, find_encoding, find_pii, find_placeholders,
                                        find_secrets, is_near_empty, mask, repeated_unit)
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, ReadOptions, RecordBatch, Records, Status
from fineaudit.dataset.formats import fields

FINDINGS_PER_BATCH = 1000  # enough to act on; counts stay exact beyond it
ACTIONS = ("fail", "warn", "ignore")

# finding code -> the category whose action and threshold apply to it
CATEGORY = {
    **dict.fromkeys(("content.openai_key", "content.aws_key", "content.github_token", "content.slack_token",
                     "content.google_api_key", "content.huggingface_token", "content.stripe_key",
                     "content.private_key", "content.jwt", "content.credential"),
                    "secret"),
    **dict.fromkeys(("content.email", "content.phone", "content.credit_card", "content.ip_address"), "pii"),
    **dict.fromkeys(("content.ai_disclaimer", "content.refusal"), "boilerplate"),
    **dict.fromkeys(("content.replacement_char", "content.mojibake", "content.control_chars",
                     "content.escape_sequence"), "encoding"),
    **dict.fromkeys(("content.placeholder", "content.template_placeholder"), "placeholder"),
    "content.empty_response": "empty_response",
    "content.repetition": "repetition",
}
CATEGORIES = ("secret", "pii", "boilerplate", "encoding", "placeholder", "empty_response", "repetition")


def _action(default: str, what: str) -> Any:
    return field(default=default, metadata={"help": f"{what}: fail, warn or ignore"})


def _limit(what: str) -> Any:
    return field(default=0.0, metadata={"help": f"act only when more than this share of records has {what}"})


@dataclass(frozen=True)
class ContentParams:
    secrets: str = _action("fail", "API keys, tokens, private keys, credentials")
    max_secret_fraction: float = _limit("a secret")
    pii: str = _action("warn", "e-mail addresses, phone numbers, card numbers, public IP addresses")
    max_pii_fraction: float = _limit("PII")
    boilerplate: str = _action("warn", "AI disclaimers and refusals in responses")
    max_boilerplate_fraction: float = _limit("boilerplate")
    encoding: str = _action("warn", "U+FFFD, mojibake, control characters, stray escapes")
    max_encoding_fraction: float = _limit("encoding damage")
    placeholders: str = _action("warn", "placeholder fields (N/A, <noinput>) and unfilled <NAME>, {{var}}")
    max_placeholder_fraction: float = _limit("a placeholder")
    empty_responses: str = _action("warn", "empty or punctuation-only responses")
    max_empty_response_fraction: float = _limit("an empty response")
    repetition: str = _action("warn", "responses that repeat one phrase")
    max_repetition_fraction: float = _limit("a degenerate repetition")
    phone_region: str = field(default="US", metadata={
        "help": "region assumed for phone numbers written without a +country code (ISO 3166, e.g. GB)"})
    repetition_min_words: int = field(default=12, metadata={
        "help": "responses shorter than this many words are never called repetitive"})
    repetition_max_distinct: float = field(default=0.3, metadata={
        "help": "repetitive when distinct word 3-grams are at most this share of all 3-grams"})
    intended_refusals: bool = field(default=False, metadata={
        "help": "refusals and clarifications are part of the task (a tool assistant that cannot find a "
                "ticker, a safety set): refusal phrases are not reported (AI disclaimers still are)"})
    chosen_boilerplate: bool = field(default=False, metadata={
        "help": "also report disclaimers and refusals in preference chosen answers (off: a chosen "
                "refusal is often the point of a safety pair)"})

    def __post_init__(self) -> None:
        for name in sorted(ACTIONS_FIELDS):
            if getattr(self, name) not in ACTIONS:
                raise ValueError(f"{name} must be one of {', '.join(ACTIONS)}, not {getattr(self, name)!r}")

    def action(self, category: str) -> tuple[str, float]:
        name, limit = ACTION_OF[category]
        return getattr(self, name), getattr(self, limit)


ACTION_OF = {"secret": ("secrets", "max_secret_fraction"), "pii": ("pii", "max_pii_fraction"),
             "boilerplate": ("boilerplate", "max_boilerplate_fraction"),
             "encoding": ("encoding", "max_encoding_fraction"),
             "placeholder": ("placeholders", "max_placeholder_fraction"),
             "empty_response": ("empty_responses", "max_empty_response_fraction"),
             "repetition": ("repetition", "max_repetition_fraction")}
ACTIONS_FIELDS = {name for name, _ in ACTION_OF.values()}


# --------------------------------------------------------------------------- fields of a record


def text_fields(obj: Any, layout: str, options: ReadOptions | None = None) -> Iterator[tuple[str, str, str]]:
    """(field path, role, text) of every text field; role is system/prompt/response/rejected/other.

    Besides the layout's parts, every other top-level string (ids, notes, metadata) is scanned
    too: a key in a side column is still a leaked key."""
    if not isinstance(obj, dict):
        return
    parts = fields(obj, layout, options)
    for part in parts:
        yield part.path, _ROLE.get(part.role, "other"), part.text
    if len(obj) == 1 and parts:  # one key, and it held the parts: no side column
        return
    covered = {_TOP_KEY.split(part.path, maxsplit=1)[0] for part in parts}
    for key, value in obj.items():
        if isinstance(value, str) and key not in covered:
            yield key, "other", value


_TOP_KEY = re.compile(r"[.\[]")  # compiled once: re's cache lookup cost more than the split

# what each part is to the content rules: answers get the response-only detectors
_ROLE = {"system": "system", "prompt": "prompt", "response": "response", "chosen": "chosen",
         "rejected": "rejected"}


# --------------------------------------------------------------------------- scanning


def scan_text(text: str, role: str, p: ContentParams) -> Iterator[tuple[str, str]]:
    """(code, matched text) for one field."""
    answer = role in ("response", "chosen")
    if answer and is_near_empty(text):
        yield "content.empty_response", repr(text)
        return
    lower = text.lower()
    yield from find_secrets(text, lower)
    yield from find_pii(text, p.phone_region)
    yield from find_encoding(text, answer)
    yield from find_placeholders(text)
    if answer:
        if role == "response" or p.chosen_boilerplate:
            yield from ((code, hit) for code, hit in find_boilerplate(text, lower)
                        if not (p.intended_refusals and code == "content.refusal"))
        if unit := repeated_unit(text, p.repetition_min_words, p.repetition_max_distinct, lower):
            yield "content.repetition", unit


def scan_record(obj: Any, layout: str, p: ContentParams,
                options: ReadOptions | None = None) -> dict[str, tuple[str, str]]:
    """code -> (field, matched text) of its first occurrence in the record."""
    first: dict[str, tuple[str, str]] = {}
    for where, role, text in text_fields(obj, layout, options):
        for code, matched in scan_text(text, role, p):
            first.setdefault(code, (where, matched))
    return first


@dataclass
class ContentTally:
    """What one batch contributes; tallies of batches add up."""

    scanned: int = 0
    by_code: Counter[str] = field(default_factory=Counter)  # records with each code
    by_category: Counter[str] = field(default_factory=Counter)  # records with each category
    findings: list[Finding] = field(default_factory=list)

    def add(self, other: ContentTally) -> ContentTally:
        self.scanned += other.scanned
        self.by_code.update(other.by_code)
        self.by_category.update(other.by_category)
        self.findings.extend(other.findings)
        return self


def scan_batch(layout: str, p: ContentParams, batch: RecordBatch, options: ReadOptions | None = None) -> ContentTally:
    tally = ContentTally()
    for i, raw in enumerate(batch.raw):
        if batch.error[i] is not None:
            continue  # format reports it
        tally.scanned += 1
        hits = scan_record(orjson.loads(raw), layout, p, options)
        tally.by_code.update(hits.keys())
        tally.by_category.update({CATEGORY[code] for code in hits})
        for code, (where, matched) in sorted(hits.items()):
            if len(tally.findings) < FINDINGS_PER_BATCH and p.action(CATEGORY[code])[0] != "ignore":
                tally.findings.append(Finding(code, _message(code, matched, where), (batch.index[i],),
                                              batch.line[i], where, batch.source))
    return tally


def _message(code: str, matched: str, where: str) -> str:
    category = CATEGORY[code]
    if category == "secret" or code == "content.credit_card":
        shown = mask(matched) if code != "content.private_key" else matched  # the header only
    else:
        shown = matched if len(matched) <= 120 else matched[:117] + "..."
    return f"{ContentChecker.codes[code]}: {shown} (in {where})"


# --------------------------------------------------------------------------- the checker


class ContentChecker(Checker):
    """Finds secrets, PII, AI boilerplate and refusals, encoding damage, placeholders, empty and repetitive responses.

    Why it matters for fine-tuning: a model memorizes what it is trained on, so an API key or
    an e-mail address in a response can come back out of it; "As an AI language model..." and
    "I'm sorry, but" teach refusals; mojibake teaches broken characters; "N/A", "<noinput>" and
    unfilled "<NAME>" teach the placeholder itself; an empty response teaches silence, and one
    phrase repeated teaches the model to loop.

    Fix: remove or rotate the secrets (they are compromised already) and drop or redact the
    records; mask PII; filter boilerplate responses; repair text with ftfy.fix_text; fill the
    templates or drop the records. Thresholds and actions are per kind in [checks.content].
    """

    name = "content"
    parallel_safe = True
    Params = ContentParams
    order = 90
    codes = {
        "content.openai_key": "OpenAI-style API key (sk-...)",
        "content.aws_key": "AWS access key id",
        "content.github_token": "GitHub token",
        "content.slack_token": "Slack token",
        "content.google_api_key": "Google API key",
        "content.huggingface_token": "Hugging Face access token (hf_...)",
        "content.stripe_key": "Stripe secret or restricted key",
        "content.private_key": "private key block",
        "content.jwt": "JSON Web Token",
        "content.credential": "high-entropy value assigned to a key, token, secret or password (also a "
                              "bearer token or a password in a URL)",
        "content.email": "e-mail address",
        "content.phone": "phone number",
        "content.credit_card": "credit card number (Luhn-valid)",
        "content.ip_address": "public IP address",
        "content.ai_disclaimer": "AI-assistant boilerplate in a response",
        "content.refusal": "refusal in a response",
        "content.replacement_char": "U+FFFD replacement character (bytes lost in decoding)",
        "content.mojibake": "mojibake (UTF-8 read as Latin-1/cp1252)",
        "content.control_chars": "control character",
        "content.escape_sequence": "stray escape sequence or HTML entity in prose",
        "content.placeholder": "a field that is only a placeholder",
        "content.template_placeholder": "unfilled template placeholder",
        "content.empty_response": "empty or punctuation-only response",
        "content.repetition": "degenerate repetition in a response",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: ContentParams = ctx.params
        tally = ContentTally()
        for part in data.map_batches(partial(scan_batch, ctx.format, p, options=ctx.options), desc="scanning content"):
            tally.add(part)
        # failing kinds (secrets) before warnings, so the first findings shown explain the status
        rank = {"fail": 0, "warn": 1}
        findings = sorted(tally.findings, key=lambda f: (rank.get(p.action(CATEGORY[f.code])[0], 2), f.records, f.code))
        metrics = self._metrics(tally)
        status, summary = self._status(tally, p)
        thresholds = {name: getattr(p, name) for pair in ACTION_OF.values() for name in pair}
        result = self.result(status, summary, metrics, findings=findings, thresholds=thresholds)
        reported = sum(n for code, n in tally.by_code.items() if p.action(CATEGORY[code])[0] != "ignore")
        return replace(result, findings_total=max(reported, len(findings)))

    @staticmethod
    def _metrics(tally: ContentTally) -> dict[str, Any]:
        metrics: dict[str, Any] = {"records_scanned": tally.scanned}
        for category in CATEGORIES:
            metrics[f"{category}_records"] = tally.by_category[category]
        metrics["by_kind"] = {code.split(".", 1)[1]: n for code, n in tally.by_code.most_common()}
        return metrics

    @staticmethod
    def _status(tally: ContentTally, p: ContentParams) -> tuple[Status, str]:
        status, parts = Status.PASS, []
        for category in CATEGORIES:
            count = tally.by_category[category]
            action, limit = p.action(category)
            if not count or action == "ignore":
                continue
            share = count / max(tally.scanned, 1)
            parts.append(f"{count} {category.replace('_', ' ')} ({share:.1%})")
            if share > limit:
                status = Status.FAIL if action == "fail" or status is Status.FAIL else Status.WARN
        if not parts:
            return Status.PASS, f"no secrets, PII, boilerplate or damaged text in {tally.scanned} records"
        return status, "records with " + ", ".join(parts)
