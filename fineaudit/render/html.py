"""The HTML report: one self-contained file, no script, no network request.

Charts are inline SVG whose geometry is computed here; jinja2 with autoescape writes every
string, so dataset text (labels, finding messages, paths) can only ever become text. A
Content-Security-Policy without `script-src` makes the page inert even if that ever failed.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment

from fineaudit.core import CheckResult, Finding, Report, Status

MAX_LABELS = 30  # label bars shown; the rest are summed in one line
MAX_FINDINGS_SHOWN = 200  # per check; the JSON report has them all
PALETTE = ("#d1242f", "#e36209", "#8250df", "#bf3989", "#0969da", "#1a7f37", "#9a6700", "#57606a")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: str


@dataclass(frozen=True)
class Chart:
    kind: str  # "bars" | "hbars" | "scatter"
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...] = ()
    marks: tuple[dict[str, Any], ...] = ()  # lines, ticks and points, each a dict for the template
    note: str = ""


# --------------------------------------------------------------------------- charts


def histogram_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """Token length histogram, with a red line at max_length."""
    hist = metrics.get("histogram")
    if not isinstance(hist, Mapping):
        return None
    edges, counts = list(hist.get("edges") or []), list(hist.get("counts") or [])
    if not counts or len(edges) != len(counts) + 1:
        return None
    width, height, left, bottom = 640, 220, 48, 28
    span = (float(edges[-1]) - float(edges[0])) or 1.0
    top = max(counts) or 1
    scale_x = (width - left - 10) / span
    bars = tuple(Bar(x=left + (float(edges[i]) - float(edges[0])) * scale_x,
                     y=height - bottom - (c / top) * (height - bottom - 12),
                     w=max(1.0, (float(edges[i + 1]) - float(edges[i])) * scale_x - 1),
                     h=(c / top) * (height - bottom - 12),
                     label=f"{_num(edges[i])}–{_num(edges[i + 1])} tokens", value=str(c))
                 for i, c in enumerate(counts))
    marks = [_axis_tick(left, height - bottom + 14, _num(edges[0]), "start"),
             _axis_tick(width - 10, height - bottom + 14, _num(edges[-1]), "end"),
             _axis_tick(left - 4, 16, str(top), "end")]
    max_length = metrics.get("max_length")
    if isinstance(max_length, (int, float)) and not isinstance(max_length, bool):
        x = left + min(max(float(max_length) - float(edges[0]), 0.0), span) * scale_x
        marks.append({"type": "vline", "x": x, "y1": 8, "y2": height - bottom,
                      "label": f"max_length {_num(max_length)}"})
    return Chart("bars", "Tokens per record", width, height, bars, tuple(marks))


def label_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """Records per label, largest first (horizontal bars)."""
    counts = metrics.get("counts")
    if not isinstance(counts, Mapping) or not counts:
        return None
    items = sorted(((str(k), v) for k, v in counts.items() if _is_number(v)), key=lambda kv: -kv[1])
    shown, rest = items[:MAX_LABELS], items[MAX_LABELS:]
    if not shown:
        return None
    row, left, width = 20, 160, 640
    top = max(v for _, v in shown) or 1
    bars = tuple(Bar(x=left, y=6 + i * row, w=max(1.0, v / top * (width - left - 60)), h=row - 6,
                     label=_clip(k, 24), value=_num(v)) for i, (k, v) in enumerate(shown))
    note = f"and {len(rest)} more labels ({_num(sum(v for _, v in rest))} records)" if rest else ""
    return Chart("hbars", "Records per label", width, 12 + row * len(shown), bars, note=note)


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
                     label=f"size {size}", value=_num(v)) for i, (size, v) in enumerate(items))
    ticks = [_axis_tick(b.x + b.w / 2, height - bottom + 14, str(size), "middle")
             for b, (size, _) in zip(bars, items)]
    ticks.append(_axis_tick(left - 4, 16, _num(top), "end"))
    return Chart("bars", title, width, height, bars, tuple(ticks))


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
                      "fill": PALETTE[cluster % len(PALETTE)] if cluster >= 0 else "#0969da",
                      "label": f"production, uncovered cluster {cluster}" if cluster >= 0
                      else "production, covered"})
    uncovered = len({c for c in clusters if _is_number(c) and c >= 0})
    note = (f"{proj.get('method', 'pca')} projection · grey: train · blue: production covered by train"
            + (f" · colours: {uncovered} uncovered production clusters" if uncovered else ""))
    return Chart("scatter", "Production against training", size, size, marks=tuple(marks), note=note)


def charts_for(result: CheckResult) -> list[Chart]:
    """Every chart whose metric this check reports, in a fixed order."""
    m = result.metrics
    candidates = [histogram_chart(m), label_chart(m) if result.name == "label_balance" else None,
                  sizes_chart(m, "group_sizes", "Duplicate groups by size"),
                  sizes_chart(m, "cluster_sizes", "Near-duplicate clusters by size"),
                  projection_chart(m)]
    return [c for c in candidates if c is not None]


def _points(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, Sequence):
        return []
    return [(float(p[0]), float(p[1])) for p in value
            if isinstance(p, Sequence) and len(p) >= 2 and _is_number(p[0]) and _is_number(p[1])
            and math.isfinite(p[0]) and math.isfinite(p[1])]


def _axis_tick(x: float, y: float, text: str, anchor: str) -> dict[str, Any]:
    return {"type": "text", "x": x, "y": y, "text": text, "anchor": anchor}


# --------------------------------------------------------------------------- values


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


CHARTED = {"histogram", "group_sizes", "cluster_sizes", "projection"}


def metric_rows(result: CheckResult) -> list[tuple[str, str]]:
    """Metrics as (key, shown value); charted shapes are left to their charts."""
    rows = []
    for key, value in result.metrics.items():
        if key in CHARTED or (key == "counts" and result.name == "label_balance"):
            continue
        shown = _num(value) if not isinstance(value, (Mapping, list, tuple)) else \
            json.dumps(value, ensure_ascii=False, default=str)
        rows.append((key, _clip(shown, 400)))
    return rows


def finding_where(finding: Finding) -> str:
    where = f"line {finding.line}" if finding.line else (
        f"record {finding.records[0]}" if finding.records else "")
    if len(finding.records) > 1:
        where += f" (+{len(finding.records) - 1} records)"
    return f"{finding.source} {where}".strip() if finding.source != "train" else where


# --------------------------------------------------------------------------- page

STATUS_LABEL = {Status.PASS: "pass", Status.WARN: "warn", Status.FAIL: "fail",
                Status.SKIPPED: "skipped", Status.ERROR: "error"}

TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fineaudit report{% if reports|length == 1 %}: {{ reports[0].dataset.path or "(in memory)" }}{% endif %}</title>
<style>
:root{--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--error:#8250df;--skipped:#6e7781;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1080px;margin:0 auto;padding:24px 20px 60px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:0}h3{font-size:14px;margin:14px 0 6px;color:var(--muted)}
.dataset{background:#fff;border:1px solid var(--line);border-radius:10px;padding:20px;margin-bottom:28px}
.head{display:flex;gap:24px;align-items:center;flex-wrap:wrap}
.verdict{font-size:26px;font-weight:700;padding:6px 16px;border-radius:8px;color:#fff}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}
.score{font-size:34px;font-weight:700}.score small{font-size:15px;color:var(--muted);font-weight:400}
.meta{color:var(--muted);font-size:13px;word-break:break-all}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}
.chip{display:inline-block;min-width:64px;text-align:center;font-size:12px;font-weight:700;text-transform:uppercase;border-radius:12px;padding:1px 8px;color:#fff}
.chip.pass{background:var(--pass)}.chip.warn{background:var(--warn)}.chip.fail{background:var(--fail)}.chip.error{background:var(--error)}.chip.skipped{background:var(--skipped)}
.check{border-top:1px solid var(--line);padding:14px 0}
.check .title{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.summary{margin:4px 0}.nb{font-size:12px;color:var(--muted)}
.metrics td:first-child{font-family:ui-monospace,monospace;font-size:13px;width:34%}
.metrics td{font-size:13px;word-break:break-word}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:6px 0}figcaption{font-size:12px;color:var(--muted)}
svg{background:#fff;border:1px solid var(--line);border-radius:6px;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
details{margin-top:8px}summary{cursor:pointer;font-weight:600;font-size:14px}
.finding{font-size:13px;border-bottom:1px solid #eaeef2;padding:4px 0}
.code{font-family:ui-monospace,monospace;font-size:12px;background:#eaeef2;border-radius:4px;padding:0 4px}
.where{color:var(--muted);margin:0 6px}.msg{white-space:pre-wrap;word-break:break-word}
nav a{margin-right:14px}
</style></head>
<body><main>
{% if reports|length > 1 %}<nav>{% for r in reports %}<a href="#dataset-{{ loop.index }}">{{ r.dataset.path or "(in memory)" }}</a>{% endfor %}</nav>{% endif %}
{% for r in reports %}{% set d = loop.index %}
<section class="dataset" id="dataset-{{ d }}">
<div class="head">
 <div class="verdict {{ r.verdict }}">{{ "READY" if r.passed else "NOT READY" }}</div>
 <div class="score" title="readiness score">{{ "%.0f"|format(r.score) }}<small>/100</small></div>
 <div><h1>{{ r.dataset.path or "(in memory)" }}</h1>
 <div class="meta">{{ "{:,}".format(r.dataset.records) }} records · format {{ r.dataset.format }}{% if r.dataset.sha256 %} · sha256 {{ r.dataset.sha256[:12] }}{% endif %}{% for role, info in r.inputs.items() if info %} · {{ role }}: {{ info.path or "(in memory)" }} ({{ info.records }} records){% endfor %} · fineaudit {{ r.fineaudit_version }} · {{ r.created }} · fail on {{ r.fail_on }}</div></div>
</div>
<h3>Checks</h3>
<table class="overview"><tr><th>status</th><th>check</th><th>summary</th><th>findings</th></tr>
{% for c in r.checks.values() %}<tr><td><span class="chip {{ c.status.value }}">{{ c.status.value }}</span></td>
<td><a href="#d{{ d }}-{{ c.name }}">{{ c.name }}</a>{% if not c.blocking %} <span class="nb">(not blocking)</span>{% endif %}</td>
<td>{{ c.summary }}</td><td>{{ c.findings_total }}</td></tr>
{% endfor %}</table>
{% for c in r.checks.values() %}
<div class="check" id="d{{ d }}-{{ c.name }}">
 <div class="title"><span class="chip {{ c.status.value }}">{{ c.status.value }}</span><h2>{{ c.name }}</h2>
 <span class="nb">score {{ "%.2f"|format(c.score) }}{% if not c.blocking %} · not blocking{% endif %} · {{ "%.2f"|format(c.duration_s) }} s</span></div>
 <p class="summary">{{ c.summary }}</p>
 {% set charts = charts_for(c) %}{% if charts %}<div class="charts">{% for ch in charts %}{{ chart(ch) }}{% endfor %}</div>{% endif %}
 {% set rows = metric_rows(c) %}{% if rows or c.thresholds %}<details{% if c.status.value in ("fail", "error", "warn") %} open{% endif %}><summary>metrics</summary>
 <table class="metrics">{% for k, v in rows %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
 {% for k, v in c.thresholds.items() %}<tr><td>threshold {{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table></details>{% endif %}
 {% if c.findings %}<details class="findings"{% if c.status.value in ("fail", "error") %} open{% endif %}><summary>{{ c.findings_total }} finding{{ "" if c.findings_total == 1 else "s" }}{% if c.findings_total > c.findings|length %} ({{ c.findings|length }} kept in the report){% endif %}</summary>
 {% for f in c.findings[:max_findings] %}<div class="finding"><span class="code">{{ f.code }}</span><span class="where">{{ where(f) }}{% if f.field %} · {{ f.field }}{% endif %}</span><span class="msg">{{ f.message }}</span></div>
 {% endfor %}{% if c.findings|length > max_findings %}<div class="finding">… {{ c.findings|length - max_findings }} more in the JSON report</div>{% endif %}</details>{% endif %}
</div>
{% endfor %}
</section>
{% endfor %}
</main></body></html>
"""

