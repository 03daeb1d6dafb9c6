"""Declared tools, parsed and compiled once per distinct declaration.

A `tools` declaration (OpenAI's list of `{"type": "function", "function": {...}}`, or the
ShareGPT / LLaMA-Factory JSON string of `{"name", "description", "parameters"}`) is read into a
`ToolSet`: the tools by name, each with a validator for its arguments, and the problems of the
declaration itself. Many records share one declaration, so `compile_tools` caches by the
declaration's JSON text; validators are cached again by the text of each `parameters` schema.

jsonschema (Draft 2020-12, or the draft the schema names in `$schema`) is the judge: it says
whether a `parameters` schema is valid and gives the first error's path in arguments. Two fast
paths keep it off the common case, and never let through what it would reject:
- a schema without 2019-09 / 2020-12 keywords is checked against the Draft 7 meta-schema
  compiled by fastjsonschema (70 us instead of 4.8 ms for 2020-12's `check_schema`); only one
  it rejects goes to jsonschema, for the verdict and the message;
- a schema used FAST_AFTER times gets its own fastjsonschema function (15x faster than
  jsonschema on arguments; compiling one takes ~3 ms, so schemas seen once or twice in a
  dataset of many distinct tools are not worth it); arguments it rejects go to jsonschema.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema
import orjson
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

# a problem: (code, path relative to where it sits, message)
Problem = tuple[str, str, str]
# keywords fastjsonschema (drafts 4-7) ignores: a schema with one is validated by jsonschema alone
_NEWER_KEYWORDS = ("prefixItems", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
                   "unevaluatedItems", "$dynamicRef", "$recursiveRef", "minContains", "maxContains", "$defs",
                   "$anchor", "$dynamicAnchor", "$vocabulary")
FAST_AFTER = 8  # validations of one schema before its fastjsonschema function is compiled
EXCERPT = 60  # characters of dataset text quoted in a message


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def loads_json(text: str) -> tuple[bool, Any]:
    """(parsed?, value) of JSON text; NaN and Infinity are not JSON."""
    try:
        return True, orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:  # orjson refuses integers past 64 bits, which are JSON
        return True, json.loads(text, parse_constant=_refuse)
    except ValueError:
        return False, None


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --------------------------------------------------------------------------- validators

def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


class ArgumentsValidator:
    """A tool's `parameters` schema, compiled: fastjsonschema says valid, jsonschema says why not."""

    def __init__(self, slow: Any, schema: dict[str, Any], draft7: bool):
        self.slow = slow  # a jsonschema validator (the judge)
        self.fast: Callable[[Any], Any] | None = None  # fastjsonschema's compiled function, once worth it
        self._schema: dict[str, Any] | None = schema if draft7 else None  # None: no fast path
        self._uses = 0

    def __call__(self, arguments: dict[str, Any]) -> Problem | None:
        if self.fast is None and self._schema is not None:
            self._uses += 1
            if self._uses >= FAST_AFTER:
                self.fast, self._schema = _fast(self._schema), None
        if self.fast is not None:
            try:
                self.fast(arguments)
                return None
            except fastjsonschema.JsonSchemaException:
                pass  # jsonschema decides (formats, 1.0 as integer: the drafts differ on a few)
        try:
            error = best_match(self.slow.iter_errors(arguments))
        except Unresolvable as exc:  # a $ref that points nowhere
            return "tool_calls.tool_schema_invalid", "", f"its parameters have an unresolvable $ref ({excerpt(str(exc), 100)})"
        except re.error as exc:  # the meta-schema does not assert `pattern` is a regular expression
            return "tool_calls.tool_schema_invalid", "", f"its parameters have a bad pattern ({excerpt(str(exc), 100)})"
        if error is None:
            return None
        return "tool_calls.arguments_schema", _path(error.absolute_path), excerpt(error.message, 160)


# use_default=False: with defaults on, fastjsonschema writes the meta-schema's defaults
# (`items: true`, `patternProperties: {}` ...) into the schema it checks
_DRAFT7_META = fastjsonschema.compile(Draft7Validator.META_SCHEMA, use_default=False)


def _draft7_compatible(schema: dict[str, Any], text: str) -> bool:
    """No keyword whose meaning Draft 7 lacks: Draft 7's verdicts then match 2020-12's."""
    named = str(schema.get("$schema", ""))
    return not ("2019-09" in named or "2020-12" in named or any(f'"{k}"' in text for k in _NEWER_KEYWORDS)
                or '"items": [' in text)


def _schema_error(cls: Any, schema: dict[str, Any], draft7: bool) -> str | None:
    if draft7:
        try:
            _DRAFT7_META(schema)
            return None
        except fastjsonschema.JsonSchemaException:
            pass  # the judge decides, and words the message
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path)
        return f"not a valid JSON Schema{' at ' + where.lstrip('.') if where else ''}: {excerpt(exc.message, 120)}"
    return None


