"""Metric values and record pairs as structures the HTML template draws (never HTML strings).

A metric is a row `metric | value | limit`: numbers with their unit (tokens, records, %), nested
maps as small tables, lists of records as tables, None as a dash; a threshold with the metric's
own name is its limit, the other thresholds are settings. Pairs (duplicates, leakage, label
conflicts, preference sides) come from a finding's optional `detail` and are split into
segments that differ or agree (difflib over words), which the template marks.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fineaudit.core import CheckResult, Finding
from fineaudit.render.html_charts import CHARTED, _is_number, _num

MAX_ROWS = 30  # rows of a nested table; the JSON report has them all
MAX_TEXT = 400
MAX_PAIR_TEXT = 2000


@dataclass(frozen=True)
class Cell:
    """One shown value: text, or a table (headers and rows of Cells)."""

    text: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[Cell, ...], ...] = ()
    more: int = 0

    @property
    def is_table(self) -> bool:
        return bool(self.rows)


@dataclass(frozen=True)
class MetricRow:
    key: str
    value: Cell
    limit: str = ""


@dataclass(frozen=True)
class Side:
    title: str
    segments: tuple[tuple[str, bool], ...]  # (text, differs from the other side)


@dataclass(frozen=True)
class Pair:
    left: Side
    right: Side
    same: bool = field(default=False)
    same_but_case: bool = field(default=False)  # the same words once case and spacing are ignored


def unit_of(key: str) -> str:
    """The unit a metric's number is in, from its name (the contract's keys are regular)."""
    k = key.lower()
    if "fraction" in k or "share" in k:
        return "%"
    if "token" in k or k in ("p50", "p95", "p99", "max", "min", "mean", "max_length"):
        return "tokens"
    if k.endswith("_records") or k in ("records", "records_scanned", "records_counted"):
        return "records"
    if k.endswith("_s") or k.endswith("_seconds"):
        return "s"
    return ""


def show(value: Any, unit: str = "") -> Cell:
    """A metric value as a Cell: a number with its unit, a map or list as a small table."""
    if value is None:
        return Cell("—")
    if isinstance(value, bool):
        return Cell("yes" if value else "no")
    if _is_number(value):
        return Cell(_with_unit(value, unit))
    if isinstance(value, Mapping):
        return _map_table(value, unit)
    if isinstance(value, (list, tuple)):
        return _list_cell(value)
    return Cell(_clip(str(value)))


def _with_unit(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.2f} %" if abs(value) <= 1 else _num(value)
    if unit == "records" and value == 1:
        return "1 record"
    return f"{_num(value)} {unit}".strip()


def _map_table(value: Mapping[Any, Any], unit: str) -> Cell:
    items = list(value.items())
    rows = tuple((Cell(str(k)), show(v, unit_of(str(k)) or unit)) for k, v in items[:MAX_ROWS])
    return Cell(rows=rows, more=max(0, len(items) - MAX_ROWS)) if rows else Cell("—")


def _list_cell(value: Sequence[Any]) -> Cell:
    if value and all(isinstance(v, Mapping) for v in value):
        headers = tuple(dict.fromkeys(str(k) for v in value for k in v))
        rows = tuple(tuple(show(v.get(h), unit_of(h)) for h in headers) for v in value[:MAX_ROWS])
        return Cell(headers=headers, rows=rows, more=max(0, len(value) - MAX_ROWS))
    if not value:
        return Cell("none")
    return Cell(_clip(", ".join(show(v).text or "…" for v in value)))


def metric_rows(result: CheckResult) -> list[MetricRow]:
    """Metrics with their limits; charted shapes are left to their charts."""
    rows = []
    for key, value in result.metrics.items():
        if key in CHARTED or (key == "counts" and result.name == "label_balance"):
            continue
        unit = unit_of(key)
        # a threshold with the metric's name is its limit (unless it only repeats the setting)
        limit = result.thresholds.get(key)
        limit = None if limit == value else limit
        rows.append(MetricRow(key, show(value, unit), show(limit, unit).text if limit is not None else ""))
    return rows


def setting_rows(result: CheckResult) -> list[tuple[str, str]]:
    """The thresholds that are not a metric's limit (those are in the metrics table)."""
    return [(k, show(v, unit_of(k)).text or "table") for k, v in result.thresholds.items()
            if k not in result.metrics]


# --------------------------------------------------------------------------- pairs


def pair_of(finding: Finding) -> Pair | None:
    """The two texts a finding compares, with their differences marked (None without detail).

    `detail = {"pair": [{"title": "line 13", "text": ...}, {"title": "line 32", "text": ...}]}`:
    what duplicate, leakage, conflict and preference findings carry when the checker has it."""
    detail = getattr(finding, "detail", None)
    pair = detail.get("pair") if isinstance(detail, Mapping) else None
    if not isinstance(pair, Sequence) or len(pair) != 2 or not all(isinstance(p, Mapping) for p in pair):
        return None
    (a_title, a), (b_title, b) = ((str(p.get("title", "")), str(p.get("text", ""))[:MAX_PAIR_TEXT]) for p in pair)
    left, right = diff_segments(a, b)
    folded = a != b and a.casefold().split() == b.casefold().split()
    return Pair(Side(a_title, left), Side(b_title, right), same=a == b, same_but_case=folded)


def diff_segments(a: str, b: str) -> tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]:
    """Each text as (segment, differs) runs, by a word-level diff (whitespace kept).

    Words compare casefolded and whitespace runs as one space: the checks that find pairs
    (duplicates, identical preference sides) normalize case and spacing, so marking those
    differences would mark every word of a pair they call identical."""
    wa, wb = re.findall(r"\s+|\S+", a), re.findall(r"\s+|\S+", b)
    ka, kb = _keys(wa), _keys(wb)
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        same = op == "equal"
        if i2 > i1:
            left.append(("".join(wa[i1:i2]), not same))
        if j2 > j1:
            right.append(("".join(wb[j1:j2]), not same))
    return tuple(left), tuple(right)


def _keys(tokens: list[str]) -> list[str]:
    return [" " if t.isspace() else t.casefold() for t in tokens]


def _clip(text: str, width: int = MAX_TEXT) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = ["Cell", "MetricRow", "Pair", "Side", "metric_rows", "setting_rows", "pair_of", "diff_segments",
           "show", "unit_of"]
