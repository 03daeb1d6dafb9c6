"""The Dask engine: the same audit on a Dask cluster, with the same answers as the local one.

The client cuts the input into the blocks of engines/grouping.py (JSON Lines by byte range,
Parquet by row group, shard files) and only their paths and byte ranges travel: workers
read the files themselves, so the files must be readable at the same paths on every worker.
The loading pass parses each block on a worker into an Arrow spool in that worker's local
directory and reports its counts, from which the client numbers records across blocks and
shards. Later passes run the checker's function next to the spool (or re-read the block on
any other worker, should the first be gone) and bring back only its small results.
`group_by_key` shuffles (key, index) pairs on a hash of the key into partitions that group
on the workers. Records given in memory are built on the client and scattered.
"""
from __future__ import annotations

import logging
import operator
import os
import shutil
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pyarrow as pa
from distributed import Client, Future, LocalCluster, get_worker

from fineaudit.core import ConfigError, DatasetInfo, ProgressSink, Record, RecordBatch
from fineaudit.engines.grouping import (BLOCK_BYTES, BatchSpec, Block, block_batches, default_workers,
                                        key_buckets, keyed_groups, line_offsets, merge_keyed_groups,
                                        plan_blocks, sample_indices)
from fineaudit.engines.spool import (first_indices, forget_readers, from_arrow, read_spool_batch,
                                     shards_of, spool_block, spool_refs, to_arrow)
from fineaudit.engines import require_picklable
from fineaudit.dataset.formats import ReadOptions
from fineaudit.dataset.loaders import MAX_RECORD_BYTES, Source
from fineaudit.engines.progress import track_step
from fineaudit.engines.work_meter import charge_worker_seconds

T = TypeVar("T")
ROW_BATCHES_PER_PART = 8  # in-memory records travel to the workers this many batches at a time


@dataclass(frozen=True)
class Part:
    """One partition: a file block read on the workers, or in-memory rows scattered to them."""

    block: Block | None
    first_index: int
    line_offset: int
    records: int
    worker: str | None = None  # where its spool was written


# --------------------------------------------------------------------------- on the workers


def _spool_file(folder: str, block: Block) -> Path:
    return Path(get_worker().local_directory) / folder / f"{block.number}.arrow"


def _write_spool(block: Block, spec: BatchSpec, folder: str) -> tuple[int, int, str]:
    """Parse a block into this worker's spool; (records, lines, worker address)."""
    path = _spool_file(folder, block)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    records, lines = spool_block(block, spec, str(partial))
    os.replace(partial, path)  # readers never see a half-written spool
    return records, lines, get_worker().address


def _part_batches(part: Part, rows: list[pa.RecordBatch] | None, spec: BatchSpec, folder: str,
                  wanted: set[int] | None = None) -> Iterator[RecordBatch]:
    """The part's batches (only those numbered in `wanted`, when given)."""
    if part.block is None:
        tables = rows or []
        yield from (from_arrow(t, spec.source) for n, t in enumerate(tables) if wanted is None or n in wanted)
        return
    path = _spool_file(folder, part.block)
    if not path.exists():  # this worker did not load the block: read it again from the file
        _write_spool(part.block, spec, folder)
    refs = spool_refs([str(path)], [part.records], [part.first_index], [part.line_offset], spec.batch_size)
    yield from (read_spool_batch(ref, spec.source) for ref in refs if wanted is None or ref.number in wanted)


def _map_part(part: Part, rows: list[pa.RecordBatch] | None, spec: BatchSpec, folder: str,
              fn: Callable[[RecordBatch], T]) -> tuple[list[T], float]:
    """fn of each of the part's batches, and the seconds they took (charged to the asking check)."""
    started = time.perf_counter()
    return [fn(batch) for batch in _part_batches(part, rows, spec, folder)], time.perf_counter() - started


