"""eval_split: a missing or small eval set, duplicates in it, shifts against training, templates."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.eval_split import EvalSplitParams, ci_halfwidth, min_detectable_difference, records_for
from fineaudit.core import CheckResult
from tests.conftest import chat, write_jsonl

TOPICS = ["tides", "volcanoes", "jazz", "bread", "comets", "glaciers", "bees", "rivers", "chess", "owls"]
TRAIN = [chat(f"Tell me one fact about {t}, item {i}.", f"A fact about {t} number {i}.")
         for i in range(30) for t in TOPICS]


@pytest.mark.parametrize("n, mdd, ci", [(60, 0.256, 0.127), (100, 0.198, 0.098), (400, 0.099, 0.049)])
def test_what_an_eval_of_n_can_show(n: int, mdd: float, ci: float) -> None:
    p = EvalSplitParams()
    assert min_detectable_difference(n, p) == pytest.approx(mdd, abs=0.001)
    assert ci_halfwidth(n, p) == pytest.approx(ci, abs=0.001)
    assert min_detectable_difference(records_for(mdd, p), p) <= mdd + 1e-9


def run(tmp_path: Path, held: list[dict[str, Any]] | None, train: list[dict[str, Any]] = TRAIN,
        **params: Any) -> CheckResult:
    data = write_jsonl(tmp_path / "train.jsonl", train)
    evalset = str(write_jsonl(tmp_path / "eval.jsonl", held)) if held is not None else None
    config = {"workers": 1, "checks": {"eval_split": params}}
    return fineaudit.audit(str(data), eval=evalset, only=["eval_split"], config=config).checks["eval_split"]


def fresh(n: int) -> list[dict[str, Any]]:
    return [chat(f"Why does the {w} matter so much to people today?", f"Because of reason {w}.")
            for w in (f"thing{i}" for i in range(n))]


def test_missing_eval_warns_with_how_to_make_one(tmp_path: Path) -> None:
    result = run(tmp_path, None)
    (finding,) = result.findings
    assert result.status.value == "warn" and finding.code == "eval_split.missing"
    assert "fineaudit sample" in finding.message and result.metrics["eval_records"] == 0


@pytest.mark.parametrize("size, codes", [(60, ["eval_split.too_small"]), (150, [])])
def test_small_eval_says_what_it_can_show(tmp_path: Path, size: int, codes: list[str]) -> None:
    result = run(tmp_path, fresh(size), templates=False, max_length_ks=1.0)
    assert [f.code for f in result.findings] == codes
    if codes:
        assert "60 eval examples can show only a 26-point change" in result.findings[0].message


def test_duplicates_inside_the_eval_set(tmp_path: Path) -> None:
    held = fresh(150)
    held[90] = held[7]
    held[120] = held[7]
    result = run(tmp_path, held, templates=False, max_length_ks=1.0)
    (finding,) = result.findings
    assert finding.code == "eval_split.duplicate" and finding.records == (7, 90, 120)
    assert result.metrics["eval_duplicates"] == 2


def test_eval_prompts_from_training_templates(tmp_path: Path) -> None:
    held = fresh(148) + [chat("Tell me one fact about comets, item 97.", "x"), chat("Tell me one fact about owls, item 300.", "y")]
    result = run(tmp_path, held, max_length_ks=1.0)
    template = [f for f in result.findings if f.code == "eval_split.template"]
    assert [f.records for f in template] == [(148,), (149,)]
    assert result.metrics["template_leaks"] == 2


def test_label_and_length_shift(tmp_path: Path) -> None:
    train = [{"text": f"short text {i}", "label": "a" if i % 2 else "b"} for i in range(300)]
    held = [{"text": "a much longer text " * 20 + str(i), "label": "c" if i % 3 else "a"} for i in range(150)]
    codes = {f.code for f in run(tmp_path, held, train).findings}
    assert {"eval_split.label_shift", "eval_split.length_shift"} <= codes


@pytest.mark.parametrize("bad", [{"confidence": 1.0}, {"power": 0.0}, {"max_detectable_difference": 0.0}])
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EvalSplitParams(**bad)
