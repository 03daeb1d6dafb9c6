"""The Markdown report, for a pull-request comment."""
from __future__ import annotations

from collections.abc import Sequence

from fineaudit.core import CheckResult, DatasetInfo, Report, Status
from fineaudit.render.finding_text import finding_line

ICON = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.SKIPPED: "⏭️", Status.ERROR: "💥"}
_ESCAPES = {"|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "`": "\\`", "*": "\\*", "_": "\\_",
            "[": "\\[", "]": "\\]", "#": "\\#"}


def md_escape(text: str) -> str:
    """Dataset text as inert Markdown: no tables broken, no HTML, no links or emphasis."""
    return "".join(_ESCAPES.get(ch, ch) for ch in " ".join(text.split()))


def render_markdown(reports: Sequence[Report]) -> str:
    return "\n\n".join(_one(r) for r in reports) + "\n"


def _one(report: Report) -> str:
    verdict = "✅ ready" if report.passed else "❌ not ready"
    lines = [f"## fineaudit: {verdict} — `{md_escape(report.dataset.path or '(in memory)')}`", "",
             f"Score **{report.score:.0f}/100** · {report.dataset.records} records · "
             f"format `{report.dataset.format}` · fineaudit {report.fineaudit_version}", "",
             "| | check | summary |", "|---|---|---|"]
    for r in report.checks.values():
        blocking = "" if r.blocking else " (not blocking)"
        lines.append(f"| {ICON[r.status]} | `{r.name}`{blocking} | {md_escape(r.summary)} |")
    details = [_findings(r, report.dataset) for r in report.checks.values() if r.findings]
    if details:
        lines += ["", *details]
    return "\n".join(lines)


def _findings(result: CheckResult, dataset: DatasetInfo) -> str:
    items = [f"- `{f.code}` {md_escape(finding_line(f, 200, dataset))}" for f in result.findings[:20]]
    more = result.findings_total - len(items)
    if more > 0:
        items.append(f"- … and {more} more")
    return (f"<details><summary>{ICON[result.status]} {result.name}: {result.findings_total} "
            f"findings</summary>\n\n" + "\n".join(items) + "\n\n</details>")
