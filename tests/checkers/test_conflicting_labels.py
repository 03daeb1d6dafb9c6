"""conflicting_labels: label conflicts fail, different answers to one prompt warn."""
from __future__ import annotations

from typing import Any

import pytest

from tests.checkers.test_exact_duplicates import run, sms_rows
from tests.conftest import chat

ANSWER = "Paris is the capital of France and its largest city by far."
OTHER = "I cannot help with geography questions today, sorry about that."


@pytest.mark.parametrize("rows, status, groups", [
    ([{"text": "great film", "label": "pos"}, {"text": "Great  film", "label": "neg"}], "fail", [(0, 1)]),
    ([{"text": "great film", "label": "pos"}, {"text": "great film", "label": "pos"}], "pass", []),
    ([{"text": "great film", "label": "pos"}, {"text": "bad film", "label": "neg"}], "pass", []),
])
def test_classification(rows: list[dict[str, Any]], status: str, groups: list[tuple[int, ...]]) -> None:
    result = run(rows, "conflicting_labels", fmt="classification")
    assert result.status.value == status
    assert [f.records for f in result.findings] == groups
    assert all(f.code == "conflicting_labels.label" for f in result.findings)


@pytest.mark.parametrize("rows, status, groups", [
    ([chat("Capital of France?", ANSWER), chat("capital of france?", OTHER)], "warn", [(0, 1)]),
    ([chat("Capital of France?", ANSWER), chat("Capital of France?", ANSWER + " Indeed.")], "pass", []),
    ([chat("Capital of France?", ANSWER), chat("Capital of Spain?", OTHER)], "pass", []),
])
def test_chat_responses(rows: list[dict[str, Any]], status: str, groups: list[tuple[int, ...]]) -> None:
    result = run(rows, "conflicting_labels")
    assert result.status.value == status
    assert [f.records for f in result.findings] == groups


def test_response_conflicts_can_fail() -> None:
    rows = [chat("Capital of France?", ANSWER), chat("Capital of France?", OTHER)]
    assert run(rows, "conflicting_labels", response_conflicts_fail=True).status.value == "fail"


def test_near_duplicate_inputs_option() -> None:
    prompt = " ".join(f"word{i}" for i in range(60))
    rows = [{"text": prompt, "label": "a"}, {"text": prompt + " extra", "label": "b"}]
    assert run(rows, "conflicting_labels", fmt="classification").findings == ()
    result = run(rows, "conflicting_labels", fmt="classification", near_inputs=True)
    assert [f.records for f in result.findings] == [(0, 1)]


def test_corpus_planted_conflicts_found(make_corpus: Any) -> None:
    data, truth = make_corpus("--records", "3000")
    found = {f.records for f in run(str(data), "conflicting_labels").findings}
    planted = [tuple(g) for g in truth["conflict_groups"]]
    assert planted and all(any(set(g) <= set(f) for f in found) for g in planted)


def test_classification_corpus(make_corpus: Any) -> None:
    data, truth = make_corpus("--records", "2000", "--format", "classification")
    result = run(str(data), "conflicting_labels")
    planted = {tuple(g) for g in truth["conflict_groups"]}
    assert planted and {f.records for f in result.findings} >= planted
    assert result.status.value == "fail"


def test_sms_spam_has_no_label_conflicts() -> None:
    # the repeated SMS messages carry the same label each time
    result = run(sms_rows(), "conflicting_labels", fmt="classification")
    assert result.metrics["input_groups"] > 200
    assert result.metrics["conflict_groups"] == 0
