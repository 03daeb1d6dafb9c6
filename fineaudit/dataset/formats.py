"""Record layouts: the one module that knows them.

Each layout (chat, instruction, completion, classification, preference, kto, text) and every
variant that trainers and providers publish is described here: its signature for detection,
the field map (`--field ROLE=COLUMN`), how it reads as conversations (`conversations`), every
text part with its role (`fields`), and the views every checker shares (prompt, response,
rejected, text, label, system, turns). Checkers never look at raw keys to find the text.

Adding a layout or a response key changes this module (and a schema in `schemas/`).
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from fineaudit.core import FIELD_ROLES, ConfigError, FineauditError, ReadOptions, RecordBatch

LAYOUTS = ("chat", "instruction", "completion", "classification", "preference", "kto", "text")
FORMAT_CHOICES = ("auto", *LAYOUTS)
# Production samples are often prompts alone; this lenient layout reads whatever carries one.
# "prompts:FIELD" reads the prompt from FIELD (config `production_field`, for logs with metadata).
PROMPTS = "prompts"
PROMPT_KEYS = ("prompt", "text", "input", "question", "query", "message", "content", "user_input",
               "utterance", "request")
# label columns recognised without a mapping, in order of preference
LABEL_KEYS = ("label", "labels", "category", "class", "intent", "target")
_LABEL_ALIASES = frozenset(LABEL_KEYS[1:])
# the key each mapped role is read from (TRL's names) ...
_ROLE_KEY = {"prompt": "prompt", "response": "completion", "text": "text", "label": "label",
             "chosen": "chosen", "rejected": "rejected", "messages": "messages"}
# ... except in layouts that name their prompt and response otherwise (Alpaca's)
_LAYOUT_ROLE_KEY = {"instruction": {**_ROLE_KEY, "prompt": "instruction", "response": "output"}}
# what a text part of a record is to the model
PART_ROLES = ("system", "prompt", "response", "chosen", "rejected", "tool_call", "tool_result",
              "tools", "label", "text")


def prompts_layout(field: str | None) -> str:
    return f"{PROMPTS}:{field}" if field else PROMPTS


KNOWN_ROLES = ("system", "user", "assistant", "tool")
# OpenAI role names read as one of KNOWN_ROLES: `developer` is its current name for the system
# role; `function` is the legacy tool result (answers a `function_call` by `name`, not by id)
ROLE_ALIASES = {"developer": "system", "function": "tool"}
WRITTEN_ROLES = (*KNOWN_ROLES, *ROLE_ALIASES)
# ShareGPT speaker names (the `from` of `conversations`) and what they mean
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant",
                  "system": "system", "tool": "tool", "function": "tool", "observation": "tool",
                  "function_call": "assistant", "developer": "system"}


class UnknownLayout(FineauditError):
    pass


# --------------------------------------------------------------------------- field map


def as_options(options: ReadOptions | str | None) -> ReadOptions:
    """Callers may still pass a label column name where options are expected."""
    if isinstance(options, ReadOptions):
        return options
    return ReadOptions.of(label_field=options or None)


def _role_keys(layout: str | None) -> dict[str, str]:
    return _LAYOUT_ROLE_KEY.get(layout or "", _ROLE_KEY)


def mapped(obj: Any, options: ReadOptions, layout: str | None = None) -> Any:
    """The record with mapped columns under their role's key in `layout` (TRL's names when
    None), and a recognised label column under `label`; the original stays untouched
    (findings quote the user's record)."""
    if not isinstance(obj, dict):
        return obj
    if not options.fields and ("label" in obj or _LABEL_ALIASES.isdisjoint(obj)):
        return obj  # the commonest record: nothing to rename (two calls a record at load)
    keys = _role_keys(layout)
    renames = {column: keys[role] for role, column in options.fields if column in obj and column != keys[role]}
    if "label" not in obj and "label" not in dict(options.fields):
        column = next((k for k in LABEL_KEYS[1:] if k in obj), None)
        if column is not None:
            renames[column] = "label"
    if not renames:
        return obj
    out = {k: v for k, v in obj.items() if k not in renames.values() or k in renames}
    for column, key in renames.items():
        out[key] = out.pop(column)
    return out


def column_of(key: str, obj: Any, options: ReadOptions, layout: str | None = None) -> str:
    """The user's column behind a role key of `layout` (for field paths in findings)."""
    keys = _role_keys(layout)
    for role, column in options.fields:
        if keys[role] == key:
            return column
    if key == "label" and isinstance(obj, dict) and "label" not in obj:
        return next((k for k in LABEL_KEYS[1:] if k in obj), key)
    return key


# --------------------------------------------------------------------------- detection


# the keys that identify each variant, in the order tried; `label: bool` marks KTO
_SIGNATURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("preference", "openai", ("input", "preferred_output", "non_preferred_output")),
    ("preference", "sharegpt", ("conversations", "chosen", "rejected")),
    ("kto", "messages", ("messages", "label")),
    ("chat", "messages", ("messages",)),
    ("chat", "sharegpt", ("conversations",)),
    ("preference", "explicit", ("prompt", "chosen", "rejected")),
    ("preference", "implicit", ("chosen", "rejected")),
    ("kto", "prompt", ("prompt", "completion", "label")),
    ("completion", "prompt", ("prompt", "completion")),
    ("instruction", "output", ("instruction", "output")),
    ("instruction", "response", ("instruction", "response")),
    ("classification", "text", ("text", "label")),
    ("text", "text", ("text",)),
)


