"""Scorer: readiness score and verdict from check results."""
from __future__ import annotations

import pytest

from fineaudit.core import CheckResult, Status
from fineaudit.scorer import readiness_score, verdict


def result(status: Status, score: float, blocking: bool = True) -> CheckResult:
    return CheckResult(name="x", status=status, summary="", score=score, blocking=blocking)


@pytest.mark.parametrize("results, expected", [
    ([], 100.0),
    ([result(Status.PASS, 1.0), result(Status.WARN, 0.6)], 80.0),
    ([result(Status.PASS, 1.0), result(Status.SKIPPED, 1.0)], 100.0),
    ([result(Status.PASS, 1.0)] * 9 + [result(Status.FAIL, 0.9)], 49.0),  # a blocking fail caps the score
    ([result(Status.PASS, 1.0), result(Status.FAIL, 0.5, blocking=False)], 75.0),
])
def test_readiness_score(results: list[CheckResult], expected: float) -> None:
    assert readiness_score(results) == expected


def test_a_warning_that_fails_the_verdict_caps_the_score_too() -> None:
    results = [result(Status.PASS, 1.0), result(Status.WARN, 1.0)]
    assert readiness_score(results, "fail") == 100.0
    assert readiness_score(results, "warn") == 49.0  # never 'NOT READY 100/100'


@pytest.mark.parametrize("status, blocking, fail_on, expected", [
    (Status.PASS, True, "fail", "pass"), (Status.WARN, True, "fail", "pass"), (Status.WARN, True, "warn", "fail"),
    (Status.FAIL, True, "fail", "fail"), (Status.ERROR, True, "fail", "fail"), (Status.FAIL, False, "fail", "pass"),
    (Status.SKIPPED, True, "warn", "pass"),
])
def test_verdict(status: Status, blocking: bool, fail_on: str, expected: str) -> None:
    assert verdict([result(status, 0.0, blocking)], fail_on) == expected


def test_the_worked_example_of_docs_reports_md() -> None:
    # the flawed sample with eval and production: 7 passes, two warnings at 0.6, size warning
    # at 0.716, format failing at 0.967, length and content failing at 0 -> 76, capped at 49
    results = ([result(Status.PASS, 1.0)] * 7 + [result(Status.WARN, 0.6)] * 2 + [result(Status.WARN, 0.716)]
               + [result(Status.FAIL, 0.967)] + [result(Status.FAIL, 0.0)] * 2)
    assert readiness_score([*results[:-3], *(result(Status.FAIL, s, blocking=False) for s in (0.967, 0.0, 0.0))]) == 76.0
    assert readiness_score(results) == 49.0
