"""`fineaudit sample`: a stratified, seeded random sample of records for a person to read.

Strata are the labels when records have one, else four length bands (quartiles of the
record's character length: reading only short records hides the problems of long ones).
Each stratum gets a share of the sample proportional to its size, and at least one record
while the sample has room (taken from the most over-served strata), so a rare class is always
seen. Within a stratum the records are
picked with `engines.grouping.sample_indices`, the seeded hash every engine shares, under the
stratum's own seed: a hash of (seed, stratum name). One seed for every stratum would pick the
same relative positions in each (the first tenth of every class, say), so over many strata the
picks were correlated and not uniform; with a stream per stratum they are independent, and the
whole draw is still reproducible from `--seed` alone.

The Markdown shows each part of a record under its role (tool calls as `name(arguments)`, tool
results and arguments as indented JSON); text from the data goes through `render.safe_text`, so
secrets are masked and escape sequences, HTML and links in records, roles, keys and labels stay
text in a terminal and in a Markdown viewer. The JSONL output is the original records.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from fineaudit.config import Config
from fineaudit.core import ReadOptions, Record, RecordBatch
from fineaudit.engines.grouping import sample_indices
from fineaudit.dataset.formats import fields
from fineaudit.dataset.loaders import open_source
from fineaudit.render.safe_text import code_span, markdown, plain, plural

LENGTH_BANDS = ("shortest quarter", "second quarter", "third quarter", "longest quarter")


def strata_batch(batch: RecordBatch) -> tuple[list[int], list[str | None], list[int]]:
    """(index, label, character length) of every parsable record of a batch."""
    rows = [i for i, e in enumerate(batch.error) if e is None]
    return ([batch.index[i] for i in rows], [batch.label[i] for i in rows], [len(batch.text[i]) for i in rows])


def strata(index: Sequence[int], labels: Sequence[str | None], lengths: Sequence[int]) -> tuple[str, dict[str, list[int]]]:
    """How the records are stratified, and the record indices of each stratum."""
    groups: dict[str, list[int]] = {}
    if any(label is not None for label in labels):
        for i, label in zip(index, labels):
            groups.setdefault("(no label)" if label is None else label, []).append(i)
        return "label", groups
    cuts = np.percentile(np.asarray(lengths), [25, 50, 75]) if len(lengths) else np.zeros(3)
    bands = np.searchsorted(cuts, np.asarray(lengths), side="left")
    for i, band in zip(index, bands.tolist()):
        groups.setdefault(LENGTH_BANDS[band], []).append(i)
    return "length band", groups


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional shares, with at least one per stratum while n allows (the smallest first).

    The minimum of one comes out of the strata furthest above their exact share, so a rare
    class is seen without the others losing more than it gets."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    if n <= len(sizes):
        order = sorted(sizes, key=lambda k: (sizes[k], k))
        return {k: 1 if order.index(k) < n else 0 for k in sizes}
    exact = {k: n * sizes[k] / total for k in sizes}
    shares = {k: min(sizes[k], max(1, int(exact[k]))) for k in sizes}
    while sum(shares.values()) > n:  # the minimums overshot: take from the most over-served
        k = min((k for k in sizes if shares[k] > 1), key=lambda k: (exact[k] - shares[k], k))
        shares[k] -= 1
    while sum(shares.values()) < n:  # largest remainder first, among strata with records to spare
        k = min((k for k in sizes if shares[k] < sizes[k]), key=lambda k: (shares[k] - exact[k], k))
        shares[k] += 1
    return shares


def pick(groups: dict[str, list[int]], n: int, seed: int) -> list[tuple[str, int]]:
    """(stratum, record index) of the sample, in record order."""
    shares = allocate({k: len(v) for k, v in groups.items()}, n)
    chosen = [(name, groups[name][j]) for name in sorted(groups)
              for j in sample_indices(len(groups[name]), shares[name], stratum_seed(seed, name))]
    return sorted(chosen, key=lambda item: item[1])


def stratum_seed(seed: int, stratum: str) -> int:
    """The stratum's own random stream: a 64-bit hash of (seed, stratum name), stable everywhere."""
    digest = hashlib.blake2b(f"{seed}\x00{stratum}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def sample_dataset(data: Any, count: int, *, seed: int = 0, config: Config | None = None,
                   as_jsonl: bool = False) -> str:
    """A stratified sample of `count` records of `data`, as Markdown (or the raw records as JSONL)."""
    from fineaudit.engines import make_engine  # engines import formats/loaders, not the reverse

    config = config or Config()
    source = open_source(data, "data")
    layout = config.format if config.format != "auto" else source.detect_layout(options=config.read_options())
    with make_engine("local", batch_size=config.batch_size, workers=config.workers or None,
                     max_record_bytes=config.max_record_bytes) as engine:
        records = engine.load(source, layout, "train", config.read_options())
        parts = records.map_batches(strata_batch)
        index = [i for part in parts for i in part[0]]
        labels = [label for part in parts for label in part[1]]
        lengths = [n for part in parts for n in part[2]]
        by, groups = strata(index, labels, lengths)
        chosen = pick(groups, count, seed)
        taken = records.take([i for _, i in chosen])
        total = len(records)
    if as_jsonl:
        return "".join(r.raw + "\n" for r in taken)
    sizes = {k: len(v) for k, v in groups.items()}
    return render_markdown(source.path, layout, by, sizes, list(zip((s for s, _ in chosen), taken)), seed,
                           unparsable=total - sum(sizes.values()))