@lru_cache(maxsize=4096)
def _compile_parameters(text: str) -> ArgumentsValidator | str:
    """The validator of one `parameters` schema (as JSON text), or why it is not a valid schema."""
    schema = json.loads(text)
    if not isinstance(schema.get("$schema", ""), str):
        return "not a valid JSON Schema: $schema should be a URI"
    cls = validator_for(schema, default=Draft202012Validator)
    draft7 = _draft7_compatible(schema, text)
    error = _schema_error(cls, schema, draft7)
    if error is not None:
        return error
    kind = schema.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        return f"its type is {excerpt(schema['type'])}, but arguments are always a JSON object"
    return ArgumentsValidator(cls(schema), schema, draft7)


def _fast(schema: dict[str, Any]) -> Callable[[Any], Any] | None:
    try:  # use_default=False: fastjsonschema would otherwise write defaults into the arguments
        return fastjsonschema.compile(schema, use_default=False)  # type: ignore[no-any-return]
    except Exception:  # its code generator refuses some valid schemas; jsonschema alone then
        return None


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Tool:
    name: str
    path: str  # relative to the declaration, e.g. "[2].function"
    validate: ArgumentsValidator | None  # None: no `parameters`, any arguments object


@dataclass(frozen=True)
class ToolSet:
    """One declaration: its tools by name and its own problems (paths relative to it)."""

    tools: dict[str, Tool]
    problems: tuple[Problem, ...] = ()
    readable: bool = True  # False when it is not JSON: calls cannot be judged against it
    names: tuple[str, ...] = ()  # the tools' names, in declaration order


EMPTY = ToolSet({})


def compile_tools(value: Any, wrapped: bool) -> ToolSet:
    """The ToolSet of a declaration as written. `wrapped`: entries must carry a `function`
    object (OpenAI's chat format); otherwise a flat `{name, parameters}` entry is accepted too
    (ShareGPT / LLaMA-Factory, Hermes, the Responses API)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return EMPTY
    if isinstance(value, str):
        return _compile_text(value, wrapped)
    try:
        key = orjson.dumps(value)
    except TypeError:  # integers past 64 bits
        key = json.dumps(value).encode()
    return _compile_key(key, wrapped)


@lru_cache(maxsize=1024)
def _compile_text(text: str, wrapped: bool) -> ToolSet:
    ok, value = loads_json(text)
    if not ok:
        return ToolSet({}, (("tool_calls.tools_not_json", "", f"the tools declaration is not JSON: {excerpt(text)!r}"),),
                       readable=False)
    return build_toolset(value, wrapped)


@lru_cache(maxsize=1024)
def _compile_key(key: bytes, wrapped: bool) -> ToolSet:
    return build_toolset(orjson.loads(key), wrapped)


def build_toolset(value: Any, wrapped: bool) -> ToolSet:
    if not isinstance(value, list):
        return ToolSet({}, (("tool_calls.malformed_tool", "", f"tools should be a list of tool definitions, "
                                                               f"not {type(value).__name__}"),), readable=False)
    tools: dict[str, Tool] = {}
    problems: list[Problem] = []
    for i, entry in enumerate(value):
        tool, found = _tool(entry, f"[{i}]", wrapped)
        problems += found
        if tool is None:
            continue
        if tool.name in tools:
            problems.append(("tool_calls.malformed_tool", f"{tool.path}.name",
                             f"a second tool named {excerpt(tool.name)!r} (the first is at {tools[tool.name].path})"))
            continue
        tools[tool.name] = tool
    return ToolSet(tools, tuple(problems), names=tuple(tools))


def _tool(entry: Any, at: str, wrapped: bool) -> tuple[Tool | None, list[Problem]]:
    if not isinstance(entry, dict):
        return None, [("tool_calls.malformed_tool", at, f"a tool definition should be an object, not {type(entry).__name__}")]
    if isinstance(entry.get("type"), str) and entry["type"] != "function":
        return None, []  # built-in tools (code_interpreter, web_search): nothing to check here
    if "function" in entry:
        fn, at = entry["function"], f"{at}.function"
    elif wrapped:
        return None, [("tool_calls.malformed_tool", at, "a tool without `function` (OpenAI wants "
                                                        "{\"type\": \"function\", \"function\": {\"name\", \"parameters\"}})")]
    else:
        fn = entry
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"].strip():
        return None, [("tool_calls.malformed_tool", at, "a tool without a name")]
    return _with_parameters(fn, at)


def _key_text(value: Any) -> str:
    """Canonical JSON text (sorted keys): one cache entry per schema however its keys were ordered."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers past 64 bits
        return json.dumps(value, sort_keys=True)


def _with_parameters(fn: dict[str, Any], at: str) -> tuple[Tool | None, list[Problem]]:
    name, params = fn["name"], fn.get("parameters")
    if params is None:
        return Tool(name, at, None), []
    where = f"{at}.parameters"
    if not isinstance(params, dict):
        return Tool(name, at, None), [("tool_calls.tool_schema_invalid", where, f"{name}: parameters should be a JSON "
                                       f"Schema object, not {type(params).__name__}")]
    compiled = _compile_parameters(_key_text(params))
    if isinstance(compiled, str):
        return Tool(name, at, None), [("tool_calls.tool_schema_invalid", where, f"{name}: parameters {compiled}")]
    return Tool(name, at, compiled), []


__all__ = ["ArgumentsValidator", "EMPTY", "Problem", "Tool", "ToolSet", "compile_tools", "excerpt",
           "loads_json"]
