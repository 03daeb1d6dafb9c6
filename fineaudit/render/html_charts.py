"""Charts of the HTML report as geometry (inline SVG drawn by the template): what each check judges.

- Token lengths: the histogram's bins (log-spaced by `length`) drawn at equal widths on a log
  axis, with the `max_length` limit inside the axis, however far beyond the data it lies.
- Labels: every class when there are up to MAX_ALL_LABELS, else the largest and the smallest
  with the number in between; the smallest classes are what balance is about, so they are never
  the ones left out. The `min_class_count` limit is a line, and classes under it are red.
- Duplicate group and cluster sizes; drift's 2-D projection.
- Preference: chosen and rejected (or KTO's desirable and undesirable) answer lengths as paired
  bars per word-length bin, in shares of each side so that unequal sides compare; the side
  tells as paired bars of each phrase's share on either side.
- Diversity: the largest repeated prompt skeletons (read back from the `diversity.template`
  findings: the skeleton is in the message, the members are the records) and the shared frames
  with their share of the sampled prompts against the `frame_share` limit.
Labels and values are plain strings: the template escapes them.
"""
from __future__ import annotations

import ast
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fineaudit.core import CheckResult

MAX_ALL_LABELS = 120  # up to this many classes, every one has its bar
LABELS_EACH_END = 40  # beyond it: the 40 largest, then the 40 smallest
PALETTE = ("#d1242f", "#e36209", "#8250df", "#bf3989", "#0969da", "#1a7f37", "#9a6700", "#57606a")
BLUE, RED = "#0969da", "#cf222e"
ORANGE = "#e36209"  # the second side of a pair (rejected, undesirable); PALETTE's second colour
MAX_ROWS_DRAWN = 12  # skeletons, frames and side tells drawn; the findings list them all


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: str
    fill: str = BLUE


@dataclass(frozen=True)
class Chart:
    kind: str  # "bars" | "hbars" | "scatter" | "rows" (labelled rows of bars, texts in marks)
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...] = ()
    marks: tuple[dict[str, Any], ...] = ()  # lines, ticks and points, each a dict for the template
    note: str = ""


# --------------------------------------------------------------------------- token lengths


def histogram_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """Tokens per record, with the max_length limit as a red line inside the axis."""
    hist = metrics.get("histogram")
    if not isinstance(hist, Mapping):
        return None
    edges = [float(e) for e in hist.get("edges") or [] if _is_number(e)]
    counts = [c for c in hist.get("counts") or [] if _is_number(c)]
    if not counts or len(edges) != len(counts) + 1:
        return None
    raw_limit: Any = metrics.get("max_length")
    limit = float(raw_limit) if _is_number(raw_limit) and math.isfinite(raw_limit) else None
    width, height, left, bottom, right = 640, 220, 48, 30, 14
    scale = _axis_scale(edges)
    lo, hi = scale(edges[0]), scale(max(edges[-1], limit * 1.08 if limit and limit > 0 else edges[-1]))
    per_unit = (width - left - right) / ((hi - lo) or 1.0)
    top = max(counts) or 1
    plot_h = height - bottom - 14

    def x_of(value: float) -> float:
        return left + (scale(max(value, edges[0])) - lo) * per_unit

    bars = tuple(Bar(x=x_of(edges[i]), y=height - bottom - c / top * plot_h,
                     w=max(1.0, x_of(edges[i + 1]) - x_of(edges[i]) - 1), h=c / top * plot_h,
                     label=f"{_num(edges[i])}–{_num(edges[i + 1])} tokens", value=_num(c))
                 for i, c in enumerate(counts))
    marks = [_tick(x_of(v), height - bottom + 14, _num(v), "middle") for v in _ticks(edges[0], edges[-1], scale)]
    marks.append(_tick(left - 4, 18, _num(top), "end"))
    marks.append({"type": "axis", "x1": left, "x2": width - right, "y": height - bottom})
    if limit is not None:
        marks.append({"type": "vline", "x": x_of(limit), "y1": 8, "y2": height - bottom,
                      "label": f"max_length {_num(limit)}"})
    kind = "log scale" if scale is _log else "linear scale"
    return Chart("bars", "Tokens per record", width, height, bars, tuple(marks),
                 note=f"records per token-length bin ({kind})")


