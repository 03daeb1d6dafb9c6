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
from fineaudit.text.tool_schemas import compile_tools
from tests.conftest import chat, write_jsonl

DATA = Path(__file__).resolve().parents[1] / "data"
DRONE = DATA / "openai_cookbook" / "drone_training.jsonl"
GLAIVE = DATA / "llama_factory" / "glaive_toolcall_en_demo.json"
MISTRAL_IDS = r"^[A-Za-z0-9]{9}$"

WEATHER_PARAMS: dict[str, Any] = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
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
    (openai(asks(call(args='{"city": 7}')), tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"$ref": "#/$defs/city"}}}}}]),
     {("tool_schema_invalid", "tools[0].function.parameters")}),  # a $ref to nowhere shows when used
    (openai(says(), tools=[{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"code": {"type": "string", "pattern": "[A-"}}}}}]),
     {("tool_schema_invalid", "tools[0].function.parameters")}),
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


def fcalls(name: str = "get_weather", args: Any = '{"city": "Paris"}') -> dict[str, Any]:
    return {"role": "assistant", "function_call": {"name": name, "arguments": args}}


def fresult(name: Any = "get_weather", content: str = '{"temp": 21}') -> dict[str, Any]:
    turn = {"role": "function", "content": content}
    return turn if name is None else {**turn, "name": name}


def legacy(*turns: dict[str, Any], functions: Any = (WEATHER["function"],)) -> dict[str, Any]:
    """OpenAI's legacy function calling (its fine-tuning guide still shows it): bare `functions`."""
    return {"messages": [{"role": "user", "content": "Weather in Paris?"}, *turns], "functions": list(functions)}


FCALL = "messages[1].function_call"


@pytest.mark.parametrize("record, expected", [
    (legacy(fcalls(), fresult(), says()), set()),
    (legacy(fcalls()), set()),
    (legacy(fcalls(), fresult(None), says()), set()),  # no name: format's finding; it answers the call in order
    (legacy(fcalls(name="get_forecast"), fresult("get_forecast"), says()), {("undeclared_tool", f"{FCALL}.name")}),
    (legacy(fcalls(args='{"city": 7}'), fresult(), says()), {("arguments_schema", f"{FCALL}.arguments.city")}),
    (legacy(fcalls(), says()), {("unanswered_call", FCALL)}),
    (legacy(fcalls(), fresult("get_time"), says()), {("orphan_result", "messages[2].name"), ("unanswered_call", FCALL)}),
    (legacy(fresult(), says()), {("orphan_result", "messages[1].name")}),
    (legacy(fcalls(), fresult(), says(), functions=[{"name": "get_weather", "parameters": {"type": "objekt"}}]),
     {("tool_schema_invalid", "functions[0].parameters")}),
])
def test_legacy_function_calling(record: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert problems(record) == expected


def test_legacy_functions_are_counted_as_declared() -> None:
    result = tool_calls_of([legacy(fcalls(), fresult(), says()) for _ in range(3)] + [legacy(says("Which city?"))])
    m = result.metrics
    assert result.status is Status.PASS, result.findings
    assert (m["tools_declared"], m["records_with_tools"], m["calls"], m["invalid_calls"]) == (1, 4, 3, 0)


def test_openai_dpo_tools_are_read_from_input() -> None:
    record = {"input": {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER]},
              "preferred_output": [asks(call(args='{"city": 7}'))], "non_preferred_output": [says("No idea.")]}
    assert problems(record, "preference") == {("arguments_schema", "preferred_output[0].tool_calls[0].function.arguments.city")}


def test_a_call_in_a_shared_prompt_is_counted_once() -> None:
    record = sharegpt(fcall(arguments={"city": 7}), obs())
    record.update(chosen=gpt(), rejected=gpt("I cannot tell."))
    out = audit_record(record, "preference", Rules())
    assert len(out.calls) == 1 and list(out.problems) == [("tool_calls.arguments_schema", "conversations[1].value.arguments.city")]


