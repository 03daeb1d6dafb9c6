"""The local engine: one machine, bounded memory, both cores.

Loading cuts the input into blocks (engines/grouping.py) and parses them in worker
processes, each writing its block's record views to an Arrow IPC spool file in a private
temporary folder; the main process meanwhile hashes the input. Every later pass of a checker
reads the spool batch by batch, so memory holds one batch per process (plus what the checker
keeps), not the dataset. Passes over more than one batch run in the worker processes, which
open the spool themselves: only the checker's function and where its batch lies travel to
them, and only its (small) result travels back.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fineaudit.core import DatasetInfo, ProgressSink, Record, RecordBatch, Shard
from fineaudit.engines.grouping import (BLOCK_BYTES, BatchSpec, Block, LineCount, batch_lengths,
                                        block_batches, groups_of_equal_keys, line_offsets,
                                        plan_blocks, read_block_items, sample_indices)
from fineaudit.formats import RawItem
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


# --------------------------------------------------------------------------- spool files


@dataclass(frozen=True)
class SpoolBatch:
    """Where one batch lies: a spool file, its batch number, and the shifts to global numbering.

    A spool file numbers its records from 0 and its lines from its block's first line; reading
    adds `block_start` and `line_offset`."""

    path: str
    number: int
    first_index: int
    length: int
    block_start: int
    line_offset: int


def write_spool(items: Iterator[RawItem], spec: BatchSpec, path: str) -> int:
    """Items as batches (indices from 0) in an Arrow IPC file; returns the records written."""
    records = 0
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, SPOOL_SCHEMA) as writer:
        for batch in block_batches(items, spec):
            writer.write_batch(to_arrow(batch))
            records += len(batch)
    return records


def spool_block(block: Block, spec: BatchSpec, path: str) -> tuple[int, int]:
    """Parse one block into a spool file; returns (records, lines the block owns)."""
    count = LineCount()
    records = write_spool(read_block_items(block, count), spec, path)
    return records, count.lines


_readers: dict[str, pa.ipc.RecordBatchFileReader] = {}


def read_spool_batch(ref: SpoolBatch, source: str) -> RecordBatch:
    reader = _readers.get(ref.path)
    if reader is None:
        # a plain file, not a memory map: mapped pages would count in every reader's RSS
        reader = _readers[ref.path] = pa.ipc.open_file(pa.OSFile(ref.path, "rb"))
    table = reader.get_batch(ref.number)
    if ref.block_start or ref.line_offset:
        table = table.set_column(0, "index", pc.add(table.column("index"), ref.block_start))
        table = table.set_column(1, "line", pc.add(table.column("line"), ref.line_offset))
    return from_arrow(table, source)


def forget_readers(folder: str) -> None:
    for path in [p for p in _readers if p.startswith(folder)]:
        del _readers[path]


def spool_refs(paths: Sequence[str], records: Sequence[int], first: Sequence[int],
               offsets: Sequence[int], batch_size: int) -> list[SpoolBatch]:
    """Every batch of these spool files, in record order."""
    refs = []
    for path, n, start, offset in zip(paths, records, first, offsets):
        for number, length in enumerate(batch_lengths(n, batch_size)):
            refs.append(SpoolBatch(path, number, start + number * batch_size, length, start, offset))
    return refs


def first_indices(records: Sequence[int]) -> list[int]:
    return np.r_[0, np.cumsum(records[:-1], dtype=np.int64)].tolist() if records else []


def shards_of(source: Source, blocks: Sequence[Block], first: Sequence[int]) -> tuple[Shard, ...]:
    """Each shard file and the index of its first record (for a sharded input)."""
    if not source.sharded:
        return ()
    starts: dict[int, Shard] = {}
    for block, start in zip(blocks, first):
        starts.setdefault(block.file, Shard(block.path, start))
    return tuple(starts[f] for f in sorted(starts))


# --------------------------------------------------------------------------- engine


class LocalEngine:
    name = "local"

    def __init__(self, batch_size: int = 5000, workers: int | None = None,
                 progress: ProgressSink | None = None, block_bytes: int = BLOCK_BYTES):
        self.batch_size = batch_size
        self.workers = workers or default_workers()
        self.progress = progress
        self.block_bytes = block_bytes
        self._workdir = Path(tempfile.mkdtemp(prefix="fineaudit-"))
        self._pool: ProcessPoolExecutor | None = None
        self._loads = 0

    def load(self, source: Source, layout: str, role: str, label_field: str | None,
             fmt_name: str | None = None) -> LocalRecords:
        spec = BatchSpec(layout, role, label_field, self.batch_size)
        stem = str(self._workdir / f"{role}-{self._loads}")
        self._loads += 1
        with _track(self.progress, f"loading {role}", None) as task:
            if source.rows is not None:
                blocks: list[Block] = []
                paths, sha = [f"{stem}-rows.arrow"], None
                items = chain.from_iterable(source.items(self.batch_size))
                records, lines = [write_spool(items, spec, paths[0])], [0]
            else:
                blocks = plan_blocks(source.files, self.block_bytes)
                paths = [f"{stem}-{b.number}.arrow" for b in blocks]
                records, lines, sha = self._spool_blocks(blocks, spec, paths, source, task)
        first = first_indices(records)
        offsets = line_offsets(blocks, lines) if blocks else [0]
        info = DatasetInfo(path=source.path, records=sum(records), format=fmt_name or layout,
                           sha256=sha, shards=shards_of(source, blocks, first))
        return LocalRecords(self, spool_refs(paths, records, first, offsets, self.batch_size), info, role)

    def _spool_blocks(self, blocks: Sequence[Block], spec: BatchSpec, paths: Sequence[str],
                      source: Source, task: Any) -> tuple[list[int], list[int], str | None]:
        if len(blocks) < 2 or self.workers < 2:
            done = [spool_block(b, spec, p) for b, p in zip(blocks, paths)]
            return [r for r, _ in done], [n for _, n in done], source.sha256()
        futures: list[Future[tuple[int, int]]] = [self.pool().submit(spool_block, b, spec, p)
                                                  for b, p in zip(blocks, paths)]
        sha = source.sha256()  # hashing in this process overlaps the parsing in the workers
        done = []
        for future in futures:
            done.append(future.result())
            if task is not None:
                task.advance(done[-1][0])
        return [r for r, _ in done], [n for _, n in done], sha

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers must not inherit threads (torch, the progress bar) from us; the
            # server imports this module once, so each new worker starts without importing it again
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        forget_readers(str(self._workdir))
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _apply(fn: Callable[[RecordBatch], T], ref: SpoolBatch, source: str) -> T:
    return fn(read_spool_batch(ref, source))


class LocalRecords:
    """A dataset spooled on local disk; implements the core `Records` protocol."""

    def __init__(self, engine: LocalEngine, batches: list[SpoolBatch], info: DatasetInfo, source: str):
        self.engine, self.batches, self.info, self.source = engine, batches, info, source
        self._starts = [b.first_index for b in batches]

    def __len__(self) -> int:
        return self.info.records

    @property
    def num_batches(self) -> int:
        return len(self.batches)

    def map_batches(self, fn: Callable[[RecordBatch], T], *, desc: str | None = None) -> list[T]:
        results: list[T] = []
        n = len(self.batches)
        with _track(self.engine.progress, desc, len(self)) as task:
            if n > 1 and self.engine.workers > 1:
                outputs = self.engine.pool().map(_apply, [fn] * n, self.batches, [self.source] * n)
            else:
                outputs = (_apply(fn, ref, self.source) for ref in self.batches)
            for ref, out in zip(self.batches, outputs):
                results.append(out)
                if task is not None:
                    task.advance(ref.length)
        return results

    def group_by_key(self, fn: Callable[[RecordBatch], tuple[Any, Any]], *,
                     desc: str | None = None) -> list[list[int]]:
        parts = self.map_batches(fn, desc=desc)
        keys = np.concatenate([np.asarray(k, dtype=np.uint64) for k, _ in parts]) if parts else np.zeros(0, np.uint64)
        idx = np.concatenate([np.asarray(i, dtype=np.int64) for _, i in parts]) if parts else np.zeros(0, np.int64)
        return groups_of_equal_keys(keys, idx)

    def take(self, indices: Sequence[int]) -> list[Record]:
        wanted = sorted({int(i) for i in indices if 0 <= int(i) < len(self)})
        by_batch: dict[int, list[int]] = {}
        for i in wanted:
            by_batch.setdefault(bisect_right(self._starts, i) - 1, []).append(i)
        found: dict[int, Record] = {}
        for number, members in by_batch.items():
            ref = self.batches[number]
            batch = read_spool_batch(ref, self.source)
            for i in members:
                found[i] = batch.record(i - ref.first_index)
        return [found[int(i)] for i in indices if int(i) in found]

    def sample(self, n: int, seed: int) -> list[Record]:
        return self.take(sample_indices(len(self), n, seed))


def _track(progress: ProgressSink | None, desc: str | None, total: int | None) -> Any:
    if progress is None or desc is None:
        return nullcontext(None)
    return progress.track(desc, total)
