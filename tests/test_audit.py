"""The library API: audit(), gate(), Report, DatasetNotReady, fail-closed checkers."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import fineaudit
from fineaudit.core import ConfigError, Status
from fineaudit.render.json_report import validate_report
from tests.conftest import REPO, chat, write_jsonl

CLEAN = [chat(f"question {i}", f"answer {i}") for i in range(120)]
SMALL = {"checks": {"size": {"min_records": 10, "warn_records": 10}}}


def without_volatile(report: dict) -> dict:
    report = dict(report, created=None)
    report["checks"] = [dict(c, duration_s=None) for c in report["checks"]]
    return report


@pytest.mark.parametrize("make", [lambda p: str(write_jsonl(p / "d.jsonl", CLEAN)), lambda p: CLEAN,
                                  lambda p: pd.DataFrame(CLEAN),
                                  lambda p: __import__("datasets").Dataset.from_list(CLEAN)])
def test_audit_accepts_paths_and_in_memory_data(tmp_path: Path, make) -> None:
    report = fineaudit.audit(make(tmp_path), config=SMALL)
    assert report.passed and report.verdict == "pass"
    assert report.checks["size"].metrics == {"records": 120, "valid_records": 120}
    assert report.dataset.format == "chat"


def test_report_validates_against_the_schema_and_round_trips(tmp_path: Path) -> None:
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", CLEAN[:5] + ["{broken"]))
    document = json.loads(report.to_json())
    validate_report(document)
    assert document["dataset"]["records"] == 6 and document["verdict"] == "fail"
    assert document["checks"][1]["findings"][0] == {
        "code": "format.unparsable", "records": [5], "line": 6, "field": None,
        "message": document["checks"][1]["findings"][0]["message"], "source": "train"}


def test_same_input_and_config_same_report(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", CLEAN + ["not json"])
    first, second = (without_volatile(fineaudit.audit(path).to_dict()) for _ in range(2))
    assert first == second


def test_gate_raises_dataset_not_ready_carrying_the_report(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", CLEAN[:3])
    with pytest.raises(fineaudit.DatasetNotReady, match="not ready") as info:
        fineaudit.gate(path)
    assert info.value.report.checks["size"].status is Status.FAIL
    assert fineaudit.gate(CLEAN, config=SMALL).passed


def test_fail_on_warn_makes_warnings_block() -> None:
    config = {"checks": {"size": {"min_records": 10, "warn_records": 500}}}
    assert fineaudit.audit(CLEAN, config=config).passed
    report = fineaudit.audit(CLEAN, config=config, fail_on="warn")
    assert report.checks["size"].status is Status.WARN and not report.passed


def test_a_non_blocking_failure_does_not_fail_the_verdict() -> None:
    report = fineaudit.audit(CLEAN[:3], config={"checks": {"size": {"blocking": False}}})
    assert report.checks["size"].status is Status.FAIL and report.passed


def test_only_and_skip_select_checks_and_reject_unknown_names() -> None:
    assert list(fineaudit.audit(CLEAN, only=["size"]).checks) == ["size"]
    assert "size" not in fineaudit.audit(CLEAN, skip=["size"]).checks
    with pytest.raises(ConfigError, match="--only: unknown check 'sise'; valid checks: size"):
        fineaudit.audit(CLEAN, only=["sise"])


def test_max_findings_keeps_the_total(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ["bad"] * 8)
    result = fineaudit.audit(path, format="chat", max_findings=3).checks["format"]
    assert len(result.findings) == 3 and result.findings_total == 8
    assert len(fineaudit.audit(path, format="chat", max_findings=0).checks["format"].findings) == 8


def test_dataset_dict_held_out_split_becomes_eval() -> None:
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(CLEAN),
                               "validation": datasets.Dataset.from_list(CLEAN[:10])})
    report = fineaudit.audit(dd, config=SMALL)
    assert report.inputs["eval"]["records"] == 10 and report.dataset.records == 120


def test_a_downloaded_hub_folder_audits_train_with_its_test_shards_as_eval(tmp_path: Path) -> None:
    """`data/train-*.jsonl` + `data/test-*.jsonl`, as a Hub download lays them out: the test
    records are the eval split (here two of them copy training records), not training data."""
    data = tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    write_jsonl(data / "train-00000-of-00002.jsonl", CLEAN[:60])
    write_jsonl(data / "train-00001-of-00002.jsonl", CLEAN[60:])
    write_jsonl(data / "test-00000-of-00001.jsonl",
                [chat(f"held-out question {i}", f"held-out answer {i}") for i in range(18)] + CLEAN[5:7])
    report = fineaudit.audit(str(tmp_path / "repo"), config=SMALL, only=["size", "exact_duplicates", "leakage"])
    assert report.dataset.records == 120 and report.inputs["eval"]["records"] == 20
    assert report.checks["exact_duplicates"].metrics["duplicate_records"] == 0
    leakage = report.checks["leakage"]
    assert leakage.metrics["leaked_records"] == 2 and leakage.status is Status.FAIL
    assert sorted(f.records for f in leakage.findings) == [(18,), (19,)]


def test_audit_never_modifies_its_input(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", CLEAN + ["{bad"])
    before = path.read_bytes(), path.stat().st_mtime_ns
    fineaudit.audit(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_sample_data_clean_set_passes_and_flawed_set_fails() -> None:
    assert fineaudit.audit(REPO / "sample_data" / "train.jsonl").passed
    flawed = fineaudit.audit(REPO / "sample_data" / "flawed.jsonl", only=["format"])
    lines = {f.line for f in flawed.checks["format"].findings}
    assert {4, 8, 21, 51, 121} <= lines
