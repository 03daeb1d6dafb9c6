"""Turning check results into a readiness score (0..100) and a verdict."""
from __future__ import annotations

from collections.abc import Iterable

from fineaudit.core import CheckResult, Status


def readiness_score(results: Iterable[CheckResult], fail_on: str = "fail") -> float:
    """Mean of the scores of the checks that ran, on 0..100; a check that fails the verdict caps it
    at 49 (with `fail_on="warn"`, a blocking warning too).

    The cap keeps the number honest: a dataset the gate refuses never reads as 'mostly ready'."""
    ran = [r for r in results if r.status is not Status.SKIPPED]
    if not ran:
        return 100.0
    score = 100.0 * sum(r.score for r in ran) / len(ran)
    if any(r.blocks_verdict(fail_on) for r in ran):
        score = min(score, 49.0)
    return round(score, 1)


def verdict(results: Iterable[CheckResult], fail_on: str = "fail") -> str:
    return "fail" if any(r.blocks_verdict(fail_on) for r in results) else "pass"
