"""GitHub Actions annotations: one workflow command per line, pinned to file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from fineaudit.core import CheckResult, DatasetInfo, Finding, Report, Shard, Status
from fineaudit.render.annotations import render_annotations


def report(*results: CheckResult, path: str = "data/train.jsonl", shards: tuple[Shard, ...] = ()) -> Report:
    return Report(DatasetInfo(path, 10, "chat", None, shards), {r.name: r for r in results}, "fail", 50.0)


def result(status: Status, *findings: Finding, blocking: bool = True) -> CheckResult:
    return CheckResult("format", status, "2 invalid records", findings=findings,
                       findings_total=len(findings), blocking=blocking)


def test_line_findings_become_errors_at_their_line(tmp_path: Path) -> None:
    text = render_annotations([report(result(Status.FAIL, Finding("format.unknown_role", "role 'human'", (3,), line=4),
                                                Finding("format.cluster", "no line here", (5, 6))))],
                              root=tmp_path)
    assert text.splitlines() == [
        "::error file=data/train.jsonl,title=fineaudit format%3A fail::2 invalid records",
        "::error file=data/train.jsonl,line=4,title=fineaudit format.unknown_role::role 'human'",
    ]


@pytest.mark.parametrize(("status", "blocking", "level"), [
    (Status.FAIL, True, "error"), (Status.ERROR, True, "error"),
    (Status.WARN, True, "warning"), (Status.FAIL, False, "warning"),
])
def test_level_follows_whether_the_check_blocks(status: Status, blocking: bool, level: str) -> None:
    assert render_annotations([report(result(status, blocking=blocking))]).startswith(f"::{level} ")


@pytest.mark.parametrize("status", [Status.PASS, Status.SKIPPED])
def test_nothing_for_passed_checks(status: Status) -> None:
    assert render_annotations([report(result(status, Finding("format.x", "m", (1,), line=2)))]) == ""


def test_dataset_text_cannot_start_another_command() -> None:
    evil = "x\n::error file=README.md::pwned,100% sure\r"
    text = render_annotations([report(result(Status.FAIL, Finding("format.x", evil, (0,), line=1)),
                                      path="a,b:c.jsonl")])
    assert len(text.splitlines()) == 2
    assert "file=a%2Cb%3Ac.jsonl" in text and "x%0A::error file=README.md::pwned,100%25 sure%0D" in text


def test_shard_of_the_record_is_the_file(tmp_path: Path) -> None:
    shards = (Shard(str(tmp_path / "d/train-0.jsonl"), 0), Shard(str(tmp_path / "d/train-1.jsonl"), 5))
    found = Finding("format.x", "bad", (7,), line=3)
    text = render_annotations([report(result(Status.FAIL, found), path=str(tmp_path / "d"), shards=shards)],
                              root=tmp_path)
    assert "::error file=d/train-1.jsonl,line=3," in text