_SIGNATURE_ORDER = {layout: i for i, (layout, _, _) in reversed(list(enumerate(_SIGNATURES)))}


def variant_of(obj: Any) -> tuple[str, str] | None:
    """(layout, variant) of one mapped record; None when no signature fits."""
    if not isinstance(obj, dict):
        return None
    for layout, variant, keys in _SIGNATURES:
        if all(k in obj for k in keys):
            if layout == "kto" and not isinstance(obj.get("label"), bool):
                continue  # a chat or completion with a class label, not desirability
            return layout, variant
    return None


def layout_of(obj: Any) -> str | None:
    found = variant_of(obj)
    return found[0] if found else None


def mapped_layout(obj: Any, options: ReadOptions) -> str | None:
    """The layout of one record as the field map reads it: the roles land on each layout's own
    keys (`--field response=answer` is Alpaca's `output`, prompt-completion's `completion`), so
    the first layout, in signature order, that the record fits under its own keys."""
    found = layout_of(mapped(obj, options))
    if not options.fields:
        return found
    for layout in _LAYOUT_ROLE_KEY:
        if found is not None and _SIGNATURE_ORDER[found] < _SIGNATURE_ORDER[layout]:
            break
        if layout_of(mapped(obj, options, layout)) == layout:
            return layout
    return found


def detect_layout(objects: Iterable[Any], where: str = "data", first_error: str | None = None,
                  options: ReadOptions | None = None) -> str:
    """The layout of the majority of these records; UnknownLayout when there is none.

    `first_error` (the first unparsable line, if any) is quoted when nothing could be parsed,
    since then it, not the layout, is what the user must fix."""
    options = options or ReadOptions()
    votes: Counter[str] = Counter()
    keys_seen: Counter[str] = Counter()
    seen = 0
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        seen += 1
        keys_seen.update(obj.keys())
        layout = mapped_layout(obj, options)
        if layout:
            votes[layout] += 1
    ranked = votes.most_common(2)
    if ranked and ranked[0][1] * 2 > seen and (len(ranked) == 1 or ranked[1][1] < ranked[0][1]):
        return ranked[0][0]
    if not seen and first_error:
        raise UnknownLayout(f"{where}: no record could be parsed; the first bad one is at {first_error}")
    keys = ", ".join(k for k, _ in keys_seen.most_common(12)) or "none (no parsable JSON object)"
    what = ("ambiguous layout (" + " vs ".join(f"{n}: {c} records" for n, c in ranked) + ")"
            if len(ranked) > 1 else "unknown layout")
    expected = "; ".join(f"{name} ({', '.join(keys_)})" for name, _, keys_ in _SIGNATURES)
    raise UnknownLayout(f"{where}: {what}; keys seen: {keys}. Expected one of: {expected}. "
                        "Pass --format to choose one, or map your columns with --field ROLE=COLUMN "
                        "(e.g. --field label=category).")


