"""The core types: record views, findings, check results, the report, and the engine protocol.

Everything else in fineaudit (loaders, formats, checkers, engines, the scorer, renderers, the
CLI) depends on this module and on nothing of each other's internals. The types are plain
dataclasses so that they pickle to worker processes and Dask workers unchanged.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

T = TypeVar("T")
P = TypeVar("P")  # a checker's parameters dataclass

SOURCES = ("train", "eval", "production")


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"
    ERROR = "error"


# --------------------------------------------------------------------------- errors


class FineauditError(Exception):
    """An error that means nothing could be judged (exit status 2)."""


class InputError(FineauditError):
    """A dataset could not be read; names the file and, where known, the line and field."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field = path, line, field
        where = ":".join(str(p) for p in (path, line) if p is not None)
        at_field = f" (field {field})" if field else ""
        super().__init__(f"{where}: {message}{at_field}" if where else f"{message}{at_field}")


class ConfigError(FineauditError):
    """The config or an option is invalid (unknown check or key, wrong type)."""


class DatasetNotReady(Exception):
    """Raised by `Report.raise_for_failure` and `fineaudit.gate`; carries the report."""

    def __init__(self, report: Report):
        self.report = report
        failing = ", ".join(c.name for c in report.checks.values() if c.blocks_verdict(report.fail_on))
        super().__init__(f"dataset {report.dataset.path or '(in memory)'} is not ready for "
                         f"fine-tuning (score {report.score:.0f}/100; failing: {failing or 'none'})")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Record:
    """One example seen through the views every checker shares.

    `prompt` is what the model is given (chat: the user turns; instruction: instruction and
    input), `response` what it must learn to produce (assistant turns, output, completion,
    chosen), `text` the whole example in reading order. `raw` is the record as JSON text, or
    the undecodable line itself when `error` says why it could not be parsed.
    """

    index: int
    line: int | None
    prompt: str
    response: str
    text: str
    label: str | None
    system: str | None
    turns: int
    raw: str
    error: str | None = None
    source: str = "train"
    rejected: str = ""  # a preference pair's rejected answer ('' elsewhere)
    problems: str | None = None  # the layout rules it breaks, as JSON (layout_rules.decode_problems)
    valid: bool = True  # parsed and breaking no rule that fails `format`, decided once at load

    @property
    def parsed(self) -> bool:
        return self.error is None

    def data(self) -> Any:
        """The record as parsed JSON (None when it could not be parsed)."""
        return None if self.error is not None else json.loads(self.raw)


@dataclass(frozen=True)
class RecordBatch:
    """A batch of records as columns, so checkers can work on whole batches at once."""

    source: str
    index: list[int]
    line: list[int | None]
    prompt: list[str]
    response: list[str]
    text: list[str]
    label: list[str | None]
    system: list[str | None]
    turns: list[int]
    raw: list[str]
    error: list[str | None]
    rejected: list[str]
    problems: list[str | None]
    valid: list[bool]

    # the one declaration of the record columns: name -> kind (the spool's Arrow types follow it)
    COLUMN_KINDS: ClassVar[dict[str, str]] = {
        "index": "int64", "line": "int64", "prompt": "text", "response": "text", "text": "text",
        "label": "short", "system": "text", "turns": "int32", "raw": "text", "error": "short",
        "rejected": "text", "problems": "text", "valid": "bool"}
    COLUMNS: ClassVar[tuple[str, ...]] = tuple(COLUMN_KINDS)

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[Record]:
        for i in range(len(self.index)):
            yield self.record(i)

    def record(self, i: int) -> Record:
        return Record(**{c: getattr(self, c)[i] for c in self.COLUMNS}, source=self.source)

    @classmethod
    def from_records(cls, records: Sequence[Record], source: str = "train") -> RecordBatch:
        return cls(source=source, **{c: [getattr(r, c) for r in records] for c in cls.COLUMNS})

    def take(self, positions: Sequence[int]) -> RecordBatch:
        """The rows at these positions, as a batch."""
        return RecordBatch(source=self.source, **{c: [getattr(self, c)[i] for i in positions] for c in self.COLUMNS})


# the layout roles `--field ROLE=COLUMN` may map to a column
FIELD_ROLES = ("prompt", "response", "text", "label", "chosen", "rejected", "messages")


