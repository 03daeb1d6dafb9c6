"""GitHub Actions annotations: workflow commands that pin findings to file lines in a pull request.

    ::error file=data/train.jsonl,line=12,title=fineaudit format.unknown_role::unknown role 'human'

Checks that block the verdict give `error`, the others that did not pass give `warning`. Each
such check also gets one file-level annotation with its summary, so a check whose findings have
no line (duplicate clusters, size) is still visible. GitHub shows only a few annotations per
step, so each check contributes at most PER_CHECK.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fineaudit.core import CheckResult, Finding, Report, Status
from fineaudit.render.safe_text import annotation_message, annotation_property

PER_CHECK = 5


def render_annotations(reports: Sequence[Report], root: Path | None = None) -> str:
    """Workflow command lines for every report (empty when all checks passed)."""
    base = root or Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    lines: list[str] = []
    for report in reports:
        for result in report.checks.values():
            if result.status in (Status.PASS, Status.SKIPPED):
                continue
            level = "error" if result.blocks_verdict(report.fail_on) else "warning"
            lines += _check_lines(report, result, level, base)
    return "".join(line + "\n" for line in lines)


def _check_lines(report: Report, result: CheckResult, level: str, base: Path) -> list[str]:
    dataset = report.dataset
    path = _relative(dataset.path, base) if dataset.path else None
    summary = {"title": f"fineaudit {result.name}: {result.status.value}"}
    lines = [_command(level, {**({"file": path} if path else {}), **summary}, result.summary)]
    for finding in [f for f in result.findings if f.line is not None and f.source == "train"][:PER_CHECK]:
        lines.append(_finding_command(level, finding, report, base))
    return lines


def _finding_command(level: str, finding: Finding, report: Report, base: Path) -> str:
    file = report.dataset.file_of(finding.records[0]) if finding.records else report.dataset.path
    props = {"file": _relative(file, base) if file else None, "line": str(finding.line),
             "title": f"fineaudit {finding.code}"}
    return _command(level, {k: v for k, v in props.items() if v}, finding.message)


def _relative(path: str, base: Path) -> str:
    # GitHub matches annotations to files by their path relative to the repository root
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _command(level: str, props: dict[str, str], message: str) -> str:
    rendered = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items())
    return f"::{level} {rendered}::{_escape_data(message)}" if rendered else f"::{level}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    # the escaping GitHub's toolkit applies (@actions/core command.ts): a newline in dataset
    # text must not end the command and start another one; secrets masked, controls escaped
    return annotation_message(text)


def _escape_property(text: str) -> str:
    return annotation_property(text)


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


__all__ = ["render_annotations", "in_github_actions"]