def check_format_name(name: str) -> str:
    if name not in FORMAT_CHOICES:
        raise ConfigError(f"unknown format {name!r}; valid: {', '.join(FORMAT_CHOICES)}")
    return name


@lru_cache(maxsize=None)
def schema(layout: str) -> dict[str, Any]:
    """The JSON Schema of a layout (shipped in fineaudit/schemas/)."""
    text = resources.files("fineaudit").joinpath("schemas", f"{layout}.schema.json").read_text("utf-8")
    return json.loads(text)


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)  # not frozen: every checker that reads turns builds many (frozen init is ~2x slower)
class Message:
    """One turn, wherever it sits in a record, with ShareGPT speakers mapped to roles."""

    role: str | None
    content: Any
    path: str  # where it sits in the record, e.g. "messages[2]" or "conversations[1]"
    tool_calls: Any = None  # an assistant's function calls (OpenAI `tool_calls` / `function_call`)
    tool_call_id: Any = None  # a tool result's answer to one call
    speaker: str | None = None  # the role or `from` as written (`function_call`, `observation`, `developer`)
    content_key: str = "content"  # where the content sits inside the turn ('' = the turn is the text)
    name: Any = None  # the function a legacy `function` turn answers (it has no tool_call_id)
    weight: Any = None  # OpenAI's per-turn weight: 0 leaves an assistant turn out of training

    @property
    def text(self) -> str:
        """What the model reads or writes in this turn: its content, and its calls as JSON."""
        calls = json.dumps(self.tool_calls, ensure_ascii=False) if self.tool_calls else ""
        return "\n".join(t for t in (as_text(self.content), calls) if t)

    @property
    def content_path(self) -> str:
        return f"{self.path}.{self.content_key}" if self.content_key else self.path


def as_text(value: Any) -> str:
    """Text of a field that should be a string; content-part lists are joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts: [{"type": "text", "text": ...}]
        return "\n".join(as_text(p.get("text") if isinstance(p, dict) else p) for p in value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)


def _openai_turn(m: Any, path: str) -> Message:
    if not isinstance(m, dict):
        return Message(None, m, path)
    role = m.get("role")
    written = role if isinstance(role, str) else None
    return Message(role if written is None else ROLE_ALIASES.get(written, written), m.get("content"), path,
                   m.get("tool_calls") or m.get("function_call"), m.get("tool_call_id"), written,
                   name=m.get("name"), weight=m.get("weight"))


def _sharegpt_turn(m: Any, path: str) -> Message:
    if not isinstance(m, dict):
        return Message(None, m, path, content_key="")
    if "role" in m and "from" not in m:  # LLaMA-Factory accepts OpenAI turns inside ShareGPT sets
        return _openai_turn(m, path)
    speaker = m.get("from")
    role = SHAREGPT_ROLES.get(str(speaker).lower(), speaker) if speaker is not None else None
    return Message(role, m.get("value"), path, speaker=speaker if isinstance(speaker, str) else None,
                   content_key="value")


def message_list(value: Any, path: str) -> list[Message]:
    """A list of turns (OpenAI or ShareGPT style), a single turn object, or a plain string
    (an assistant answer, as TRL's standard preference sides are)."""
    if isinstance(value, list):
        return [_sharegpt_turn(m, f"{path}[{i}]") for i, m in enumerate(value)]
    if isinstance(value, dict):
        return [_sharegpt_turn(value, path)]
    return [Message("assistant", value, path, content_key="")]


def is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) for m in value)


