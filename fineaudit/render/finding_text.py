"""One finding as one line of text, and where it is: shared by every human-readable report.

One numbering everywhere: a finding shows the 1-based line a user opens in an editor (and the
shard file when the dataset has several), and the 0-based record index only where there is no
line (in-memory data, tables). The JSON report keeps both fields, as the contract has them.
`finding_line` masks secrets and escapes controls before it cuts; each medium still passes the
line through its own function in `safe_text`.
"""
from __future__ import annotations

from pathlib import Path

from fineaudit.core import DatasetInfo, Finding
from fineaudit.render.safe_text import one_line, plural


def finding_where(finding: Finding, dataset: DatasetInfo | None = None) -> str:
    """'line 13', 'train-00001.jsonl line 4', 'record 12', 'eval line 3', '' (dataset-wide)."""
    if finding.line:
        where = f"line {finding.line}"
        if finding.records and finding.source == "train" and dataset is not None and dataset.shards:
            where = f"{Path(dataset.file_of(finding.records[0]) or '').name} {where}"
    elif finding.records:
        where = f"record {finding.records[0]}"
    else:
        where = ""
    if len(finding.records) > 1:
        where = f"{where} and {plural(len(finding.records) - 1, 'more record')}"
    if finding.source != "train":
        where = f"{finding.source} {where}".strip()
    return where


def finding_line(finding: Finding, width: int = 110, dataset: DatasetInfo | None = None) -> str:
    """`[shard ]line N: message` on one line, cut to `width` characters."""
    where = finding_where(finding, dataset)
    text = f"{where}: {finding.message}" if where else finding.message
    # one line per finding; secrets masked and controls escaped before the cut, which could
    # otherwise leave half a key that no detector recognises any more
    text = one_line(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def more_line(total: int, shown: int, noun: str = "finding") -> str | None:
    """'… and 3 more findings' when some were not shown (the one such listing of every report)."""
    rest = total - shown
    return f"… and {plural(rest, 'more ' + noun)}" if rest > 0 else None


__all__ = ["finding_where", "finding_line", "more_line"]
