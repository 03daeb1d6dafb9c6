"""Write docs/layouts.md: one example record per layout and variant, with what fineaudit reads
from it (detected layout, prompt, response, rejected answer, problems), computed by the tool
itself so the page cannot go stale (tests/test_docs.py fails when it differs).

    python docs/make_layouts.py            # rewrite docs/layouts.md
    python docs/make_layouts.py --check    # exit 1 when docs/layouts.md is stale
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fineaudit.dataset.formats import ReadOptions, detect_layout, mapped, variant_of, view_of
from fineaudit.dataset.layout_rules import record_problems

DOC = Path(__file__).with_name("layouts.md")
Q = {"role": "user", "content": "What is the capital of France?"}
A = {"role": "assistant", "content": "Paris."}
B = {"role": "assistant", "content": "London."}

# (layout, variant, who publishes it, example record)
EXAMPLES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("chat", "messages", "OpenAI, Together, TRL conversational",
     {"messages": [{"role": "system", "content": "Answer briefly."}, Q, A]}),
    ("chat", "messages", "OpenAI function calling",
     {"tools": [{"type": "function", "function": {"name": "capital", "parameters": {
         "type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]}}}],
      "messages": [Q, {"role": "assistant", "content": None, "tool_calls": [
          {"id": "call_1", "type": "function", "function": {"name": "capital", "arguments": "{\"country\": \"France\"}"}}]},
          {"role": "tool", "tool_call_id": "call_1", "content": "Paris"}, A]}),
    ("chat", "messages", "OpenAI `developer` role (read as the system prompt)",
     {"messages": [{"role": "developer", "content": "Answer briefly."}, Q, A]}),
    ("chat", "messages", "OpenAI legacy function calling (`functions`, `function_call`, `function` results by name)",
     {"functions": [{"name": "capital", "parameters": {
         "type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]}}],
      "messages": [Q, {"role": "assistant", "function_call": {"name": "capital", "arguments": "{\"country\": \"France\"}"}},
                   {"role": "function", "name": "capital", "content": "Paris"}, A]}),
    ("chat", "sharegpt", "ShareGPT, LLaMA-Factory, FastChat",
     {"conversations": [{"from": "human", "value": Q["content"]}, {"from": "gpt", "value": "Paris."}]}),
    ("instruction", "output", "Alpaca, LLaMA-Factory",
     {"instruction": "Name the capital of the country.", "input": "France", "output": "Paris."}),
    ("instruction", "response", "GPTeacher, Dolly-style",
     {"instruction": "Name the capital of France.", "response": "Paris."}),
    ("completion", "prompt", "TRL prompt-completion (standard), Together",
     {"prompt": "The capital of France is", "completion": " Paris."}),
    ("completion", "prompt", "TRL prompt-completion (conversational)", {"prompt": [Q], "completion": [A]}),
    ("classification", "text", "text + label (also labels, category, class, intent, target)",
     {"text": "Has my top-up gone through?", "category": "pending_top_up"}),
    ("preference", "explicit", "TRL explicit prompt (standard)",
     {"prompt": Q["content"], "chosen": "Paris.", "rejected": "London."}),
    ("preference", "explicit", "TRL explicit prompt (conversational)", {"prompt": [Q], "chosen": [A], "rejected": [B]}),
    ("preference", "implicit", "TRL implicit prompt (conversational)", {"chosen": [Q, A], "rejected": [Q, B]}),
    ("preference", "implicit", "Anthropic HH-RLHF transcripts",
     {"chosen": "\n\nHuman: What is the capital of France?\n\nAssistant: Paris.",
      "rejected": "\n\nHuman: What is the capital of France?\n\nAssistant: London."}),
    ("preference", "openai", "OpenAI DPO, Together preference",
     {"input": {"messages": [Q]}, "preferred_output": [A], "non_preferred_output": [B]}),
    ("preference", "sharegpt", "LLaMA-Factory / ShareGPT preference",
     {"conversations": [{"from": "human", "value": Q["content"]}], "chosen": {"from": "gpt", "value": "Paris."},
      "rejected": {"from": "gpt", "value": "London."}}),
    ("kto", "prompt", "TRL unpaired preference (KTO)", {"prompt": Q["content"], "completion": "Paris.", "label": True}),
    ("kto", "messages", "LLaMA-Factory KTO", {"messages": [Q, B], "label": False}),
    ("text", "text", "continued pretraining", {"text": "Paris is the capital and largest city of France."}),
]


def section(layout: str, variant: str, who: str, record: dict[str, Any]) -> str:
    detected = detect_layout([record])
    found = variant_of(mapped(record, ReadOptions()))
    view = view_of(record, detected)
    problems = record_problems(record, detected)
    read = [("prompt", view.prompt), ("response", view.response), ("rejected", view.rejected),
            ("label", view.label)]
    lines = [f"### `{layout}` / {variant}: {who}", "", "```json", json.dumps(record, ensure_ascii=False), "```", "",
             f"Detected as `{detected}` (variant `{found[1] if found else '?'}`); "
             f"{'valid' if not problems else 'problems: ' + ', '.join(c for c, _, _ in problems)}.", ""]
    lines += [f"- {name}: `{json.dumps(value, ensure_ascii=False)}`" for name, value in read if value]
    return "\n".join(lines) + "\n"


def render() -> str:
    head = ("# Layouts\n\n_Generated by `python docs/make_layouts.py` from the tool's own reading of each "
            "example; do not edit by hand._\n\n`--format auto` (the default) detects the layout by the "
            "majority of the first 1,000 records. Every variant is read through the same views (prompt, "
            "response, rejected, text, label), so every check works on all of them. Columns with other "
            "names are mapped with `--field ROLE=COLUMN` or `[tool.fineaudit.fields]` (roles: prompt, "
            "response, text, label, chosen, rejected, messages), each onto the layout's own key (prompt "
            "and response are `instruction` and `output` in `instruction`, `prompt` and `completion` "
            "elsewhere); label columns named label, labels, "
            "category, class, intent or target are recognised without a mapping. Files may be compressed "
            "(`.gz`, `.bz2`, `.xz`, `.zst`). The JSON Schemas are in `fineaudit/schemas/`.\n\n")
    return head + "\n".join(section(*example) for example in EXAMPLES)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        return 0 if DOC.read_text("utf-8") == text else 1
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