def chat_messages(obj: dict[str, Any]) -> list[Message]:
    """The turns of a chat record, with ShareGPT speakers mapped to roles."""
    if isinstance(obj.get("messages"), list):
        return [_openai_turn(m, f"messages[{i}]") for i, m in enumerate(obj["messages"])]
    turns = obj.get("conversations")
    if not isinstance(turns, list):
        return []
    out = []
    if isinstance(obj.get("system"), str) and obj["system"]:
        out.append(Message("system", obj["system"], "system", content_key=""))
    return out + message_list(turns, "conversations")


# declarations that list function objects bare ({name, parameters}), without OpenAI's
# {"type": "function", "function": {...}} wrapper: OpenAI's legacy `functions`
BARE_TOOL_PATHS = frozenset({"functions"})


def declared_tools(obj: Any) -> tuple[Any, str] | None:
    """(the `tools` declaration as written, its path): OpenAI's list, ShareGPT's JSON string,
    OpenAI DPO's `input.tools`, or OpenAI's legacy `functions` (see BARE_TOOL_PATHS); None
    when the record declares none."""
    if not isinstance(obj, dict):
        return None
    if "tools" in obj:
        return obj["tools"], "tools"
    if "functions" in obj:
        return obj["functions"], "functions"
    inner = obj.get("input")
    if isinstance(inner, dict) and "tools" in inner:
        return inner["tools"], "input.tools"
    return None


def parallel_tool_calls(obj: Any) -> Any:
    """The record's `parallel_tool_calls` (OpenAI; `input.parallel_tool_calls` in DPO records), or None."""
    if not isinstance(obj, dict):
        return None
    if "parallel_tool_calls" in obj:
        return obj["parallel_tool_calls"]
    inner = obj.get("input")
    return inner.get("parallel_tool_calls") if isinstance(inner, dict) else None


# the score columns preference sets carry, chosen's first (UltraFeedback-style ratings, rewards)
SCORE_KEYS = (("score_chosen", "score_rejected"), ("chosen_score", "rejected_score"),
              ("chosen_rating", "rejected_rating"), ("rating_chosen", "rating_rejected"),
              ("chosen_reward", "rejected_reward"), ("reward_chosen", "reward_rejected"))


def preference_scores(obj: Any) -> tuple[float | None, float | None]:
    """(chosen score, rejected score) of a record that carries them, else (None, None)."""
    if not isinstance(obj, dict):
        return None, None
    for chosen_key, rejected_key in SCORE_KEYS:
        if chosen_key in obj and rejected_key in obj:
            return _number(obj[chosen_key]), _number(obj[rejected_key])
    return None, None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class Pair:
    """A preference record read as a prompt and two answers (message lists)."""

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    # the two sides differ before their last assistant turn (implicit prompts only): the
    # shared beginning is then not the whole prompt
    diverged: bool = False


def _common_prefix(a: Sequence[Message], b: Sequence[Message]) -> int:
    n = 0
    while n < min(len(a), len(b)) and (a[n].role, a[n].content, a[n].tool_calls) == \
            (b[n].role, b[n].content, b[n].tool_calls):
        n += 1
    return n


def _last_assistant(msgs: Sequence[Message]) -> int:
    return max((i for i, m in enumerate(msgs) if m.role == "assistant"), default=len(msgs))


TRANSCRIPT_MARKERS = ("\n\nAssistant:", "\n\nHuman:")


def _split_transcripts(chosen: str, rejected: str) -> tuple[str, str, str, bool]:
    """(prompt, chosen answer, rejected answer, diverged) of two transcripts sharing a
    beginning (Anthropic HH: "\\n\\nHuman: ...\\n\\nAssistant: ...")."""
    n = 0
    limit = min(len(chosen), len(rejected))
    while n < limit and chosen[n] == rejected[n]:
        n += 1
    marker = TRANSCRIPT_MARKERS[0]
    cut = chosen.rfind(marker, 0, n)
    if cut >= 0:
        cut += len(marker)
    else:
        cut = max(chosen.rfind(" ", 0, n), chosen.rfind("\n", 0, n)) + 1 if n < limit else n
    last = [s.rfind(marker) for s in (chosen, rejected)]
    diverged = any(pos >= 0 and pos + len(marker) > cut for pos in last)
    return chosen[:cut], chosen[cut:], rejected[cut:], diverged


