"""What makes a record valid for its layout: the JSON Schema, the chat rules of training
APIs, and, for structured-output fine-tunes, a JSON Schema for the responses.

Each rule yields (finding code, field path, message); the `format` check counts and reports them.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from fineaudit.dataset.formats import (KNOWN_ROLES, LAYOUTS, WRITTEN_ROLES, Message, ReadOptions, as_text, chat_messages,
                                       column_of, conversations, fields, mapped, message_list, preference_pair, schema,
                                       variant_of)

Problem = tuple[str, str, str]  # (code, field, message)


def load_output_schema(path: str) -> str:
    """The schema file's text, checked to be a valid JSON Schema; ValueError says what is wrong."""
    try:
        text = Path(path).read_text("utf-8")
        Draft202012Validator.check_schema(json.loads(text))
    except OSError as exc:
        raise ValueError(f"output_schema {path}: cannot read it ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"output_schema {path}: not JSON ({exc})") from None
    except SchemaError as exc:
        raise ValueError(f"output_schema {path}: not a valid JSON Schema ({exc.message})") from None
    return text


def _variant_schema(layout: str, variant: str | None) -> dict[str, Any]:
    """The schema of one variant (`$defs`), or the layout's whole schema."""
    whole = schema(layout)
    defs = whole.get("$defs", {})
    if variant in defs:
        return {"$ref": f"#/$defs/{variant}", "$defs": defs}
    return whole


@lru_cache(maxsize=None)
def _validator(layout: str, variant: str | None = None) -> Draft202012Validator:
    return Draft202012Validator(_variant_schema(layout, variant))


@lru_cache(maxsize=None)
def _fast_validator(layout: str, variant: str | None = None) -> Callable[[Any], Any]:
    """The same schema compiled to Python: ~20x faster on the valid records that are most of a dataset."""
    return fastjsonschema.compile(_variant_schema(layout, variant))


def _schema_errors(obj: Any, layout: str, variant: str | None = None) -> list[ValidationError]:
    """Every violation, with paths (jsonschema), looked for only when the compiled check fails."""
    try:
        _fast_validator(layout, variant)(obj)
        return []
    except fastjsonschema.JsonSchemaException:
        return list(_validator(layout, variant).iter_errors(obj))


def _path(parts: Sequence[Any], turns: Sequence[Message] | None = None) -> str:
    """A field path; with `turns`, the path of a normalized conversation's turn is the path
    the turn has in the record as the user wrote it."""
    if turns is not None and len(parts) >= 2 and parts[0] == "messages" and isinstance(parts[1], int) \
            and parts[1] < len(turns):
        turn = turns[parts[1]]
        rest = list(parts[2:])
        out = turn.content_path if rest[:1] == ["content"] else turn.path
        return out + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest[1 if rest[:1] == ["content"] else 0:])
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(record)"


def _schema_problems(error: ValidationError, messages: Sequence[Message] | None) -> Iterator[Problem]:
    """(code, field, message) for one jsonschema error."""
    where = _path(list(error.absolute_path), messages)
    kind = error.validator
    if kind == "required":
        for key in (k for k in error.validator_value if k not in error.instance):
            yield "format.missing_field", f"{where}.{key}" if where != "(record)" else key, f"missing required field {key!r}"
    elif kind == "anyOf" and error.absolute_path and error.absolute_path[0] == "messages":
        yield "format.missing_field", f"{where}.content", "missing required field 'content'"
    elif kind == "oneOf" and not error.absolute_path:
        yield "format.missing_field", "output", "missing the response: give 'output' (or 'response'), not both"
    elif kind == "enum" and error.absolute_path and error.absolute_path[-1] == "role":
        yield ("format.unknown_role", where, f"unknown role {error.instance!r}; "
               f"expected one of {', '.join(WRITTEN_ROLES)}")
    elif kind in ("minLength", "minItems"):
        yield "format.empty_field", where, f"{where} is empty"
    elif kind == "type":
        yield "format.wrong_type", where, f"{where} should be {_types(error.validator_value)}, not {type(error.instance).__name__}"
    else:
        yield "format.schema", where, error.message


