"""What a person does about a check that did not pass: why it matters, the fix, and the command.

The words are the checker's own: the "Why it matters" and "Fix" paragraphs of its docstring (the
same text `fineaudit checks NAME` prints), so reports and docs cannot drift apart. A command is
offered where fineaudit has one that does the fix or the review.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from fineaudit.core import Report

# checks whose fix is a fineaudit command: dedup writes the data without them; sample draws
# records (stratified by label) for the hand review the fix asks for
DEDUP_CHECKS = frozenset({"exact_duplicates", "near_duplicates"})
SAMPLE_CHECKS = frozenset({"conflicting_labels", "label_quality", "label_balance", "diversity", "language"})


@dataclass(frozen=True)
class Advice:
    why: str
    fix: str
    command: str | None


def advice(report: Report, check: str) -> Advice:
    why, fix = docstring_parts(check)
    return Advice(why, fix, command_for(report, check))


def docstring_parts(check: str) -> tuple[str, str]:
    """The checker's "Why it matters" and "Fix" paragraphs, labels removed ('' when absent)."""
    from fineaudit.registry import load_checkers

    cls = load_checkers().get(check)
    paragraphs = [" ".join(p.split()) for p in (cls.__doc__ or "").split("\n\n")] if cls else []
    why = next((p for p in paragraphs if p.lower().startswith("why it matters")), "")
    fix = next((p for p in paragraphs if p.lower().startswith("fix:")), "")
    return _after_label(why), _after_label(fix)


def _after_label(paragraph: str) -> str:
    head, sep, rest = paragraph.partition(":")
    return rest.strip() if sep and len(head) <= 40 else paragraph


def command_for(report: Report, check: str) -> str | None:
    path = report.dataset.path
    if not path:  # in-memory data has no path to give a command
        return None
    if check in DEDUP_CHECKS:
        source = Path(path)
        out = source.with_name(f"{source.stem}.dedup{source.suffix}") if source.suffix else Path(f"{path}-dedup")
        return f"fineaudit dedup {shlex.quote(path)} --out {shlex.quote(str(out))}"
    if check in SAMPLE_CHECKS:
        return f"fineaudit sample {shlex.quote(path)} -n 50 --out review.md"
    return None


__all__ = ["Advice", "advice", "docstring_parts", "command_for"]
