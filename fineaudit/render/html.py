"""The HTML report: one self-contained page, no script, no network request.

Order of the page: the verdict and score; a panel of what blocks the verdict (each check with
why it matters, the fix, and the command where fineaudit has one) and the warnings; then the
checks, failing and warning ones before passing ones, each with its charts, its metrics as
tables with units and limits, and its findings (pairs side by side with their differences
marked where a finding carries the two texts).

Escaping: jinja2 with autoescape writes every string, and the environment's `finalize` passes
every printed string through `safe_text.html` first (secrets masked, controls escaped), so dataset
text can only ever become text; no attribute is built from data (ids and classes come from
check names and statuses, which the registry and the Status enum fix). A Content-Security-Policy
without `script-src` keeps the page inert even if that ever failed.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from jinja2 import Environment, Template

from fineaudit.core import CheckResult, Finding, Report, Status
from fineaudit.render.advice import advice
from fineaudit.render.finding_text import finding_where
from fineaudit.render.html_charts import charts_for
from fineaudit.render.html_values import metric_rows, pair_of, setting_rows
from fineaudit.render.safe_text import html as finalize
from fineaudit.render.safe_text import plural

MAX_FINDINGS_SHOWN = 200  # per check; the JSON report has them all
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
RANK = {Status.ERROR: 0, Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2, Status.SKIPPED: 3}
SCORE_HELP = ("100 x the mean of the check scores (pass 1, warn 0.6, fail or error 0, unless a check grades "
              "itself; skipped checks left out), capped at 49 when a check blocks the verdict; "
              "the verdict alone decides the exit code")


def ordered_checks(report: Report) -> list[CheckResult]:
    """Failing and erroring checks first, then warnings, then passes, then skipped (stable)."""
    return sorted(report.checks.values(), key=lambda c: RANK[c.status])


def blocking(report: Report) -> list[CheckResult]:
    return [c for c in ordered_checks(report) if c.blocks_verdict(report.fail_on)]


def warnings(report: Report) -> list[CheckResult]:
    return [c for c in ordered_checks(report)
            if c.status in (Status.WARN, Status.FAIL, Status.ERROR) and not c.blocks_verdict(report.fail_on)]


def where(finding: Finding, report: Report) -> str:
    return finding_where(finding, report.dataset)


TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fineaudit report{% if reports|length == 1 %}: {{ reports[0].dataset.path or "(in memory)" }}{% endif %}</title>
<style>
:root{--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--error:#8250df;--skipped:#6e7781;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1080px;margin:0 auto;padding:24px 20px 60px}
h1{font-size:20px;margin:0 0 4px;overflow-wrap:break-word}h2{font-size:17px;margin:0}h3{font-size:14px;margin:14px 0 6px;color:var(--muted)}
.dataset{background:#fff;border:1px solid var(--line);border-radius:10px;padding:20px;margin-bottom:28px}
.head{display:flex;gap:24px;align-items:center;flex-wrap:wrap}.head>div:last-child{flex:1;min-width:280px}
.verdict{font-size:26px;font-weight:700;padding:6px 16px;border-radius:8px;color:#fff;white-space:nowrap}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}
.score{font-size:34px;font-weight:700;white-space:nowrap}.score small{font-size:15px;color:var(--muted);font-weight:400}
.meta{color:var(--muted);font-size:13px}.meta span{white-space:nowrap;display:inline-block;margin-right:12px}
.meta span.path{white-space:normal;overflow-wrap:anywhere}.scorehelp{font-size:12px;color:var(--muted);margin-top:2px}
.panel{border-radius:8px;padding:12px 16px;margin:16px 0}.panel h3{margin:0 0 8px;color:#1f2328;font-size:15px}
.panel.block{background:#ffebe9;border:1px solid #ff8182}.panel.ok{background:#dafbe1;border:1px solid #4ac26b}
.panel.warnings{background:#fff8c5;border:1px solid #d4a72c}
.item{margin:8px 0 12px}.item p{margin:2px 0 2px 8px;font-size:14px}.item .label{font-weight:600}
.cmd{font-family:ui-monospace,monospace;font-size:13px;background:#1f2328;color:#fff;border-radius:6px;padding:4px 8px;display:inline-block;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}
.chip{display:inline-block;min-width:64px;text-align:center;font-size:12px;font-weight:700;text-transform:uppercase;border-radius:12px;padding:1px 8px;color:#fff}
.chip.pass{background:var(--pass)}.chip.warn{background:var(--warn)}.chip.fail{background:var(--fail)}.chip.error{background:var(--error)}.chip.skipped{background:var(--skipped)}
.check{border-top:1px solid var(--line);padding:14px 0}
.check .title{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.summary{margin:4px 0}.nb{font-size:12px;color:var(--muted)}
.metrics td{font-size:13px;overflow-wrap:anywhere}.metrics td.k{font-family:ui-monospace,monospace;width:30%}
.metrics td.lim{color:var(--muted);width:18%}table.sub{width:auto}table.sub td,table.sub th{border:0;padding:1px 8px 1px 0;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:6px 0}figcaption{font-size:12px;color:var(--muted)}
svg{background:#fff;border:1px solid var(--line);border-radius:6px;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
details{margin-top:8px}summary{cursor:pointer;font-weight:600;font-size:14px}
.finding{font-size:13px;border-bottom:1px solid #eaeef2;padding:4px 0}
.code{font-family:ui-monospace,monospace;font-size:12px;background:#eaeef2;border-radius:4px;padding:0 4px}
.where{color:var(--muted);margin:0 6px}.msg{white-space:pre-wrap;overflow-wrap:anywhere}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:6px 0}.side{border:1px solid var(--line);border-radius:6px;padding:6px 8px;font-size:13px;white-space:pre-wrap;overflow-wrap:anywhere}
.side .t{font-size:12px;color:var(--muted);display:block}.side mark{background:#ffd8b5}
nav a{margin-right:14px}
</style></head>
<body><main>
{% if reports|length > 1 %}<nav>{% for r in reports %}<a href="#dataset-{{ loop.index }}">{{ r.dataset.path or "(in memory)" }}</a>{% endfor %}</nav>{% endif %}
{% for r in reports %}{% set d = loop.index %}
<section class="dataset" id="dataset-{{ d }}">
<div class="head">
 <div class="verdict {{ 'pass' if r.passed else 'fail' }}">{{ "READY" if r.passed else "NOT READY" }}</div>
 <div class="score">{{ "%.0f"|format(r.score) }}<small>/100</small><div class="scorehelp">readiness score</div></div>
 <div><h1>{{ r.dataset.path or "(in memory)" }}</h1>
 <div class="meta"><span>{{ plural(r.dataset.records, "record") }}</span><span>format {{ r.dataset.format }}</span>{% if r.dataset.sha256 %}<span>sha256 {{ r.dataset.sha256[:12] }}</span>{% endif %}{% for role, info in r.inputs.items() if info %}<span class="path">{{ role }}: {{ info.path or "(in memory)" }} ({{ plural(info.records or 0, "record") }})</span>{% endfor %}<span>fails on: {{ r.fail_on }}</span><span>fineaudit {{ r.fineaudit_version }}</span><span>{{ r.created }}</span></div>
 <div class="scorehelp">score: {{ score_help }}</div></div>
</div>
{% set blocks = blocking(r) %}{% set warns = warnings(r) %}
{% if blocks %}<div class="panel block" id="d{{ d }}-blocking"><h3>What blocks the verdict</h3>
{% for c in blocks %}{% set tip = advice(r, c.name) %}<div class="item"><span class="chip {{ c.status.value }}">{{ c.status.value }}</span> <a class="label" href="#d{{ d }}-{{ c.name }}">{{ c.name }}</a>: {{ c.summary }}
{% if tip.why %}<p><span class="label">Why it matters:</span> {{ tip.why }}</p>{% endif %}
{% if tip.fix %}<p><span class="label">Fix:</span> {{ tip.fix }}</p>{% endif %}
{% if tip.command %}<p><span class="cmd">{{ tip.command }}</span></p>{% endif %}</div>
{% endfor %}</div>{% else %}<div class="panel ok"><h3>Nothing blocks the verdict</h3></div>{% endif %}
{% if warns %}<div class="panel warnings"><h3>Worth a look ({{ plural(warns|length, "warning") }})</h3>
{% for c in warns %}{% set tip = advice(r, c.name) %}<div class="item"><span class="chip {{ c.status.value }}">{{ c.status.value }}</span> <a class="label" href="#d{{ d }}-{{ c.name }}">{{ c.name }}</a>{% if not c.blocking %} <span class="nb">(not blocking)</span>{% endif %}: {{ c.summary }}{% if tip.fix %}<p><span class="label">Fix:</span> {{ tip.fix }}</p>{% endif %}{% if tip.command %}<p><span class="cmd">{{ tip.command }}</span></p>{% endif %}</div>
{% endfor %}</div>{% endif %}
<h3>Checks</h3>
<table class="overview"><tr><th>status</th><th>check</th><th>summary</th><th>findings</th></tr>
{% for c in ordered(r) %}<tr><td><span class="chip {{ c.status.value }}">{{ c.status.value }}</span></td>
<td><a href="#d{{ d }}-{{ c.name }}">{{ c.name }}</a>{% if not c.blocking %} <span class="nb">(not blocking)</span>{% endif %}</td>
<td>{{ c.summary }}</td><td>{{ c.findings_total }}</td></tr>
{% endfor %}</table>
{% for c in ordered(r) %}
<div class="check" id="d{{ d }}-{{ c.name }}">
 <div class="title"><span class="chip {{ c.status.value }}">{{ c.status.value }}</span><h2>{{ c.name }}</h2>
 <span class="nb">score {{ "%.2f"|format(c.score) }}{% if not c.blocking %} · not blocking{% endif %} · {{ "%.2f"|format(c.duration_s) }} s</span></div>
 <p class="summary">{{ c.summary }}</p>
 {% set charts = charts_for(c) %}{% if charts %}<div class="charts">{% for ch in charts %}{{ chart(ch) }}{% endfor %}</div>{% endif %}
 {% set rows = metric_rows(c) %}{% set settings = setting_rows(c) %}{% if rows or settings %}<details{% if c.status.value in ("fail", "error", "warn") %} open{% endif %}><summary>metrics</summary>
 {% if rows %}<table class="metrics"><tr><th>metric</th><th>value</th><th>limit</th></tr>{% for m in rows %}<tr><td class="k">{{ m.key }}</td><td>{{ cell(m.value) }}</td><td class="lim">{{ m.limit }}</td></tr>{% endfor %}</table>{% endif %}
 {% if settings %}<h3>settings</h3><table class="metrics">{% for k, v in settings %}<tr><td class="k">{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}</details>{% endif %}
 {% if c.findings %}<details class="findings"{% if c.status.value in ("fail", "error") %} open{% endif %}><summary>{{ plural(c.findings_total, "finding") }}{% if c.findings_total > c.findings|length %} ({{ c.findings|length }} kept in the report){% endif %}</summary>
 {% for f in c.findings[:max_findings] %}<div class="finding"><span class="code">{{ f.code }}</span><span class="where">{{ where(f, r) }}{% if f.field %} · {{ f.field }}{% endif %}</span><span class="msg">{{ f.message }}</span>{% set p = pair_of(f) %}{% if p %}{{ pair(p) }}{% endif %}</div>
 {% endfor %}{% if c.findings|length > max_findings %}<div class="finding">… and {{ plural(c.findings|length - max_findings, "more finding") }} in the JSON report</div>{% endif %}</details>{% endif %}
</div>
{% endfor %}
</section>
{% endfor %}
</main></body></html>
"""

