"""How many tokens one record trains on: its parts by kind (prompt, answer, neither), counted in
one tokenizer call per batch, and the total a trainer sees (template overhead included; for a
preference pair the longer of prompt + chosen and prompt + rejected). `length` reports these
counts and `cost` bills them; both count the same way through this module."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

from fineaudit.core import ReadOptions, RecordBatch
from fineaudit.dataset.formats import fields
from fineaudit.text.token_counting import count_tokens

PROMPT, RESPONSE, OTHER, REJECTED = 0, 1, 2, 3
# what each part of a record adds to: the prompt, the answer, or neither (system prompts, tool
# declarations and results are read by the model, trained on by none); labels are not text
_KIND = {"prompt": PROMPT, "response": RESPONSE, "chosen": RESPONSE, "tool_call": RESPONSE,
         "rejected": REJECTED, "system": OTHER, "tools": OTHER, "tool_result": OTHER, "text": OTHER}


def record_parts(batch: RecordBatch, i: int, layout: str,
                 options: ReadOptions | None) -> tuple[list[tuple[int, str]], bool]:
    """(kind, text) of each part of a record, and whether it has an answer at all (a chat
    without an assistant turn is format's finding, not an empty response)."""
    parts = [(_KIND[p.role], p.text) for p in fields(orjson.loads(batch.raw[i]), layout, options) if p.role in _KIND]
    if layout != "chat":
        return [(kind, text) for kind, text in parts if text], True
    return parts, any(kind == RESPONSE for kind, _ in parts)


@dataclass
class PartCounts:
    """One batch's parsed records: their rows, parts, token sums by kind and turn counts."""

    rows: list[int]
    parts: list[tuple[list[tuple[int, str]], bool]]
    sums: np.ndarray  # (records, 4): PROMPT, RESPONSE, OTHER, REJECTED
    turns: np.ndarray

    def totals(self, per_message: int, per_record: int) -> np.ndarray:
        """Training tokens per record; a preference pair is two sequences, the longer counts."""
        answer = np.maximum(self.sums[:, RESPONSE], self.sums[:, REJECTED])
        return self.sums[:, PROMPT] + self.sums[:, OTHER] + answer + per_message * self.turns + per_record


def count_parts(spec: str, layout: str, batch: RecordBatch, options: ReadOptions | None = None) -> PartCounts:
    """Every text of the batch's parsed records counted once, in one tokenizer call."""
    rows = [i for i, e in enumerate(batch.error) if e is None]
    parts = [record_parts(batch, i, layout, options) for i in rows]
    texts = [text for record, _ in parts for _, text in record]
    # each distinct text counted once: system prompts and tool declarations repeat across a set
    distinct = list(dict.fromkeys(texts))
    tokens = dict(zip(distinct, count_tokens(spec, distinct)))
    counted = iter([tokens[text] for text in texts])
    sums = np.zeros((len(rows), 4), dtype=np.int64)
    for k, (record, _) in enumerate(parts):
        for kind, _ in record:
            sums[k, kind] += next(counted)
    turns = np.array([max(len([p for p in record if p[0] != REJECTED]), batch.turns[i]) if layout != "chat"
                      else batch.turns[i] for (record, _), i in zip(parts, rows)], dtype=np.int64)
    return PartCounts(rows, parts, sums, turns)


__all__ = ["OTHER", "PROMPT", "REJECTED", "RESPONSE", "PartCounts", "count_parts", "record_parts"]
