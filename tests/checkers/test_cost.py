"""cost: billing tokens per epoch, epochs and cost by preset; OpenAI's notebook figures reproduced."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.cost import CostParams, cookbook_epochs
from fineaudit.core import CheckResult
from tests.conftest import REPO, chat, write_jsonl

TOY = REPO / "tests" / "data" / "openai_cookbook" / "toy_chat_fine_tuning.jsonl"  # MIT, see its README


@pytest.mark.parametrize("examples, epochs", [(5, 20), (1, 25), (33, 3), (34, 3), (50, 3), (8333, 3),
                                              (8334, 2), (30000, 1)])
def test_cookbook_epoch_rule(examples: int, epochs: int) -> None:
    assert cookbook_epochs(examples) == epochs


def cost(tmp_path: Path, records: list[dict[str, Any]], only: tuple[str, ...] = ("length", "cost"),
         **params: Any) -> CheckResult:
    data = write_jsonl(tmp_path / "train.jsonl", records)
    config = {"workers": 1, "checks": {"cost": params}}
    return fineaudit.audit(str(data), only=list(only), config=config).checks["cost"]


RECORDS = [chat(f"question number {i} about the weather", "a short answer " * (i % 7 + 1)) for i in range(40)]


def test_uses_length_counts_and_counts_alike_without_it(tmp_path: Path) -> None:
    with_length = cost(tmp_path, RECORDS)
    alone = cost(tmp_path, RECORDS, only=("cost",))
    assert with_length.metrics["tokens_from"] == "length"
    assert alone.metrics["tokens_from"].startswith("cost")
    for key in ("billing_tokens_per_epoch", "epochs", "total_billing_tokens"):
        assert with_length.metrics[key] == alone.metrics[key]
    assert with_length.metrics["epochs"] == 3  # 40 x 3 = 120 example-passes: the target stands


@pytest.mark.parametrize("params, expected", [
    ({"price_per_million_tokens": 25.0, "epochs": 2}, "per_token"),
    ({"preset": "per-token", "price_per_million_tokens": 10.0}, "per_token"),
    ({"preset": "per-token", "packing": False, "max_tokens_per_example": 512, "price_per_million_tokens": 1.0}, "padded"),
    ({"preset": "gpu-hours", "model_parameters": 8e9, "gpu_price_per_hour": 2.5}, "gpu"),
])
def test_cost_by_preset(tmp_path: Path, params: dict[str, Any], expected: str) -> None:
    m = cost(tmp_path, RECORDS, **params).metrics
    assert m["total_billing_tokens"] == m["billing_tokens_per_epoch"] * m["epochs"]
    if expected == "per_token":
        assert m["estimated_cost"] == pytest.approx(m["total_billing_tokens"] / 1e6 * params["price_per_million_tokens"])
    elif expected == "padded":
        assert m["billing_tokens_per_epoch"] == 40 * 512
    else:
        hours = 6 * 8e9 * m["total_billing_tokens"] / (989e12 * 0.4) / 3600
        assert m["gpu_hours"] == pytest.approx(hours, abs=1e-6)
        assert m["estimated_cost"] == pytest.approx(hours * 2.5, abs=1e-6)


def test_budget_fails_only_when_exceeded(tmp_path: Path) -> None:
    assert cost(tmp_path, RECORDS, price_per_million_tokens=1.0).status.value == "pass"
    over = cost(tmp_path, RECORDS, price_per_million_tokens=1000.0, budget=0.5)
    assert over.status.value == "fail" and over.findings[0].code == "cost.over_budget"
    assert cost(tmp_path, RECORDS, budget=0.5).findings[0].code == "cost.no_price"


@pytest.mark.parametrize("price, budget, status", [
    (8.0, "just_below", "fail"),   # a cost rounded to cents would have passed a budget a tenth of a cent below it
    (8.0, "just_above", "pass"),
])
def test_the_budget_is_compared_with_the_unrounded_cost(tmp_path: Path, price: float, budget: str, status: str) -> None:
    exact = cost(tmp_path, RECORDS, price_per_million_tokens=price).metrics["estimated_cost"]
    assert exact != round(exact, 2)  # sub-cent digits are kept in the report
    limit = exact - 0.0002 if budget == "just_below" else exact + 0.0002
    result = cost(tmp_path, RECORDS, price_per_million_tokens=price, budget=limit)
    assert result.status.value == status


def test_a_sub_cent_gpu_run_is_not_zero(tmp_path: Path) -> None:
    m = cost(tmp_path, RECORDS, preset="gpu-hours", model_parameters=7e9, gpu_price_per_hour=3.0).metrics
    assert 0 < m["gpu_hours"] < 0.001 and 0 < m["estimated_cost"] < 0.01


def test_truncated_examples_are_named(tmp_path: Path) -> None:
    records = RECORDS[:5] + [chat("long " * 900, "ok")]
    result = cost(tmp_path, records, max_tokens_per_example=500)
    (finding,) = result.findings
    assert finding.code == "cost.truncated" and finding.records == (5,)
    # named, not judged: without a budget cost never blocks (length judges truncation)
    assert result.status.value == "pass" and result.metrics["truncated_examples"] == 1


def test_never_blocks_without_a_budget_even_on_warnings(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", RECORDS[:5] + [chat("long " * 900, "ok")])
    report = fineaudit.audit(str(data), only=["cost"], fail_on="warn",
                             config={"workers": 1, "checks": {"cost": {"max_tokens_per_example": 500}}})
    assert report.passed


@pytest.mark.parametrize("bad", [{"preset": "cheap"}, {"epochs": -1}, {"utilization": 0.0},
                                 {"price_per_million_tokens": float("nan")}, {"budget": -1.0}])
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CostParams(**bad)


@pytest.mark.parametrize("only", [("length", "cost"), ("cost",)])
def test_openai_notebook_figures(only: tuple[str, ...]) -> None:
    """OpenAI's Chat_finetuning_data_prep notebook prints, for this file at 4,096 tokens per
    example: ~4306 billing tokens, 20 epochs, ~86120 tokens charged."""
    config = {"workers": 1, "checks": {"cost": {"max_tokens_per_example": 4096}}}
    m = fineaudit.audit(str(TOY), only=list(only), config=config).checks["cost"].metrics
    assert (m["billing_tokens_per_epoch"], m["epochs"], m["total_billing_tokens"]) == (4306, 20, 86120)
