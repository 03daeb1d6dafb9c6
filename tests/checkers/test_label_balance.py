"""The label_balance check: shares, rare classes, missing labels and spelling variants."""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.label_balance import label_variants, normalized_entropy
from fineaudit.core import CheckResult, Status
from tests.conftest import real_file, chat


def labelled(**counts: int) -> list[dict[str, Any]]:
    return [{"text": f"{label} example {i}", "label": label} for label, n in counts.items() for i in range(n)]


def balance_of(data: Any, **kwargs: Any) -> CheckResult:
    return fineaudit.audit(data, only=["label_balance"], max_findings=0, **kwargs).checks["label_balance"]


@pytest.mark.parametrize("counts, status, codes", [
    ({"a": 50, "b": 50}, Status.PASS, set()),
    ({"a": 40, "b": 30, "c": 30}, Status.PASS, set()),
    ({"a": 75, "b": 25}, Status.WARN, {"label_balance.majority"}),
    ({"a": 90, "b": 10}, Status.FAIL, {"label_balance.majority", "label_balance.rare_class"}),
    ({"a": 50, "b": 50, "c": 4}, Status.WARN, {"label_balance.rare_class", "label_balance.imbalance"}),
    ({"a": 100}, Status.FAIL, {"label_balance.majority"}),
])
def test_status_by_class_shares(counts: dict[str, int], status: Status, codes: set[str]) -> None:
    result = balance_of(labelled(**counts))
    assert result.status is status, result.summary
    assert {f.code for f in result.findings} == codes
    assert result.metrics["counts"] == dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def test_metrics() -> None:
    m = balance_of(labelled(a=60, b=30, c=30)).metrics
    assert (m["classes"], m["majority_fraction"], m["imbalance_ratio"], m["min_class_count"]) == (3, 0.5, 2.0, 30)
    assert m["normalized_entropy"] == pytest.approx(normalized_entropy([60, 30, 30]), abs=1e-4)
    assert list(m["counts"]) == ["a", "b", "c"]


def test_missing_and_null_labels_are_findings() -> None:
    data = labelled(a=30, b=30) + [{"text": "no label", "label": None}, {"text": "no label either"}]
    result = balance_of(data, format="classification")
    missing = [f for f in result.findings if f.code == "label_balance.missing_label"]
    assert result.metrics["missing_labels"] == 2 and missing[0].records == (60, 61)


def test_labels_differing_in_case_or_whitespace_are_a_finding() -> None:
    data = labelled(spam=30, ham=30) + [{"text": "x", "label": "Spam"}, {"text": "y", "label": "spam "}]
    variant = [f for f in balance_of(data).findings if f.code == "label_balance.label_variant"]
    assert len(variant) == 1 and variant[0].records == (60, 61)


@pytest.mark.parametrize("labels, groups", [
    (["spam", "Spam", "spam ", "ham"], [["Spam", "spam", "spam "]]),
    (["New York", "new  york", "york"], [["New York", "new  york"]]),
    (["a", "b"], []),
])
def test_label_variants(labels: list[str], groups: list[list[str]]) -> None:
    assert label_variants(labels) == groups


def test_skipped_without_labels() -> None:
    result = balance_of([chat("q", "a")] * 3)
    assert result.status is Status.SKIPPED and "label" in result.summary


def test_label_field_names_the_label_of_other_layouts() -> None:
    data = [dict(chat(f"q{i}", f"a{i}"), intent="refund" if i % 4 else "greeting") for i in range(40)]
    m = balance_of(data, config={"label_field": "intent"}).metrics
    assert m["counts"] == {"refund": 30, "greeting": 10}


@pytest.mark.parametrize("imbalance, status", [("0.9", Status.FAIL), ("0", Status.PASS)])
def test_make_corpus_counts_equal_ground_truth(make_corpus: Callable[..., tuple[Path, dict[str, Any]]],
                                               imbalance: str, status: Status) -> None:
    path, truth = make_corpus("--format", "classification", "--records", "2000", "--imbalance", imbalance)
    result = balance_of(path)
    assert result.metrics["counts"] == truth["labels"]
    assert result.status is status


def test_sms_spam_collection_shares_match_its_readme() -> None:
    """UCI readme: 4,827 legitimate messages (86.6%) and 747 (13.4%) spam."""
    with open(real_file("sms_spam/SMSSpamCollection"), encoding="utf-8", newline="") as fh:
        rows = [{"label": label, "text": text} for label, text in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    m = balance_of(rows).metrics
    assert m["counts"] == {"ham": 4827, "spam": 747}
    assert (round(m["shares"]["ham"], 3), round(m["shares"]["spam"], 3)) == (0.866, 0.134)