@dataclass(frozen=True)
class ReadOptions:
    """How records are read: the field map (role -> column) and, for validity at load, the
    output schema's text. Small and picklable: it travels to every worker."""

    fields: tuple[tuple[str, str], ...] = ()
    output_schema: str = ""

    @classmethod
    def of(cls, fields: Mapping[str, str] | None = None, label_field: str | None = None,
           output_schema: str = "") -> ReadOptions:
        mapping = dict(fields or {})
        if label_field and "label" not in mapping:
            mapping["label"] = label_field  # `label_field` is kept as a synonym of fields.label
        for role in mapping:
            if role not in FIELD_ROLES:
                raise ConfigError(f"unknown field role {role!r}; valid roles: {', '.join(FIELD_ROLES)}")
        return cls(tuple(sorted(mapping.items())), output_schema)

    @property
    def label(self) -> str | None:
        return dict(self.fields).get("label")


@dataclass(frozen=True)
class Shard:
    path: str
    first_index: int


@dataclass(frozen=True)
class DatasetInfo:
    path: str | None
    records: int
    format: str
    sha256: str | None
    shards: tuple[Shard, ...] = ()

    def file_of(self, index: int) -> str | None:
        """The file that holds record `index` (a shard for sharded datasets)."""
        owner = None
        for shard in self.shards:
            if shard.first_index > index:
                break
            owner = shard.path
        return owner or self.path

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "records": self.records, "format": self.format,
                "sha256": self.sha256}


class Records(Protocol):
    """One loaded dataset as an engine holds it. Checkers see data only through this.

    Functions passed in must be picklable (module-level functions or functools.partial of
    them) because an engine may run them in other processes or on other machines. What they
    return must be small: it travels back to the caller.
    """

    source: str
    info: DatasetInfo

    def __len__(self) -> int: ...

    def map_batches(self, fn: Callable[[RecordBatch], T], *, desc: str | None = None) -> list[T]:
        """fn applied to every batch; results in record order."""

    def group_by_key(self, fn: Callable[[RecordBatch], tuple[Any, Any]], *,
                     desc: str | None = None) -> list[list[int]]:
        """fn gives (uint64 keys, int64 record indices) per batch; returns the groups of two
        or more indices that share a key, each sorted, ordered by their first index."""

    def take(self, indices: Sequence[int]) -> list[Record]:
        """The records at these indices, in the order asked."""

    def sample(self, n: int, seed: int) -> list[Record]:
        """A seeded uniform sample of at most n records, in index order; the same on every engine."""


class Engine(Protocol):
    """Where the passes run: loads sources into `Records` and cleans up what it started. Use it
    as a context manager; `engines.make_engine` is the one factory."""

    def load(self, source: Any, layout: str, role: str, options: ReadOptions | str | None,
             fmt_name: str | None = None) -> Records:
        """Parse a loader's source once (views and validity) and hold it for the passes."""

    @property
    def checks_at_once(self) -> int:
        """How many checks may run at once: more than one where passes run in other processes,
        so that one check's work in this process overlaps the others' passes."""

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: Any) -> None: ...


class ProgressSink(Protocol):
    def track(self, desc: str, total: int | None = None) -> Any: ...


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Finding:
    """One problem, named by a stable dotted code, with the records it concerns."""

    code: str
    message: str
    records: tuple[int, ...] = ()
    line: int | None = None
    field: str | None = None
    source: str = "train"
    # what a human report may show beside the message (not in the JSON report), e.g. the two
    # texts of a duplicate pair: {"pair": [{"title": "line 13", "text": ...}, {...}]}
    detail: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "records": list(self.records), "line": self.line,
                "field": self.field, "message": self.message, "source": self.source}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    score: float = 1.0
    blocking: bool = True
    findings_total: int = 0
    duration_s: float = 0.0

    def blocks_verdict(self, fail_on: str = "fail") -> bool:
        if not self.blocking:
            return False
        blocking_statuses = {Status.FAIL, Status.ERROR} | ({Status.WARN} if fail_on == "warn" else set())
        return self.status in blocking_statuses

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "blocking": self.blocking,
                "score": round(self.score, 4), "summary": self.summary,
                "metrics": self.metrics, "thresholds": self.thresholds,
                "findings": [f.to_dict() for f in self.findings],
                "findings_total": self.findings_total, "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class AuditContext:
    """What a checker gets besides the dataset: its parameters and the other inputs."""

    format: str
    params: Any
    eval: Records | None = None
    production: Records | None = None
    progress: ProgressSink | None = None
    cache_dir: Path | None = None
    seed: int = 0
    # what one check computes for another in the same audit (length's per-record token counts
    # for cost), so that no pass is run twice; the audit hands every check the same dict
    shared: dict[str, Any] = field(default_factory=dict, compare=False)
    options: ReadOptions = field(default_factory=lambda: ReadOptions())  # how records were read (field map)