def _axis_scale(edges: Sequence[float]) -> Callable[[float], float]:
    # length's bins are log-spaced: on a linear axis the short records, where most data sits,
    # shrink to slivers; a log axis gives every bin its width
    if edges[0] > 0 and edges[-1] / edges[0] > 20:
        return _log
    return _linear


def _log(value: float) -> float:
    return math.log10(max(value, 1e-9))


def _linear(value: float) -> float:
    return value


def _ticks(lo: float, hi: float, scale: Callable[[float], float]) -> list[float]:
    if scale is _log:
        powers = [10.0 ** k for k in range(int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi))) + 1)]
        return [lo] + [p for p in powers if lo * 2 < p < hi / 2] + [hi]
    return [lo, (lo + hi) / 2, hi]


# --------------------------------------------------------------------------- labels


def label_chart(metrics: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None) -> Chart | None:
    """Records per label, largest first; every class, or both ends when there are very many."""
    counts = metrics.get("counts")
    if not isinstance(counts, Mapping) or not counts:
        return None
    items = sorted(((str(k), v) for k, v in counts.items() if _is_number(v)), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return None
    shown, hidden = _label_rows(items)
    raw_minimum: Any = (thresholds or {}).get("min_class_count")
    minimum = float(raw_minimum) if _is_number(raw_minimum) else None
    row = 20 if len(shown) <= 30 else 14
    left, width, right = 190, 640, 60
    top = max([v for _, v in items] + [minimum or 0]) or 1
    per = (width - left - right) / top
    bars, marks, y = [], [], 22.0  # room above the bars for the limit's label
    for i, (label, value) in enumerate(shown):
        if hidden and i == LABELS_EACH_END:  # the gap between the largest and the smallest
            marks.append(_tick(left, y + row - 4, f"… {hidden[0]} classes between "
                               f"({_num(hidden[1])} records) …", "start"))
            y += row
        under = minimum is not None and value < minimum
        bars.append(Bar(x=left, y=y, w=max(1.0, value * per), h=row - 4, label=_clip(label, 30),
                        value=_num(value), fill=RED if under else BLUE))
        y += row
    if minimum is not None:
        marks.append({"type": "vline", "x": left + minimum * per, "y1": 4, "y2": y,
                      "label": f"min_class_count {_num(minimum)}", "anchor": "start"})
    note = f"{len(items)} classes" + (f", {hidden[0]} in the middle not drawn" if hidden else ", all drawn")
    if minimum is not None:
        note += f"; red: fewer than {_num(minimum)} records"
    return Chart("hbars", "Records per label", width, int(y + 8), tuple(bars), tuple(marks), note=note)


def _label_rows(items: list[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], tuple[int, float] | None]:
    if len(items) <= MAX_ALL_LABELS:
        return items, None
    middle = items[LABELS_EACH_END:-LABELS_EACH_END]
    return items[:LABELS_EACH_END] + items[-LABELS_EACH_END:], (len(middle), sum(v for _, v in middle))


# --------------------------------------------------------------------------- duplicates, drift


def sizes_chart(metrics: Mapping[str, Any], key: str, title: str) -> Chart | None:
    """How many duplicate groups (or clusters) have 2, 3, ... members."""
    sizes = metrics.get(key)
    if not isinstance(sizes, Mapping) or not sizes:
        return None
    items = sorted(((int(k), v) for k, v in sizes.items() if str(k).isdigit() and _is_number(v)))
    if not items:
        return None
    slot = min(56.0, 582 / len(items))  # a few sizes must not become a few huge slabs
    width, height, left, bottom = int(48 + 10 + slot * len(items)), 180, 48, 28
    top = max(v for _, v in items) or 1
    bars = tuple(Bar(x=left + i * slot + 2, y=height - bottom - v / top * (height - bottom - 12),
                     w=max(1.0, slot - 4), h=v / top * (height - bottom - 12),
                     label=f"{size} members", value=_num(v)) for i, (size, v) in enumerate(items))
    ticks = [_tick(b.x + b.w / 2, height - bottom + 14, str(size), "middle") for b, (size, _) in zip(bars, items)]
    ticks.append(_tick(left - 4, 16, _num(top), "end"))
    return Chart("bars", title, width, height, bars, tuple(ticks), note="groups per size (members)")


def projection_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """Production against training in 2-D; uncovered production clusters in colour."""
    proj = metrics.get("projection")
    if not isinstance(proj, Mapping):
        return None
    train, prod = _points(proj.get("train")), _points(proj.get("production"))
    if not train and not prod:
        return None
    clusters = list(proj.get("production_cluster") or [])
    size, pad = 420, 14
    xs, ys = [p[0] for p in train + prod], [p[1] for p in train + prod]
    lo_x, hi_x, lo_y, hi_y = min(xs), max(xs), min(ys), max(ys)
    sx = (size - 2 * pad) / ((hi_x - lo_x) or 1.0)
    sy = (size - 2 * pad) / ((hi_y - lo_y) or 1.0)

    def place(p: tuple[float, float]) -> tuple[float, float]:
        return pad + (p[0] - lo_x) * sx, size - pad - (p[1] - lo_y) * sy

    marks: list[dict[str, Any]] = [{"type": "dot", "cx": x, "cy": y, "r": 2.5, "fill": "#afb8c1",
                                    "label": "train"} for x, y in map(place, train)]
    for i, p in enumerate(prod):
        cluster = int(clusters[i]) if i < len(clusters) and _is_number(clusters[i]) else -1
        x, y = place(p)
        marks.append({"type": "dot", "cx": x, "cy": y, "r": 3.5 if cluster >= 0 else 2.5,
                      "fill": PALETTE[cluster % len(PALETTE)] if cluster >= 0 else BLUE,
                      "label": f"production, uncovered cluster {cluster}" if cluster >= 0
                      else "production, covered"})
    uncovered = len({c for c in clusters if _is_number(c) and c >= 0})
    note = (f"{proj.get('method', 'pca')} projection · grey: train · blue: production covered by train"
            + (f" · colours: {uncovered} uncovered production clusters" if uncovered else ""))
    return Chart("scatter", "Production against training", size, size, marks=tuple(marks), note=note)


# --------------------------------------------------------------------------- preference


def pair_lengths_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """Answer lengths in words, the two sides as paired bars per bin (shares of each side)."""
    hist = metrics.get("length_histogram")
    if not isinstance(hist, Mapping):
        return None
    sides = [k for k in ("chosen", "rejected", "desirable", "undesirable") if k in hist][:2]
    edges = [e for e in hist.get("edges") or [] if _is_number(e)]
    counts = [[c if _is_number(c) else 0 for c in hist.get(k) or []] for k in sides]
    if len(sides) != 2 or not edges or len({len(c) for c in counts}) != 1:
        return None
    bins = len(counts[0])
    if bins not in (len(edges), len(edges) - 1):  # preference's last bin is open: edges[-1] and more
        return None
    totals = [sum(c) or 1 for c in counts]
    used = [i for i in range(bins) if counts[0][i] or counts[1][i]]
    if not used:
        return None
    shown = range(used[0], used[-1] + 1)
    slot = min(64.0, 560 / len(shown))
    width, height, left, bottom, top_pad = int(48 + 14 + slot * len(shown)), 220, 48, 30, 30
    shares = [[c[i] / t for i in shown] for c, t in zip(counts, totals)]
    peak = max(max(s) for s in shares) or 1.0
    plot_h = height - bottom - top_pad
    bars, marks = [], []
    labels = [_bin_label(edges, i, bins) for i in shown]
    # ranges ("512–1023") wider than their slot overlap: then each bin is named by where it starts
    short = max(len(t) for t in labels) * 6.5 > slot - 2
    for j, i in enumerate(shown):
        label = labels[j]
        for side in range(2):
            h = shares[side][j] / peak * plot_h
            bars.append(Bar(x=left + j * slot + 2 + side * (slot - 4) / 2, y=height - bottom - h,
                            w=max(1.0, (slot - 4) / 2 - 1), h=h, label=f"{sides[side]}, {label} words",
                            value=f"{shares[side][j]:.1%} ({_num(counts[side][i])})",
                            fill=(BLUE, ORANGE)[side]))
        tick = label.split("–")[0] + ("+" if label.endswith("+") else "") if short else label
        marks.append(_tick(left + j * slot + slot / 2, height - bottom + 14, tick, "middle"))
    marks.append(_tick(left - 4, top_pad + 4, f"{peak:.0%}", "end"))
    marks.append({"type": "axis", "x1": left, "x2": width - 14, "y": height - bottom})
    marks += _legend(left, 14, sides)
    return Chart("bars", "Answer lengths by side", width, height, tuple(bars), tuple(marks),
                 note=f"share of each side's answers per length bin (words{', from the number shown to the next' if short else ''}); "
                      f"{sides[0]} {_num(sum(counts[0]))}, "
                      f"{sides[1]} {_num(sum(counts[1]))} answers")


def _bin_label(edges: Sequence[Any], i: int, bins: int) -> str:
    lo = edges[i]
    if i + 1 >= len(edges):
        return f"{lo}+" if isinstance(lo, int) else f"{_num(lo)}+"
    hi = edges[i + 1]
    if bins == len(edges) and isinstance(lo, int) and isinstance(hi, int):  # integer bins [lo, hi)
        return str(lo) if hi - lo <= 1 else f"{lo}–{hi - 1}"  # no thousands commas: a slot is narrow
    return f"{_num(lo)}–{_num(hi)}"


def side_tells_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """Each side tell's share on the two sides, as a pair of bars under the phrase."""
    tells = [t for t in metrics.get("side_tells") or [] if isinstance(t, Mapping)]
    if not tells:
        return None
    sides = ("desirable", "undesirable") if "desirable_share" in tells[0] else ("chosen", "rejected")
    rows = []
    for t in tells[:MAX_ROWS_DRAWN]:
        shares = [_number(t.get(f"{s}_share")) for s in sides]
        counts = [t.get(f"{s}_count") for s in sides]
        bars = [(v, f"{v:.1%}" + (f" ({_num(n)})" if _is_number(n) else ""), (BLUE, ORANGE)[k], sides[k])
                for k, (v, n) in enumerate(zip(shares, counts)) if v is not None and 0 <= v <= 1]
        if len(bars) != 2:
            continue
        where = {"opening": "opens with", "closing": "closes with"}.get(str(t.get("kind")), "contains")
        rows.append((f"{where} “{_clip_wide(str(t.get('phrase', '')), 60)}” · favours {t.get('favours', '')}", bars))
    if not rows:
        return None
    more = len(tells) - len(rows)
    note = f"share of each side's answers with the phrase; {len(tells)} tell{'s' if len(tells) != 1 else ''}" + \
        (f", the first {len(rows)} drawn" if more > 0 else "")
    return _rows_chart("Side tells: phrase share by side", rows, 1.0, note, legend=sides)


# --------------------------------------------------------------------------- diversity

_QUOTED = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_SKELETON = re.compile(r"^\d+ prompts share the skeleton " + _QUOTED, re.S)
_FRAME = re.compile(r"^(\d+)% of (\d+) sampled prompts contain " + _QUOTED, re.S)


def _unquote(text: str) -> str:
    """The string a checker's repr() wrote in its message (as written when it does not parse)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def templates_chart(result: CheckResult) -> Chart | None:
    """The largest repeated prompt skeletons, by member count."""
    found = []
    for f in result.findings:
        match = _SKELETON.match(f.message) if f.code == "diversity.template" else None
        if match:
            found.append((len(f.records), _unquote(match.group(1))))
    if not found:
        return None
    found.sort(key=lambda t: (-t[0], t[1]))
    top = found[0][0] or 1
    rows = [(_clip_wide(" ".join(skel.split()), 100), [(n / top, f"{_num(n)} records", BLUE, "members")])
            for n, skel in found[:MAX_ROWS_DRAWN]]
    m = result.metrics
    total = int(_number(m.get("templates")) or len(found))  # the report keeps the first max_findings
    note = f"{_num(total)} repeated skeleton{'s' if total != 1 else ''}"
    fraction = _number(m.get("templated_fraction"))
    if fraction is not None:
        note += f", {fraction:.1%} of records"
    note += f"; the largest {len(rows)} drawn" if total > len(rows) else "; all drawn"
    return _rows_chart("Largest repeated prompt skeletons", rows, 1.0, note)


def frames_chart(result: CheckResult) -> Chart | None:
    """Frames (word sequences shared by many prompts) by their share, against frame_share."""
    found = []
    for f in result.findings:
        match = _FRAME.match(f.message) if f.code == "diversity.frame" else None
        if match:
            found.append((int(match.group(1)) / 100, _unquote(match.group(3))))
    if not found:
        return None
    found.sort(key=lambda t: (-t[0], t[1]))
    rows = [(_clip_wide(" ".join(phrase.split()), 100), [(share, f"{share:.0%}", BLUE, "share of sampled prompts")])
            for share, phrase in found[:MAX_ROWS_DRAWN]]
    limit = _number(result.thresholds.get("frame_share"))
    return _rows_chart("Shared frames", rows, 1.0, f"share of the sampled prompts that contain the frame; "
                       f"{len(found)} frame{'s' if len(found) != 1 else ''}",
                       limit=(limit, f"frame_share {limit:.0%}") if limit is not None else None)


# --------------------------------------------------------------------------- rows of bars

Row = tuple[str, list[tuple[float, str, str, str]]]  # label, bars: (fraction of the axis, value, fill, name)


def _rows_chart(title: str, rows: Sequence[Row], scale: float, note: str,
                legend: Sequence[str] = (), limit: tuple[float, str] | None = None) -> Chart:
    """A label above each row, then its bars (one per side) from a common left edge."""
    width, left, right, bar_h = 640, 12, 120, 10
    per = (width - left - right) / scale
    y = 34.0 if legend or limit else 12.0
    bars, marks = [], list(_legend(left, 14, legend))
    for label, parts in rows:
        marks.append(_tick(left, y + 10, label, "start"))
        y += 14
        for fraction, value, fill, name in parts:
            w = max(1.0, min(fraction, scale) * per)
            bars.append(Bar(x=left, y=y, w=w, h=bar_h, label=f"{name}", value=value, fill=fill))
            marks.append(_tick(left + w + 4, y + bar_h - 1, value, "start"))
            y += bar_h + 2
        y += 8
    if limit is not None:
        marks.append({"type": "vline", "x": left + limit[0] * per, "y1": 4, "y2": y, "label": limit[1],
                      "anchor": "start"})
    return Chart("rows", title, width, int(y + 4), tuple(bars), tuple(marks), note=note)


def _legend(x: float, y: float, names: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, name in enumerate(names[:2]):
        out.append({"type": "swatch", "x": x + k * 110, "y": y - 9, "fill": (BLUE, ORANGE)[k]})
        out.append(_tick(x + k * 110 + 14, y, name, "start"))
    return out


def charts_for(result: CheckResult) -> list[Chart]:
    """Every chart whose metric this check reports, in a fixed order."""
    m = result.metrics
    candidates = [histogram_chart(m),
                  label_chart(m, result.thresholds) if result.name == "label_balance" else None,
                  sizes_chart(m, "group_sizes", "Duplicate groups by size"),
                  sizes_chart(m, "cluster_sizes", "Near-duplicate clusters by size"),
                  projection_chart(m),
                  pair_lengths_chart(m),
                  side_tells_chart(m),
                  templates_chart(result) if result.name == "diversity" else None,
                  frames_chart(result) if result.name == "diversity" else None]
    return [c for c in candidates if c is not None]


CHARTED = frozenset({"histogram", "group_sizes", "cluster_sizes", "projection", "length_histogram"})


def _points(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, Sequence):
        return []
    return [(float(p[0]), float(p[1])) for p in value
            if isinstance(p, Sequence) and len(p) >= 2 and _is_number(p[0]) and _is_number(p[1])
            and math.isfinite(p[0]) and math.isfinite(p[1])]


def _tick(x: float, y: float, text: str, anchor: str) -> dict[str, Any]:
    return {"type": "text", "x": x, "y": y, "text": text, "anchor": anchor}


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: Any) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _clip_wide(text: str, columns: int) -> str:
    """Cut to about `columns` narrow characters: wide ones (CJK) count two, so a label fits its row."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used > columns:
            return text[: max(i - 1, 0)] + "…"
    return text


__all__ = ["Bar", "Chart", "charts_for", "histogram_chart", "label_chart", "sizes_chart", "projection_chart",
           "pair_lengths_chart", "side_tells_chart", "templates_chart", "frames_chart", "CHARTED"]