CHART = r"""{% macro chart(ch) %}<figure><svg class="chart chart-{{ ch.kind }}" role="img" xmlns="http://www.w3.org/2000/svg" width="{{ ch.width }}" height="{{ ch.height }}" viewBox="0 0 {{ ch.width }} {{ ch.height }}"><title>{{ ch.title }}</title>
{% for b in ch.bars %}<rect x="{{ '%.1f'|format(b.x) }}" y="{{ '%.1f'|format(b.y) }}" width="{{ '%.1f'|format(b.w) }}" height="{{ '%.1f'|format(b.h) }}" fill="#0969da"><title>{{ b.label }}: {{ b.value }}</title></rect>
{% if ch.kind == "hbars" %}<text x="{{ '%.1f'|format(b.x - 6) }}" y="{{ '%.1f'|format(b.y + b.h - 3) }}" text-anchor="end">{{ b.label }}</text><text x="{{ '%.1f'|format(b.x + b.w + 4) }}" y="{{ '%.1f'|format(b.y + b.h - 3) }}">{{ b.value }}</text>{% endif %}
{% endfor %}{% for m in ch.marks %}{% if m.type == "dot" %}<circle cx="{{ '%.1f'|format(m.cx) }}" cy="{{ '%.1f'|format(m.cy) }}" r="{{ m.r }}" fill="{{ m.fill }}" fill-opacity="0.8"><title>{{ m.label }}</title></circle>
{% elif m.type == "vline" %}<line x1="{{ '%.1f'|format(m.x) }}" x2="{{ '%.1f'|format(m.x) }}" y1="{{ m.y1 }}" y2="{{ m.y2 }}" stroke="#cf222e" stroke-width="2" stroke-dasharray="5 3"></line><text x="{{ '%.1f'|format(m.x - 4) }}" y="{{ m.y1 + 10 }}" text-anchor="end" style="fill:#cf222e">{{ m.label }}</text>
{% elif m.type == "text" %}<text x="{{ '%.1f'|format(m.x) }}" y="{{ '%.1f'|format(m.y) }}" text-anchor="{{ m.anchor }}">{{ m.text }}</text>
{% endif %}{% endfor %}</svg><figcaption>{{ ch.title }}{% if ch.note %} · {{ ch.note }}{% endif %}</figcaption></figure>{% endmacro %}"""


def _environment() -> Environment:
    # autoescape=True: every {{ }} is HTML-escaped, which is what keeps dataset text inert
    env = Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False)
    env.globals.update(charts_for=charts_for, metric_rows=metric_rows, where=finding_where,
                       max_findings=MAX_FINDINGS_SHOWN, csp=CSP)
    env.globals["chart"] = env.from_string(CHART).module.chart
    return env


def render_html(reports: Sequence[Report]) -> str:
    """The reports as one self-contained HTML page (verdict and score first)."""
    return _environment().from_string(TEMPLATE).render(reports=list(reports))


__all__ = ["render_html", "charts_for"]
