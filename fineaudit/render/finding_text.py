"""One finding as one line of plain text, shared by the terminal, Markdown and JUnit reports."""
from __future__ import annotations

from pathlib import Path

from fineaudit.core import DatasetInfo, Finding


def finding_line(finding: Finding, width: int = 110, dataset: DatasetInfo | None = None) -> str:
    """`[shard ]line N: message` on one line; the shard file is named when the dataset has several."""
    where = f"line {finding.line}" if finding.line else (
        f"record {finding.records[0]}" if finding.records else "")
    if finding.line and finding.records and finding.source == "train" and dataset is not None and dataset.shards:
        where = f"{Path(dataset.file_of(finding.records[0]) or '').name} {where}"
    if finding.source != "train":
        where = f"{finding.source} {where}".strip()
    text = f"{where}: {finding.message}" if where else finding.message
    text = " ".join(text.split())  # dataset text may hold newlines; keep one line per finding
    return text if len(text) <= width else text[: width - 1] + "…"