def test_schemas_are_judged_as_written_on_every_path() -> None:
    """The fast paths (Draft 7 meta-schema, a schema's own fastjsonschema function after
    FAST_AFTER uses) must neither change the schema nor the verdict and its message."""
    from fineaudit.text.tool_schemas import FAST_AFTER

    closed = {**WEATHER_PARAMS, "additionalProperties": False, "properties": {**WEATHER_PARAMS["properties"],
                                                                             "when": {"type": "string", "format": "date"}}}
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": closed}}]
    before = copy.deepcopy(tools)
    for _ in range(FAST_AFTER + 2):
        out = audit_record(openai(asks(call(args='{"city": "Paris", "mood": "sunny"}')), tools=tools), "chat", Rules())
        assert list(out.problems.values()) == ["get_weather: arguments: Additional properties are not allowed "
                                               "('mood' was unexpected)"]
        assert problems(openai(asks(call(args='{"city": "Paris", "days": 1.0, "when": "soon"}')), tools=tools)) == set()
        assert problems(openai(asks(call(args='{"city": "Paris", "days": true}')), tools=tools)) == {
            ("arguments_schema", f"{ARGS0}.days")}
    assert tools == before


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


# --------------------------------------------------------------------------- mutation suite
# Real records (drone: OpenAI, glaive: ShareGPT), each mutated by one defect, seeded; every
# mutant must be named with its code, and the untouched records must stay clean.

MUTANTS_PER_CODE = 12
Mutator = Any  # (record, rng) -> the mutated record, or None where it does not apply


