"""The format check: parsing, layout schemas, chat rules, field sets, style mix, output schemas."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import CheckResult
from tests.conftest import real_file, chat, write_jsonl

SYSTEM, USER, ASSISTANT = ({"role": r, "content": c} for r, c in
                           (("system", "Be brief."), ("user", "Hi?"), ("assistant", "Hello.")))


def format_of(path: Path, *settings: str, fmt: str = "auto") -> CheckResult:
    return fineaudit.audit(path, format=fmt, only=["format"], max_findings=0, settings=settings).checks["format"]


def codes(result: CheckResult) -> set[str]:
    return {f.code for f in result.findings}


def test_unparsable_lines_are_findings_with_their_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("a?", "b."), '{"messages": [', chat("c?", "d."), "not json"])
    result = format_of(path, fmt="chat")
    bad = [f for f in result.findings if f.code == "format.unparsable"]
    assert [(f.records, f.line) for f in bad] == [((1,), 2), ((3,), 4)]
    assert result.metrics["unparsable_records"] == 2 and result.status.value == "fail"


@pytest.mark.parametrize("messages, code", [
    ([SYSTEM, {"role": "human", "content": "Hi?"}, ASSISTANT], "format.unknown_role"),
    ([USER, {"role": "assistant", "content": "  "}], "format.empty_content"),
    ([USER, SYSTEM, ASSISTANT], "format.system_not_first"),
    ([SYSTEM, ASSISTANT], "format.no_user_turn"),
    ([SYSTEM, USER], "format.no_assistant_turn"),
    ([USER, ASSISTANT, USER], "format.last_turn_not_assistant"),
    ([USER, {"role": "assistant", "content": 42}], "format.wrong_type"),
    ([{"role": "user", "content": None}, ASSISTANT], "format.empty_content"),
    ([USER, {"role": "assistant", "content": None}], "format.empty_content"),  # null without a tool call
    ([USER, {"role": "assistant"}], "format.missing_field"),
    ([USER, {"role": "assistant", "content": []}], "format.empty_content"),
    ([USER, {"role": "assistant", "content": [{"type": "text", "text": " "}]}], "format.empty_content"),
    ([USER, {"role": "assistant", "content": [1, 2]}], "format.wrong_type"),
])
def test_chat_rules(tmp_path: Path, messages: list[dict[str, Any]], code: str) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("ok?", "ok."), {"messages": messages}])
    result = format_of(path)
    assert code in codes(result)
    assert all(f.records == (1,) and f.line == 2 for f in result.findings if f.code == code)


CALL = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                            "function": {"name": "takeoff", "arguments": "{}"}}]}


@pytest.mark.parametrize("messages", [
    [USER, CALL],  # OpenAI function calling: the call is the answer, no content
    [USER, {**CALL, "content": None}],
    [USER, {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}, ASSISTANT],
])
def test_tool_calls_and_content_parts_are_valid(tmp_path: Path, messages: list[dict[str, Any]]) -> None:
    result = format_of(write_jsonl(tmp_path / "d.jsonl", [{"messages": messages}] * 3))
    assert result.metrics["invalid_records"] == 0, [f.message for f in result.findings]


def test_openai_function_calling_example_is_valid() -> None:
    """OpenAI's own fine-tuning example for function calling (assistant turns are tool calls)."""
    report = fineaudit.audit(str(real_file("openai_cookbook/drone_training.jsonl")), only=["format", "length"])
    assert report.checks["format"].metrics["invalid_records"] == 0
    assert report.checks["length"].metrics["empty_responses"] == 0  # the calls are what the model learns


def test_valid_chat_passes(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"messages": [SYSTEM, USER, ASSISTANT]}] * 3)
    result = format_of(path)
    assert result.status.value == "pass" and result.metrics["invalid_records"] == 0


def test_sharegpt_speakers_map_to_roles(tmp_path: Path) -> None:
    good = {"conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]}
    bad = {"conversations": [{"from": "human", "value": "Hi?"}, {"from": "robot", "value": "Beep."}]}
    silent = {"conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt"}]}
    result = format_of(write_jsonl(tmp_path / "d.jsonl", [good, good, bad, silent]))
    [finding] = [f for f in result.findings if f.code == "format.unknown_role"]
    assert finding.records == (2,) and finding.field.startswith("conversations[1]")
    [empty] = [f for f in result.findings if f.code == "format.empty_content"]
    assert empty.records == (3,) and empty.field == "conversations[1].value"
    assert result.metrics["invalid_records"] == 2


@pytest.mark.parametrize("record, valid", [
    ({"instruction": "Add 2 and 2.", "input": "", "output": "4."}, True),
    ({"instruction": "Add 2 and 2.", "response": "4."}, True),  # the GPTeacher spelling
    ({"instruction": "Add 2 and 2.", "output": "4.", "response": "4."}, False),
    ({"instruction": "Add 2 and 2."}, False),
])
def test_instruction_response_alias(tmp_path: Path, record: dict[str, Any], valid: bool) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [record])
    assert (format_of(path, fmt="instruction").metrics["invalid_records"] == 0) is valid


