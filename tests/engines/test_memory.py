"""The in-memory Records: checkers called directly on a few records give what the engines give."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.exact_duplicates import ExactDuplicatesChecker
from fineaudit.checkers.format import FormatChecker
from fineaudit.checkers.size import SizeChecker
from fineaudit.core import Status
from fineaudit.engines import UnpicklableFunction
from fineaudit.engines.memory import MemoryRecords, run_checker
from tests.conftest import chat, write_jsonl

ROWS = [chat(f"question {i % 40}", f"answer {i % 40}") for i in range(130)] + ["{broken"]


@pytest.mark.parametrize("checker, params", [
    (SizeChecker, {}), (FormatChecker, {}), (ExactDuplicatesChecker, {}),
])
def test_a_checker_on_memory_records_reports_what_the_local_engine_reports(
        tmp_path: Path, checker: Any, params: dict[str, Any]) -> None:
    rows = [r for r in ROWS if not isinstance(r, str)]
    direct = run_checker(checker, rows, batch_size=16, **params)
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", rows), only=[checker.name])
    through_engine = report.checks[checker.name]
    assert (direct.status, direct.metrics) == (through_engine.status, through_engine.metrics)
    assert [f.records for f in direct.findings] == [f.records for f in through_engine.findings]


@pytest.mark.parametrize("rows, params, status", [
    ([chat("a", "b")] * 3, {"min_records": 2, "warn_records": 2}, Status.PASS),
    ([chat("a", "b")] * 3, {"min_records": 5}, Status.FAIL),
    ([{"text": "t", "label": "x"}] * 3, {"min_records": 2}, Status.WARN),
])
def test_a_table_of_small_cases(rows: list[Any], params: dict[str, Any], status: Status) -> None:
    assert run_checker(SizeChecker, rows, **params).status is status


def test_a_lambda_is_refused_even_on_one_batch() -> None:
    with pytest.raises(UnpicklableFunction, match="needs a picklable function"):
        MemoryRecords([chat("a", "b")]).map_batches(lambda batch: len(batch))


def test_take_and_sample_return_records_by_index() -> None:
    data = MemoryRecords([chat(f"q{i}", "a") for i in range(50)], batch_size=7)
    assert [r.index for r in data.take([3, 40, 8])] == [3, 40, 8]
    assert data.sample(5, seed=1) == data.sample(5, seed=1) and len(data.sample(5, seed=1)) == 5
