"""What each piece of per-record work costs, and how often an audit repeats it.

On the batches of a make_corpus chat corpus, in this process (no workers, no profiler), it
times (CPU time, which other processes on a shared machine disturb less than wall time) every step that the default checks' batch functions run, in microseconds per record:
the spool read each pass pays (Arrow -> Python lists: all columns, or only those a pass uses),
parsing `raw` again, the chat turns, layout validation, normalization, the tokenizer, MinHash,
and each content detector. Then, from how many passes repeat a step (counted in the code of
the baseline, see docs/scale.md), what a fused pass would save on 100,000 records.

    PYTHONPATH=/tmp/fa-base:/tmp/fa-base-meta python benchmarks/bench_batch_costs.py --records 20000

It calls the checkers' module-level functions of that code; a step whose function has moved
is printed as "n/a".
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from synthetic_corpus import chat_corpus  # benchmarks/ is on sys.path when run as a script

from fineaudit.core import RecordBatch

Step = Callable[[RecordBatch], Any]
# step -> how many times the baseline's default audit runs it per record (what a fused pass
# with shared parsed objects, messages, validity and normalized text would run once)
REPEATS = {"spool read (all columns)": 11, "orjson.loads(raw)": 4, "chat_messages(obj)": 5,
           "record_problems (validation)": 2, "normalize_text(text)": 2, "normalize_text(prompt)": 1,
           "normalize_text(response)": 1}


def load_batches(records: int, batch_size: int = 5000) -> list[RecordBatch]:
    from fineaudit.dataset.formats import RawItem, build_batch

    with open(chat_corpus(records), "rb") as f:
        items = [RawItem(n, orjson.loads(line), line.decode("utf-8"), None) for n, line in enumerate(f, 1)]
    return [build_batch(items[i:i + batch_size], i, "chat", "train", None) for i in range(0, len(items), batch_size)]


def steps() -> dict[str, Step | None]:
    out: dict[str, Step | None] = {}
    for name, make in STEP_MAKERS.items():
        try:
            out[name] = make()
        except (ImportError, AttributeError, TypeError):
            out[name] = None
    return out


def _spool(columns: tuple[str, ...] | None) -> Step:
    from fineaudit.engines.spool import from_arrow, to_arrow

    def step(batch: RecordBatch) -> Any:
        table = to_arrow(batch)
        if columns is None:
            started = time.process_time()
            from_arrow(table, "train")
            return time.process_time() - started
        started = time.process_time()
        {c: table.column(c).to_pylist() for c in columns}
        return time.process_time() - started
    return step


def _objs(batch: RecordBatch) -> list[Any]:
    return [orjson.loads(r) for r in batch.raw]


def _per_record(fn: Callable[[Any], Any], source: Callable[[RecordBatch], list[Any]]) -> Step:
    def step(batch: RecordBatch) -> Any:
        values = source(batch)
        started = time.process_time()
        for v in values:
            fn(v)
        return time.process_time() - started
    return step


def _validation() -> Step:
    from fineaudit.dataset.layout_rules import record_problems

    return _per_record(lambda obj: record_problems(obj, "chat"), _objs)


def _messages() -> Step:
    from fineaudit.dataset.formats import chat_messages

    return _per_record(chat_messages, _objs)


def _normalize(column: str) -> Step:
    from fineaudit.text.normalize import normalize_text

    return _per_record(normalize_text, lambda b: getattr(b, column))


def _tokens() -> Step:
    from fineaudit.text.token_counting import count_tokens, load_counter

    load_counter("cl100k_base")  # the load is benchmarks/bench_tokenizer_load.py's business

    def step(batch: RecordBatch) -> Any:
        texts = [t for p, r, s in zip(batch.prompt, batch.response, batch.system) for t in (p, r, s or "")]
        started = time.process_time()
        count_tokens("cl100k_base", texts)
        return time.process_time() - started
    return step


def _minhash() -> Step:
    from fineaudit.vectors import minhash
    from fineaudit.text.normalize import Normalization

    def step(batch: RecordBatch) -> Any:
        started = time.process_time()
        words, offsets = minhash.word_hashes(batch.text, Normalization(True, True, False))
        shingles, s_offsets = minhash.shingle_hashes(words, offsets, 5)
        minhash.band_keys(minhash.signatures(shingles, s_offsets, 128, 0), *minhash.choose_bands(0.8, 128))
        return time.process_time() - started
    return step


def _content(finder: str) -> Step:
    from fineaudit.text import content_patterns as cp
    from fineaudit.checkers.content import text_fields

    fields = lambda b: [t for obj in _objs(b) for t in text_fields(obj, "chat")]  # noqa: E731
    calls: dict[str, Callable[[tuple[str, str, str]], Any]] = {
        "text_fields": lambda f: None,
        "find_secrets": lambda f: list(cp.find_secrets(f[2], f[2].lower())),
        "find_pii": lambda f: list(cp.find_pii(f[2], "US")),
        "find_encoding": lambda f: list(cp.find_encoding(f[2], f[1] == "response")),
        "find_placeholders": lambda f: list(cp.find_placeholders(f[2])),
        "find_boilerplate": lambda f: list(cp.find_boilerplate(f[2], f[2].lower())) if f[1] == "response" else None,
        "repeated_unit": lambda f: cp.repeated_unit(f[2], 12, 0.3) if f[1] == "response" else None,
    }
    if finder == "text_fields":
        return _per_record(lambda obj: list(text_fields(obj, "chat")), _objs)
    return _per_record(calls[finder], fields)


STEP_MAKERS: dict[str, Callable[[], Step]] = {
    "spool read (all columns)": lambda: _spool(None),
    "spool read (raw only)": lambda: _spool(("raw",)),
    "spool read (index, text only)": lambda: _spool(("index", "text")),
    "orjson.loads(raw)": lambda: _per_record(orjson.loads, lambda b: b.raw),
    "chat_messages(obj)": _messages,
    "record_problems (validation)": _validation,
    "normalize_text(text)": lambda: _normalize("text"),
    "normalize_text(prompt)": lambda: _normalize("prompt"),
    "normalize_text(response)": lambda: _normalize("response"),
    "count_tokens (prompt, response, system)": _tokens,
    "minhash: words, shingles, signatures, bands": _minhash,
    **{f"content: {name}": partial(_content, name) for name in (
        "text_fields", "find_secrets", "find_pii", "find_encoding", "find_placeholders",
        "find_boilerplate", "repeated_unit")},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--scale", type=int, default=100_000, help="records the saving is projected to")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args(argv)
    batches = load_batches(args.records)
    n = sum(len(b) for b in batches)
    print(f"load average before: {os.getloadavg()}, {n} records in {len(batches)} batches")
    print(f"{'step':44} {'us/record':>10} {'runs':>5} {'repeats s @' + str(args.scale):>16}")
    for name, step in steps().items():
        if step is None:
            print(f"{name:44} {'n/a':>10}")
            continue
        seconds = sum(step(b) for b in batches)
        per = seconds / n * 1e6
        runs = REPEATS.get(name, 1)
        # what running it once instead of `runs` times saves, in wall seconds on `cores` cores
        saved = (runs - 1) * per * args.scale / 1e6 / args.cores
        print(f"{name:44} {per:>10.1f} {runs:>5} {saved:>16.2f}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
