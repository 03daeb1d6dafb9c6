"""size: fail below min_records, warn below warn_records, count only records format accepts."""
from __future__ import annotations

import pytest

import fineaudit
from fineaudit.core import Status
from tests.conftest import chat

CONFIG = {"checks": {"size": {"min_records": 5, "warn_records": 10}}}


@pytest.mark.parametrize("valid, broken, status", [(4, 0, Status.FAIL), (4, 3, Status.FAIL),
                                                   (5, 0, Status.WARN), (9, 0, Status.WARN), (10, 0, Status.PASS)])
def test_thresholds_count_valid_records(valid: int, broken: int, status: Status) -> None:
    records = [chat(f"q{i}", "a") for i in range(valid)] + ["not a dict"] * broken
    result = fineaudit.audit(records, format="chat", config=CONFIG, only=["size"]).checks["size"]
    assert result.status is status
    assert result.metrics == {"records": valid + broken, "valid_records": valid}
    assert [f.code for f in result.findings] == ([] if status is Status.PASS else ["size.too_small"])


def test_records_that_format_rejects_are_not_valid() -> None:
    broken = [{"messages": [{"role": "user", "content": "q"}]},  # nothing for the model to learn
              {"messages": [{"role": "human", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    records = [chat(f"q{i}", "a") for i in range(10)] + broken
    report = fineaudit.audit(records, format="chat", config=CONFIG, only=["size", "format"])
    assert report.checks["size"].metrics["valid_records"] == 10
    assert report.checks["format"].metrics["invalid_records"] == 2
