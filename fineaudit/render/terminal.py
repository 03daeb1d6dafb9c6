"""The terminal report: a table a person reads in ten seconds."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fineaudit.core import CheckResult, DatasetInfo, Report, Status
from fineaudit.render.finding_text import finding_line

STATUS_STYLE = {Status.PASS: ("PASS", "green"), Status.WARN: ("WARN", "yellow"),
                Status.FAIL: ("FAIL", "bold red"), Status.SKIPPED: ("skip", "dim"),
                Status.ERROR: ("ERROR", "bold magenta")}
FINDINGS_SHOWN = 3


def _findings_cell(result: CheckResult, dataset: DatasetInfo) -> Text:
    lines = [finding_line(f, dataset=dataset) for f in result.findings[:FINDINGS_SHOWN]]
    more = result.findings_total - min(len(result.findings), FINDINGS_SHOWN)
    if more > 0:
        lines.append(f"… and {more} more")
    return Text("\n".join(lines))  # Text, not markup: dataset text must not style the terminal


def render_terminal(report: Report, console: Console) -> None:
    table = Table(title=Text(f"fineaudit: {report.dataset.path or '(in memory)'}  "
                             f"({report.dataset.records} records, {report.dataset.format})"),
                  title_justify="left", expand=False, show_lines=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("summary", overflow="fold", max_width=48)
    table.add_column("first findings", overflow="fold")
    for result in report.checks.values():
        label, style = STATUS_STYLE[result.status]
        if not result.blocking and result.status in (Status.FAIL, Status.ERROR, Status.WARN):
            label += "*"
        table.add_row(Text(label, style=style), Text(result.name), Text(result.summary), _findings_cell(result, report.dataset))
    console.print(table)
    console.print(verdict_line(report))
    if any(not r.blocking for r in report.checks.values()):
        console.print(Text("* not blocking: does not affect the verdict", style="dim"))


def verdict_line(report: Report) -> Text:
    ready = report.passed
    text = Text("READY" if ready else "NOT READY", style="bold green" if ready else "bold red")
    failing = [r.name for r in report.checks.values() if r.blocks_verdict(report.fail_on)]
    detail = f"  score {report.score:.0f}/100  {report.dataset.path or '(in memory)'}"
    if failing:
        detail += f"  (blocking: {', '.join(failing)})"
    text.append(detail)
    return text
