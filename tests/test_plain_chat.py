"""The plain-chat fast paths of `fields` and `view_of` give exactly what the general path gives.

A plain chat record (OpenAI turns of text, no label, no tools) is read without building
Messages; every other record takes the general path. Each case here is read both ways."""
from __future__ import annotations

import json
from typing import Any

import pytest

from fineaudit.dataset import formats
from fineaudit.dataset.formats import ReadOptions, chat_messages, fields, view_of
from tests.conftest import REPO, real_file

PLAIN = [
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                  {"role": "assistant", "content": "hello"}]},
    {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "   "}]},  # empty turns
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0},
                  {"role": "user", "content": "q2", "name": "bob"}, {"role": "assistant", "content": "a2"}]},
    {"id": "r1", "source": "web", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
    {"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "42", "tool_call_id": "c1"},
                  {"role": "assistant", "content": "a"}]},
    {"messages": [{"role": "system", "content": "s1"}, {"role": "system", "content": "s2"}]},  # no answer
    {"messages": []},
    {"messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"},
                  {"role": "assistant", "content": "hello"}]},  # OpenAI's newer name for system
    {"messages": [{"role": "user", "content": "q"}, {"role": "function", "name": "f", "content": "{}"},
                  {"role": "assistant", "content": "a"}]},  # a legacy function result
]
GENERAL = [  # records the fast path must hand to the general one
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": None,
                                                      "tool_calls": [{"id": "1", "type": "function"}]}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}, {"role": "assistant", "content": "a"}]},
    {"messages": [{"role": "User", "content": "q"}, {"role": "assistant", "content": "a"}]},  # unknown role
    {"messages": [{"role": ["user"], "content": "q"}]},  # an unhashable role
    {"messages": [{"role": "user", "content": 7}]},
    {"messages": ["not a turn"]},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": "spam"},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "category": "billing"},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
     "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"messages": [{"role": "assistant", "content": "a", "function_call": {"name": "f", "arguments": "{}"}}]},
    {"messages": "q", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
    {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
]


def _objects(text: str) -> list[Any]:
    """Every JSON value of a file: JSON Lines, or pretty-printed objects one after another."""
    decoder, values, at = json.JSONDecoder(strict=False), [], 0  # this file holds raw tabs in strings
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def _general_fields(obj: Any) -> list[formats.Part]:
    return list(formats._fields(formats.mapped(obj, ReadOptions()), "chat", ReadOptions(), obj))


def _general_view(obj: Any) -> formats.View:
    mapped = formats.mapped(obj, ReadOptions())
    return formats._turn_view(chat_messages(mapped), formats._label(mapped.get("label")))


@pytest.mark.parametrize("record", PLAIN + GENERAL)
def test_fast_paths_match_the_general_path(record: dict) -> None:
    assert fields(record, "chat") == _general_fields(record)
    assert view_of(record, "chat") == _general_view(record)


@pytest.mark.parametrize("record", PLAIN)
def test_plain_records_take_the_fast_path(record: dict) -> None:
    assert formats._plain_chat_parts(record) is not None


@pytest.mark.parametrize("record", GENERAL)
def test_other_records_take_the_general_path(record: dict) -> None:
    assert formats._plain_chat_parts(record) is None


def test_a_field_map_takes_the_general_path() -> None:
    record = {"dialog": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
              "messages": [{"role": "user", "content": "other"}]}
    options = ReadOptions.of({"messages": "dialog"})
    assert [p.text for p in fields(record, "chat", options)] == ["q", "a"]
    assert view_of(record, "chat", options).prompt == "q"


@pytest.mark.parametrize("name", ["sample_data/train.jsonl", "openai_cookbook/toy_chat_fine_tuning.jsonl",
                                  "openai_cookbook/drone_training.jsonl", "openai_cookbook/01-testing-example.jsonl"])
def test_real_chat_records_read_the_same_both_ways(name: str) -> None:
    path = REPO / name if name.startswith("sample_data") else real_file(name)
    records = _objects(path.read_text("utf-8"))
    assert records
    for record in records:
        assert fields(record, "chat") == _general_fields(record)
        assert view_of(record, "chat") == _general_view(record)


TURN_LISTS = [  # (turns, plain: the schema need not be asked)
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], True),
    ([{"role": "system", "content": ""}, {"role": "tool", "content": " "}], True),
    ([], False),  # minItems 1
    ([{"role": "user", "content": "q", "weight": 2}], False),  # the schema refuses the weight
    ([{"role": "user", "content": "q", "name": 5}], False),
    ([{"role": "User", "content": "q"}], False),
    ([{"role": "developer", "content": "be brief"}, {"role": "user", "content": "q"}], True),
    ([{"role": "function", "content": "{}"}], False),  # a function result must name its function
    ([{"role": "user", "content": None}], False),
    ([{"role": "user"}], False),
    ([{"content": "q"}], False),
    ([{"role": "assistant", "content": "", "tool_calls": []}], False),
    ("not a list", False),
]


@pytest.mark.parametrize("turns,plain", TURN_LISTS)
def test_plain_turns_are_those_the_schema_passes(turns: Any, plain: bool) -> None:
    from fineaudit.dataset import layout_rules

    assert layout_rules._plain_turns(turns) is plain
    if plain:
        assert layout_rules._schema_errors({"messages": turns}, "chat") == []


@pytest.mark.parametrize("record", PLAIN + GENERAL)
def test_problems_are_the_same_with_and_without_the_schema_shortcut(record: dict,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from fineaudit.dataset import layout_rules

    fast = layout_rules.record_problems(record, "chat")
    monkeypatch.setattr(layout_rules, "_plain_turns", lambda turns: False)
    assert layout_rules.record_problems(record, "chat") == fast