def test_field_sets_warn_on_mixed_keys(tmp_path: Path) -> None:
    plain = {"instruction": "Say hi.", "output": "Hi."}
    path = write_jsonl(tmp_path / "d.jsonl", [plain, plain, {**plain, "id": 7}])
    result = format_of(path)
    assert result.metrics["field_sets"] == 2 and result.status.value == "warn"
    [finding] = [f for f in result.findings if f.code == "format.inconsistent_fields"]
    assert finding.records == (2,) and "extra id" in finding.message


# --------------------------------------------------------------------------- style consistency


@pytest.mark.parametrize("responses, code, minority", [
    (["## Steps\n- one\n- two"] * 3 + ["Just do it."] * 7, "format.markdown_mix", {0, 1, 2}),
    (["Plain answer."] * 8 + ["**Bold** answer."] * 2, "format.markdown_mix", {8, 9}),
    (["It ends."] * 7 + ["It does not"] * 3, "format.punctuation_mix", {7, 8, 9}),
    (["It ends."] * 9 + ["<|im_start|>assistant\nHi."], "format.template_marker", {9}),
    (["It ends."] * 9 + ["Hi.\n### Response: more"], "format.template_marker", {9}),
])
def test_style_mix_names_the_minority(tmp_path: Path, responses: list[str], code: str, minority: set[int]) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("Q?", r, system="Be brief.") for r in responses])
    result = format_of(path)
    [finding] = [f for f in result.findings if f.code == code]
    assert set(finding.records) == minority and result.status.value == "warn"


@pytest.mark.parametrize("responses", [
    ["## Steps\n- one\n- two"] * 10,  # all markdown: consistent
    ["It ends."] * 19 + ["It does not"],  # 5%: below the band
])
def test_consistent_style_passes(tmp_path: Path, responses: list[str]) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("Q?", r, system="Be brief.") for r in responses])
    result = format_of(path)
    assert result.status.value == "pass", result.findings


def test_system_prompt_mix(tmp_path: Path) -> None:
    records = [chat("Q?", "A.", system="Be brief.")] * 3 + [chat("Q?", "A.", system="Be long.")] + [chat("Q?", "A.")]
    result = format_of(write_jsonl(tmp_path / "d.jsonl", records))
    assert result.metrics["system_prompts"] == 2 and result.metrics["missing_system_fraction"] == 0.2
    [finding] = [f for f in result.findings if f.code == "format.system_prompt_mix"]
    assert finding.records == (4,)


def test_style_mix_can_be_turned_off(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("Q?", "It ends.")] * 5 + [chat("Q?", "No end")] * 5)
    assert format_of(path, "format.warn_style_mix=false").status.value == "pass"


# --------------------------------------------------------------------------- output schema

SCHEMA = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
    "type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}}}}}


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


def test_output_schema(tmp_path: Path, schema_file: Path) -> None:
    records = [chat("Order?", json.dumps({"items": [{"price": 2.5}]})),
               chat("Order?", "Sure! {\"items\": []}"),
               chat("Order?", json.dumps({"items": [{"price": "two"}]}))]
    result = format_of(write_jsonl(tmp_path / "d.jsonl", records), f"format.output_schema={schema_file}")
    found = {f.code: f for f in result.findings}
    assert found["format.output_not_json"].records == (1,)
    mismatch = found["format.output_schema"]
    assert mismatch.records == (2,) and mismatch.field == "messages[1].content"
    assert "$.items[0].price" in mismatch.message
    assert result.metrics["invalid_records"] == 2 and result.status.value == "fail"


def test_output_schema_instruction_layout(tmp_path: Path, schema_file: Path) -> None:
    records = [{"instruction": "Order?", "output": json.dumps({"items": []})}, {"instruction": "Order?", "output": "{}"}]
    result = format_of(write_jsonl(tmp_path / "d.jsonl", records), f"format.output_schema={schema_file}")
    [finding] = [f for f in result.findings if f.code == "format.output_schema"]
    assert finding.records == (1,) and finding.field == "output" and "'items' is a required property" in finding.message


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"type": 12})])
def test_bad_output_schema_is_exit_2(run_cli: Callable[..., Any], tmp_path: Path, content: str | None) -> None:
    schema = tmp_path / "schema.json"
    if content is not None:
        schema.write_text(content)
    data = write_jsonl(tmp_path / "d.jsonl", [chat("Q?", "{}")])
    result = run_cli("audit", data, "--set", f"format.output_schema={schema}")
    assert result.exit_code == 2 and "output_schema" in result.stderr
