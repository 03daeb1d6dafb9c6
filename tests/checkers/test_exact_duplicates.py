"""exact_duplicates: small cases, the synthetic corpus's ground truth, and real data."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import CheckResult
from tests.conftest import real_file, chat


def run(rows: Any, check: str = "exact_duplicates", fmt: str = "auto", **params: Any) -> CheckResult:
    config = {"workers": 1, "checks": {check: params}}
    return fineaudit.audit(rows, format=fmt, only=[check], config=config, max_findings=0).checks[check]


@pytest.mark.parametrize("rows, params, groups", [
    ([chat("Hi there", "Hello!"), chat("hi  THERE", "hello!")], {}, [(0, 1)]),          # case, spacing
    ([chat("ｈｉ", "ok"), chat("hi", "ok")], {}, [(0, 1)]),                              # NFKC fullwidth
    ([chat("ｈｉ", "ok"), chat("hi", "ok")], {"nfkc": False}, []),
    ([chat("Hi", "ok"), chat("hi", "ok")], {"casefold": False}, []),
    ([chat("Q1", "same answer"), chat("Q2", "same answer")], {}, []),
    ([chat("Q1", "same answer"), chat("Q2", "same answer")], {"scope": "response"}, [(0, 1)]),
    ([chat("Q", "a"), chat("Q", "b"), chat("q", "c")], {"scope": "prompt"}, [(0, 1, 2)]),
    ([chat("x", "y"), "not json", "not json", chat("x", "y")], {}, [(0, 3)]),           # malformed lines skipped
])
def test_groups(tmp_path: Path, rows: list[Any], params: dict[str, Any], groups: list[tuple[int, ...]]) -> None:
    from tests.conftest import write_jsonl

    result = run(str(write_jsonl(tmp_path / "d.jsonl", rows)), **params)
    assert [f.records for f in result.findings] == groups
    assert result.metrics["duplicate_records"] == sum(len(g) - 1 for g in groups)
    assert result.metrics["duplicate_groups"] == len(groups)


def test_status_follows_max_fraction() -> None:
    rows = [chat(f"question {i}", f"answer {i}") for i in range(200)] + [chat("question 1", "answer 1")]
    assert run(rows).status.value == "warn"  # 1 of 201 is under 1%
    assert run(rows, max_fraction=0.001).status.value == "fail"
    assert run(rows[:200]).status.value == "pass"


def test_metrics_shape() -> None:
    rows = [chat("a", "b")] * 3 + [chat("c", "d")] * 2 + [chat("e", "f")]
    metrics = run(rows).metrics
    assert metrics["group_sizes"] == {"2": 1, "3": 1}
    assert metrics["duplicate_fraction"] == pytest.approx(3 / 6)


def test_corpus_groups_equal_ground_truth(make_corpus: Any) -> None:
    data, truth = make_corpus("--records", "3000")
    result = run(str(data))
    expected = sorted(tuple(sorted(g)) for g in truth["normalized_groups"])
    assert sorted(f.records for f in result.findings) == expected
    assert result.metrics["duplicate_records"] == sum(len(g) - 1 for g in expected)


def test_multiarith_repeated_problems() -> None:
    problems = json.loads(real_file("multiarith/MultiArith.json").read_text())
    rows = [{"prompt": p["sQuestion"], "completion": str(p["lSolutions"][0])} for p in problems]
    groups = [f.records for f in run(rows).findings]
    assert (344, 354) in groups  # reasoning-teacher issue #10
    assert len(groups) == 20


def sms_rows() -> list[dict[str, str]]:
    lines = real_file("sms_spam/SMSSpamCollection").read_text(encoding="utf-8").splitlines()
    return [dict(zip(("label", "text"), line.split("\t", 1))) for line in lines if line]


def test_sms_spam_repeated_messages() -> None:
    rows = sms_rows()
    result = run(rows, fmt="classification")
    assert len(rows) == 5574
    # the collection repeats messages (several chain messages dozens of times)
    assert result.metrics["duplicate_records"] > 300
    biggest = max(result.findings, key=lambda f: len(f.records))
    texts = {" ".join(rows[i]["text"].split()).casefold() for i in biggest.records}
    assert len(texts) == 1 and len(biggest.records) >= 20
