"""The tool_calls check: declarations, calls, arguments, ids and the pairing of calls with results."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.tool_calls import Rules, ToolCallsChecker, ToolCallsParams, audit_record
from fineaudit.core import CheckResult, Status
from fineaudit.tool_schemas import compile_tools
from tests.conftest import chat, write_jsonl

DATA = Path(__file__).resolve().parents[1] / "data"
DRONE = DATA / "openai_cookbook" / "drone_training.jsonl"
GLAIVE = DATA / "llama_factory" / "glaive_toolcall_en_demo.json"
MISTRAL_IDS = r"^[A-Za-z0-9]{9}$"

WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                  "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMS}}
FLAT_TOOLS = json.dumps([{"name": "get_weather", "description": "Weather", "parameters": WEATHER_PARAMS}])


def call(name: str = "get_weather", args: Any = '{"city": "Paris"}', id: Any = "call_1") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": args}}
    return out if id is None else {"id": id, **out}


def asks(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "tool_calls": list(calls)}


def result(id: Any = "call_1", content: str = '{"temp": 21}') -> dict[str, Any]:
    turn = {"role": "tool", "content": content}
    return turn if id is None else {**turn, "tool_call_id": id}


def says(text: str = "It is 21 degrees in Paris.") -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def openai(*turns: dict[str, Any], tools: Any = (WEATHER,), **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "Weather in Paris?"}, *turns], "tools": list(tools), **extra}


def fcall(name: str = "get_weather", arguments: Any = None) -> dict[str, Any]:
    value = {"name": name, "arguments": {"city": "Paris"} if arguments is None else arguments}
    return {"from": "function_call", "value": json.dumps(value)}


def obs(value: str = '{"temp": 21}') -> dict[str, Any]:
    return {"from": "observation", "value": value}


def gpt(value: str = "It is 21 degrees in Paris.") -> dict[str, Any]:
    return {"from": "gpt", "value": value}


def sharegpt(*turns: dict[str, Any], tools: str = FLAT_TOOLS) -> dict[str, Any]:
    return {"conversations": [{"from": "human", "value": "Weather in Paris?"}, *turns], "tools": tools}


def problems(record: dict[str, Any], layout: str = "chat", rules: Rules = Rules()) -> set[tuple[str, str]]:
    return {(code.split(".", 1)[1], where) for code, where in audit_record(record, layout, rules).problems}


CALL0 = "messages[1].tool_calls[0]"
ARGS0 = f"{CALL0}.function.arguments"


@pytest.mark.parametrize("record, expected", [
    # clean traces
    (openai(asks(call()), result(), says()), set()),
    (openai(asks(call())), set()),  # a call that ends the conversation is what is trained
    (openai(says("Which city?")), set()),
    (openai(asks(call(id="a"), call(id="b", args='{"city": "Rome", "days": 2}')), result("b"), result("a"), says()),
     set()),
    (openai({"role": "assistant", "content": None, "function_call": {"name": "get_weather",
                                                                     "arguments": '{"city": "Paris"}'}}), set()),
    (sharegpt(fcall(), obs(), gpt()), set()),
    (sharegpt(gpt("Hello!"), tools="[]"), set()),
    # declarations
    (sharegpt(fcall(), obs(), gpt(), tools=FLAT_TOOLS[:-9]), {("tools_not_json", "tools")}),
    (openai(asks(call()), result(), says(), tools=[{"name": "get_weather", "parameters": WEATHER_PARAMS}]),
     {("malformed_tool", "tools[0]"), ("undeclared_tool", f"{CALL0}.function.name")}),
    (openai(says(), tools=[WEATHER, {"type": "function", "function": {"description": "no name"}}]),
     {("malformed_tool", "tools[1].function")}),
    (openai(says(), tools=[WEATHER, WEATHER]), {("malformed_tool", "tools[1].function.name")}),
    (openai(says(), tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]),
     {("tool_schema_invalid", "tools[0].function.parameters")}),
    (openai(says(), tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]),
     {("tool_schema_invalid", "tools[0].function.parameters")}),
    (openai(says(), tools=[{"type": "function", "function": {"name": "f", "parameters": ["city"]}}]),
     {("tool_schema_invalid", "tools[0].function.parameters")}),
    (sharegpt(gpt(), tools=json.dumps([{"name": "f", "parameters": {"type": "object", "required": "city"}}])),
     {("tool_schema_invalid", "tools[0].parameters")}),
    # calls
    (openai(asks({"id": "call_1", "type": "function"}), result(), says()), {("malformed_call", f"{CALL0}.function")}),
    (openai(asks({"id": "call_1", "function": {"arguments": "{}"}})), {("malformed_call", f"{CALL0}.function.name")}),
    (openai(asks({"id": "call_1", "function": {"name": "get_weather"}})), {("malformed_call", ARGS0)}),
    (sharegpt({"from": "function_call", "value": "get_weather(city='Paris')"}, obs(), gpt()),
     {("malformed_call", "conversations[1].value")}),
    (openai(asks(call(args='{"city": "Par'))), {("arguments_not_json", ARGS0)}),
    (openai(asks(call(args=""))), {("arguments_not_json", ARGS0)}),
    (openai(asks(call(args='["Paris"]'))), {("arguments_not_object", ARGS0)}),
    (sharegpt(fcall(arguments=["Paris"]), obs(), gpt()), {("arguments_not_object", "conversations[1].value.arguments")}),
    (openai(asks(call(args={"city": "Paris"}))), {("arguments_type", ARGS0)}),
    (sharegpt(fcall(arguments='{"city": "Paris"}'), obs(), gpt()), {("arguments_type", "conversations[1].value.arguments")}),
    (openai(asks(call(name="get_forecast"))), {("undeclared_tool", f"{CALL0}.function.name")}),
    (sharegpt(fcall(name="get_forecast"), obs(), gpt()), {("undeclared_tool", "conversations[1].value.name")}),
    (sharegpt(fcall(), obs(), gpt(), tools="[]"), {("undeclared_tool", "conversations[1].value.name")}),
    (openai(asks(call(args='{"city": 7}'))), {("arguments_schema", f"{ARGS0}.city")}),
    (openai(asks(call(args='{"days": 2}'))), {("arguments_schema", ARGS0)}),  # required: the object's path
    (sharegpt(fcall(arguments={"city": "Paris", "days": "two"}), obs(), gpt()),
     {("arguments_schema", "conversations[1].value.arguments.days")}),
    # ids and pairing
    (openai(asks(call(id=None)), result(), says()), {("missing_tool_call_id", f"{CALL0}.id")}),
    (openai(asks(call()), result(id=None), says()), {("missing_tool_call_id", "messages[2].tool_call_id")}),
    (openai(asks(call(id="a"), call(id="a", args='{"city": "Rome"}')), result("a"), result("a"), says()),
     {("duplicate_tool_call_id", "messages[1].tool_calls[1].id")}),
    (openai(asks(call()), says()), {("unanswered_call", CALL0)}),
    (openai(asks(call()), {"role": "user", "content": "and Rome?"}), {("unanswered_call", CALL0)}),
    (openai(asks(call(id="a"), call(id="b")), result("a"), says()), {("unanswered_call", "messages[1].tool_calls[1]")}),
    (sharegpt(fcall(), gpt()), {("unanswered_call", "conversations[1].value")}),
    (openai(result("call_9"), says()), {("orphan_result", "messages[1].tool_call_id")}),
    (openai(asks(call()), result(), result("call_2"), says()), {("orphan_result", "messages[3].tool_call_id")}),
    (sharegpt(obs(), gpt()), {("orphan_result", "conversations[1]")}),
    (openai(asks(call(id="a"), call(id="b")), result("a"), result("b"), says(), parallel_tool_calls=False),
     {("parallel_calls_disallowed", "messages[1].tool_calls")}),
])
def test_findings_table(record: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert problems(record) == expected


@pytest.mark.parametrize("rules, record, expected", [
    (Rules(id_pattern=MISTRAL_IDS), openai(asks(call(id="call_1"))), {("id_pattern", f"{CALL0}.id")}),
    (Rules(id_pattern=MISTRAL_IDS), openai(asks(call(id="abcDEF123"))), set()),
    (Rules(arguments_as="either"), openai(asks(call(args={"city": "Paris"}))), set()),
    (Rules(arguments_as="either"), sharegpt(fcall(arguments='{"city": "Paris"}'), obs(), gpt()), set()),
    (Rules(arguments_as="object"), openai(asks(call())), {("arguments_type", ARGS0)}),
    (Rules(arguments_as="string"), sharegpt(fcall(), obs(), gpt()), {("arguments_type", "conversations[1].value.arguments")}),
])
def test_settings(rules: Rules, record: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert problems(record, rules=rules) == expected


def test_openai_dpo_tools_are_read_from_input() -> None:
    record = {"input": {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER]},
              "preferred_output": [asks(call(args='{"city": 7}'))], "non_preferred_output": [says("No idea.")]}
    assert problems(record, "preference") == {("arguments_schema", "preferred_output[0].tool_calls[0].function.arguments.city")}


def test_a_call_in_a_shared_prompt_is_counted_once() -> None:
    record = sharegpt(fcall(arguments={"city": 7}), obs())
    record.update(chosen=gpt(), rejected=gpt("I cannot tell."))
    out = audit_record(record, "preference", Rules())
    assert len(out.calls) == 1 and list(out.problems) == [("tool_calls.arguments_schema", "conversations[1].value.arguments.city")]


def test_each_declaration_is_compiled_once() -> None:
    assert compile_tools(FLAT_TOOLS, False) is compile_tools(FLAT_TOOLS, False)
    assert compile_tools([WEATHER], True) is compile_tools(copy.deepcopy([WEATHER]), True)


@pytest.mark.parametrize("kwargs", [{"arguments_as": "dict"}, {"id_pattern": "[a-z"}, {"max_invalid_fraction": 1.5},
                                    {"max_invalid_fraction": float("nan")}])
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ToolCallsParams(**kwargs)


# --------------------------------------------------------------------------- through the audit


def tool_calls_of(data: Any, *settings: str, **kwargs: Any) -> CheckResult:
    report = fineaudit.audit(data, only=["tool_calls"], max_findings=0, settings=settings, **kwargs)
    return report.checks["tool_calls"]


def test_drone_training_has_no_finding() -> None:
    result = tool_calls_of(DRONE)
    assert result.status is Status.PASS and result.findings == ()
    m = result.metrics
    assert (m["records_with_calls"], m["calls"], m["invalid_calls"], m["errors_by_kind"]) == (103, 103, 0, {})
    assert m["declared_never_called"] == ["set_home_location"] and sum(m["tool_names"].values()) == 103


def test_glaive_has_one_argument_schema_finding_in_record_259() -> None:
    result = tool_calls_of(GLAIVE)
    assert [(f.code, f.records, f.field) for f in result.findings] == [
        ("tool_calls.arguments_schema", (259,), "conversations[3].value.arguments.calories_per_item")]
    assert "calories_per_item" in result.findings[0].message and "'number'" in result.findings[0].message
    assert result.status is Status.FAIL
    assert (result.metrics["calls"], result.metrics["invalid_calls"]) == (211, 1)


def test_skipped_without_tools_or_calls() -> None:
    result = tool_calls_of([chat(f"question {i}", f"answer {i}") for i in range(5)])
    assert result.status is Status.SKIPPED and "no record declares tools" in result.summary


def test_arguments_encoding_only_warns(tmp_path: Path) -> None:
    records = [openai(asks(call(args={"city": "Paris"}))) for _ in range(3)] + [openai(asks(call())) for _ in range(3)]
    result = tool_calls_of(write_jsonl(tmp_path / "d.jsonl", records))
    assert result.status is Status.WARN and result.metrics["invalid_calls"] == 0
    assert [f.records for f in result.findings] == [(0,), (1,), (2,)] and [f.line for f in result.findings] == [1, 2, 3]


def test_max_invalid_fraction_tolerates_a_few_invalid_calls(tmp_path: Path) -> None:
    records = [openai(asks(call(name="get_forecast")))] + [openai(asks(call())) for _ in range(9)]
    path = write_jsonl(tmp_path / "d.jsonl", records)
    assert tool_calls_of(path).status is Status.FAIL
    assert tool_calls_of(path, "tool_calls.max_invalid_fraction=0.1").status is Status.WARN


def test_cli_names_the_record(run_cli: Any) -> None:
    out = run_cli("audit", GLAIVE, "--only", "tool_calls", "--json", "-", "--no-progress")
    report = json.loads(out.stdout)
    assert out.exit_code == 1 and report["checks"][0]["findings"][0]["records"] == [259]


def test_codes_are_declared() -> None:
    assert all(code.startswith("tool_calls.") for code in ToolCallsChecker.codes)
