"""The format check: every record parses and follows its layout's schema and chat rules."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
import xxhash

from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.dataset.layout_rules import WARN_CODES, decode_problems, load_output_schema

FINDINGS_PER_BATCH = 2000  # enough to report; counts stay exact beyond it
EXAMPLES = 20  # minority records named per style finding


@dataclass(frozen=True)
class FormatParams:
    max_invalid_fraction: float = field(default=0.0, metadata={
        "help": "fail when more than this share of records is invalid (0 = any invalid record fails)"})
    warn_mixed_fields: bool = field(default=True, metadata={
        "help": "warn when records carry different sets of top-level keys"})
    warn_style_mix: bool = field(default=True, metadata={
        "help": "warn when responses mix styles (markdown, final punctuation) or chats mix system prompts"})
    mix_low: float = field(default=0.1, metadata={
        "help": "a style shared by more than this share of responses, and fewer than mix_high, is a mix"})
    mix_high: float = field(default=0.9, metadata={"help": "upper end of the style mix band"})
    output_schema: str = field(default="", metadata={"path": True,
        "help": "JSON Schema file every assistant response must match as JSON ('' = responses are free text)"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.mix_low <= self.mix_high <= 1.0:
            raise ValueError(f"need 0 <= mix_low <= mix_high <= 1, not {self.mix_low}, {self.mix_high}")
        if self.output_schema:
            load_output_schema(self.output_schema)  # a bad schema is a config error, before data is read



@dataclass
class Share:
    """How many responses have one style property, with the first few on each side."""

    total: int = 0
    hits: int = 0
    yes: list[tuple[int, int | None]] = field(default_factory=list)  # (record, line) of the first few
    no: list[tuple[int, int | None]] = field(default_factory=list)

    def note(self, index: int, flag: bool, line: int | None = None) -> None:
        self.total += 1
        self.hits += flag
        side = self.yes if flag else self.no
        if len(side) < EXAMPLES:
            side.append((index, line))

    def add(self, other: Share) -> None:
        self.total += other.total
        self.hits += other.hits
        self.yes.extend(other.yes[: EXAMPLES - len(self.yes)])
        self.no.extend(other.no[: EXAMPLES - len(self.no)])

    @property
    def fraction(self) -> float:
        return self.hits / self.total if self.total else 0.0


@dataclass
class FormatTally:
    """What one batch contributes; tallies of batches add up."""

    invalid: int = 0
    unparsable: int = 0
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    # keys -> [count, (index, line) of the first few records]
    field_sets: dict[tuple[str, ...], list[Any]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    styles: dict[str, Share] = field(default_factory=lambda: {k: Share() for k in STYLES})
    system_prompts: Counter[int] = field(default_factory=Counter)  # hash of the system prompt -> chats

    def add(self, other: FormatTally) -> FormatTally:
        for name, share in other.styles.items():
            self.styles[name].add(share)
        self.system_prompts.update(other.system_prompts)
        self.invalid += other.invalid
        self.unparsable += other.unparsable
        self.errors_by_kind.update(other.errors_by_kind)
        for keys, (count, *examples) in other.field_sets.items():
            mine = self.field_sets.setdefault(keys, [0])
            mine[0] += count
            mine.extend(examples[: 21 - len(mine)])
        self.findings.extend(other.findings)
        return self


# --------------------------------------------------------------------------- style consistency

STYLES: tuple[str, ...] = ("markdown", "no_final_punctuation", "template_marker", "no_system_prompt")
# markdown that starts a line (heading, list item, table row), tried at line starts only:
# one multiline pattern over the whole text costs ~0.2 ms per response
_MARKDOWN_LINE = re.compile(r" {0,3}#{1,6} \S|\s*(?:[-*+]|\d{1,3}[.)]) +\S|\|.+\|\s*$")
_BOLD = re.compile(r"\*\*[^*\n]+\*\*")
_FINAL = frozenset(".!?…。！？;:)]}\"'”’»`*>")
# chat-template tokens and prompt-format headings: the trainer adds these, the data should not
_TEMPLATE_MARKER = re.compile(
    r"<\|[a-z_]+\|>|\[/?INST\]|</?s>|<<SYS>>|^#{2,3} ?(?:Response|Instruction|Input|Human|Assistant)\s*:",
    re.M | re.I)


def uses_markdown(text: str) -> bool:
    if "```" in text or ("**" in text and _BOLD.search(text)):
        return True
    return any(_MARKDOWN_LINE.match(line) for line in text.split("\n"))


def _note_style(tally: FormatTally, index: int, line: int | None, response: str, text: str,
                system: str | None, layout: str) -> None:
    body = response.rstrip()
    if body:
        tally.styles["markdown"].note(index, uses_markdown(body), line)
        tally.styles["no_final_punctuation"].note(index, body[-1] not in _FINAL, line)
    marked = any(c in text for c in "<[#") and _TEMPLATE_MARKER.search(text) is not None
    tally.styles["template_marker"].note(index, marked, line)
    if layout == "chat":
        tally.styles["no_system_prompt"].note(index, not system, line)
        if system:
            tally.system_prompts[xxhash.xxh3_64_intdigest(system.encode("utf-8"))] += 1


def tally_batch(layout: str, batch: RecordBatch) -> FormatTally:
    tally = FormatTally()
    for i, raw in enumerate(batch.raw):
        index, line, error = batch.index[i], batch.line[i], batch.error[i]
        if error is not None:
            tally.invalid += 1
            tally.unparsable += 1
            tally.errors_by_kind["format.unparsable"] += 1
            if len(tally.findings) < FINDINGS_PER_BATCH:
                tally.findings.append(Finding("format.unparsable", f"cannot parse record: {error}",
                                              (index,), line, None, batch.source))
            continue
        obj = orjson.loads(raw)
        keys = tuple(sorted(obj))
        entry = tally.field_sets.setdefault(keys, [0])
        entry[0] += 1
        if len(entry) < 21:
            entry.append((index, line))
        problems = decode_problems(batch.problems[i])  # judged once at load
        _note_style(tally, index, line, batch.response[i], batch.text[i], batch.system[i], layout)
        if not batch.valid[i]:
            tally.invalid += 1
        for code, where, message in problems:
            tally.errors_by_kind[code] += 1
            if len(tally.findings) < FINDINGS_PER_BATCH:
                tally.findings.append(Finding(code, message, (index,), line, where, batch.source))
    return tally


class FormatChecker(Checker[FormatParams]):
    """Validates every record against its layout's JSON Schema and the chat rules of training APIs.

    Why it matters: a record that does not parse is silently dropped by most trainers, or
    aborts the job hours in; a chat without an assistant turn teaches nothing; a role the
    chat template does not know breaks tokenization; records with different keys usually
    mean two exports were mixed, and the model learns the inconsistency.

    Fix: repair or remove the records named by line; keep one layout and one set of keys.
    """

    name = "format"
    parallel_safe = True
    Params = FormatParams
    order = 20
    codes = {
        "format.unparsable": "the line is not valid JSON, not UTF-8, or not a JSON object",
        "format.missing_field": "a required field of the layout is missing",
        "format.wrong_type": "a field has the wrong JSON type",
        "format.empty_field": "a required field is empty",
        "format.schema": "another violation of the layout's JSON Schema",
        "format.unknown_role": "a chat turn has a role other than system/user/assistant/tool",
        "format.empty_content": "a chat turn's content is empty or whitespace",
        "format.system_not_first": "a system message that is not the first turn",
        "format.no_user_turn": "a chat without a user turn (warns: most trainers accept it)",
        "format.no_assistant_turn": "a chat without an assistant turn",
        "format.last_turn_not_assistant": "a chat whose last turn is not the assistant's (warns: trainers accept it, "
                                          "but nothing after the last answer is learned)",
        "format.nothing_trained": "a chat whose every assistant turn has weight 0 (warns: it loads, but nothing is learned)",
        "format.answer_not_assistant": "a completion or preference answer whose turns are not the assistant's",
        "format.content_part_type": "a content part of a type its role may not carry (video_url; an image in an "
                                    "assistant turn)",
        "format.image_url": "an image part whose URL is neither http(s) nor a data:image/...;base64, URL",
        "format.inconsistent_fields": "records carry different sets of top-level keys",
        "format.markdown_mix": "some responses use markdown and others do not (names the minority)",
        "format.punctuation_mix": "some responses end with final punctuation and others do not (names the minority)",
        "format.template_marker": "records carry chat-template tokens or prompt headings (<|im_start|>, ### Response:)",
        "format.system_prompt_mix": "some chats have a system prompt and others do not (names the minority)",
        "format.output_not_json": "a response is not JSON although output_schema is set",
        "format.output_schema": "a response does not match output_schema (message gives the JSON path)",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        tally = FormatTally()
        for part in data.map_batches(partial(tally_batch, ctx.format), desc="validating format"):
            tally.add(part)
        findings = sorted(tally.findings, key=lambda f: (f.code in WARN_CODES, f.records))  # failures first
        findings += self._field_set_findings(tally)
        style_findings = _style_findings(tally, p) if p.warn_style_mix else []
        findings += style_findings
        total = len(data)
        metrics = {
            "format": ctx.format, "records": total, "invalid_records": tally.invalid,
            "unparsable_records": tally.unparsable, "field_sets": len(tally.field_sets),
            "field_set_counts": [{"fields": list(k), "records": v[0]} for k, v in
                                 sorted(tally.field_sets.items(), key=lambda kv: -kv[1][0])[:10]],
            "errors_by_kind": dict(sorted(tally.errors_by_kind.items())),
            **_style_metrics(tally, ctx.format),
        }
        thresholds = {"max_invalid_fraction": p.max_invalid_fraction, "mix_low": p.mix_low,
                      "mix_high": p.mix_high, "output_schema": p.output_schema or None}
        invalid_fraction = tally.invalid / total if total else 0.0
        status, summary = self._status(tally, invalid_fraction, p)
        if style_findings and status is not Status.FAIL:
            status = Status.WARN
            mixes = "; ".join(f.message.split(":")[0] for f in style_findings)
            summary = mixes if summary.startswith(("every record", "0 invalid")) else f"{summary}; {mixes}"
        result = self.result(status, summary, metrics,
                             findings=findings, thresholds=thresholds, score=1.0 - invalid_fraction)
        return result if len(findings) >= sum(tally.errors_by_kind.values()) else \
            _with_total(result, sum(tally.errors_by_kind.values()) + len(findings) - len(tally.findings))

    def _status(self, tally: FormatTally, invalid_fraction: float, p: FormatParams) -> tuple[Status, str]:
        if tally.invalid and invalid_fraction > p.max_invalid_fraction:
            kinds = ", ".join(f"{code.split('.', 1)[1]} {n}" for code, n in tally.errors_by_kind.most_common(4))
            noun = "record" if tally.invalid == 1 else "records"
            return Status.FAIL, f"{tally.invalid} invalid {noun} ({tally.unparsable} unparsable): {kinds}"
        warned = {code: n for code, n in tally.errors_by_kind.items() if code in WARN_CODES}
        if warned:
            kinds = ", ".join(f"{code.split('.', 1)[1]} {n}" for code, n in sorted(warned.items()))
            return Status.WARN, f"records that most trainers accept but some templates reject: {kinds}"
        if p.warn_mixed_fields and len(tally.field_sets) > 1:
            return Status.WARN, f"records carry {len(tally.field_sets)} different sets of fields"
        return Status.PASS, "every record is valid" if not tally.invalid else \
            f"{tally.invalid} invalid records, within max_invalid_fraction"

    @staticmethod
    def _field_set_findings(tally: FormatTally) -> list[Finding]:
        if len(tally.field_sets) < 2:
            return []
        ranked = sorted(tally.field_sets.items(), key=lambda kv: -kv[1][0])
        common = set(ranked[0][0])
        out = []
        for keys, (count, *examples) in ranked[1:]:
            extra, missing = sorted(set(keys) - common), sorted(common - set(keys))
            diff = "; ".join(s for s in (f"extra {', '.join(extra)}" if extra else "",
                                         f"missing {', '.join(missing)}" if missing else "") if s)
            out.append(Finding("format.inconsistent_fields",
                               f"{count} records have fields [{', '.join(keys)}] unlike the {ranked[0][1][0]} "
                               f"with [{', '.join(ranked[0][0])}] ({diff})", *_members(examples)))
        return out


def _style_metrics(tally: FormatTally, layout: str) -> dict[str, Any]:
    styles = tally.styles
    metrics: dict[str, Any] = {
        "markdown_fraction": round(styles["markdown"].fraction, 4),
        "no_final_punctuation_fraction": round(styles["no_final_punctuation"].fraction, 4),
        "template_marker_records": styles["template_marker"].hits,
        "template_marker_fraction": round(styles["template_marker"].fraction, 4),
    }
    if layout == "chat":
        metrics["system_prompts"] = len(tally.system_prompts)
        metrics["missing_system_fraction"] = round(styles["no_system_prompt"].fraction, 4)
    return metrics


_MIX_WORDING = {"markdown": ("format.markdown_mix", "responses with markdown", "without"),
                "no_final_punctuation": ("format.punctuation_mix", "responses without final punctuation", "with it"),
                "no_system_prompt": ("format.system_prompt_mix", "chats without a system prompt", "with one")}


def _style_findings(tally: FormatTally, p: FormatParams) -> list[Finding]:
    """A mix in the middle band teaches inconsistency; name the minority so it can be fixed."""
    out = []
    for style, (code, what, other) in _MIX_WORDING.items():
        share = tally.styles[style]
        if share.total and p.mix_low <= share.fraction <= p.mix_high:
            minority, side = (share.yes, what) if share.fraction <= 0.5 else (share.no, f"the others ({other})")
            out.append(Finding(code, f"{share.hits} of {share.total} {what} ({share.fraction:.0%}): "
                               f"a mix; the minority is {side}", *_members(minority)))
    markers = tally.styles["template_marker"]
    if 0 < markers.hits < markers.total:  # every record with markers is a text format, not a leak
        out.append(Finding("format.template_marker", f"{markers.hits} of {markers.total} records carry "
                           "chat-template tokens or prompt headings: the trainer adds these, the data "
                           "should not", *_members(markers.yes)))
    return out


def _members(examples: list[tuple[int, int | None]]) -> tuple[tuple[int, ...], int | None]:
    """A group finding's records and the line of its first, the one a user opens first."""
    return tuple(i for i, _ in examples), (examples[0][1] if examples else None)


def _with_total(result: CheckResult, total: int) -> CheckResult:
    from dataclasses import replace

    return replace(result, findings_total=total)
