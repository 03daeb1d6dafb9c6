#!/usr/bin/env python3
"""Benchmark the tool_calls check: tool-call records per second per core (issue 15 asks >= 20,000).

The corpus is the real drone (OpenAI `tools` + `tool_calls`, 103 records) and glaive
(ShareGPT `function_call` / `observation` with a `tools` string, 300 records) files, each
replicated to --records. Measured in this one process run, so the ratios hold on a busy machine
even when the absolute figures do not:

  1. the check's own per-batch work on one core (`audit_batch` over batches built by the
     loader's `build_batch`, 5,000 records each, as the local engine's workers run it), in
     CPU seconds of this process (on a shared machine wall time counts other programs' turns);
     the floor beside it is what any check reading the records through formats pays: parse
     each record and build its conversations;
  2. the same with every record's `tools` made distinct (a description changed), so that no
     declaration is shared: the cold-cache worst case, where every schema is compiled;
  3. a naive per-record script on one core: parse, build a jsonschema validator for the called
     tool, validate (what one writes by hand; no pairing or id checks);
  4. the whole check through the real audit (local engine, every core), minus an audit running
     only `size` (the load every check shares).

Usage:
  python benchmarks/bench_tool_calls.py --records 100000
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

import fineaudit
from fineaudit.checkers.tool_calls import Rules, ToolTally, audit_batch
from fineaudit.core import ReadOptions
from fineaudit.dataset.formats import RawItem, build_batch, conversations

ROOT = Path(__file__).resolve().parents[1]
DRONE = ROOT / "tests" / "data" / "openai_cookbook" / "drone_training.jsonl"
GLAIVE = ROOT / "tests" / "data" / "llama_factory" / "glaive_toolcall_en_demo.json"
BATCH = 5000


def sources() -> dict[str, list[dict[str, Any]]]:
    drone = [json.loads(line) for line in DRONE.read_text("utf-8").splitlines()]
    return {"drone (OpenAI)": drone, "glaive (ShareGPT)": json.loads(GLAIVE.read_text("utf-8"))}


def replicate(records: list[dict[str, Any]], n: int, distinct_tools: bool = False) -> Iterator[str]:
    for i in range(n):
        record = records[i % len(records)]
        if distinct_tools:
            record = json.loads(json.dumps(record))
            _mark_tools(record, i)
        yield json.dumps(record, ensure_ascii=False)


def _mark_tools(record: dict[str, Any], i: int) -> None:
    tools = record.get("tools")
    parsed = json.loads(tools) if isinstance(tools, str) else tools
    if not parsed:
        return
    first = parsed[0].get("function", parsed[0])
    first["description"] = f"{first.get('description', '')} #{i}"
    record["tools"] = json.dumps(parsed) if isinstance(tools, str) else parsed


def batches(lines: list[str]) -> list[Any]:
    out = []
    for start in range(0, len(lines), BATCH):
        items = [RawItem(start + k + 1, json.loads(text), text) for k, text in enumerate(lines[start:start + BATCH])]
        out.append(build_batch(items, start, "chat", "train", ReadOptions()))
    return out


def one_core(lines: list[str]) -> tuple[float, ToolTally]:
    built = batches(lines)  # the load is shared by every check: not timed
    started, tally = time.process_time(), ToolTally()
    for batch in built:
        tally.add(audit_batch("chat", ReadOptions(), Rules(), batch))
    return time.process_time() - started, tally


def floor(lines: list[str]) -> float:
    """CPU seconds to parse every record and read its conversations (no checking at all)."""
    started = time.process_time()
    for text in lines:
        conversations(orjson.loads(text), "chat")
    return time.process_time() - started


def best_of(repeat: int, fn: Any, lines: list[str]) -> float:
    """The least CPU time of `repeat` runs: other programs on a shared machine only add to it."""
    return min(fn(lines) for _ in range(repeat))


def naive(lines: list[str]) -> float:
    """Per record: parse, and validate each call's arguments with a validator built for it."""
    started = time.perf_counter()
    for text in lines:
        record = json.loads(text)
        tools = record.get("tools")
        tools = json.loads(tools) if isinstance(tools, str) else tools or []
        schemas = {t.get("function", t)["name"]: t.get("function", t).get("parameters") or {} for t in tools}
        for name, args in _calls(record):
            if name in schemas:
                Draft202012Validator(schemas[name]).is_valid(args)
    return time.perf_counter() - started


def _calls(record: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for m in record.get("messages", []):
        for c in m.get("tool_calls") or []:
            yield c["function"]["name"], json.loads(c["function"]["arguments"])
    for t in record.get("conversations", []):
        if t["from"] == "function_call":
            call = json.loads(t["value"])
            yield call["name"], call["arguments"]


def audited(path: Path, only: str) -> float:
    started = time.perf_counter()
    fineaudit.audit(str(path), only=[only])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="records per corpus (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="warm passes; the fastest is reported (default 3)")
    parser.add_argument("--no-audit", action="store_true", help="skip the whole-audit measurement")
    args = parser.parse_args()
    print(f"{args.records:,} records per corpus; one core unless said; {os.cpu_count()} cores on this machine")
    for name, records in sources().items():
        lines = list(replicate(records, args.records))
        first, tally = one_core(lines)  # caches empty: every declaration and schema compiled here
        seconds = best_of(args.repeat, lambda ls: one_core(ls)[0], lines)
        cold, _ = one_core(list(replicate(records, args.records, distinct_tools=True)))
        slow, base = naive(lines), best_of(args.repeat, floor, lines)
        tool_records = tally.records
        print(f"\n{name}: {tool_records:,} tool records, {tally.records_with_calls:,} with calls, {tally.calls:,} calls, "
              f"{tally.invalid_calls:,} invalid")
        print(f"  check, first pass (compiles): {first:5.2f} s  {tool_records / first:10,.0f} tool records/s  "
              f"{len(lines) / first:10,.0f} records/s")
        print(f"  check, best of {args.repeat} warm passes: {seconds:5.2f} s  {tool_records / seconds:10,.0f} tool records/s  "
              f"{len(lines) / seconds:10,.0f} records/s")
        print(f"  floor: parse + conversations: {base:6.2f} s  {tool_records / base:10,.0f} tool records/s  "
              f"(the check's own work: {max(seconds - base, 0.0) / seconds:.0%} of its time)")
        print(f"  check, every tools distinct: {cold:7.2f} s  {tool_records / cold:10,.0f} tool records/s")
        print(f"  naive script (validate only): {slow:6.2f} s  {tool_records / slow:10,.0f} tool records/s  "
              f"(the check's first pass is {slow / first:.1f}x faster)")
        if not args.no_audit:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "data.jsonl"
                path.write_text("\n".join(lines) + "\n", encoding="utf-8")
                load, whole = audited(path, "size"), audited(path, "tool_calls")
            print(f"  audit --only tool_calls    : {whole:7.2f} s (load alone, --only size: {load:.2f} s; "
                  f"the check's own pass {max(whole - load, 0.0):.2f} s on every core)")


if __name__ == "__main__":
    main()