def preference_pair(obj: dict[str, Any], variant: str | None = None) -> Pair:
    """Prompt, chosen and rejected of any preference variant, as messages."""
    variant = variant or (variant_of(obj) or ("preference", "explicit"))[1]
    if variant == "openai":
        inner: dict[str, Any] = obj["input"] if isinstance(obj.get("input"), dict) else {}
        return Pair(message_list(inner.get("messages"), "input.messages"),
                    message_list(obj.get("preferred_output"), "preferred_output"),
                    message_list(obj.get("non_preferred_output"), "non_preferred_output"))
    if variant == "sharegpt":
        prompt = chat_messages({k: obj[k] for k in ("conversations", "system") if k in obj})
        return Pair(prompt, message_list(obj.get("chosen"), "chosen"), message_list(obj.get("rejected"), "rejected"))
    chosen, rejected = obj.get("chosen"), obj.get("rejected")
    if variant == "implicit" and isinstance(chosen, str) and isinstance(rejected, str):
        shared, c, r, diverged = _split_transcripts(chosen, rejected)
        return Pair([Message("user", shared, "chosen", content_key="")] if shared else [],
                    [Message("assistant", c, "chosen", content_key="")],
                    [Message("assistant", r, "rejected", content_key="")], diverged)
    if variant == "implicit":
        c_msgs, r_msgs = message_list(chosen, "chosen"), message_list(rejected, "rejected")
        last = min(_last_assistant(c_msgs), _last_assistant(r_msgs))
        # the prompt ends before the last answer even when the sides agree on it: identical
        # sides are an identical pair, not two empty answers
        n = min(_common_prefix(c_msgs, r_msgs), last)
        diverged = n < last
        return Pair(c_msgs[:n], c_msgs[n:], r_msgs[n:], diverged)
    prompt_value = obj.get("prompt")
    prompt = message_list(prompt_value, "prompt") if isinstance(prompt_value, list) \
        else [Message("user", prompt_value, "prompt", content_key="")]
    return Pair(prompt, message_list(chosen, "chosen"), message_list(rejected, "rejected"))


def conversations(obj: Any, layout: str) -> list[tuple[str, list[Message]]]:
    """The record as the conversations a trainer builds from it, each named: one for chat and
    KTO, prompt + completion for conversational prompt-completion, two (prompt + chosen,
    prompt + rejected) for preference. Records of string fields give no conversation."""
    if not isinstance(obj, dict):
        return []
    if layout == "chat" or (layout == "kto" and "messages" in obj):
        return [("messages", chat_messages(obj))] if ("messages" in obj or "conversations" in obj) else []
    if layout in ("completion", "kto") and (is_messages(obj.get("prompt")) or is_messages(obj.get("completion"))):
        return [("record", message_list(obj.get("prompt"), "prompt") + message_list(obj.get("completion"), "completion"))]
    if layout == "preference":
        variant = (variant_of(obj) or ("preference", "explicit"))[1]
        if variant in ("openai", "sharegpt") or is_messages(obj.get("chosen")) or is_messages(obj.get("prompt")):
            pair = preference_pair(obj, variant)
            return [("chosen", pair.prompt + pair.chosen), ("rejected", pair.prompt + pair.rejected)]
    return []


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True, slots=True)
class Part:
    """One text part of a record: what it is to the model, its text, and where it sits."""

    role: str  # one of PART_ROLES
    text: str
    path: str


_TURN_ROLE = {"system": "system", "user": "prompt", "assistant": "response", "tool": "tool_result",
              "developer": "system", "function": "tool_result"}  # the plain path reads roles as written