def _shuffle_part(part: Part, rows: list[pa.RecordBatch] | None, spec: BatchSpec, folder: str,
                  fn: Callable[[RecordBatch], tuple[Any, Any]], buckets: int) -> list[Any]:
    """The part's (key, index) pairs, split into `buckets` shuffle partitions by key, then the
    seconds it took: `buckets + 1` items, each fetched by its own getitem task."""
    started = time.perf_counter()
    out = [fn(batch) for batch in _part_batches(part, rows, spec, folder)]
    keys = np.concatenate([np.asarray(k, dtype=np.uint64) for k, _ in out] or [np.zeros(0, np.uint64)])
    idx = np.concatenate([np.asarray(i, dtype=np.int64) for _, i in out] or [np.zeros(0, np.int64)])
    bucket = key_buckets(keys, buckets)
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(buckets + 1))
    pieces: list[Any] = [(keys[order[a:b]], idx[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]
    return [*pieces, time.perf_counter() - started]


def _group_bucket(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list[list[int]]]:
    keys = np.concatenate([k for k, _ in pieces] or [np.zeros(0, np.uint64)])
    idx = np.concatenate([i for _, i in pieces] or [np.zeros(0, np.int64)])
    return keyed_groups(keys, idx)


def _take_part(part: Part, rows: list[pa.RecordBatch] | None, spec: BatchSpec, folder: str,
               indices: list[int]) -> list[Record]:
    wanted = {(i - part.first_index) // spec.batch_size for i in indices}
    found = {}
    for batch in _part_batches(part, rows, spec, folder, wanted):
        first = batch.index[0]
        found.update({i: batch.record(i - first) for i in indices if first <= i < first + len(batch)})
    return [found[i] for i in indices]


def _remove_spools(folder: str, dask_worker: Any = None) -> None:
    target = Path(dask_worker.local_directory) / folder
    forget_readers(str(target))
    shutil.rmtree(target, ignore_errors=True)


# --------------------------------------------------------------------------- on the client


class DaskEngine:
    """Runs the passes on a Dask cluster: the one at `scheduler`, the given `client`, or a
    LocalCluster it starts (and stops) itself."""

    name = "dask"

    def __init__(self, batch_size: int = 5000, progress: ProgressSink | None = None,
                 scheduler: str | None = None, client: Client | None = None,
                 block_bytes: int = BLOCK_BYTES, workers: int | None = None, connect_timeout: str = "30s",
                 max_record_bytes: int = MAX_RECORD_BYTES):
        self.batch_size, self.progress, self.block_bytes = batch_size, progress, block_bytes
        self.max_record_bytes = max_record_bytes
        self.folder = f"fineaudit-{uuid.uuid4().hex}"
        self._cluster: LocalCluster | None = None
        self._own_client = client is None
        self.client = client or self._connect(scheduler, workers, connect_timeout)
        self._loads = 0
        self._scattered: list[Future] = []

    def _connect(self, scheduler: str | None, workers: int | None, timeout: str) -> Client:
        if scheduler:
            try:
                probe_scheduler(scheduler, _seconds(timeout))
                return Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"--scheduler: cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        self._cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                     processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
        return Client(self._cluster)

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    @property
    def checks_at_once(self) -> int:
        """One more check than workers, as on the local engine: a check's work on the client
        (grouping, clustering) and its last tasks leave workers idle, which another check's
        tasks fill. Checks only submit and gather (the Client is thread-safe); loading, the one
        step that changes this engine's state, is over before they start."""
        workers = self.workers
        return workers + 1 if workers > 1 else 1

    def load(self, source: Source, layout: str, role: str, options: ReadOptions | str | None,
             fmt_name: str | None = None) -> DaskRecords:
        spec = BatchSpec(layout, role, options, self.batch_size)
        folder = f"{self.folder}/{role}-{self._loads}"
        self._loads += 1
        with track_step(self.progress, f"loading {role}", None):
            if source.rows is not None:
                parts, rows = self._scatter_rows(source, spec)
                blocks: list[Block] = []
                sha = None
            else:
                # absolute: workers of a real cluster start in folders of their own
                blocks = plan_blocks([f.absolute() for f in source.files], self.block_bytes,
                                     self.max_record_bytes)
                parts, sha = self._load_blocks(blocks, spec, folder, source)
                rows = [cast(Future, None)] * len(parts)  # Futures of in-memory rows only
        info = DatasetInfo(path=source.path, records=sum(p.records for p in parts), format=fmt_name or layout,
                           sha256=sha, shards=shards_of(source, blocks, [p.first_index for p in parts]))
        return DaskRecords(self, parts, rows, info, spec, folder)

    def _load_blocks(self, blocks: Sequence[Block], spec: BatchSpec, folder: str,
                     source: Source) -> tuple[list[Part], str | None]:
        futures = self.client.map(_write_spool, blocks, spec=spec, folder=folder, pure=False)
        sha = source.sha256()  # hashing on the client overlaps the parsing on the workers
        done = self.client.gather(futures)
        records = [r for r, _, _ in done]
        offsets = line_offsets(blocks, [n for _, n, _ in done])
        first = first_indices(records)
        return [Part(b, f, o, r, w) for b, f, o, r, (_, _, w) in zip(blocks, first, offsets, records, done)], sha

    def _scatter_rows(self, source: Source, spec: BatchSpec) -> tuple[list[Part], list[Future]]:
        batches = block_batches(chain.from_iterable(source.items(spec.batch_size)), spec)
        parts, rows, count = [], [], 0
        while chunk := [to_arrow(b) for _, b in zip(range(ROW_BATCHES_PER_PART), batches)]:
            size = sum(t.num_rows for t in chunk)
            parts.append(Part(None, count, 0, size))
            rows.append(self.client.scatter([chunk], hash=False)[0])
            count += size
        self._scattered.extend(rows)
        return parts, rows

    def close(self) -> None:
        try:
            self.client.run(_remove_spools, self.folder)
        except Exception:  # a cluster already gone has nothing left to clean
            pass
        self._scattered.clear()
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskRecords:
    """A dataset spread over a Dask cluster; implements the core `Records` protocol."""

    def __init__(self, engine: DaskEngine, parts: list[Part], rows: list[Any], info: DatasetInfo,
                 spec: BatchSpec, folder: str):
        self.engine, self.parts, self.rows, self.info = engine, parts, rows, info
        self.spec, self.folder, self.source = spec, folder, spec.source
        self._starts = [p.first_index for p in parts]

    def __len__(self) -> int:
        return self.info.records

    def _submit(self, func: Callable[..., Any], number: int, *args: Any) -> Future:
        """func(part, its scattered rows, spec, folder, *args) on a worker, preferably where its spool is."""
        part = self.parts[number]
        where = {"workers": [part.worker], "allow_other_workers": True} if part.worker else {}
        return self.engine.client.submit(func, part, self.rows[number], self.spec, self.folder, *args,
                                         pure=False, **where)

    def map_batches(self, fn: Callable[[RecordBatch], T], *, desc: str | None = None) -> list[T]:
        require_picklable(fn, "map_batches")
        futures = [self._submit(_map_part, n, fn) for n in range(len(self.parts))]
        results: list[T] = []
        try:
            with track_step(self.engine.progress, desc, len(self)) as task:
                for part, future in zip(self.parts, futures):
                    out, seconds = future.result()
                    charge_worker_seconds(seconds)
                    results.extend(out)
                    if task is not None:
                        task.advance(part.records)
        finally:
            self.engine.client.cancel(futures)
        return results

    def group_by_key(self, fn: Callable[[RecordBatch], tuple[Any, Any]], *,
                     desc: str | None = None) -> list[list[int]]:
        require_picklable(fn, "group_by_key")
        client = self.engine.client
        buckets = max(1, min(len(self.parts), 2 * self.engine.workers))
        mapped = [self._submit(_shuffle_part, n, fn, buckets) for n in range(len(self.parts))]
        pieces = [[client.submit(operator.getitem, m, j, pure=False) for m in mapped] for j in range(buckets)]
        reduced = [client.submit(_group_bucket, bucket, pure=False) for bucket in pieces]
        timings = [client.submit(operator.getitem, m, buckets, pure=False) for m in mapped]
        with track_step(self.engine.progress, desc, len(self)):
            parts = client.gather(reduced)
        charge_worker_seconds(sum(client.gather(timings)))
        return merge_keyed_groups(parts)

    def take(self, indices: Sequence[int]) -> list[Record]:
        wanted = sorted({int(i) for i in indices if 0 <= int(i) < len(self)})
        by_part: dict[int, list[int]] = {}
        for i in wanted:
            by_part.setdefault(bisect_right(self._starts, i) - 1, []).append(i)
        futures = [self._submit(_take_part, n, members) for n, members in by_part.items()]
        found = {r.index: r for r in chain.from_iterable(self.engine.client.gather(futures))}
        return [found[int(i)] for i in indices if int(i) in found]

    def sample(self, n: int, seed: int) -> list[Record]:
        return self.take(sample_indices(len(self), n, seed))


def _seconds(timeout: str | float) -> float:
    import dask.utils

    return float(dask.utils.parse_timedelta(timeout, default="s"))


def probe_scheduler(address: str, seconds: float) -> None:
    """Connect and ask the scheduler who it is, all within `seconds`: Client(timeout=) bounds the
    connection but not the handshake, so a server that accepts and never answers hung forever."""
    import asyncio

    from distributed.comm import connect

    async def ask() -> None:
        comm = await connect(address, timeout=seconds)
        try:
            await comm.write({"op": "identity", "reply": True})
            await comm.read()
        finally:
            comm.abort()

    try:
        asyncio.run(asyncio.wait_for(ask(), seconds))
    except asyncio.TimeoutError:
        raise TimeoutError(f"no answer within {seconds:g} s (is it a Dask scheduler?)") from None