def _types(expected: Any) -> str:
    names = {"array": "a list", "object": "an object", "string": "a string", "integer": "an integer",
             "boolean": "a boolean", "null": "null", "number": "a number"}
    values = expected if isinstance(expected, list) else [expected]
    return " or ".join(names.get(v, str(v)) for v in values)


# codes for rules that the major trainers split on, or records that load but teach nothing:
# the record is valid, so they warn
WARN_CODES = frozenset({"format.no_user_turn", "format.last_turn_not_assistant", "format.nothing_trained"})


def is_valid(problems: Sequence[Problem]) -> bool:
    return all(code in WARN_CODES for code, _, _ in problems)


def encode_problems(problems: Sequence[Problem]) -> str | None:
    return orjson.dumps(problems).decode() if problems else None


def decode_problems(encoded: str | None) -> list[Problem]:
    return [tuple(p) for p in orjson.loads(encoded)] if encoded else []  # type: ignore[misc]


def _chat_rules(messages: Sequence[Message], answer_from: int | None = None) -> Iterator[Problem]:
    """The structural rules that chat fine-tuning APIs enforce, beyond the schema.

    `answer_from`: where the answer turns start in a conversation built from a prompt and an
    answer (prompt-completion, preference sides); they must be the assistant's."""
    roles = [m.role for m in messages]
    for i, m in enumerate(messages):
        if m.role not in KNOWN_ROLES:
            if not isinstance(m.role, str):  # a string role is already reported by the schema
                yield "format.unknown_role", f"{m.path}.role", f"turn {i} has no valid role"
            continue
        yield from _content_problems(m, i)
        if m.role == "system" and i > 0:
            yield "format.system_not_first", m.path, f"system message at turn {i}; it must come first"
    if any(r not in KNOWN_ROLES for r in roles):
        return  # the turn-order rules mean nothing until the roles are fixed
    if answer_from is not None:
        yield from _answer_rules(messages, answer_from)
        return
    if "user" not in roles:
        yield "format.no_user_turn", "messages", "no user turn (most trainers accept it; some templates need one)"
    if "assistant" not in roles:
        yield "format.no_assistant_turn", "messages", "no assistant turn: nothing for the model to learn"
    elif roles and roles[-1] != "assistant":
        yield ("format.last_turn_not_assistant", "messages",
               f"the last turn is {roles[-1]!r}, not the assistant's: nothing after the last answer is learned")
    answers = [m for m in messages if m.role == "assistant"]
    # OpenAI trains an assistant turn unless its weight is 0; a turn without a weight trains
    if answers and all(m.weight == 0 and not isinstance(m.weight, bool) for m in answers):
        yield ("format.nothing_trained", "messages",
               "every assistant turn has weight 0: the record loads but the model learns nothing from it")


def _answer_rules(messages: Sequence[Message], answer_from: int) -> Iterator[Problem]:
    answers = messages[answer_from:]
    if not answers:
        return
    for m in answers:
        if m.role not in ("assistant", "tool"):
            yield "format.answer_not_assistant", m.path, f"an answer turn has role {m.role!r}, not 'assistant'"
    if answers[-1].role != "assistant":
        yield "format.answer_not_assistant", answers[-1].path, "the answer does not end with an assistant turn"


# the content-part types each role may carry (OpenAI's chat format)
PART_TYPES = {"user": frozenset({"text", "image_url", "input_audio", "file"}),
              "system": frozenset({"text", "image_url"}),
              "assistant": frozenset({"text", "refusal"}),
              "tool": frozenset({"text"})}
_DATA_IMAGE = re.compile(r"data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+\Z", re.I)