def _message_parts(msgs: Iterable[Message], answer_role: str | None = None) -> Iterator[Part]:
    for m in msgs:
        role = _TURN_ROLE.get(m.role, "prompt") if isinstance(m.role, str) else "prompt"  # a list is no role
        if m.speaker == "function_call":
            role = "tool_call"
        if answer_role and role == "response":
            role = answer_role
        if m.content is not None:  # a number where text belongs is format's finding, and still text here
            yield Part(role, as_text(m.content), m.content_path)
        if m.tool_calls:  # arguments are trained on too
            yield Part("tool_call", json.dumps(m.tool_calls, ensure_ascii=False), f"{m.path}.tool_calls")


def _text_part(obj: dict[str, Any], key: str, role: str, options: ReadOptions, source: Any,
               layout: str) -> Iterator[Part]:
    value = obj.get(key)
    if isinstance(value, str):
        yield Part(role, value, column_of(key, source, options, layout))
    elif isinstance(value, list):
        yield from _message_parts(message_list(value, column_of(key, source, options, layout)),
                                  "response" if role == "response" else None)


def _history_parts(turns: Any) -> Iterator[Part]:
    """LLaMA-Factory's `history`: [[query, answer], ...] before the instruction."""
    if not isinstance(turns, list):
        return
    for i, pair in enumerate(turns):
        if isinstance(pair, list):
            for j, (role, text) in enumerate(zip(("prompt", "response"), pair)):
                if isinstance(text, str):
                    yield Part(role, text, f"history[{i}][{j}]")


def _tools_part(obj: dict[str, Any]) -> Iterator[Part]:
    declared = declared_tools(obj)
    if declared and declared[0] not in (None, "", [], "[]"):  # ShareGPT writes no tools as "[]"
        value, path = declared
        yield Part("tools", value if isinstance(value, str) else json.dumps(value, ensure_ascii=False), path)


def fields(obj: Any, layout: str, options: ReadOptions | None = None) -> list[Part]:
    """Every text part of a parsed record, in reading order, with its role."""
    if layout == "chat" and not (options and options.fields) and (plain := _plain_chat_parts(obj)) is not None:
        return plain
    options = options or ReadOptions()
    source, obj = obj, mapped(obj, options, layout)
    if not isinstance(obj, dict):
        return [Part("text", as_text(obj), "(record)")] if obj is not None else []
    return list(_fields(obj, layout, options, source))


# keys that make a chat record more than its messages: a label, tools, DPO-style `input`
_NOT_PLAIN_CHAT = frozenset((*LABEL_KEYS, "tools", "functions", "input"))


def _plain_chat_parts(obj: Any) -> list[Part] | None:
    """The parts of the commonest record, OpenAI chat turns of text and nothing else, read
    without building Messages (the parts `_fields` gives it: every pass over a chat set reads
    them); None for any other record."""
    turns = obj.get("messages") if type(obj) is dict else None
    if type(turns) is not list or not _NOT_PLAIN_CHAT.isdisjoint(obj):
        return None
    parts = []
    for i, turn in enumerate(turns):
        if type(turn) is not dict:
            return None
        name, content = turn.get("role"), turn.get("content")
        role = _TURN_ROLE.get(name) if type(name) is str else None
        if role is None or type(content) is not str or turn.get("tool_calls") or turn.get("function_call"):
            return None
        parts.append(Part(role, content, f"messages[{i}].content"))
    return parts


