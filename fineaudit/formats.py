"""Record layouts: detection, their JSON Schemas, and the views every checker sees.

The views (prompt, response, whole text, label, system prompt, turn count) are defined here
once, for every layout; checkers never look at raw keys to find the text.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from fineaudit.core import ConfigError, FineauditError, RecordBatch

LAYOUTS = ("chat", "instruction", "completion", "classification", "preference")
FORMAT_CHOICES = ("auto", *LAYOUTS)
# Production samples are often prompts alone; this lenient layout reads whatever carries one.
# "prompts:FIELD" reads the prompt from FIELD (config `production_field`, for logs with metadata).
PROMPTS = "prompts"
PROMPT_KEYS = ("prompt", "text", "input", "question", "query", "message", "content", "user_input",
               "utterance", "request")


def prompts_layout(field: str | None) -> str:
    return f"{PROMPTS}:{field}" if field else PROMPTS

KNOWN_ROLES = ("system", "user", "assistant", "tool")
# ShareGPT speaker names (the `from` of `conversations`) and what they mean
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant",
                  "system": "system", "tool": "tool", "function": "tool", "observation": "tool",
                  "function_call": "assistant"}

# the keys that identify each layout; the first matching rule wins for one record
_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chat", ("messages",)),
    ("chat", ("conversations",)),
    ("preference", ("prompt", "chosen", "rejected")),
    ("completion", ("prompt", "completion")),
    ("instruction", ("instruction", "output")),
    ("instruction", ("instruction", "response")),
    ("classification", ("text", "label")),
)


class UnknownLayout(FineauditError):
    pass


def layout_of(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    for layout, keys in _SIGNATURES:
        if all(k in obj for k in keys):
            return layout
    return None


def detect_layout(objects: Iterable[Any], where: str = "data", first_error: str | None = None) -> str:
    """The layout of the majority of these records; UnknownLayout when there is none.

    `first_error` (the first unparsable line, if any) is quoted when nothing could be parsed,
    since then it, not the layout, is what the user must fix."""
    votes: Counter[str] = Counter()
    keys_seen: Counter[str] = Counter()
    seen = 0
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        seen += 1
        keys_seen.update(obj.keys())
        layout = layout_of(obj)
        if layout:
            votes[layout] += 1
    ranked = votes.most_common(2)
    if ranked and ranked[0][1] * 2 > seen and (len(ranked) == 1 or ranked[1][1] < ranked[0][1]):
        return ranked[0][0]
    keys = ", ".join(k for k, _ in keys_seen.most_common(12)) or "none (no parsable JSON object)"
    if not seen and first_error:
        raise UnknownLayout(f"{where}: no record could be parsed; the first bad one is at {first_error}")
    what = ("ambiguous layout (" + " vs ".join(f"{n}: {c} records" for n, c in ranked) + ")"
            if len(ranked) > 1 else "unknown layout")
    raise UnknownLayout(
        f"{where}: {what}; keys seen: {keys}. Expected one of: " + "; ".join(
            f"{name} ({', '.join(keys_)})" for name, keys_ in _SIGNATURES)
        + ". Pass --format to choose one.")


def check_format_name(name: str) -> str:
    if name not in FORMAT_CHOICES:
        raise ConfigError(f"unknown format {name!r}; valid: {', '.join(FORMAT_CHOICES)}")
    return name


@lru_cache(maxsize=None)
def schema(layout: str) -> dict[str, Any]:
    """The JSON Schema of a layout (shipped in fineaudit/schemas/)."""
    text = resources.files("fineaudit").joinpath("schemas", f"{layout}.schema.json").read_text("utf-8")
    return json.loads(text)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: Any
    path: str  # where it sits in the record, e.g. "messages[2]" or "conversations[1]"
    tool_calls: Any = None  # an assistant's function calls (OpenAI `tool_calls` / `function_call`)

    @property
    def text(self) -> str:
        """What the model reads or writes in this turn: its content, and its calls as JSON."""
        calls = json.dumps(self.tool_calls, ensure_ascii=False) if self.tool_calls else ""
        return "\n".join(t for t in (as_text(self.content), calls) if t)


def as_text(value: Any) -> str:
    """Text of a field that should be a string; content-part lists are joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts: [{"type": "text", "text": ...}]
        return "\n".join(as_text(p.get("text") if isinstance(p, dict) else p) for p in value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)


