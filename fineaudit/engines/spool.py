"""Spool files: the parsed record views of one block in an Arrow IPC file, read batch by batch.

Both engines parse each block once into a spool file (the local engine in a private temporary
folder, the Dask engine in each worker's local directory) and every later pass reads it batch
by batch, so memory holds one batch per process, not the dataset. A spool file numbers its
records from 0 and its lines from its block's first line; a `SpoolBatch` carries the shifts
to global numbering.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fineaudit.core import RecordBatch, Shard
from fineaudit.engines.grouping import BatchSpec, Block, LineCount, batch_lengths, block_batches, read_block_items
from fineaudit.dataset.formats import RawItem
from fineaudit.dataset.loaders import Source

_ARROW_TYPES = {"int64": pa.int64(), "int32": pa.int32(), "text": pa.large_string(), "short": pa.string(),
                "bool": pa.bool_()}
SPOOL_SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in RecordBatch.COLUMN_KINDS.items()])


def to_arrow(batch: RecordBatch) -> pa.RecordBatch:
    return pa.record_batch([pa.array(getattr(batch, c), type=SPOOL_SCHEMA.field(c).type)
                            for c in RecordBatch.COLUMNS], schema=SPOOL_SCHEMA)


def from_arrow(table: pa.RecordBatch, source: str) -> RecordBatch:
    return SpoolRecordBatch(table, source)


class SpoolRecordBatch(RecordBatch):
    """A batch read from a spool file whose columns become Python lists when first used.

    Most passes read two or three of the thirteen columns, and turning a column into Python
    objects is most of a read's cost (2.7 µs per record for all of them, 0.5 for `raw` alone:
    benchmarks/bench_batch_costs.py). It is a RecordBatch in every other way, and pickles as
    a plain one."""

    def __init__(self, table: pa.RecordBatch, source: str) -> None:  # pylint: disable=super-init-not-called
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_table", table)

    def __getattr__(self, name: str) -> Any:
        # only reached when the attribute is not set yet: a column read for the first time
        table = self.__dict__.get("_table")
        if table is None or name not in RecordBatch.COLUMN_KINDS:
            raise AttributeError(name)
        values = table.column(name).to_pylist()
        object.__setattr__(self, name, values)
        return values

    def __len__(self) -> int:
        return int(self.__dict__["_table"].num_rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordBatch):
            return NotImplemented
        return self.source == other.source and all(getattr(self, c) == getattr(other, c) for c in self.COLUMNS)

    __hash__ = None  # type: ignore[assignment]  # as the dataclass's own: equal batches, no hash

    def __reduce__(self) -> tuple[Any, ...]:
        return RecordBatch, (self.source, *(getattr(self, c) for c in self.COLUMNS))


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
_readers_lock = threading.Lock()  # checks running at once read batches (take, sample) from threads


def read_spool_batch(ref: SpoolBatch, source: str) -> RecordBatch:
    return from_arrow(_shifted(ref, _spool_table(ref)), source)


def read_spool_rows(ref: SpoolBatch, source: str, rows: Sequence[int]) -> RecordBatch:
    """Only these rows of a batch (positions in it): a sample touches every batch, but turns
    just its few records into Python objects."""
    return from_arrow(_shifted(ref, _spool_table(ref).take(pa.array(rows, type=pa.int64()))), source)


def _spool_table(ref: SpoolBatch) -> pa.RecordBatch:
    with _readers_lock:
        reader = _readers.get(ref.path)
        if reader is None:
            # a plain file, not a memory map: mapped pages would count in every reader's RSS
            reader = _readers[ref.path] = pa.ipc.open_file(pa.OSFile(ref.path, "rb"))
        return reader.get_batch(ref.number)


def _shifted(ref: SpoolBatch, table: pa.RecordBatch) -> pa.RecordBatch:
    if ref.block_start or ref.line_offset:
        table = table.set_column(0, "index", pc.add(table.column("index"), ref.block_start))
        table = table.set_column(1, "line", pc.add(table.column("line"), ref.line_offset))
    return table


def forget_readers(folder: str) -> None:
    with _readers_lock:
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
        starts.setdefault(block.file, Shard(str(source.files[block.file]), start))  # as the user named it
    return tuple(starts[f] for f in sorted(starts))
