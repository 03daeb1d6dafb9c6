#!/usr/bin/env python3
"""Benchmark the length check: tokens/s and records/s against a naive per-record loop.

Everything is measured in this one process run, so the ratios hold on a busy machine even
when the absolute figures do not. Three measurements:

  1. naive baseline: for each record, parse it and count each turn with one encode call,
     one core (what a hand-written script does);
  2. the length check through the real audit (local engine, every core), minus the load that
     every check shares (an audit running only `size`), so the check's own pass is visible;
  3. the tokenizer choice: bpe-openai against `tokenizers` on the same cl100k_base vocabulary
     (converted in-process from the ranks bpe-openai ships), on the first --compare records.

Usage:
  python benchmarks/bench_length.py --records 100000            # makes the corpus (slow, once)
  python benchmarks/bench_length.py --corpus /tmp/c100k/data.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import fineaudit
from fineaudit.text.token_counting import count_tokens
from synthetic_corpus import chat_corpus  # benchmarks/ is on sys.path when run as a script



def corpus(args: argparse.Namespace) -> Path:
    return Path(args.corpus) if args.corpus else chat_corpus(args.records)


def turn_texts(path: Path, limit: int | None = None) -> list[list[str]]:
    with open(path, encoding="utf-8") as fh:
        return [[m["content"] for m in json.loads(line)["messages"]]
                for n, line in enumerate(fh) if limit is None or n < limit]


def naive(path: Path) -> tuple[float, int, int]:
    """One record at a time, one turn at a time: (seconds, records, tokens)."""
    started, records, tokens = time.perf_counter(), 0, 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            for message in json.loads(line)["messages"]:
                tokens += count_tokens("cl100k_base", [message["content"]])[0] + 4
            tokens += 3
            records += 1
    return time.perf_counter() - started, records, tokens


def audited(path: Path, only: str) -> tuple[float, Any]:
    started = time.perf_counter()
    report = fineaudit.audit(str(path), only=[only])
    return time.perf_counter() - started, report.checks[only]


def hf_cl100k() -> Any:
    """cl100k_base as a `tokenizers` BPE, built from bpe-openai's ranks (as transformers' converter does)."""
    import bpe_openai
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import BPE

    encoding = bpe_openai.get_encoding("cl100k_base")
    ranks = encoding._mergeable_ranks  # noqa: SLF001 - the ranks are what we convert
    byte_char = _bytes_to_unicode()
    spell = lambda b: "".join(byte_char[c] for c in b)  # noqa: E731
    merges = sorted(((a, b, r) for tok, r in ranks.items() if len(tok) > 1
                     for a, b in ((tok[:i], tok[i:]) for i in range(1, len(tok))) if a in ranks and b in ranks),
                    key=lambda m: (m[2], ranks[m[0]], ranks[m[1]]))
    tokenizer = Tokenizer(BPE({spell(t): r for t, r in ranks.items()}, [(spell(a), spell(b)) for a, b, _ in merges],
                              fuse_unk=False))
    tokenizer.model.ignore_merges = True
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(encoding._pat_str), behavior="isolated", invert=False),  # noqa: SLF001
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def compare_tokenizers(path: Path, limit: int) -> None:
    texts = [t for turns in turn_texts(path, limit) for t in turns]
    started = time.perf_counter()
    ours = count_tokens("cl100k_base", texts)
    bpe_s = time.perf_counter() - started
    tokenizer = hf_cl100k()
    started = time.perf_counter()
    theirs = [len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
    hf_s = time.perf_counter() - started
    agree = sum(a == b for a, b in zip(ours, theirs)) / len(texts)
    print(f"tokenizer choice on {limit:,} records ({sum(ours):,} tokens), cl100k_base vocabulary:")
    print(f"  bpe-openai, one core:            {sum(ours) / bpe_s / 1e6:6.2f} M tokens/s")
    print(f"  tokenizers encode_batch_fast:    {sum(theirs) / hf_s / 1e6:6.2f} M tokens/s (all cores)")
    print(f"  bpe-openai / tokenizers:         {hf_s / bpe_s:6.2f}x; counts agree on {agree:.2%} of texts")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--corpus", help="an existing make_corpus data.jsonl (chat)")
    ap.add_argument("--compare", type=int, default=10_000, help="records for the tokenizer comparison")
    args = ap.parse_args()
    path = corpus(args)
    print(f"corpus {path}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
          f"{os.cpu_count()} CPUs")
    base_s, records, tokens = naive(path)
    load_s, _ = audited(path, "size")
    check_s, result = audited(path, "length")
    assert result.metrics["tokens_per_epoch"] == tokens, "the check and the baseline disagree"
    own_s = max(check_s - load_s, 1e-9)
    print(f"{records:,} chat records, {tokens:,} tokens")
    print(f"  naive per-record loop:           {base_s:7.1f} s  {tokens / base_s / 1e6:6.2f} M tokens/s  "
          f"{records / base_s:9,.0f} records/s")
    print(f"  audit --only size (load only):   {load_s:7.1f} s")
    print(f"  audit --only length:             {check_s:7.1f} s  (length pass {own_s:.1f} s: "
          f"{tokens / own_s / 1e6:.2f} M tokens/s, {records / own_s:,.0f} records/s)")
    print(f"  length pass vs naive loop:       {base_s / own_s:6.2f}x faster")
    compare_tokenizers(path, args.compare)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
