"""The length check: token counts, truncation, empty responses, outliers, production coverage."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.length import histogram
from fineaudit.core import CheckResult, Status
from tests.conftest import real_file, chat, write_jsonl

WORDS = "the model reads this sentence and learns a little from it".split()


def prose(n_words: int, seed: int = 0) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(n_words))


def clean(n: int = 30) -> list[dict[str, Any]]:
    return [chat(prose(10 + i % 5, i), prose(30 + i % 7, i)) for i in range(n)]


def length_of(data: Any, production: Any = None, **params: Any) -> CheckResult:
    config = {"checks": {"length": params}} if params else None
    return fineaudit.audit(data, production=production, config=config, only=["length"], max_findings=0).checks["length"]


def codes(result: CheckResult) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in result.findings:
        out.setdefault(f.code, []).extend(f.records)
    return out


@pytest.mark.parametrize("case, edit, params, status, code", [
    ("clean", lambda d: d, {}, Status.PASS, None),
    ("empty response", lambda d: d[:5] + [chat("hi", "   ")] + d[5:], {}, Status.FAIL, "length.empty_response"),
    ("near-empty response", lambda d: d + [chat("capital of France?", "Paris")], {}, Status.WARN,
     "length.near_empty_response"),
    ("one of 31 truncated (3%)", lambda d: d + [chat(prose(5), prose(400))], {"max_length": 200}, Status.FAIL,
     "length.over_max_length"),
    ("one of 31 truncated, 5% allowed", lambda d: d + [chat(prose(5), prose(400))],
     {"max_length": 200, "max_truncated_fraction": 0.05}, Status.WARN, "length.over_max_length"),
])
def test_status_and_findings(case: str, edit: Callable[[list[Any]], list[Any]], params: dict[str, Any],
                             status: Status, code: str | None) -> None:
    result = length_of(edit(clean()), **params)
    assert result.status is status, result.summary
    if code:
        assert code in codes(result)
    else:
        assert not result.findings


def test_what_fails_the_check_is_listed_first() -> None:
    data = [chat(prose(8), "Yes.") for _ in range(3)] + clean() + [chat(prose(8), "")]
    data[5] = chat(prose(8), prose(80))
    result = length_of(data, max_length=60)
    assert [f.code for f in result.findings[:2]] == ["length.empty_response", "length.over_max_length"]
    assert result.findings[0].records == (len(data) - 1,) and result.findings[1].records == (5,)
    assert [(f.code, f.records) for f in result.findings[2:5]] == [
        ("length.near_empty_response", (i,)) for i in range(3)]


def test_a_long_rejected_answer_is_truncated_too() -> None:
    """DPO trains on prompt + chosen and prompt + rejected: either one over the limit is cut."""
    pairs = [{"prompt": prose(10, i), "chosen": prose(30, i), "rejected": prose(25, i)} for i in range(30)]
    pairs[7]["rejected"] = prose(400, 7)
    result = length_of(pairs, max_length=200)
    assert codes(result)["length.over_max_length"] == [7]
    assert result.metrics["max"] >= 400


def test_tool_calls_are_counted_as_response_tokens() -> None:
    call = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "lookup_order", "arguments": '{"order_id": "A-1234", "include_history": true}'}}]}
    calls = [{"messages": [{"role": "user", "content": prose(10, i)}, call]} for i in range(30)]
    result = length_of(calls)
    assert result.metrics["empty_responses"] == 0 and result.metrics["response"]["p50"] >= 15


def test_chat_without_assistant_turn_is_not_an_empty_response() -> None:
    data = clean() + [{"messages": [{"role": "user", "content": "hello?"}]}]
    assert length_of(data).metrics["empty_responses"] == 0


def test_extreme_outlier_is_named_with_its_record() -> None:
    data = clean(40)
    data.insert(17, chat(prose(10), prose(3000)))
    found = codes(length_of(data))
    assert found["length.outlier"] == [17]


def test_metrics_keep_the_contract_and_histogram_shape() -> None:
    m = length_of(clean()).metrics
    for key in ("tokenizer", "p50", "p95", "p99", "max", "max_length", "over_max_length",
                "over_max_length_fraction", "empty_responses", "tokens_per_epoch"):
        assert key in m
    assert m["tokenizer"] == "cl100k_base"
    hist = m["histogram"]
    assert len(hist["edges"]) == len(hist["counts"]) + 1 and sum(hist["counts"]) == m["records_counted"]
    assert hist["edges"] == sorted(hist["edges"])
    assert {"p50", "p95", "p99", "max"} <= set(m["prompt"]) & set(m["response"]) & set(m["total"])


@pytest.mark.parametrize("values", [[5], [3, 3, 3], [1, 10, 100, 1000, 10000], [0, 0, 7]])
def test_histogram_covers_every_value(values: list[int]) -> None:
    import numpy as np

    hist = histogram(np.asarray(values))
    assert sum(hist["counts"]) == len(values) and len(hist["edges"]) == len(hist["counts"]) + 1


def test_chat_total_is_the_sum_over_turns_plus_template_overhead() -> None:
    from fineaudit.text.token_counting import count_tokens

    record = chat("How are you?", "Fine, thanks.", system="Be brief.")
    turns = count_tokens("cl100k_base", ["Be brief.", "How are you?", "Fine, thanks."])
    m = length_of([record], tokens_per_message=5, tokens_per_record=1).metrics
    assert m["max"] == sum(turns) + 3 * 5 + 1


def test_openai_cookbook_toy_file_matches_openai_notebook() -> None:
    """OpenAI's data-prep notebook reported total tokens per example min / max: 26, 8032."""
    m = length_of(real_file("openai_cookbook/toy_chat_fine_tuning.jsonl")).metrics
    assert (m["total"]["min"], m["max"]) == (26, 8032)