@dataclass(frozen=True)
class NoParams:
    """For checkers without parameters."""


class Checker(Generic[P]):
    """Base class of every checker. Subclasses set `name`, `Params`, `codes` and write `check`.

    A checker never prints or exits; it returns a CheckResult. Raising is allowed: the runner
    turns it into status `error`, which fails the verdict.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    codes: ClassVar[dict[str, str]] = {}
    needs: ClassVar[str | None] = None  # "eval" or "production": skipped without it
    runs_when: ClassVar[str] = "always"  # for `fineaudit checks`, when the check decides itself
    order: ClassVar[int] = 100  # position in reports; built-ins follow the contract's table
    # checks whose results (in AuditContext.shared) this one reads: it starts when they end
    after: ClassVar[tuple[str, ...]] = ()
    # may run in a thread beside other checks (engines with worker processes run several at
    # once); a plugin that keeps global state leaves it False and runs alone
    parallel_safe: ClassVar[bool] = False

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        raise NotImplementedError

    def params(self, ctx: AuditContext) -> P:
        """This checker's parameters, typed: `p = self.params(ctx)` in a `Checker[SizeParams]`."""
        return cast(P, ctx.params)

    def result(self, status: Status, summary: str, metrics: Mapping[str, Any], *,
               findings: Sequence[Finding] = (), thresholds: Mapping[str, Any] | None = None,
               score: float | None = None) -> CheckResult:
        if score is None:
            score = {Status.PASS: 1.0, Status.WARN: 0.6, Status.SKIPPED: 1.0}.get(status, 0.0)
        return CheckResult(name=self.name, status=status, summary=summary, metrics=dict(metrics),
                           thresholds=dict(thresholds or {}), findings=tuple(findings),
                           score=max(0.0, min(1.0, float(score))), findings_total=len(findings))

    def skipped(self, reason: str) -> CheckResult:
        return self.result(Status.SKIPPED, reason, {})

    @classmethod
    def describe(cls) -> str:
        """The first paragraph of the docstring: what the checker looks for."""
        return " ".join(cls.documentation().split("\n\n")[0].split())

    @classmethod
    def documentation(cls) -> str:
        """The whole docstring: what it looks for, "Why it matters:" and "Fix:"."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def section(cls, heading: str) -> str:
        """One paragraph of the docstring by its heading ("Why it matters", "Fix"), without it."""
        for paragraph in cls.documentation().split("\n\n"):
            head, colon, body = paragraph.partition(":")
            if colon and head.startswith(heading):  # "Why it matters for fine-tuning:" too
                return " ".join(body.split())
        return ""

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: getattr(cls.Params(), f.name) for f in fields(cls.Params)}


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    dataset: DatasetInfo
    checks: dict[str, CheckResult]
    verdict: str
    score: float
    fail_on: str = "fail"
    inputs: dict[str, dict[str, Any] | None] = field(default_factory=lambda: {"production": None, "eval": None})
    created: str = ""
    fineaudit_version: str = ""
    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": self.SCHEMA_VERSION, "fineaudit_version": self.fineaudit_version,
                "created": self.created, "dataset": self.dataset.to_dict(), "inputs": self.inputs,
                "verdict": self.verdict, "score": round(self.score, 1),
                "checks": [c.to_dict() for c in self.checks.values()]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=json_default)

    def write(self, kind: str, path: str | Path) -> None:
        """Write this report as `kind` (json, markdown, html, junit) atomically to `path`."""
        if _report_writer is None:
            raise RuntimeError("no report writer: import fineaudit (it registers fineaudit.render)")
        _report_writer(kind, [self], path)

    def write_json(self, path: str | Path) -> None:
        self.write("json", path)

    def write_html(self, path: str | Path) -> None:
        self.write("html", path)

    def raise_for_failure(self) -> None:
        if not self.passed:
            raise DatasetNotReady(self)


ReportWriter = Callable[[str, Sequence[Report], "str | Path"], None]
# set by fineaudit.render when it is imported (the package's __init__ does): renderers import
# core, never the reverse, and Report.write still reaches the one atomic write path
_report_writer: ReportWriter | None = None


def register_report_writer(writer: ReportWriter) -> None:
    global _report_writer
    _report_writer = writer


def json_default(value: Any) -> Any:
    # numpy scalars and arrays find their way into metrics; JSON wants plain numbers
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