def base_records(rng: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Drone records with Mistral-style ids (so id_pattern applies) and glaive without record 259."""
    drone = [json.loads(line) for line in DRONE.read_text("utf-8").splitlines()]
    for record in drone:
        for c in _openai_calls(record):
            c["id"] = _mistral_id(rng)
    glaive = [r for i, r in enumerate(json.loads(GLAIVE.read_text("utf-8"))) if i != 259]
    return drone, glaive


def _mistral_id(rng: Any) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(9))


def _openai_calls(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for m in record["messages"] for c in m.get("tool_calls") or []]


def _call_turn(record: dict[str, Any]) -> int:
    return next(i for i, m in enumerate(record["messages"]) if m.get("tool_calls"))


def _fc_turns(record: dict[str, Any]) -> list[int]:
    return [i for i, t in enumerate(record["conversations"]) if t["from"] == "function_call"]


def _glaive_tools(record: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(record["tools"])


def _schema_of(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for t in tools:
        fn = t.get("function", t)
        if fn.get("name") == name:
            return fn.get("parameters") or {}
    return {}


_WRONG = {"string": 12345, "integer": "ten", "number": "ten", "boolean": "yes", "array": "a, b", "object": 7}


def _break_schema(args: dict[str, Any], schema: dict[str, Any], rng: Any) -> bool:
    """Give one typed property a value of the wrong type, or drop a required one."""
    typed = sorted(k for k, v in (schema.get("properties") or {}).items() if isinstance(v, dict) and v.get("type") in _WRONG)
    required = sorted(k for k in schema.get("required") or [] if k in args)
    if not typed and not required:
        return False
    if required and (not typed or rng.random() < 0.3):
        del args[rng.choice(required)]
    else:
        key = rng.choice(typed)
        args[key] = _WRONG[schema["properties"][key]["type"]]
    return True


# OpenAI mutators (drone records: one call, last turn, no results; parallel_tool_calls false)

def o_malformed_tool(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    i = rng.randrange(len(r["tools"]))
    r["tools"][i] = {"type": "function", **r["tools"][i]["function"]}  # the Responses API's flat shape
    return r


def o_schema_invalid(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    bad = rng.choice([{"type": "objekt"}, {"type": "string"}, ["altitude"], {"type": "object", "required": "x"},
                      {"type": "object", "properties": {"x": {"type": 5}}}, {"type": "object", "properties": {"x": {"minimum": "0"}}}])
    rng.choice(r["tools"])["function"]["parameters"] = bad
    return r


def o_malformed_call(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    c = rng.choice(_openai_calls(r))
    what = rng.choice(["function", "name", "arguments"])
    del (c if what == "function" else c["function"])[what]
    return r


def o_not_json(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    fn = rng.choice(_openai_calls(r))["function"]
    fn["arguments"] = fn["arguments"][: rng.randrange(1, len(fn["arguments"]))] if rng.random() < 0.7 \
        else rng.choice(["", "altitude=100", "{'mode': 'on'}"])
    return r


def o_not_object(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    fn = rng.choice(_openai_calls(r))["function"]
    fn["arguments"] = json.dumps(rng.choice([list(json.loads(fn["arguments"]).values()), 42, "on", None, True]))
    return r


def o_type(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    fn = rng.choice(_openai_calls(r))["function"]
    fn["arguments"] = json.loads(fn["arguments"])
    return r


def o_undeclared(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    rng.choice(_openai_calls(r))["function"]["name"] += rng.choice(["_v2", "2", "_now", "s"])
    return r


def o_schema(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    fn = rng.choice(_openai_calls(r))["function"]
    args = json.loads(fn["arguments"])
    if not _break_schema(args, _schema_of(r["tools"], fn["name"]), rng):
        return None
    fn["arguments"] = json.dumps(args)
    return r


def o_missing_id(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    c = rng.choice(_openai_calls(r))
    if rng.random() < 0.5:
        del c["id"]
        return r
    if rng.random() < 0.5:
        c["id"] = rng.choice([None, ""])
        return r
    r["messages"] += [{"role": "tool", "content": '{"ok": true}'}, says("Done.")]  # a result without its id
    return r


def o_duplicate_id(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    c = rng.choice(_openai_calls(r))
    again = copy.deepcopy(c)
    r["messages"] += [result(c["id"], '{"ok": true}'), says("Done."), {"role": "user", "content": "Again, please."},
                      asks(again)]
    return r


def o_unanswered(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    r["messages"].append(rng.choice([says("Done, the drone did it."), {"role": "user", "content": "Thanks!"}]))
    return r


def o_orphan(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    r["messages"].insert(_call_turn(r), {"role": "tool", "tool_call_id": _mistral_id(rng), "content": '{"ok": true}'})
    return r


def o_parallel(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    turn = r["messages"][_call_turn(r)]
    turn["tool_calls"].append({**copy.deepcopy(turn["tool_calls"][0]), "id": _mistral_id(rng)})
    return r


def o_id_pattern(r: dict[str, Any], rng: Any) -> dict[str, Any]:
    c = rng.choice(_openai_calls(r))
    c["id"] = rng.choice([c["id"][:8], c["id"] + "x", c["id"][:4] + "-" + c["id"][5:], "call_" + c["id"]])
    return r


# ShareGPT mutators (glaive records)

def s_tools_not_json(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    if len(r["tools"]) < 3:
        return None
    r["tools"] = r["tools"][: rng.randrange(1, len(r["tools"]))]
    return r


def s_malformed_tool(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    tools = _glaive_tools(r)
    if not tools:
        return None
    t = rng.choice(tools)
    if rng.random() < 0.5:
        del t["name"]
    else:
        t["name"] = rng.choice(["", None, 7])
    r["tools"] = json.dumps(tools)
    return r


def s_schema_invalid(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    tools = _glaive_tools(r)
    if not tools:
        return None
    rng.choice(tools)["parameters"] = rng.choice([{"type": "objekt"}, "object", {"type": "object", "required": "x"},
                                                  {"type": "object", "properties": {"x": {"type": "text"}}}])
    r["tools"] = json.dumps(tools)
    return r


def s_malformed_call(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    turns = _fc_turns(r)
    if not turns:
        return None
    turn = r["conversations"][rng.choice(turns)]
    value = json.loads(turn["value"])
    choice = rng.randrange(3)
    if choice == 2:
        turn["value"] = f"{value['name']}({', '.join(map(str, value['arguments'].values()))})"
    else:
        del value[("name", "arguments")[choice]]
        turn["value"] = json.dumps(value)
    return r


def _s_edit(r: dict[str, Any], rng: Any, edit: Any) -> dict[str, Any] | None:
    turns = _fc_turns(r)
    if not turns:
        return None
    turn = r["conversations"][rng.choice(turns)]
    value = json.loads(turn["value"])
    if edit(value, rng) is False:
        return None
    turn["value"] = json.dumps(value)
    return r


def s_not_json(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    def edit(v: dict[str, Any], rng: Any) -> None:
        text = json.dumps(v["arguments"])
        v["arguments"] = text[: rng.randrange(1, len(text))]
    return _s_edit(r, rng, edit)


def s_not_object(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    def edit(v: dict[str, Any], rng: Any) -> None:
        v["arguments"] = rng.choice([list(v["arguments"].values()), 42, None, True, 2.5])
    return _s_edit(r, rng, edit)


def s_type(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    def edit(v: dict[str, Any], rng: Any) -> None:
        v["arguments"] = json.dumps(v["arguments"])
    return _s_edit(r, rng, edit)


def s_undeclared(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    def edit(v: dict[str, Any], rng: Any) -> None:
        v["name"] = rng.choice(["get_", "find_", "do_"]) + v["name"]
    return _s_edit(r, rng, edit)


def s_schema(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    tools = _glaive_tools(r)

    def edit(v: dict[str, Any], rng: Any) -> bool:
        return _break_schema(v["arguments"], _schema_of(tools, v["name"]), rng)
    return _s_edit(r, rng, edit)


def s_unanswered(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    turns = [k for k in _fc_turns(r) if k + 2 < len(r["conversations"])]
    if not turns:
        return None
    del r["conversations"][rng.choice(turns) + 1]  # the observation
    return r


def s_orphan(r: dict[str, Any], rng: Any) -> dict[str, Any] | None:
    turns = _fc_turns(r)
    if not turns:
        return None
    del r["conversations"][rng.choice(turns)]  # the call; its observation stays
    return r


MUTATORS: dict[str, list[tuple[str, Mutator]]] = {
    "tools_not_json": [("s", s_tools_not_json)],
    "malformed_tool": [("o", o_malformed_tool), ("s", s_malformed_tool)],
    "tool_schema_invalid": [("o", o_schema_invalid), ("s", s_schema_invalid)],
    "malformed_call": [("o", o_malformed_call), ("s", s_malformed_call)],
    "arguments_not_json": [("o", o_not_json), ("s", s_not_json)],
    "arguments_not_object": [("o", o_not_object), ("s", s_not_object)],
    "arguments_type": [("o", o_type), ("s", s_type)],
    "undeclared_tool": [("o", o_undeclared), ("s", s_undeclared)],
    "arguments_schema": [("o", o_schema), ("s", s_schema)],
    "missing_tool_call_id": [("o", o_missing_id)],
    "duplicate_tool_call_id": [("o", o_duplicate_id)],
    "unanswered_call": [("o", o_unanswered), ("s", s_unanswered)],
    "orphan_result": [("o", o_orphan), ("s", s_orphan)],
    "parallel_calls_disallowed": [("o", o_parallel)],
    "id_pattern": [("o", o_id_pattern)],
}


def mutation_corpus(seed: int) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The clean real records, then MUTANTS_PER_CODE mutants of each code: (records, index -> code)."""
    import random

    rng = random.Random(seed)
    drone, glaive = base_records(rng)
    records: list[dict[str, Any]] = drone + glaive
    expected: dict[int, str] = {}
    for code, mutators in MUTATORS.items():
        made = 0
        while made < MUTANTS_PER_CODE:
            dialect, mutate = mutators[made % len(mutators)]
            mutant = mutate(copy.deepcopy(rng.choice(drone if dialect == "o" else glaive)), rng)
            if mutant is not None:
                expected[len(records)] = f"tool_calls.{code}"
                records.append(mutant)
                made += 1
    return records, expected


def test_every_code_has_mutants() -> None:
    assert {f"tool_calls.{c}" for c in MUTATORS} == set(ToolCallsChecker.codes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mutants_are_named_and_untouched_records_stay_clean(seed: int) -> None:
    records, expected = mutation_corpus(seed)
    rules = Rules(id_pattern=MISTRAL_IDS)
    missed, false_alarms = [], []
    for index, record in enumerate(records):
        codes = {code for code, _ in audit_record(record, "chat", rules).problems}
        if index in expected and expected[index] not in codes:
            missed.append((index, expected[index], codes))
        if index not in expected and codes:
            false_alarms.append((index, codes))
    assert missed == [] and false_alarms == []


def test_mutation_corpus_through_the_audit(tmp_path: Path) -> None:
    records, expected = mutation_corpus(seed=7)
    result = tool_calls_of(write_jsonl(tmp_path / "mutants.jsonl", records), f"tool_calls.id_pattern={MISTRAL_IDS}")
    named: dict[int, set[str]] = {}
    for f in result.findings:
        assert len(f.records) == 1 and f.line == f.records[0] + 1 and f.field
        named.setdefault(f.records[0], set()).add(f.code)
    assert set(named) == set(expected)
    assert all(expected[i] in codes for i, codes in named.items())
    assert result.status is Status.FAIL and result.findings_total == len(result.findings)
