"""Turning check results into a readiness score (0..100) and a verdict.

The score, as docs/reports.md defines it for users:

- each check that ran has a score in 0..1: by its status (pass 1, warn 0.6, fail and error 0),
  unless the checker grades itself (format: the share of valid records; exact and near
  duplicates: 1 - 5x and 1 - 2x the duplicate fraction when they fail; size: how far below the
  minimum it is); skipped checks are left out;
- the readiness score is 100 times their mean, rounded to one decimal;
- when any check blocks the verdict (a blocking `fail` or `error`, and with `fail_on = "warn"` a
  blocking `warn`) the score is capped at 49, so a dataset the gate refuses never reads as
  'mostly ready'; a passing dataset can still score below 100 (its warnings count).

The verdict alone decides the exit code; the score is for reading and comparing runs.
"""
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
