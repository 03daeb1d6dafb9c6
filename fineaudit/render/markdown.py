"""The Markdown report, for a pull-request comment.

Dataset text goes through `safe_text.markdown` (HTML, links, emphasis and table syntax escaped)
or `safe_text.code_span` (shown exactly, no backslashes); secrets are masked on the same path.
"""
from __future__ import annotations

from collections.abc import Sequence

from fineaudit.core import CheckResult, DatasetInfo, Report, Status
from fineaudit.render.advice import advice
from fineaudit.render.finding_text import finding_line, more_line
from fineaudit.render.safe_text import code_span, markdown, plural

ICON = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.SKIPPED: "⏭️", Status.ERROR: "💥"}
FINDINGS_SHOWN = 20


def md_escape(text: str) -> str:
    """Dataset text as inert Markdown: no tables broken, no HTML, no links or emphasis."""
    return markdown(text)


def render_markdown(reports: Sequence[Report]) -> str:
    return "\n\n".join(_one(r) for r in reports) + "\n"


def _one(report: Report) -> str:
    verdict = "✅ ready" if report.passed else "❌ not ready"
    lines = [f"## fineaudit: {verdict} — {code_span(report.dataset.path or '(in memory)')}", "",
             f"Score **{report.score:.0f}/100** · {plural(report.dataset.records, 'record')} · "
             f"format {code_span(report.dataset.format)} · fineaudit {markdown(report.fineaudit_version)}", ""]
    lines += _blocking(report)
    lines += ["| | check | summary |", "|---|---|---|"]
    for r in sorted(report.checks.values(), key=_rank):
        blocking = "" if r.blocking else " (not blocking)"
        lines.append(f"| {ICON[r.status]} | `{r.name}`{blocking} | {markdown(r.summary)} |")
    details = [_findings(r, report.dataset) for r in sorted(report.checks.values(), key=_rank) if r.findings]
    if details:
        lines += ["", *details]
    return "\n".join(lines)


def _blocking(report: Report) -> list[str]:
    """What blocks the verdict, with the checker's fix and the command, before the table."""
    failing = [r for r in report.checks.values() if r.blocks_verdict(report.fail_on)]
    if not failing:
        return []
    lines = ["**What blocks the verdict**", ""]
    for result in failing:
        tip = advice(report, result.name)
        lines.append(f"- **{result.name}**: {markdown(result.summary)}")
        if tip.fix:
            lines.append(f"  - Fix: {markdown(tip.fix)}")
        if tip.command:
            lines.append(f"  - Run: {code_span(tip.command)}")
    return lines + [""]


def _findings(result: CheckResult, dataset: DatasetInfo) -> str:
    items = [f"- `{f.code}` {markdown(finding_line(f, 200, dataset))}" for f in result.findings[:FINDINGS_SHOWN]]
    more = more_line(result.findings_total, len(items))
    if more:
        items.append(f"- {more}")
    return (f"<details><summary>{ICON[result.status]} {result.name}: "
            f"{plural(result.findings_total, 'finding')}</summary>\n\n" + "\n".join(items) + "\n\n</details>")


def _rank(result: CheckResult) -> int:
    return {Status.ERROR: 0, Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2, Status.SKIPPED: 3}[result.status]
