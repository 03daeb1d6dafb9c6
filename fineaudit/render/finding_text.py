"""One finding as one line of plain text, shared by the terminal, Markdown and JUnit reports."""
from __future__ import annotations

from fineaudit.core import Finding


def finding_line(finding: Finding, width: int = 110) -> str:
    where = f"line {finding.line}" if finding.line else (
        f"record {finding.records[0]}" if finding.records else "")
    if finding.source != "train":
        where = f"{finding.source} {where}".strip()
    text = f"{where}: {finding.message}" if where else finding.message
    text = " ".join(text.split())  # dataset text may hold newlines; keep one line per finding
    return text if len(text) <= width else text[: width - 1] + "…"
