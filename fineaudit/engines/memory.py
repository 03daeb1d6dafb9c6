"""An in-memory `Records`: a few hundred records held as batches in this process.

For tests that call a checker directly (a table of small cases, no files, no worker
processes) and for callers that already hold small data. It computes what every engine
computes (views and validity through `formats.build_batch`, key groups and samples through
`grouping`), so a checker gives the same answer here as on the local or Dask engine."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar


from fineaudit.core import AuditContext, Checker, CheckResult, DatasetInfo, ReadOptions, Record, RecordBatch
from fineaudit.engines import require_picklable
from fineaudit.engines.grouping import groups_of_parts, sample_indices
from fineaudit.dataset.formats import build_batch, detect_layout
from fineaudit.dataset.loaders import item_from_object

T = TypeVar("T")


class MemoryRecords:
    """Records held in memory as batches of `batch_size`; implements the core `Records` protocol."""

    def __init__(self, rows: Iterable[Any], layout: str = "auto", source: str = "train",
                 options: ReadOptions | None = None, batch_size: int = 64):
        items = [item_from_object(None, row) for row in rows]
        options = options or ReadOptions()
        if layout == "auto":
            layout = detect_layout([i.obj for i in items if i.error is None], "records", None, options)
        self.layout, self.source, self.options = layout, source, options
        self.batches = [build_batch(items[s:s + batch_size], s, layout, source, options)
                        for s in range(0, len(items), batch_size)]
        self.info = DatasetInfo(None, len(items), layout, None)

    def __len__(self) -> int:
        return self.info.records

    def map_batches(self, fn: Callable[[RecordBatch], T], *, desc: str | None = None) -> list[T]:
        require_picklable(fn, "map_batches")  # as on every engine: a plugin's lambda fails in its tests too
        return [fn(batch) for batch in self.batches]

    def group_by_key(self, fn: Callable[[RecordBatch], tuple[Any, Any]], *,
                     desc: str | None = None) -> list[list[int]]:
        return groups_of_parts(self.map_batches(fn, desc=desc))

    def take(self, indices: Sequence[int]) -> list[Record]:
        records = {r.index: r for batch in self.batches for r in batch}
        return [records[int(i)] for i in indices if int(i) in records]

    def sample(self, n: int, seed: int) -> list[Record]:
        return self.take(sample_indices(len(self), n, seed))


def run_checker(checker: type[Checker], rows: Iterable[Any], layout: str = "auto", *,
                eval: Iterable[Any] | None = None, production: Iterable[Any] | None = None,
                fields: Mapping[str, str] | None = None, seed: int = 0, batch_size: int = 64,
                **params: Any) -> CheckResult:
    """One checker on a few records, its parameters given by name: what a checker's table of
    small cases calls (`run_checker(SizeChecker, rows, min_records=2)`)."""
    options = ReadOptions.of(fields)
    data = MemoryRecords(rows, layout, "train", options, batch_size)
    other = {role: MemoryRecords(value, data.layout if role == "eval" else "prompts", role, options, batch_size)
             for role, value in (("eval", eval), ("production", production)) if value is not None}
    ctx = AuditContext(format=data.layout, params=checker.Params(**params), eval=other.get("eval"),
                       production=other.get("production"), seed=seed, options=options)
    return checker().check(data, ctx)


__all__ = ["MemoryRecords", "run_checker"]