# --------------------------------------------------------------------------- Markdown


def render_markdown(path: str | None, layout: str, by: str, sizes: dict[str, int],
                    sample: list[tuple[str, Record]], seed: int, unparsable: int = 0) -> str:
    ranked = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))
    strata_line = ", ".join(f"{code_span(k)} {v:,}" for k, v in ranked)
    parsable = plural(sum(sizes.values()), "parsable record" if unparsable else "record")
    # said, so that a reader does not take the sample for the whole file
    left_out = (f" ({plural(unparsable, 'record')} that could not be parsed left out: "
                "`fineaudit audit` lists them)" if unparsable else "")
    head = [f"# Sample of {len(sample)} of {parsable} from {code_span(path or '(in memory)')}{left_out}", "",
            f"Layout {code_span(layout)}; stratified by {by} ({strata_line}); seed {seed}: the same seed "
            "gives the same sample.", ""]
    return "\n".join(head + [section(stratum, record, layout, by) for stratum, record in sample])


def section(stratum: str, record: Record, layout: str, by: str) -> str:
    # the line a user opens; the 0-based index only where there is no line (in-memory data)
    where = f"line {record.line}" if record.line is not None else f"record {record.index}"
    lines = [f"## {where[0].upper()}{where[1:]} · {by} {code_span(stratum)}", ""]
    for role, text in turns(record, layout):
        lines += [f"**{markdown(role)}**", "", fenced(readable(role, text)), ""]
    return "\n".join(lines)


def turns(record: Record, layout: str, options: ReadOptions | None = None) -> list[tuple[str, str]]:
    """(role, text) of each part in reading order: chat turns, tool calls and results, fields."""
    obj = record.data()
    if not isinstance(obj, dict):
        return [("record", record.raw)]
    return [(part.path if part.path.isidentifier() else _SPEAKER.get(part.role, part.role), part.text)
            for part in fields(obj, layout, options)]


# how a turn's part is titled: a field keeps its name (`instruction`), a turn its speaker
_SPEAKER = {"prompt": "user", "response": "assistant", "tool_call": "assistant: tool call",
            "tool_result": "tool result", "tools": "declared tools"}


def readable(role: str, text: str) -> str:
    """Tool calls as `name(arguments)` with the arguments indented; JSON results indented."""
    if role not in ("assistant: tool call", "tool result", "declared tools"):
        return text
    value = _json_or_none(text)
    if value is None:
        return text
    if role == "assistant: tool call":
        calls = value if isinstance(value, list) else [value]
        if all(isinstance(c, dict) for c in calls):
            return "\n".join(_call_text(c) for c in calls)
    return json.dumps(value, ensure_ascii=False, indent=2)


def _call_text(call: dict[str, Any]) -> str:
    inner = call.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else call
    name = str(function.get("name", "(no name)"))
    arguments = function.get("arguments", function.get("parameters"))
    if isinstance(arguments, str):
        parsed = _json_or_none(arguments)
        arguments = parsed if parsed is not None else arguments
    shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, indent=2)
    return f"{name}({shown})"


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def fenced(text: str) -> str:
    """Text in a fence longer than any backtick run inside it, so it shows exactly as written;
    secrets masked and control characters escaped (the sample is read in terminals too)."""
    if not text.strip():
        return "*(empty)*"
    text = plain(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
