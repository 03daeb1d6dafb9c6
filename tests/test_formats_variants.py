"""Every layout and variant of the contract, as OpenAI, TRL, LLaMA-Factory, Anthropic and
Together publish them: detected, valid, read through the same views; broken copies named by line."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.dataset.formats import ReadOptions, detect_layout, fields, mapped, variant_of, view_of
from fineaudit.dataset.layout_rules import record_problems
from tests.conftest import real_file, write_jsonl

U = {"role": "user", "content": "What is the capital of France?"}
A = {"role": "assistant", "content": "Paris."}
B = {"role": "assistant", "content": "London."}

# (layout, variant, record, expected prompt, response, rejected)
VARIANTS: list[tuple[str, str, dict[str, Any], str, str, str]] = [
    ("chat", "messages", {"messages": [{"role": "system", "content": "Be brief."}, U, A]},
     U["content"], "Paris.", ""),
    ("chat", "sharegpt", {"conversations": [{"from": "human", "value": U["content"]}, {"from": "gpt", "value": "Paris."}]},
     U["content"], "Paris.", ""),
    ("instruction", "output", {"instruction": "Name the capital.", "input": "France", "output": "Paris."},
     "Name the capital.\nFrance", "Paris.", ""),
    ("instruction", "response", {"instruction": "Name the capital of France.", "response": "Paris."},
     "Name the capital of France.", "Paris.", ""),
    ("completion", "prompt", {"prompt": U["content"], "completion": " Paris."}, U["content"], " Paris.", ""),
    ("completion", "prompt", {"prompt": [U], "completion": [A]}, U["content"], "Paris.", ""),  # TRL conversational
    ("classification", "text", {"text": "great movie", "label": "positive"}, "great movie", "", ""),
    ("classification", "text", {"text": "where is my card?", "category": "card_arrival"}, "where is my card?", "", ""),
    ("classification", "text", {"text": "spam!!", "label": 1}, "spam!!", "", ""),
    ("preference", "explicit", {"prompt": U["content"], "chosen": "Paris.", "rejected": "London."},
     U["content"], "Paris.", "London."),
    ("preference", "explicit", {"prompt": [U], "chosen": [A], "rejected": [B]}, U["content"], "Paris.", "London."),
    ("preference", "implicit", {"chosen": [U, A], "rejected": [U, B]}, U["content"], "Paris.", "London."),
    ("preference", "implicit", {"chosen": "\n\nHuman: What is the capital of France?\n\nAssistant: Paris.",
                                "rejected": "\n\nHuman: What is the capital of France?\n\nAssistant: London."},
     "\n\nHuman: What is the capital of France?\n\nAssistant:", " Paris.", " London."),
    ("preference", "openai", {"input": {"messages": [U]}, "preferred_output": [A], "non_preferred_output": [B]},
     U["content"], "Paris.", "London."),
    ("preference", "sharegpt", {"conversations": [{"from": "human", "value": U["content"]}],
                                "chosen": {"from": "gpt", "value": "Paris."},
                                "rejected": {"from": "gpt", "value": "London."}}, U["content"], "Paris.", "London."),
    ("kto", "prompt", {"prompt": U["content"], "completion": "Paris.", "label": True}, U["content"], "Paris.", ""),
    ("kto", "prompt", {"prompt": [U], "completion": [A], "label": False}, U["content"], "Paris.", ""),
    ("kto", "messages", {"messages": [U, A], "label": True}, U["content"], "Paris.", ""),
    ("text", "text", {"text": "Paris is the capital of France."}, "", "", ""),
    # OpenAI's current name for the system role, and its legacy function calling (still what
    # its fine-tuning guide shows): `functions` declared bare, a `function` turn answers by name
    ("chat", "messages", {"messages": [{"role": "developer", "content": "Be brief."}, U, A]},
     U["content"], "Paris.", ""),
    ("chat", "messages", {"messages": [U, {"role": "assistant", "function_call": {"name": "capital", "arguments": "{}"}},
                                       {"role": "function", "name": "capital", "content": "Paris"}, A],
                          "functions": [{"name": "capital", "parameters": {"type": "object"}}]},
     U["content"], '{"name": "capital", "arguments": "{}"}\nParis.', ""),
]


@pytest.mark.parametrize("layout, variant, record, prompt, response, rejected", VARIANTS)
def test_each_variant_is_detected_valid_and_read_through_the_views(
        layout: str, variant: str, record: dict[str, Any], prompt: str, response: str, rejected: str) -> None:
    assert variant_of(mapped(record, ReadOptions())) == (layout, variant)
    assert detect_layout([record] * 3) == layout
    assert record_problems(record, layout) == []
    view = view_of(record, layout)
    assert (view.prompt, view.response, view.rejected) == (prompt, response, rejected)


# a broken copy of each variant and the finding code it must give
BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("chat", {"messages": [U, {"role": "robot", "content": "Paris."}]}, "format.unknown_role"),
    ("chat", {"messages": [U, {"role": "assistant", "content": ""}]}, "format.empty_content"),
    ("instruction", {"instruction": "", "output": "Paris."}, "format.empty_field"),
    ("completion", {"prompt": [U], "completion": [{"role": "user", "content": "Paris."}]}, "format.answer_not_assistant"),
    ("completion", {"prompt": U["content"]}, "format.missing_field"),
    ("classification", {"text": "great movie", "label": None}, "format.wrong_type"),
    ("preference", {"prompt": U["content"], "chosen": "Paris."}, "format.missing_field"),
    ("preference", {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": None}]},
     "format.empty_content"),
    ("preference", {"input": {"messages": [U]}, "preferred_output": [A], "non_preferred_output": []},
     "format.empty_field"),
    ("preference", {"input": {"messages": [{"role": "wizard", "content": "hi"}]}, "preferred_output": [A],
                    "non_preferred_output": [B]}, "format.unknown_role"),
    ("preference", {"conversations": [{"from": "human", "value": U["content"]}], "chosen": {"from": "gpt", "value": " "},
                    "rejected": {"from": "gpt", "value": "London."}}, "format.empty_content"),
    ("kto", {"prompt": U["content"], "completion": "Paris.", "label": "good"}, "format.wrong_type"),
    ("kto", {"messages": [U, {"role": "assistant"}], "label": True}, "format.missing_field"),
    ("text", {"text": ""}, "format.empty_field"),
    # conversational sides hold messages: a list of anything else is no conversation
    ("completion", {"prompt": "Q", "completion": [9.0]}, "format.wrong_type"),
    ("completion", {"prompt": "Q", "completion": ["plain string"]}, "format.wrong_type"),
    ("completion", {"prompt": [1, 2], "completion": "A"}, "format.wrong_type"),
    ("preference", {"prompt": "Q", "chosen": [1], "rejected": [2]}, "format.wrong_type"),
    ("preference", {"prompt": [3], "chosen": "A", "rejected": "B"}, "format.wrong_type"),
    ("kto", {"prompt": "Q", "completion": [1], "label": True}, "format.wrong_type"),
    ("chat", {"messages": [U, {"role": "function", "content": "Paris"}, A]}, "format.missing_field"),  # no name
]


@pytest.mark.parametrize("layout, record, code", BROKEN)
def test_a_broken_record_is_named_by_its_code(layout: str, record: dict[str, Any], code: str) -> None:
    assert code in [c for c, _, _ in record_problems(record, layout)]


@pytest.mark.parametrize("layout, broken, code", BROKEN)
def test_broken_records_are_named_by_line_and_only_they(tmp_path: Path, layout: str, broken: dict[str, Any],
                                                        code: str) -> None:
    good = [r for lay, _, r, *_ in VARIANTS if lay == layout]
    rows = [copy.deepcopy(good[i % len(good)]) for i in range(12)]
    rows[4] = rows[9] = broken
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", rows), format=layout, only=["size", "format"])
    fmt = report.checks["format"]
    named = {f.line for f in fmt.findings if f.code == code}
    assert named == {5, 10}
    assert {f.line for f in fmt.findings if f.field} == {5, 10}  # record rules name no other record
    assert report.checks["size"].metrics["valid_records"] == 10


CONTENT_PARTS: list[tuple[list[Any], str | None]] = [
    ([{"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}], None),
    ([{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}], None),
    ([{"type": "video_url", "video_url": {"url": "https://x.org/a.mp4"}}], "format.content_part_type"),
    ([{"type": "text", "text": 42}], "format.wrong_type"),
    ([{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}], "format.image_url"),
    ([{"type": "image_url", "image_url": {"url": "data:text/html;base64,PGI+"}}], "format.image_url"),
]


@pytest.mark.parametrize("parts, code", CONTENT_PARTS)
def test_content_parts_follow_the_types_each_role_may_carry(parts: list[Any], code: str | None) -> None:
    codes = [c for c, _, _ in record_problems({"messages": [{"role": "user", "content": parts}, A]}, "chat")]
    assert codes == ([code] if code else [])


def test_an_image_in_an_assistant_turn_is_named() -> None:
    image = [{"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}]
    problems = record_problems({"messages": [U, {"role": "assistant", "content": image}]}, "chat")
    assert [(c, f) for c, f, _ in problems] == [("format.content_part_type", "messages[1].content[0].type")]


@pytest.mark.parametrize("messages, code", [
    ([A], "format.no_user_turn"),
    ([U, A, U], "format.last_turn_not_assistant"),
])
def test_chat_rules_peers_split_on_warn_and_keep_the_record_valid(tmp_path: Path, messages: list[Any],
                                                                  code: str) -> None:
    rows = [{"messages": [U, A]}] * 5 + [{"messages": messages}]
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", rows), only=["size", "format"])
    fmt = report.checks["format"]
    assert fmt.status.value == "warn"
    assert [f.line for f in fmt.findings if f.code == code] == [6]
    assert fmt.metrics["invalid_records"] == 0 and report.checks["size"].metrics["valid_records"] == 6


def test_empty_content_beside_tool_calls_is_like_null() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    record = {"messages": [U, {"role": "assistant", "content": "", "tool_calls": [call]},
                           {"role": "tool", "tool_call_id": "c1", "content": "ok"}, A]}
    assert record_problems(record, "chat") == []


def test_every_text_part_has_its_role() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "quote", "arguments": "{\"s\": \"AAPL\"}"}}
    record = {"tools": [{"type": "function", "function": {"name": "quote", "parameters": {"type": "object"}}}],
              "messages": [{"role": "system", "content": "sys"}, U, {"role": "assistant", "content": None, "tool_calls": [call]},
                           {"role": "tool", "tool_call_id": "c1", "content": "190.1"}, A]}
    roles = [(p.role, p.path) for p in fields(record, "chat")]
    assert roles == [("tools", "tools"), ("system", "messages[0].content"), ("prompt", "messages[1].content"),
                     ("tool_call", "messages[2].tool_calls"), ("tool_result", "messages[3].content"),
                     ("response", "messages[4].content")]
    pair = {"prompt": "p", "chosen": "c", "rejected": "r"}
    assert [p.role for p in fields(pair, "preference")] == ["prompt", "chosen", "rejected"]


def test_implicit_pairs_that_differ_before_the_last_turn_are_marked() -> None:
    from fineaudit.dataset.formats import preference_pair

    same = preference_pair({"chosen": [U, A], "rejected": [U, B]})
    assert not same.diverged and [m.content for m in same.prompt] == [U["content"]]
    other = preference_pair({"chosen": [U, A, U, A], "rejected": [U, B, U, B]})
    assert other.diverged
    hh = preference_pair({"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d",
                          "rejected": "\n\nHuman: a\n\nAssistant: X\n\nHuman: c\n\nAssistant: e"})
    assert hh.diverged


def _dpo_shapes(pairs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    def prompt_of(p: dict[str, Any]) -> str:
        return p["conversations"][0]["value"]

    return {
        "sharegpt": pairs,
        "openai": [{"input": {"messages": [{"role": "user", "content": prompt_of(p)}]},
                    "preferred_output": [{"role": "assistant", "content": p["chosen"]["value"]}],
                    "non_preferred_output": [{"role": "assistant", "content": p["rejected"]["value"]}]} for p in pairs],
        "explicit": [{"prompt": [{"role": "user", "content": prompt_of(p)}],
                      "chosen": [{"role": "assistant", "content": p["chosen"]["value"]}],
                      "rejected": [{"role": "assistant", "content": p["rejected"]["value"]}]} for p in pairs],
        "implicit": [{"chosen": [{"role": "user", "content": prompt_of(p)}, {"role": "assistant", "content": p["chosen"]["value"]}],
                      "rejected": [{"role": "user", "content": prompt_of(p)}, {"role": "assistant", "content": p["rejected"]["value"]}]}
                     for p in pairs],
    }


def test_llama_factory_demos_load_with_every_record_valid() -> None:
    for name, layout in (("dpo_en_demo.json", "preference"), ("kto_en_demo.json", "kto")):
        report = fineaudit.audit(str(real_file(f"llama_factory/{name}")), only=["size", "format"])
        assert report.dataset.format == layout
        assert report.checks["size"].metrics["valid_records"] == 300, name


def test_one_set_of_pairs_in_every_shape_gives_the_same_metrics(tmp_path: Path) -> None:
    pairs = [p for p in json.loads(real_file("llama_factory/dpo_en_demo.json").read_text())
             if len(p["conversations"]) == 1][:120]
    metrics = {}
    for shape, rows in _dpo_shapes(pairs).items():
        report = fineaudit.audit(write_jsonl(tmp_path / f"{shape}.jsonl", rows),
                                 only=["size", "format", "length", "exact_duplicates"])
        assert report.dataset.format == "preference", shape
        length = report.checks["length"].metrics
        metrics[shape] = (report.checks["size"].metrics["valid_records"], length["response"], length["prompt"])
    assert len(set(map(json.dumps, metrics.values()))) == 1, metrics


@pytest.mark.parametrize("header, flags", [
    ("text,category", ()),
    ("text,category", ("--field", "label=category")),
    ("utterance,intent", ("--field", "text=utterance")),
])
def test_banking77_like_csv_loads(tmp_path: Path, run_cli: Any, header: str, flags: tuple[str, ...]) -> None:
    rows = [header] + [f"Has my top-up gone through {i}?,pending_top_up" for i in range(60)] + \
        [f"Where is my new card {i}?,card_arrival" for i in range(60)]
    path = tmp_path / "banking.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli("audit", path, "--only", "size,format,label_balance", "--json", "-", "--no-cache", *flags)
    report = json.loads(result.stdout)
    assert report["dataset"]["format"] == "classification", result.stderr
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["size"]["metrics"]["valid_records"] == 120
    assert checks["label_balance"]["metrics"]["classes"] == 2


def test_a_mapped_column_is_named_as_the_user_wrote_it() -> None:
    options = ReadOptions.of({"label": "intent"})
    problems = record_problems({"text": "hi", "intent": None}, "classification", options)
    assert [(c, f) for c, f, _ in problems] == [("format.wrong_type", "intent")]


def test_an_unknown_field_role_is_a_config_error() -> None:
    with pytest.raises(fineaudit.core.ConfigError, match="unknown field role 'answer'"):
        fineaudit.audit([{"text": "a"}], fields={"answer": "x"})


@pytest.mark.parametrize("layout, record, expected", [
    ("completion", {"prompt": "Q", "completion": [9.0]}, [("format.wrong_type", "completion[0]")]),
    ("completion", {"prompt": [1, 2], "completion": "A"}, [("format.wrong_type", "prompt[0]"),
                                                           ("format.wrong_type", "prompt[1]")]),
    ("preference", {"prompt": "Q", "chosen": [1], "rejected": [2]}, [("format.wrong_type", "chosen[0]"),
                                                                      ("format.wrong_type", "rejected[0]")]),
    ("preference", {"chosen": [U, "Paris."], "rejected": [U, B]}, [("format.wrong_type", "chosen[1]")]),
    ("kto", {"prompt": [U], "completion": ["Paris."], "label": True}, [("format.wrong_type", "completion[0]")]),
])
def test_a_side_that_lists_no_messages_names_the_item(layout: str, record: dict[str, Any],
                                                      expected: list[tuple[str, str]]) -> None:
    assert [(c, f) for c, f, _ in record_problems(record, layout)] == expected


def test_a_developer_turn_is_the_system_prompt_in_every_view() -> None:
    record = {"messages": [{"role": "developer", "content": "Be brief."}, U, A]}
    view = view_of(record, "chat")
    assert (view.system, view.prompt) == ("Be brief.", U["content"])
    assert [p.role for p in fields(record, "chat")] == ["system", "prompt", "response"]
    late = {"messages": [U, {"role": "developer", "content": "Be brief."}, A]}
    assert [c for c, _, _ in record_problems(late, "chat")] == ["format.system_not_first"]
    pair = {"prompt": [{"role": "developer", "content": "Be brief."}, U], "completion": [A]}
    assert (view_of(pair, "completion").system, record_problems(pair, "completion")) == ("Be brief.", [])


def test_legacy_functions_are_the_declared_tools() -> None:
    record = VARIANTS[-1][2]
    assert [(p.role, p.path) for p in fields(record, "chat")] == [
        ("tools", "functions"), ("prompt", "messages[0].content"), ("tool_call", "messages[1].tool_calls"),
        ("tool_result", "messages[2].content"), ("response", "messages[3].content")]


# (records, --format, fields, expected layout, prompt, response): roles land on the layout's own keys
FIELD_MAPS: list[tuple[dict[str, Any], str, dict[str, str], str, str, str]] = [
    ({"instruction": "Name it.", "input": "", "answer": "Paris."}, "auto", {"response": "answer"},
     "instruction", "Name it.", "Paris."),
    ({"instruction": "Name it.", "input": "", "answer": "Paris."}, "instruction", {"response": "answer"},
     "instruction", "Name it.", "Paris."),
    ({"question": "Name it.", "input": "", "output": "Paris."}, "auto", {"prompt": "question"},
     "instruction", "Name it.", "Paris."),
    ({"query": "Name it.", "reply": "Paris."}, "instruction", {"prompt": "query", "response": "reply"},
     "instruction", "Name it.", "Paris."),
    ({"query": "Name it.", "reply": "Paris."}, "auto", {"prompt": "query", "response": "reply"},
     "completion", "Name it.", "Paris."),  # prompt + response fit prompt-completion first, as before
    ({"q": "Name it.", "a": "Paris."}, "completion", {"prompt": "q", "response": "a"}, "completion", "Name it.", "Paris."),
    ({"q": "Name it.", "a": "Paris.", "label": True}, "auto", {"prompt": "q", "response": "a"}, "kto", "Name it.", "Paris."),
    ({"text": "hi", "intent": "greet"}, "auto", {"label": "intent"}, "classification", "hi", ""),
    ({"turns": [U, A]}, "auto", {"messages": "turns"}, "chat", U["content"], "Paris."),
]


@pytest.mark.parametrize("record, format, mapping, layout, prompt, response", FIELD_MAPS)
def test_field_roles_map_onto_the_layouts_own_keys(tmp_path: Path, record: dict[str, Any], format: str,
                                                   mapping: dict[str, str], layout: str, prompt: str,
                                                   response: str) -> None:
    options = ReadOptions.of(mapping)
    assert (detect_layout([record], options=options) if format == "auto" else format) == layout
    view = view_of(record, layout, options)
    assert (view.prompt, view.response) == (prompt, response)
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", [record] * 3), format=format, fields=mapping,
                             only=["size", "format"])
    assert report.dataset.format == layout
    assert report.checks["size"].metrics["valid_records"] == 3, report.checks["format"].findings


def test_a_mapped_instruction_column_is_named_as_the_user_wrote_it() -> None:
    options = ReadOptions.of({"prompt": "query", "response": "reply"})
    problems = record_problems({"query": "", "reply": 7}, "instruction", options)
    assert sorted((c, f) for c, f, _ in problems) == [("format.empty_field", "query"), ("format.wrong_type", "reply")]


# another layout's records forced with --format: one finding per missing field
@pytest.mark.parametrize("record, layout, expected", [
    ({"prompt": "Q", "completion": "A", "label": True}, "preference",
     [("format.missing_field", "chosen"), ("format.missing_field", "rejected")]),
    ({"text": "hi"}, "kto", [("format.missing_field", "prompt"), ("format.missing_field", "completion"),
                             ("format.missing_field", "label")]),
])
def test_a_forced_layout_names_each_missing_field_once(record: dict[str, Any], layout: str,
                                                       expected: list[tuple[str, str]]) -> None:
    assert [(c, f) for c, f, _ in record_problems(record, layout)] == expected


def test_a_forced_layout_counts_each_problem_once(tmp_path: Path) -> None:
    rows = [{"prompt": f"Q{i}", "completion": f"A{i}", "label": i % 2 == 0} for i in range(6)]
    report = fineaudit.audit(write_jsonl(tmp_path / "kto.jsonl", rows), format="preference", only=["format"],
                             max_findings=0)
    fmt = report.checks["format"]
    assert fmt.metrics["errors_by_kind"] == {"format.missing_field": 12} and len(fmt.findings) == 12


W0 = {"role": "assistant", "content": "Paris.", "weight": 0}
W1 = {"role": "assistant", "content": "Paris.", "weight": 1}


# OpenAI's per-turn weight: a chat whose every answer has weight 0 trains on nothing
@pytest.mark.parametrize("record, layout, codes", [
    ({"messages": [U, W0]}, "chat", ["format.nothing_trained"]),
    ({"messages": [U, W0, U, W0]}, "chat", ["format.nothing_trained"]),
    ({"messages": [U, W0], "label": True}, "kto", ["format.nothing_trained"]),
    ({"messages": [U, W1, U, W0]}, "chat", []),
    ({"messages": [U, W0, U, A]}, "chat", []),  # no weight is weight 1
    ({"messages": [U, A]}, "chat", []),
    ({"messages": [{"role": "system", "content": "s", "weight": 0}, U, W1]}, "chat", []),
])
def test_nothing_trained_when_every_answer_has_weight_0(record: dict[str, Any], layout: str, codes: list[str]) -> None:
    assert [c for c, _, _ in record_problems(record, layout)] == codes


def test_nothing_trained_warns_and_keeps_the_record_valid(tmp_path: Path) -> None:
    rows = [{"messages": [U, W1]}] * 4 + [{"messages": [U, W0]}]
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", rows), only=["size", "format"])
    fmt = report.checks["format"]
    assert fmt.status.value == "warn" and [f.line for f in fmt.findings if f.code == "format.nothing_trained"] == [5]
    assert report.checks["size"].metrics["valid_records"] == 5


@pytest.mark.parametrize("flags", [
    ("--field", "response=answer"),
    ("--format", "instruction", "--field", "response=answer"),
])
def test_cli_maps_a_response_column_of_alpaca_records(tmp_path: Path, run_cli: Any, flags: tuple[str, ...]) -> None:
    rows = [{"instruction": f"Name capital {i}.", "input": "", "answer": f"City {i}."} for i in range(5)]
    result = run_cli("audit", write_jsonl(tmp_path / "d.jsonl", rows), "--only", "size,format", "--json", "-",
                     "--no-cache", *flags)
    assert result.exit_code != 2, result.stderr
    report = json.loads(result.stdout)
    assert report["dataset"]["format"] == "instruction"
    assert {c["name"]: c for c in report["checks"]}["size"]["metrics"]["valid_records"] == 5