def chat_messages(obj: dict[str, Any]) -> list[Message]:
    """The turns of a chat record, with ShareGPT speakers mapped to roles."""
    if isinstance(obj.get("messages"), list):
        return [Message(m.get("role"), m.get("content"), f"messages[{i}]",
                        m.get("tool_calls") or m.get("function_call")) if isinstance(m, dict)
                else Message(None, m, f"messages[{i}]")
                for i, m in enumerate(obj["messages"])]
    turns = obj.get("conversations")
    if not isinstance(turns, list):
        return []
    out = []
    if isinstance(obj.get("system"), str) and obj["system"]:
        out.append(Message("system", obj["system"], "system"))
    for i, m in enumerate(turns):
        speaker = m.get("from") if isinstance(m, dict) else None
        role = SHAREGPT_ROLES.get(str(speaker).lower(), speaker) if speaker is not None else None
        out.append(Message(role, m.get("value") if isinstance(m, dict) else m, f"conversations[{i}]"))
    return out


@dataclass(frozen=True, slots=True)
class View:
    prompt: str
    response: str
    text: str
    label: str | None
    system: str | None
    turns: int


def _label(obj: dict[str, Any], label_field: str | None) -> str | None:
    value = obj.get(label_field) if label_field else None
    if value is None or (isinstance(value, float) and value != value):  # NaN from CSV/pandas
        return None
    if isinstance(value, str) and not value.strip():
        return None  # an empty label is a missing one, not a class named 
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def view_of(obj: Any, layout: str, label_field: str | None = None) -> View:
    """The views of one parsed record under a layout; lenient, since format reports breakage."""
    if not isinstance(obj, dict):
        return View("", "", as_text(obj), None, None, 0)
    if layout.startswith(PROMPTS):
        return _prompt_view(obj, layout, label_field)
    if layout == "classification":
        label_field = label_field or "label"
    label = _label(obj, label_field)
    if layout == "chat":
        msgs = chat_messages(obj)
        system = next((as_text(m.content) for m in msgs if m.role == "system"), None)
        prompt = "\n".join(m.text for m in msgs if m.role == "user")
        response = "\n".join(m.text for m in msgs if m.role == "assistant")
        text = "\n".join(m.text for m in msgs)
        return View(prompt, response, text, label, system, len(msgs))
    if layout == "instruction":
        prompt = _join(as_text(obj.get("instruction")), as_text(obj.get("input")))
        response = as_text(obj.get("output", obj.get("response")))
        system = as_text(obj.get("system")) or None
        return View(prompt, response, _join(system or "", prompt, response), label, system, 2)
    if layout == "completion":
        prompt, response = as_text(obj.get("prompt")), as_text(obj.get("completion"))
        return View(prompt, response, _join(prompt, response), label, None, 2)
    if layout == "preference":
        prompt, chosen = as_text(obj.get("prompt")), as_text(obj.get("chosen"))
        return View(prompt, chosen, _join(prompt, chosen, as_text(obj.get("rejected"))), label, None, 2)
    if layout == "classification":
        text = as_text(obj.get("text"))
        return View(text, "", text, label, None, 1)
    return View("", "", "", label, None, 0)


def _prompt_view(obj: dict[str, Any], layout: str, label_field: str | None) -> View:
    """Production inputs: chat or instruction records, a named field, a known prompt key, or
    else the longest string field (a log's message, not its timestamp or session id)."""
    named = layout.partition(":")[2]
    if not named and ("messages" in obj or "conversations" in obj):
        return view_of(obj, "chat", label_field or "label")
    if not named and "instruction" in obj:
        return view_of(obj, "instruction", label_field or "label")
    key = named or next((k for k in PROMPT_KEYS if k in obj), None)
    if key is None:
        strings = [v for v in obj.values() if isinstance(v, str)]
        text = max(strings, key=len, default="")
    else:
        text = as_text(obj.get(key))
    return View(text, "", text, _label(obj, label_field or "label"), None, 1)


@dataclass(frozen=True, slots=True)
class RawItem:
    """One record as a loader read it: parsed JSON, or the text it could not parse and why."""

    line: int | None
    obj: Any
    raw: str
    error: str | None = None


def build_batch(items: Sequence[RawItem], first_index: int, layout: str, source: str,
                label_field: str | None) -> RecordBatch:
    cols: dict[str, list[Any]] = {c: [] for c in RecordBatch.COLUMNS}
    for offset, item in enumerate(items):
        view = view_of(item.obj, layout, label_field) if item.error is None else View("", "", item.raw, None, None, 0)
        cols["index"].append(first_index + offset)
        cols["line"].append(item.line)
        cols["raw"].append(item.raw)
        cols["error"].append(item.error)
        for name in ("prompt", "response", "text", "label", "system", "turns"):
            cols[name].append(getattr(view, name))
    return RecordBatch(source=source, **cols)
