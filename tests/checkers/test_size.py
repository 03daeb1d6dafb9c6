"""size: fail below min_records, warn below warn_records, count only parsable records."""
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
