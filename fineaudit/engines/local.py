"""The local engine: one machine, bounded memory, both cores.

Loading parses the input once and spools the record views to an Arrow IPC file in a private
temporary folder. Every later pass of a checker reads that file batch by batch, so memory
holds one batch per process (plus what the checker keeps), not the dataset. Passes over more
than one batch run in worker processes, which open the spool themselves: only the checker's
function and a batch number travel to them, and only its (small) result travels back.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from fineaudit.core import DatasetInfo, ProgressSink, Record, RecordBatch, Shard
from fineaudit.engines.grouping import groups_of_equal_keys, sample_indices
from fineaudit.formats import build_batch
from fineaudit.loaders import Source

T = TypeVar("T")

SPOOL_SCHEMA = pa.schema([
    ("index", pa.int64()), ("line", pa.int64()), ("prompt", pa.large_string()),
    ("response", pa.large_string()), ("text", pa.large_string()), ("label", pa.string()),
    ("system", pa.large_string()), ("turns", pa.int32()), ("raw", pa.large_string()),
    ("error", pa.string()),
])


def to_arrow(batch: RecordBatch) -> pa.RecordBatch:
    return pa.record_batch([pa.array(getattr(batch, c), type=SPOOL_SCHEMA.field(c).type)
                            for c in RecordBatch.COLUMNS], schema=SPOOL_SCHEMA)


def from_arrow(table: pa.RecordBatch, source: str) -> RecordBatch:
    return RecordBatch(source=source, **{c: table.column(c).to_pylist() for c in RecordBatch.COLUMNS})


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8))


class LocalEngine:
    name = "local"

    def __init__(self, batch_size: int = 5000, workers: int | None = None,
                 progress: ProgressSink | None = None):
        self.batch_size = batch_size
        self.workers = workers or default_workers()
        self.progress = progress
        self._workdir = Path(tempfile.mkdtemp(prefix="fineaudit-"))
        self._pool: ProcessPoolExecutor | None = None

    def load(self, source: Source, layout: str, role: str, label_field: str | None,
             fmt_name: str | None = None) -> LocalRecords:
        spool = self._workdir / f"{role}-{len(list(self._workdir.iterdir()))}.arrow"
        shards: list[Shard] = []
        count = 0
        with _track(self.progress, f"loading {role}", None) as task, \
                pa.OSFile(str(spool), "wb") as sink, pa.ipc.new_file(sink, SPOOL_SCHEMA) as writer:
            for items in source.items(self.batch_size, shards):
                batch = build_batch(items, count, layout, role, label_field)
                writer.write_batch(to_arrow(batch))
                count += len(batch)
                if task is not None:
                    task.advance(len(batch))
        info = DatasetInfo(path=source.path, records=count, format=fmt_name or layout,
                           sha256=source.sha256(), shards=tuple(shards) if source.sharded else ())
        return LocalRecords(self, spool, info, role)

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers must not inherit threads (torch, the progress bar) from us
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_readers: dict[str, pa.ipc.RecordBatchFileReader] = {}


def _read_batch(spool: str, number: int, source: str) -> RecordBatch:
    reader = _readers.get(spool)
    if reader is None:
        reader = _readers[spool] = pa.ipc.open_file(pa.OSFile(spool, "rb"))
    return from_arrow(reader.get_batch(number), source)


def _apply(fn: Callable[[RecordBatch], T], spool: str, number: int, source: str) -> T:
    return fn(_read_batch(spool, number, source))


class LocalRecords:
    """A dataset spooled on local disk; implements the core `Records` protocol."""

    def __init__(self, engine: LocalEngine, spool: Path, info: DatasetInfo, source: str):
        self.engine, self.spool, self.info, self.source = engine, str(spool), info, source
        with pa.OSFile(self.spool, "rb") as fh:
            self.num_batches = pa.ipc.open_file(fh).num_record_batches

    def __len__(self) -> int:
        return self.info.records

    def map_batches(self, fn: Callable[[RecordBatch], T], *, desc: str | None = None) -> list[T]:
        numbers = range(self.num_batches)
        results: list[T] = []
        with _track(self.engine.progress, desc, len(self)) as task:
            if self.num_batches > 1 and self.engine.workers > 1:
                outputs = self.engine.pool().map(_apply, [fn] * len(numbers),
                                                 [self.spool] * len(numbers), numbers,
                                                 [self.source] * len(numbers))
            else:
                outputs = (_apply(fn, self.spool, n, self.source) for n in numbers)
            for number, out in zip(numbers, outputs):
                results.append(out)
                if task is not None:
                    task.advance(min(self.engine.batch_size, len(self) - number * self.engine.batch_size))
        return results

    def group_by_key(self, fn: Callable[[RecordBatch], tuple[Any, Any]], *,
                     desc: str | None = None) -> list[list[int]]:
        parts = self.map_batches(fn, desc=desc)
        keys = np.concatenate([np.asarray(k, dtype=np.uint64) for k, _ in parts]) if parts else np.zeros(0, np.uint64)
        idx = np.concatenate([np.asarray(i, dtype=np.int64) for _, i in parts]) if parts else np.zeros(0, np.int64)
        return groups_of_equal_keys(keys, idx)

    def take(self, indices: Sequence[int]) -> list[Record]:
        wanted = sorted(set(int(i) for i in indices))
        found: dict[int, Record] = {}
        size = self.engine.batch_size
        for number in sorted({i // size for i in wanted}):
            batch = _read_batch(self.spool, number, self.source)
            first = batch.index[0] if len(batch) else 0
            for i in wanted:
                if first <= i < first + len(batch):
                    found[i] = batch.record(i - first)
        return [found[int(i)] for i in indices if int(i) in found]

    def sample(self, n: int, seed: int) -> list[Record]:
        return self.take(sample_indices(len(self), n, seed))


def _track(progress: ProgressSink | None, desc: str | None, total: int | None) -> Any:
    if progress is None or desc is None:
        return nullcontext(None)
    return progress.track(desc, total)