def _content_problems(m: Message, i: int) -> Iterator[Problem]:
    """Content must be text that is not empty; only an assistant's tool call may stand without."""
    where = m.content_path
    calls_only = m.role == "assistant" and bool(m.tool_calls)
    if m.content is None or (calls_only and m.content == ""):  # '' beside tool_calls is null
        if not calls_only:
            yield "format.empty_content", where, f"{m.role} turn {i} has no content"
    elif isinstance(m.content, list):  # content parts: text, images, audio ...
        yield from _part_problems(m, i, where)
    elif isinstance(m.content, str) and not m.content.strip():
        yield "format.empty_content", where, f"{m.role} turn {i} has empty content"


def _part_problems(m: Message, i: int, where: str) -> Iterator[Problem]:
    parts = m.content
    if not all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in parts):
        yield "format.wrong_type", where, f"{where} parts should be objects with a 'type'"
        return
    allowed = PART_TYPES.get(str(m.role), frozenset())
    for k, part in enumerate(parts):
        at = f"{where}[{k}]"
        if part["type"] not in allowed:
            yield ("format.content_part_type", f"{at}.type", f"a {part['type']!r} part in a {m.role} turn; "
                   f"{m.role} turns may carry {', '.join(sorted(allowed))}")
        elif part["type"] == "text" and not isinstance(part.get("text"), str):
            yield "format.wrong_type", f"{at}.text", f"{at}.text should be a string, not {type(part.get('text')).__name__}"
        elif part["type"] == "image_url" and not _image_url_ok(part.get("image_url")):
            yield ("format.image_url", f"{at}.image_url.url",
                   "an image URL must be an http(s) URL or a data:image/...;base64, URL")
    if not any(p["type"] != "text" or as_text(p.get("text")).strip() for p in parts):
        yield "format.empty_content", where, f"{m.role} turn {i} has empty content"


