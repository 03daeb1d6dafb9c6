"""Layouts: detection, and the views every checker sees."""
from __future__ import annotations

import pytest

from fineaudit.dataset.formats import PROMPTS, UnknownLayout, detect_layout, prompts_layout, view_of


@pytest.mark.parametrize("record, layout", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "chat"),
    ({"conversations": [{"from": "human", "value": "hi"}]}, "chat"),
    ({"instruction": "i", "input": "", "output": "o"}, "instruction"),
    ({"instruction": "i", "input": "", "response": "o"}, "instruction"),
    ({"prompt": "p", "completion": "c"}, "completion"),
    ({"text": "t", "label": "spam"}, "classification"),
    ({"prompt": "p", "chosen": "a", "rejected": "b"}, "preference"),
])
def test_detects_each_layout(record: dict, layout: str) -> None:
    assert detect_layout([record] * 3) == layout


def test_majority_wins_over_a_few_stray_records() -> None:
    records = [{"prompt": "p", "completion": "c"}] * 9 + [{"text": "t", "label": 1}]
    assert detect_layout(records) == "completion"


@pytest.mark.parametrize("records, message", [
    ([{"foo": 1, "bar": 2}], "unknown layout; keys seen: foo, bar"),
    ([{"prompt": "p", "completion": "c"}, {"text": "t", "label": 1}], "ambiguous layout"),
    ([], "no parsable JSON object"),
])
def test_unknown_or_ambiguous_layout_lists_layouts_and_keys(records: list, message: str) -> None:
    with pytest.raises(UnknownLayout, match=message) as info:
        detect_layout(records)
    assert "chat (messages)" in str(info.value) and "--format" in str(info.value)


def test_chat_views() -> None:
    record = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"},
                           {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"},
                           {"role": "assistant", "content": "A2"}]}
    view = view_of(record, "chat")
    assert (view.prompt, view.response, view.system, view.turns) == ("Q1\nQ2", "A1\nA2", "Be brief.", 5)
    assert view.text == "Be brief.\nQ1\nA1\nQ2\nA2"


def test_sharegpt_speakers_map_to_roles() -> None:
    record = {"conversations": [{"from": "human", "value": "Who are you?"}, {"from": "gpt", "value": "Vicuna."}]}
    view = view_of(record, "chat")
    assert (view.prompt, view.response) == ("Who are you?", "Vicuna.")


@pytest.mark.parametrize("record, prompt, response", [
    ({"instruction": "Add", "input": "1 1", "output": "2"}, "Add\n1 1", "2"),
    ({"instruction": "Add", "input": "", "response": "2"}, "Add", "2"),
    ({"prompt": "p", "completion": "c"}, "p", "c"),
    ({"prompt": "p", "chosen": "good", "rejected": "bad"}, "p", "good"),
    ({"text": "buy now", "label": "spam"}, "buy now", ""),
])
def test_prompt_and_response_views(record: dict, prompt: str, response: str) -> None:
    layout = detect_layout([record])
    view = view_of(record, layout)
    assert (view.prompt, view.response) == (prompt, response)


def test_label_view_is_a_string_or_none() -> None:
    assert view_of({"text": "t", "label": 3}, "classification").label == "3"
    assert view_of({"text": "t", "label": None}, "classification").label is None
    assert view_of({"text": "t", "label": " "}, "classification").label is None  # missing, not a class ' '
    assert view_of({"prompt": "p", "completion": "c", "intent": "billing"}, "completion", "intent").label == "billing"


@pytest.mark.parametrize("record, prompt", [
    ({"prompt": "How do I reset it?"}, "How do I reset it?"),
    ({"text": "How do I reset it?"}, "How do I reset it?"),
    ({"messages": [{"role": "user", "content": "How do I reset it?"}]}, "How do I reset it?"),
    ({"instruction": "How do I reset it?", "input": ""}, "How do I reset it?"),
    ({"message": "How do I reset it?", "session": "sess-00012"}, "How do I reset it?"),
    # a log with no known key: its longest string, not its metadata joined in
    ({"ts": "2024-05-01T10:00:00Z", "sid": "a81f", "body": "How do I reset my router?"}, "How do I reset my router?"),
])
def test_production_prompts_in_any_shape(record: dict, prompt: str) -> None:
    assert view_of(record, PROMPTS).prompt == prompt


def test_production_field_names_the_prompt_and_labels_are_read() -> None:
    record = {"text": "ticket #12", "body": "How do I reset it?", "label": "support"}
    assert view_of(record, prompts_layout("body")).prompt == "How do I reset it?"
    assert view_of(record, prompts_layout(None)).prompt == "ticket #12"
    assert view_of(record, PROMPTS).label == "support"
    assert view_of(record, PROMPTS, "body").label == "How do I reset it?"


def test_views_are_lenient_on_broken_records() -> None:
    view = view_of({"messages": [{"role": "assistant", "content": 42}, "junk"]}, "chat")
    assert view.response == "42" and view.turns == 2