MACROS = r"""{% macro chart(ch) %}<figure><svg class="chart chart-{{ ch.kind }}" role="img" xmlns="http://www.w3.org/2000/svg" width="{{ ch.width }}" height="{{ ch.height }}" viewBox="0 0 {{ ch.width }} {{ ch.height }}"><title>{{ ch.title }}</title>
{% for b in ch.bars %}<rect x="{{ '%.1f'|format(b.x) }}" y="{{ '%.1f'|format(b.y) }}" width="{{ '%.1f'|format(b.w) }}" height="{{ '%.1f'|format(b.h) }}" fill="{{ b.fill if b.fill in palette else '#0969da' }}"><title>{{ b.label }}: {{ b.value }}</title></rect>
{% if ch.kind == "hbars" %}<text x="{{ '%.1f'|format(b.x - 6) }}" y="{{ '%.1f'|format(b.y + b.h - 2) }}" text-anchor="end">{{ b.label }}</text><text x="{{ '%.1f'|format(b.x + b.w + 4) }}" y="{{ '%.1f'|format(b.y + b.h - 2) }}">{{ b.value }}</text>{% endif %}
{% endfor %}{% for m in ch.marks %}{% if m.type == "dot" %}<circle cx="{{ '%.1f'|format(m.cx) }}" cy="{{ '%.1f'|format(m.cy) }}" r="{{ m.r }}" fill="{{ m.fill if m.fill in palette else '#0969da' }}" fill-opacity="0.8"><title>{{ m.label }}</title></circle>
{% elif m.type == "vline" %}<line x1="{{ '%.1f'|format(m.x) }}" x2="{{ '%.1f'|format(m.x) }}" y1="{{ m.y1 }}" y2="{{ '%.1f'|format(m.y2) }}" stroke="#cf222e" stroke-width="2" stroke-dasharray="5 3"></line>{% if m.anchor == "start" %}<text x="{{ '%.1f'|format(m.x + 4) }}" y="{{ m.y1 + 10 }}" text-anchor="start" style="fill:#cf222e">{{ m.label }}</text>{% else %}<text x="{{ '%.1f'|format(m.x - 4) }}" y="{{ m.y1 + 10 }}" text-anchor="end" style="fill:#cf222e">{{ m.label }}</text>{% endif %}
{% elif m.type == "swatch" %}<rect x="{{ '%.1f'|format(m.x) }}" y="{{ '%.1f'|format(m.y) }}" width="10" height="10" fill="{{ m.fill if m.fill in palette else '#0969da' }}"></rect>
{% elif m.type == "axis" %}<line x1="{{ m.x1 }}" x2="{{ m.x2 }}" y1="{{ m.y }}" y2="{{ m.y }}" stroke="#d0d7de"></line>
{% elif m.type == "text" %}<text x="{{ '%.1f'|format(m.x) }}" y="{{ '%.1f'|format(m.y) }}" text-anchor="{{ m.anchor if m.anchor in ('start', 'middle', 'end') else 'start' }}">{{ m.text }}</text>
{% endif %}{% endfor %}</svg><figcaption>{{ ch.title }}{% if ch.note %} · {{ ch.note }}{% endif %}</figcaption></figure>{% endmacro %}
{% macro cell(c) %}{% if c.is_table %}<table class="sub">{% if c.headers %}<tr>{% for h in c.headers %}<th>{{ h }}</th>{% endfor %}</tr>{% endif %}{% for row in c.rows %}<tr>{% for x in row %}<td>{{ cell(x) }}</td>{% endfor %}</tr>{% endfor %}{% if c.more %}<tr><td>… and {{ c.more }} more</td></tr>{% endif %}</table>{% else %}{{ c.text }}{% endif %}{% endmacro %}
{% macro pair(p) %}<div class="pair">{% for s in (p.left, p.right) %}<div class="side"><span class="t">{{ s.title }}{% if p.same %} (identical){% elif p.same_but_case %} (identical but for case and spacing){% endif %}</span>{% for text, differs in s.segments %}{% if differs %}<mark>{{ text }}</mark>{% else %}{{ text }}{% endif %}{% endfor %}</div>{% endfor %}</div>{% endmacro %}"""