def _image_url_ok(value: Any) -> bool:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str):
        return False
    if url.startswith("data:"):
        return _DATA_IMAGE.match(url) is not None
    parsed = urlsplit(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _normalized(messages: Sequence[Message]) -> dict[str, Any]:
    """A conversation as OpenAI's chat layout, for the chat schema."""
    turns = []
    for m in messages:
        turn: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls is not None:
            turn["tool_calls" if isinstance(m.tool_calls, list) else "function_call"] = m.tool_calls
        turns.append(turn)
    return {"messages": turns}


def _conversation_problems(messages: Sequence[Message], answer_from: int | None,
                           as_written: dict[str, Any] | None = None) -> Iterator[Problem]:
    """The chat schema and rules on one conversation, wherever its turns sit in the record."""
    if as_written is not None:  # OpenAI messages: validate them as written (names, weights ...)
        errors = [] if _plain_turns(as_written.get("messages")) else _schema_errors(as_written, "chat")
        turns = None
    else:
        errors = _schema_errors(_normalized(messages), "chat")
        turns = list(messages)
    for error in errors:
        yield from _schema_problems(error, turns)
    if messages:
        yield from _chat_rules(messages, answer_from)


_PLAIN_TURN_KEYS = frozenset({"role", "content"})
# roles a turn of only role and content may have (a legacy `function` result must also name its function)
_PLAIN_ROLES = frozenset((*KNOWN_ROLES, "developer"))


def _plain_turns(turns: Any) -> bool:
    """Turns the chat schema passes without asking it: a role it names and text content, and
    no other key. Most records are such; the compiled schema costs ~10 µs each at load."""
    return type(turns) is list and bool(turns) and all(
        type(t) is dict and t.keys() == _PLAIN_TURN_KEYS and type(t["content"]) is str
        and type(t["role"]) is str and t["role"] in _PLAIN_ROLES for t in turns)


def _closest_variant(obj: dict[str, Any], layout: str) -> str | None:
    """The variant a record means to be, for error messages that name what is missing."""
    found = variant_of(obj)
    if found and found[0] == layout:
        return found[1]
    defs = schema(layout).get("$defs", {})
    if not defs:
        return None
    return max(defs, key=lambda v: (len(set(defs[v].get("required", ())) & set(obj)), -list(defs).index(v)))


def _problems(obj: dict[str, Any], layout: str) -> Iterator[Problem]:
    if layout == "chat":
        messages = chat_messages(obj)
        if "messages" not in obj and not messages:
            yield "format.missing_field", "messages", "missing required field 'messages'"
            return
        yield from _conversation_problems(messages, None, obj if "messages" in obj else None)
        return
    variant = _closest_variant(obj, layout)
    errors = _schema_errors(obj, layout, variant)
    for error in errors:
        yield from _schema_problems(error, None)
    if errors:
        return  # the conversation rules mean nothing until the record has its parts
    for name, messages in conversations(obj, layout):
        if name == "messages":
            as_written = {"messages": obj["messages"]} if "messages" in obj else None
            yield from _conversation_problems(messages, None, as_written)
        else:
            start = _answer_start(obj, layout, name)
            found = list(_conversation_problems(messages, start))
            yield from (p for p in found if name != "rejected" or not _prompt_problem(p, start, messages))


def _answer_start(obj: dict[str, Any], layout: str, name: str) -> int:
    if layout == "preference":
        return len(preference_pair(obj).prompt)
    prompt = obj.get("prompt")
    return len(message_list(prompt, "prompt")) if isinstance(prompt, list) else 1


def _prompt_problem(problem: Problem, start: int, messages: Sequence[Message]) -> bool:
    """A problem in the shared prompt, already reported with the chosen side."""
    prompt_paths = {m.path for m in messages[:start]}
    return any(problem[1] == p or problem[1].startswith((p + ".", p + "[")) for p in prompt_paths)


@lru_cache(maxsize=4)
def _output_validator(schema_text: str) -> Draft202012Validator:
    # $refs resolve inside the schema file only: a remote one is never fetched (it was, once per record)
    return Draft202012Validator(json.loads(schema_text), registry=Registry(retrieve=_refuse_retrieval))  # type: ignore[call-arg]


def _refuse_retrieval(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


def response_fields(obj: Any, layout: str, options: ReadOptions | None = None) -> Iterator[tuple[str, Any]]:
    """(field path, value) of what the model must learn to produce: the structured output."""
    for part in fields(obj, layout, options):
        if part.role in ("response", "chosen"):
            yield part.path, part.text


def _json_path(parts: Sequence[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _output_problems(obj: Any, layout: str, options: ReadOptions) -> Iterator[Problem]:
    for where, value in response_fields(obj, layout, options):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            yield "format.output_not_json", where, f"{where} is not JSON ({exc}); output_schema expects JSON"
            continue
        error = best_match(_output_validator(options.output_schema).iter_errors(parsed))
        if error is not None:
            yield ("format.output_schema", where,
                   f"{where} does not match output_schema at {_json_path(error.absolute_path)}: {error.message}")


def record_problems(obj: Any, layout: str, options: ReadOptions | str | None = None) -> list[Problem]:
    """Every rule a parsed record breaks (field paths as the user's columns are named);
    `options` carries the field map and the output schema's JSON text (a str: the schema)."""
    if isinstance(options, str) or options is None:
        options = ReadOptions(output_schema=options or "")
    view = mapped(obj, options, layout)
    # a schema gives one error per missing key, and each names every missing key: a problem once
    problems = list(dict.fromkeys(_problems(view, layout))) if layout in LAYOUTS and isinstance(view, dict) else []
    if layout in LAYOUTS and not isinstance(view, dict):
        problems = [("format.wrong_type", "(record)", f"a record should be a JSON object, not {type(obj).__name__}")]
    if options.output_schema:
        problems += _output_problems(obj, layout, options)
    if view is not obj:
        problems = [(code, _user_path(where, obj, options, layout), message) for code, where, message in problems]
    return problems


def _user_path(where: str, obj: Any, options: ReadOptions, layout: str) -> str:
    head, sep, rest = where.partition(".")
    key, bracket, index = head.partition("[")
    return column_of(key, obj, options, layout) + bracket + index + sep + rest