def _fields(obj: dict[str, Any], layout: str, options: ReadOptions, source: Any) -> Iterator[Part]:
    yield from _tools_part(obj)
    if layout in ("chat", "kto") and ("messages" in obj or "conversations" in obj):
        yield from _message_parts(chat_messages(obj))
    elif layout == "preference":
        pair = preference_pair(obj)
        yield from _message_parts(pair.prompt)
        yield from _message_parts(pair.chosen, "chosen")
        yield from _message_parts(pair.rejected, "rejected")
    elif layout == "instruction":
        yield from _text_part(obj, "system", "system", options, source, layout)
        yield from _history_parts(obj.get("history"))
        for key in ("instruction", "input"):
            yield from _text_part(obj, key, "prompt", options, source, layout)
        yield from _text_part(obj, "output" if "output" in obj else "response", "response", options, source, layout)
    elif layout in ("completion", "kto"):
        yield from _text_part(obj, "prompt", "prompt", options, source, layout)
        yield from _text_part(obj, "completion", "response", options, source, layout)
    elif layout == "classification":
        yield from _text_part(obj, "text", "prompt", options, source, layout)
    elif layout == "text":
        yield from _text_part(obj, "text", "text", options, source, layout)
    label = obj.get("label")
    if label is not None:
        yield Part("label", label if isinstance(label, str) else json.dumps(label), column_of("label", source, options))


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class View:
    prompt: str
    response: str
    text: str
    label: str | None
    system: str | None
    turns: int
    rejected: str = ""


