#!/usr/bin/env python3
"""Rebuild sample_data/ from LLaMA-Factory's alpaca_en_demo.json (Apache-2.0).

    python sample_data/make_sample_data.py [path/to/alpaca_en_demo.json]

Writes train.jsonl (clean chat data), eval.jsonl, production.jsonl (prompts only) and
flawed.jsonl (a copy of part of train with one planted defect per marked line). Deterministic.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "realdata" / "llama_factory" / "alpaca_en_demo.json"
SYSTEM = "You are a helpful assistant."
# records whose text trips a check on purpose-free data would muddy the clean example
EXCLUDE = re.compile(r"as an ai|i'm an ai|i am an ai|i'm sorry|i am sorry|@|https?://|"
                     r"\b\d{3}[-.\s]\d{3}[-.\s]\d{4}\b|\[[A-Z][^\]]{1,30}\]", re.I)


def to_chat(record: dict) -> dict:
    user = record["instruction"] + (f"\n\n{record['input']}" if record["input"] else "")
    return {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": user},
                         {"role": "assistant", "content": record["output"]}]}


def clean_records(source: Path) -> list[dict]:
    seen: set[str] = set()
    out = []
    for record in json.loads(source.read_text(encoding="utf-8")):
        key = " ".join(record["instruction"].lower().split())
        text = " ".join(record.values())
        if key in seen or EXCLUDE.search(text) or len(record["output"].split()) < 3:
            continue
        seen.add(key)
        out.append(record)
    return out


def flawed_lines(train: list[dict]) -> list[str]:
    """150 training records, 13 of them made into the defects a reviewer should catch."""
    rows = [json.dumps(r, ensure_ascii=False) for r in train[:150]]

    def with_response(i: int, text: str) -> str:
        rec = json.loads(rows[i])
        rec["messages"][-1]["content"] = text
        return json.dumps(rec, ensure_ascii=False)

    own = {i: json.loads(rows[i]) for i in (7, 20)}  # defects made from the line's own record
    near = json.loads(rows[12])
    near["messages"][-1]["content"] = near["messages"][-1]["content"].replace(".", "!", 1)
    rows[3] = rows[3][:-9]  # truncated line: unparsable JSON
    rows[7] = json.dumps({"messages": own[7]["messages"][:2]})  # no assistant turn
    rows[20] = json.dumps({"messages": [own[20]["messages"][0], dict(own[20]["messages"][1], role="human"),
                                        own[20]["messages"][2]]})  # unknown role
    rows[30] = rows[40]  # exact duplicate
    rows[31] = json.dumps(near, ensure_ascii=False)  # near-duplicate of line 13
    rows[50] = with_response(50, "   ")  # empty response
    rows[60] = with_response(60, "Use this key: sk-proj-" + "Zx8" * 15 + " and keep it secret.")
    rows[70] = with_response(70, "Please e-mail our support lead at maria.garcia@example.org for help.")
    rows[80] = with_response(80, "As an AI language model, I cannot assist with that request.")
    rows[90] = with_response(90, "The caf\u00c3\u00a9 was open, and the weather was \u00e2\u20ac\u0153nice\u00e2\u20ac\u009d.")
    rows[100] = with_response(100, "Hello, I am <NAME>, an assistant developed by <AUTHOR>.")
    rows[110] = with_response(110, "The answer is yes. " * 3000)  # degenerate and too long
    rows[120] = '{"instruction": "Summarize the text.", "output": "A summary."}'  # another layout
    return rows


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    records = clean_records(source)
    train, held_out, production = records[:600], records[600:700], records[700:850]
    write(HERE / "train.jsonl", [json.dumps(to_chat(r), ensure_ascii=False) for r in train])
    write(HERE / "eval.jsonl", [json.dumps(to_chat(r), ensure_ascii=False) for r in held_out])
    write(HERE / "production.jsonl", [json.dumps({"prompt": to_chat(r)["messages"][1]["content"]},
                                                 ensure_ascii=False) for r in production])
    write(HERE / "flawed.jsonl", flawed_lines([to_chat(r) for r in train]))
    print(f"{len(records)} usable records: train 600, eval 100, production {len(production)}, flawed 150")


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