def test_planted_over_length_and_empty_responses_are_found_and_nothing_else(
        make_corpus: Callable[..., tuple[Path, dict[str, Any]]]) -> None:
    path, truth = make_corpus("--records", "2000", "--defects")
    result = length_of(path)
    found = codes(result)
    assert sorted(found["length.over_max_length"]) == truth["defects"]["over_length"]
    assert sorted(found["length.empty_response"]) == truth["defects"]["empty_response"]
    assert result.metrics["over_max_length"] == len(truth["defects"]["over_length"])
    assert result.status is Status.FAIL


def test_tokenizer_json_is_used_for_counts(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted(set(WORDS))
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)} | {"[UNK]": len(words)},
                                           unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    data = [{"prompt": prose(4), "completion": prose(6)}]
    m = length_of(data, tokenizer=str(tmp_path), tokens_per_message=0, tokens_per_record=0).metrics
    assert (m["prompt"]["max"], m["response"]["max"], m["max"]) == (4, 6, 10)


@pytest.mark.parametrize("production_words, status", [(12, Status.PASS), (200, Status.WARN)])
def test_production_prompts_longer_than_training_warn(tmp_path: Path, production_words: int,
                                                      status: Status) -> None:
    production = write_jsonl(tmp_path / "prod.jsonl", [{"prompt": prose(production_words, i)} for i in range(20)])
    result = length_of(clean(), production=str(production))
    assert result.status is status
    coverage = result.metrics["production"]
    assert coverage["records"] == 20
    assert ("length.production_longer" in codes(result)) is (status is Status.WARN)


def test_short_classification_texts_a_few_times_the_median_are_not_outliers() -> None:
    from fineaudit.checkers.length import LengthChecker
    from fineaudit.engines.memory import run_checker

    words = "please help me with my card payment that did not go through today".split()
    rows = [{"text": " ".join(words[: 5 + i % 4]), "label": "a"} for i in range(200)]
    rows += [{"text": " ".join(words * 4), "label": "b"} for _ in range(3)]  # 59 tokens vs a median of 14
    result = run_checker(LengthChecker, rows)
    assert not [f for f in result.findings if f.code == "length.outlier"]
    rows.append({"text": " ".join(words * 40), "label": "b"})  # ~520 tokens: far beyond the spread
    flagged = [f for f in run_checker(LengthChecker, rows).findings if f.code == "length.outlier"]
    assert [f.records for f in flagged] == [(len(rows) - 1,)]


@pytest.mark.parametrize("answers, warned", [
    (["A", "B", "C", "D"], False),  # multiple choice: short by design
    (["The answer is a long and careful explanation of the point.", "B"], True),
])
def test_near_empty_answers_warn_only_where_answers_are_not_short_by_design(answers: list[str],
                                                                            warned: bool) -> None:
    from fineaudit.checkers.length import LengthChecker
    from fineaudit.engines.memory import run_checker

    rows = [chat(f"question {i}: pick one", answers[0] if i % 5 else answers[-1]) for i in range(100)]
    result = run_checker(LengthChecker, rows)
    assert bool([f for f in result.findings if f.code == "length.near_empty_response"]) is warned
    assert result.metrics["short_answers_by_design"] is not warned