def _label(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # NaN from CSV/pandas
        return None
    if isinstance(value, str) and not value.strip():
        return None  # an empty label is a missing one, not a class named ''
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _turn_view(msgs: Sequence[Message], label: str | None, rejected: str = "",
               answers: Sequence[Message] | None = None) -> View:
    """Views of turns: the prompt is the user turns, the response the assistant's (or the
    given answers'), the text every turn in order."""
    system = next((as_text(m.content) for m in msgs if m.role == "system"), None)
    prompt = "\n".join(m.text for m in msgs if m.role == "user")
    if answers is None:
        response = "\n".join(m.text for m in msgs if m.role == "assistant")
        text = "\n".join(m.text for m in msgs)
        return View(prompt, response, text, label, system, len(msgs), rejected)
    response = "\n".join(m.text for m in answers)
    text = _join(*(m.text for m in msgs), response, rejected)
    return View(prompt, response, text, label, system, len(msgs) + len(answers), rejected)


def _plain_chat_view(parts: list[Part]) -> View:
    """`_turn_view` of a plain chat record (see `_plain_chat_parts`: no label, text turns)."""
    system = next((p.text for p in parts if p.role == "system"), None)
    prompt = "\n".join([p.text for p in parts if p.role == "prompt"])
    response = "\n".join([p.text for p in parts if p.role == "response"])
    return View(prompt, response, "\n".join([p.text for p in parts]), None, system, len(parts))


def view_of(obj: Any, layout: str, options: ReadOptions | str | None = None) -> View:
    """The views of one parsed record under a layout; lenient, since format reports breakage."""
    options = as_options(options)
    if not isinstance(obj, dict):
        return View("", "", as_text(obj), None, None, 0)
    if layout.startswith(PROMPTS):
        return _prompt_view(obj, layout, options)
    obj = mapped(obj, options, layout)
    # KTO's boolean is desirability, read by the preference check, not a class to balance
    label = None if layout == "kto" and options.label is None else _label(obj.get("label"))
    if layout == "chat":
        if not options.fields and (plain := _plain_chat_parts(obj)) is not None:
            return _plain_chat_view(plain)
        return _turn_view(chat_messages(obj), label)
    if layout == "instruction":
        prompt = _join(as_text(obj.get("instruction")), as_text(obj.get("input")))
        response = as_text(obj.get("output", obj.get("response")))
        system = as_text(obj.get("system")) or None
        return View(prompt, response, _join(system or "", prompt, response), label, system, 2)
    if layout == "preference":
        return _preference_view(obj, label)
    if layout in ("completion", "kto"):
        if layout == "kto" and "messages" in obj:
            return _turn_view(chat_messages(obj), label)
        return _completion_view(obj, label)
    if layout == "classification":
        text = as_text(obj.get("text"))
        return View(text, "", text, label, None, 1)
    if layout == "text":
        text = as_text(obj.get("text"))
        return View("", "", text, label, None, 1)
    return View("", "", "", label, None, 0)


def _completion_view(obj: dict[str, Any], label: str | None) -> View:
    prompt_value, completion = obj.get("prompt"), obj.get("completion")
    if isinstance(prompt_value, list) or isinstance(completion, list):
        return _turn_view(message_list(prompt_value, "prompt"), label,
                          answers=message_list(completion, "completion"))
    prompt, response = as_text(prompt_value), as_text(completion)
    return View(prompt, response, _join(prompt, response), label, None, 2)


def _preference_view(obj: dict[str, Any], label: str | None) -> View:
    variant = (variant_of(obj) or ("preference", "explicit"))[1]
    if variant == "explicit" and not any(isinstance(obj.get(k), list) for k in ("prompt", "chosen", "rejected")):
        prompt, chosen, rejected = (as_text(obj.get(k)) for k in ("prompt", "chosen", "rejected"))
        return View(prompt, chosen, _join(prompt, chosen, rejected), label, None, 2, rejected)
    pair = preference_pair(obj, variant)
    rejected = "\n".join(m.text for m in pair.rejected)
    view = _turn_view(pair.prompt, label, rejected, answers=pair.chosen)
    if variant == "implicit" and pair.prompt and pair.prompt[0].content_key == "":
        return View(as_text(pair.prompt[0].content), view.response, view.text, label, None, 2, rejected)
    return view


def _prompt_view(obj: dict[str, Any], layout: str, options: ReadOptions) -> View:
    """Production inputs: chat or instruction records, a named field, a known prompt key, or
    else the longest string field (a log's message, not its timestamp or session id)."""
    named = layout.partition(":")[2]
    label_options = options if options.label else ReadOptions.of(label_field="label")
    if not named and ("messages" in obj or "conversations" in obj):
        return view_of(obj, "chat", label_options)
    if not named and "instruction" in obj:
        return view_of(obj, "instruction", label_options)
    key = named or next((k for k in PROMPT_KEYS if k in obj), None)
    if key is None:
        strings = [v for v in obj.values() if isinstance(v, str)]
        text = max(strings, key=len, default="")
    else:
        text = as_text(obj.get(key))
    return View(text, "", text, _label(obj.get(options.label or "label")), None, 1)


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class RawItem:
    """One record as a loader read it: parsed JSON, or the text it could not parse and why."""

    line: int | None
    obj: Any
    raw: str
    error: str | None = None


def build_batch(items: Sequence[RawItem], first_index: int, layout: str, source: str,
                options: ReadOptions | str | None) -> RecordBatch:
    """Views and validity of every record, computed once here at load."""
    from fineaudit.dataset.layout_rules import encode_problems, is_valid, record_problems  # rules read layouts

    options = as_options(options)
    cols: dict[str, list[Any]] = {c: [] for c in RecordBatch.COLUMNS}
    validate = layout in LAYOUTS
    for offset, item in enumerate(items):
        parsed = item.error is None
        view = view_of(item.obj, layout, options) if parsed else View("", "", item.raw, None, None, 0)
        problems = record_problems(item.obj, layout, options) if parsed and validate else []
        cols["index"].append(first_index + offset)
        cols["line"].append(item.line)
        cols["raw"].append(item.raw)
        cols["error"].append(item.error)
        cols["problems"].append(encode_problems(problems))
        cols["valid"].append(parsed and is_valid(problems))
        for name in ("prompt", "response", "text", "label", "system", "turns", "rejected"):
            cols[name].append(getattr(view, name))
    return RecordBatch(source=source, **cols)


__all__ = ["BARE_TOOL_PATHS", "FORMAT_CHOICES", "LAYOUTS", "LABEL_KEYS", "FIELD_ROLES", "PART_ROLES", "ROLE_ALIASES",
           "Message", "Pair", "Part",
           "RawItem", "ReadOptions", "UnknownLayout", "View", "as_text", "build_batch", "chat_messages",
           "conversations", "declared_tools", "detect_layout", "fields", "layout_of", "mapped",
           "message_list", "parallel_tool_calls", "preference_pair", "preference_scores", "variant_of", "view_of"]
