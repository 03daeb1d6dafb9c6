"""The terminal report: the verdict and what blocks it first, then the table; readable in 80 columns.

    NOT READY  score 41/100  sample_data/flawed.jsonl (150 records, chat)
    blocking: format, exact_duplicates
      format: 5 invalid records
        line 3: unknown role 'human'
        … and 4 more findings
        fix: repair or remove the listed records ...
    <table: status, check, summary (with the first finding of a warning)>

Every string from data goes through `safe_text.terminal` and is printed as `rich.text.Text`
(never markup), so neither rich markup nor escape sequences in a record can style, clear or
retitle the terminal.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from fineaudit.core import CheckResult, Report, Status
from fineaudit.render.advice import advice
from fineaudit.render.finding_text import finding_line, more_line
from fineaudit.render.safe_text import terminal

STATUS_STYLE = {Status.PASS: ("PASS", "green"), Status.WARN: ("WARN", "yellow"),
                Status.FAIL: ("FAIL", "bold red"), Status.SKIPPED: ("skip", "dim"),
                Status.ERROR: ("ERROR", "bold magenta")}
FINDINGS_SHOWN = 3
WIDTH = 80  # when the output is not a terminal (a CI log, a pipe, a file)


def render_terminal(report: Report, console: Console) -> None:
    """The whole report for one dataset on `console`."""
    console.print(verdict_line(report, with_blocking=False))  # the section below names them
    for part in blocking_section(report, console.width):
        console.print(part)
    console.print(checks_table(report))
    if any(not r.blocking for r in report.checks.values()):
        console.print(Text("* not blocking: does not affect the verdict", style="dim"))


def render_terminal_text(reports: Sequence[Report], width: int = WIDTH) -> str:
    """The terminal report as plain text (no colour), for files and the RENDERERS table."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False, emoji=False)
    for report in reports:
        render_terminal(report, console)
    return buffer.getvalue()


def verdict_line(report: Report, with_blocking: bool = True) -> Text:
    """`READY  score 96/100  path (N records, layout)`: the one line `--quiet` prints."""
    ready = report.passed
    text = Text("READY" if ready else "NOT READY", style="bold green" if ready else "bold red")
    text.append(f"  score {report.score:.0f}/100  ")
    text.append(terminal(report.dataset.path or "(in memory)", one_line=True))
    text.append(f" ({report.dataset.records:,} records, {terminal(report.dataset.format, one_line=True)})")
    failing = blocking_checks(report) if with_blocking else []
    if failing:
        text.append(f"  blocking: {', '.join(r.name for r in failing)}", style="bold")
    return text


def quiet_lines(report: Report, cached: bool = False) -> list[Text]:
    """What `--quiet` prints: the verdict line, then one line per blocking check with its first
    finding that says more than the summary (the pre-commit hook's whole output)."""
    verdict = verdict_line(report)
    if cached:
        verdict.append(" (cached)", style="dim")
    lines = [verdict]
    for check in blocking_checks(report):
        shown = next((f for f in check.findings if not f.message.startswith(check.summary)), None)
        first = f" — {finding_line(shown, 90, report.dataset)}" if shown else ""
        lines.append(Text(terminal(f"  {check.name}: {check.summary}{first}", one_line=True)))
    return lines


def blocking_checks(report: Report) -> list[CheckResult]:
    return [r for r in report.checks.values() if r.blocks_verdict(report.fail_on)]


def blocking_section(report: Report, width: int | None) -> list[RenderableType]:
    """For each check that blocks the verdict: its summary, first findings, fix and command."""
    cut = max(40, (width or WIDTH) - 6)
    parts: list[RenderableType] = []
    for result in blocking_checks(report):
        head = Text(result.name, style="bold red").append(": " + terminal(result.summary, True))
        parts.append(Padding(head, (0, 0, 0, 2), expand=False))
        for line in _finding_lines(result, report, cut):
            parts.append(Padding(Text(line), (0, 0, 0, 4), expand=False))
        tip = advice(report, result.name)
        if tip.fix:
            parts.append(Padding(Text("fix: " + terminal(tip.fix, one_line=True), style="dim"), (0, 0, 0, 4),
                                 expand=False))
        if tip.command:
            parts.append(Padding(Text("run: " + terminal(tip.command, True), style="cyan"), (0, 0, 0, 4), expand=False))
    return parts


def checks_table(report: Report) -> Table:
    table = Table(title_justify="left", expand=False, show_lines=False, pad_edge=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("summary", overflow="fold")
    for result in sorted(report.checks.values(), key=_rank):
        label, style = STATUS_STYLE[result.status]
        if not result.blocking and result.status in (Status.FAIL, Status.ERROR, Status.WARN):
            label += "*"
        table.add_row(Text(label, style=style), Text(result.name), _summary_cell(result, report))
    return table


def _summary_cell(result: CheckResult, report: Report) -> RenderableType:
    summary = Text(terminal(result.summary, one_line=True))
    # blocking checks list their findings above the table; a finding without a place usually
    # repeats the summary (size), so a warning shows its first finding that names records
    placed = [f for f in result.findings if f.line or f.records]
    if result.status in (Status.PASS, Status.SKIPPED) or result.blocks_verdict(report.fail_on) or not placed:
        return summary
    first = finding_line(placed[0], 100, report.dataset)
    return Group(summary, Text(terminal(first, one_line=True), style="dim"))


def _finding_lines(result: CheckResult, report: Report, width: int) -> list[str]:
    # a dataset-wide finding that only repeats the summary (size) is not shown twice
    shown = [f for f in result.findings if f.line or f.records or f.message != result.summary][:FINDINGS_SHOWN]
    lines = [terminal(finding_line(f, width, report.dataset), one_line=True) for f in shown]
    more = more_line(result.findings_total - (len(result.findings) - len(
        [f for f in result.findings if f.line or f.records or f.message != result.summary])), len(lines))
    return lines + ([more] if more else [])


def _rank(result: CheckResult) -> int:
    # what needs a person's attention first: failures and errors, then warnings, then the rest
    return {Status.ERROR: 0, Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2, Status.SKIPPED: 3}[result.status]


__all__ = ["render_terminal", "render_terminal_text", "verdict_line", "quiet_lines", "blocking_checks"]
