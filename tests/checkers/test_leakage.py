"""leakage: eval records copied (and lightly edited) from training are found and named."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import fineaudit
from fineaudit.core import CheckResult
from tests.conftest import chat, write_jsonl

RNG = random.Random(11)
VOCAB = [f"w{i}" for i in range(5000)]


def prose(n: int) -> str:
    return " ".join(RNG.choice(VOCAB) for _ in range(n))


TRAIN = [chat(prose(20), prose(150)) for _ in range(300)]


def lightly_edited(record: dict[str, Any]) -> dict[str, Any]:
    user, assistant = record["messages"][0]["content"], record["messages"][1]["content"]
    words = assistant.split()
    words[10] = "edited"
    return chat(user.upper(), " ".join(words))


def leakage(tmp_path: Path, held: list[dict[str, Any]], **params: Any) -> CheckResult:
    train = write_jsonl(tmp_path / "train.jsonl", TRAIN)
    evalset = write_jsonl(tmp_path / "eval.jsonl", held)
    config = {"workers": 1, "checks": {"leakage": params}}
    return fineaudit.audit(str(train), eval=str(evalset), only=["leakage"], config=config,
                           max_findings=0).checks["leakage"]


def test_copied_and_edited_records_fail_and_are_named(tmp_path: Path) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(40)]
    held[3] = TRAIN[17]                      # an exact copy
    held[21] = lightly_edited(TRAIN[230])    # a light edit
    result = leakage(tmp_path, held)
    assert result.status.value == "fail"     # 2 of 40 is over 1%
    assert {f.records: f.code for f in result.findings} == {(3,): "leakage.exact", (21,): "leakage.near"}
    assert all(f.source == "eval" for f in result.findings)
    named = {f.records[0]: f.message for f in result.findings}
    assert "training record 17" in named[3] and "training record 230" in named[21]
    assert result.metrics["leaked_records"] == 2
    assert result.metrics["leaked_fraction"] == 0.05


def test_exact_only_and_clean_eval(tmp_path: Path) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(40)]
    assert leakage(tmp_path, held).status.value == "pass"
    held[5] = lightly_edited(TRAIN[2])
    assert leakage(tmp_path, held, near=False, prompts=False).status.value == "pass"
    # its prompt is the training prompt in upper case: a prompt leak once prompts are looked at
    (finding,) = leakage(tmp_path, held, near=False).findings
    assert (finding.code, finding.records) == ("leakage.prompt", (5,))


def test_few_leaks_warn(tmp_path: Path) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(200)]
    held[100] = TRAIN[0]
    assert leakage(tmp_path, held).status.value == "warn"  # 0.5% of the eval set


def test_names_every_training_twin(tmp_path: Path) -> None:
    global TRAIN
    saved = TRAIN
    TRAIN = saved[:50] + [saved[7]] + saved[51:]
    try:
        held = [saved[7]] + [chat(prose(20), prose(150)) for _ in range(9)]
        (finding,) = leakage(tmp_path, held).findings
        assert "training records 7, 50" in finding.message
    finally:
        TRAIN = saved


def test_skipped_without_eval(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", TRAIN[:10])
    result = fineaudit.audit(str(train), only=["leakage"]).checks["leakage"]
    assert result.status.value == "skipped"