@lru_cache(maxsize=1)
def _page() -> Template:
    # compiling the templates is two thirds of a render (0.55 of 0.83 s): once per process
    return _environment().from_string(TEMPLATE)


def _environment() -> Environment:
    # autoescape=True: every {{ }} is HTML-escaped; finalize masks secrets and escapes controls
    # in every printed string first: together they keep dataset text inert
    env = Environment(autoescape=True, finalize=finalize)
    env.globals.update(charts_for=charts_for, metric_rows=metric_rows, setting_rows=setting_rows,
                       where=where, pair_of=pair_of, advice=advice, blocking=blocking, warnings=warnings,
                       ordered=ordered_checks, plural=plural, max_findings=MAX_FINDINGS_SHOWN, csp=CSP,
                       score_help=SCORE_HELP, palette=_PALETTE)
    macros = env.from_string(MACROS).module
    env.globals.update(chart=macros.chart, cell=macros.cell, pair=macros.pair)  # type: ignore[attr-defined]
    return env


def render_html(reports: Sequence[Report]) -> str:
    """The reports as one self-contained HTML page (verdict, what blocks it, then the checks)."""
    return _page().render(reports=list(reports))


def _palette() -> frozenset[str]:
    from fineaudit.render.html_charts import BLUE, PALETTE, RED

    return frozenset({*PALETTE, BLUE, RED, "#afb8c1"})


_PALETTE = _palette()

__all__ = ["render_html", "charts_for", "ordered_checks"]
