"""conflicting_labels: label conflicts fail, different answers to one prompt warn."""
from __future__ import annotations

from typing import Any

import pytest

from tests.checkers.test_exact_duplicates import run, sms_rows
from tests.conftest import chat

ANSWER = "Paris is the capital of France and its largest city by far."
OTHER = "I cannot help with geography questions today, sorry about that."
QUESTION = "What is the capital city of France?"


def TOOL(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("rows, status, groups", [
    ([{"text": "great film", "label": "pos"}, {"text": "Great  film", "label": "neg"}], "fail", [(0, 1)]),
    ([{"text": "great film", "label": "pos"}, {"text": "great film", "label": "pos"}], "pass", []),
    ([{"text": "great film", "label": "pos"}, {"text": "bad film", "label": "neg"}], "pass", []),
])
def test_classification(rows: list[dict[str, Any]], status: str, groups: list[tuple[int, ...]]) -> None:
    result = run(rows, "conflicting_labels", fmt="classification")
    assert result.status.value == status
    assert [f.records for f in result.findings] == groups
    assert all(f.code == "conflicting_labels.label" for f in result.findings)


@pytest.mark.parametrize("rows, status, groups", [
    ([chat(QUESTION, ANSWER), chat(QUESTION.lower(), OTHER)], "warn", [(0, 1)]),
    ([chat(QUESTION, ANSWER), chat(QUESTION, ANSWER + " Indeed.")], "pass", []),
    ([chat(QUESTION, ANSWER), chat("What is the capital city of Spain?", OTHER)], "pass", []),
    # open prompts: a greeting has many good answers
    ([chat("Hi!", "Hello! How can I help you today?"), chat("hi", "Hi there, what can I do for you?"),
      chat("Hi", "Good day! Ask me anything."), chat("Hi.", "Hey! Nice to meet you.")], "pass", []),
    ([chat("Tell me a joke", "Why did the chicken cross the road? To get to the other side."),
      chat("Tell me a joke.", "I told my wife she was drawing her eyebrows too high. She looked surprised.")], "pass", []),
    # a short question with short answers is not open: '4' and '5' contradict each other
    ([chat("What is 2+2?", "4"), chat("what is 2+2", "5")], "warn", [(0, 1)]),
    # different system prompts (or tools) make different inputs
    ([chat(QUESTION, ANSWER, system="You are a geography tutor."),
      chat(QUESTION, OTHER, system="You only answer questions about cooking.")], "pass", []),
    ([chat(QUESTION, ANSWER, system="Be brief."), chat(QUESTION, OTHER, system="Be brief.")], "warn", [(0, 1)]),
    ([dict(chat(QUESTION, ANSWER), tools=[TOOL("get_capital")]), dict(chat(QUESTION, OTHER), tools=[TOOL("order_pizza")])],
     "pass", []),
    ([dict(chat(QUESTION, ANSWER), tools=[TOOL("get_capital")]), dict(chat(QUESTION, OTHER), tools=[TOOL("get_capital")])],
     "warn", [(0, 1)]),
])
def test_chat_responses(rows: list[dict[str, Any]], status: str, groups: list[tuple[int, ...]]) -> None:
    result = run(rows, "conflicting_labels")
    assert result.status.value == status
    assert [f.records for f in result.findings] == groups


def test_response_conflicts_can_fail() -> None:
    rows = [chat(QUESTION, ANSWER), chat(QUESTION, OTHER)]
    assert run(rows, "conflicting_labels", response_conflicts_fail=True).status.value == "fail"


@pytest.mark.parametrize("first, second, params, conflict", [
    # spelling that hides a conflict: hyphens, punctuation, case, spacing (issue 17's BANKING77 pair)
    ("Has my top-up gone through?", "Has my top up gone through?", {}, True),
    ("Has my top-up gone through?", "has my top up  gone through", {}, True),
    ("Has my top-up gone through?", "Has my top up gone through?", {"ignore_punctuation": False}, False),
    ("Has my top-up gone through?", "Has my transfer gone through?", {}, False),
])
def test_spelling_does_not_hide_label_conflicts(first: str, second: str, params: dict[str, Any], conflict: bool) -> None:
    rows = [{"text": first, "label": "top_up_reverted"}, {"text": second, "label": "pending_top_up"}]
    result = run(rows, "conflicting_labels", fmt="classification", near_inputs=False, **params)
    assert [f.records for f in result.findings] == ([(0, 1)] if conflict else [])


def test_open_prompts_can_be_compared() -> None:
    rows = [chat("Hi!", "Hello! How can I help you today?"), chat("hi", "Good day! Ask me anything at all.")]
    assert run(rows, "conflicting_labels").status.value == "pass"
    assert run(rows, "conflicting_labels", open_prompt_words=0).status.value == "warn"


def test_near_duplicate_inputs_by_default() -> None:
    prompt = " ".join(f"word{i}" for i in range(60))
    rows = [{"text": prompt, "label": "a"}, {"text": prompt + " extra", "label": "b"}]
    result = run(rows, "conflicting_labels", fmt="classification")
    assert [f.records for f in result.findings] == [(0, 1)]
    assert run(rows, "conflicting_labels", fmt="classification", near_inputs=False).findings == ()


def test_corpus_planted_conflicts_found(make_corpus: Any) -> None:
    data, truth = make_corpus("--records", "3000")
    found = {f.records for f in run(str(data), "conflicting_labels").findings}
    planted = [tuple(g) for g in truth["conflict_groups"]]
    assert planted and all(any(set(g) <= set(f) for f in found) for g in planted)


def test_classification_corpus(make_corpus: Any) -> None:
    data, truth = make_corpus("--records", "2000", "--format", "classification")
    result = run(str(data), "conflicting_labels")
    planted = {tuple(g) for g in truth["conflict_groups"]}
    assert planted and {f.records for f in result.findings} >= planted
    assert result.status.value == "fail"


def test_sms_spam_has_no_label_conflicts() -> None:
    # the repeated SMS messages carry the same label each time
    result = run(sms_rows(), "conflicting_labels", fmt="classification")
    assert result.metrics["input_groups"] > 200
    assert result.metrics["conflict_groups"] == 0
