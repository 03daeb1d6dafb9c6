"""A prototype of the fused pass, for measuring it (benchmarks/bench_fused_pass.py) before the
engine and the checkers are changed: every first-pass batch function of the default checks
applied to one read of each spool batch, with the per-record work they repeat done once.

`fused(fns, batch)` calls each function on the same batch: one spool read and one pool round
trip per batch instead of one per check. `fused_shared(fns, batch)` also lets them share,
within the batch, what each recomputes today: `orjson.loads(raw)` (size, format, length,
content), the chat turns (load, size, format, length, content), layout validation (size and
format) and the NFKC + casefold of a text (exact and near duplicates; whitespace is collapsed
after). It does so by swapping, for the length of one batch, the names those modules
imported for memoizing versions keyed by the object they are given: a measurement device,
not a design (the design is in docs/scale.md). Results must be identical to separate passes;
the benchmark checks that.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType, SimpleNamespace
from typing import Any

import orjson

from fineaudit.dataset import layout_rules

from fineaudit.vectors import minhash
from fineaudit.checkers import content, exact_duplicates, format as format_check, length, size
from fineaudit.core import RecordBatch
from fineaudit.text.normalize import Normalization, normalize_text


def fused(fns: Sequence[Callable[[RecordBatch], Any]], batch: RecordBatch) -> tuple[Any, ...]:
    return tuple(fn(batch) for fn in fns)


def fused_shared(fns: Sequence[Callable[[RecordBatch], Any]], batch: RecordBatch) -> tuple[Any, ...]:
    with _shared_within_batch():
        return tuple(fn(batch) for fn in fns)


def _memo(fn: Callable[..., Any], keep: dict[Any, Any]) -> Callable[..., Any]:
    """fn memoized on the identity of its first argument (objects the batch keeps alive)."""
    def call(first: Any, *rest: Any) -> Any:
        key = (id(first), *rest)
        if key not in keep:
            keep[key] = (first, fn(first, *rest))  # holding `first` keeps its id from being reused
        return keep[key][1]
    return call


def _normalize(keep: dict[Any, Any]) -> Callable[..., str]:
    casefolded = _memo(lambda text, nfkc, fold: normalize_text(text, Normalization(nfkc, fold, False)), keep)

    def call(text: str, how: Normalization = Normalization()) -> str:
        base = casefolded(text, how.nfkc, how.casefold)
        return " ".join(base.split()) if how.collapse_whitespace else base
    return call


def _validity(keep: dict[Any, Any]) -> Callable[..., Any]:
    """record_problems with its default spelled out, so size's and format's calls share a key."""
    problems = _memo(layout_rules.record_problems, keep)
    return lambda obj, layout, output_schema="": problems(obj, layout, output_schema)


@contextmanager
def _shared_within_batch() -> Iterator[None]:
    parsed: dict[str, Any] = {}
    loads = SimpleNamespace(loads=lambda raw: parsed[raw] if raw in parsed else parsed.setdefault(raw, orjson.loads(raw)))
    keep: dict[Any, Any] = {}
    swaps: list[tuple[ModuleType, str, Any]] = [
        *((m, "orjson", loads) for m in (size, format_check, length, content)),
        *((m, "chat_messages", _memo(m.chat_messages, keep)) for m in (length, content, layout_rules)),
        *((m, "record_problems", _validity(keep)) for m in (size, format_check)),
        *((m, "normalize_text", _normalize(keep)) for m in (exact_duplicates, minhash)),
    ]
    saved = [(m, name, getattr(m, name)) for m, name, _ in swaps]
    try:
        for m, name, value in swaps:
            setattr(m, name, value)
        yield
    finally:
        for m, name, value in saved:
            setattr(m, name, value)
