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

import errno
import multiprocessing
import multiprocessing.context
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from contextlib import contextmanager
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar


from fineaudit.core import DatasetInfo, FineauditError, ProgressSink, Record, RecordBatch
from fineaudit.engines.grouping import (BLOCK_BYTES, BatchSpec, Block, default_workers, groups_of_parts,
                                        line_offsets, plan_blocks, sample_indices)
from fineaudit.engines.spool import (SpoolBatch, first_indices, forget_readers, read_spool_batch, read_spool_rows,
                                     shards_of, spool_block, spool_refs, write_spool)
from fineaudit.engines import require_picklable
from fineaudit.dataset.formats import ReadOptions
from fineaudit.commands.interrupts import deferred
from fineaudit.dataset.loaders import MAX_RECORD_BYTES, Source
from fineaudit.engines.progress import track_step
from fineaudit.engines.work_meter import charge_worker_seconds

T = TypeVar("T")


# --------------------------------------------------------------------------- engine


_MAIN_LOCK = threading.Lock()  # audits in several threads start workers concurrently


def _without_main_script(start: Callable[[], T]) -> T:
    """Run `start` while `__main__` names no script, then put back exactly what was there.

    multiprocessing re-imports `__main__` in every new process, so that functions defined there
    unpickle. Workers here run only functions of installed modules (fineaudit's and plugins'),
    and re-running the caller's script would re-run a training script's top-level code (a
    `gate()` call not under `if __name__ == "__main__":` recursing), or fail for a script read
    from stdin."""
    names = vars(sys.modules["__main__"])
    with _MAIN_LOCK:
        saved: dict[str, Any] = {k: names[k] for k in ("__file__", "__spec__") if k in names}
        names.pop("__file__", None)
        names["__spec__"] = None  # what get_preparation_data reads first
        try:
            return start()
        finally:
            names.pop("__spec__", None)
            names.update(saved)


if hasattr(multiprocessing.context, "ForkServerProcess"):  # not on Windows
    class _WorkerProcess(multiprocessing.context.ForkServerProcess):
        """A forkserver process that does not re-run the caller's main script."""

        @staticmethod
        def _Popen(process_obj: Any) -> Any:
            return _without_main_script(lambda: multiprocessing.context.ForkServerProcess._Popen(process_obj))

    class _WorkerContext(multiprocessing.context.ForkServerContext):
        Process = _WorkerProcess


_POOL_PARENT = "FINEAUDIT_POOL_PARENT"


def _worker_context() -> Any:
    if hasattr(multiprocessing.context, "ForkServerProcess"):
        os.environ[_POOL_PARENT] = str(os.getpid())  # read by the forkserver when it imports this module
        context = _WorkerContext()
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _leave_the_terminals_group() -> None:
    """In the forkserver, which preloads this module: a session of its own, so that a terminal's
    Ctrl-C (sent to the whole foreground process group) reaches the main process alone, which
    stops the workers; a worker still starting, before its initializer ignores SIGINT, printed
    "Process _WorkerProcess-N:" and a traceback."""
    parent = os.environ.get(_POOL_PARENT)
    if parent and parent != str(os.getpid()) and sys.argv == ["-c"] and "multiprocessing.forkserver" in sys.modules:
        try:
            os.setsid()
        except OSError:  # already a session leader: nothing to leave
            pass


_leave_the_terminals_group()


class LocalEngine:
    name = "local"

    def __init__(self, batch_size: int = 5000, workers: int | None = None,
                 progress: ProgressSink | None = None, block_bytes: int = BLOCK_BYTES,
                 max_record_bytes: int = MAX_RECORD_BYTES):
        self.batch_size = batch_size
        self.max_record_bytes = max_record_bytes
        self.workers = workers or default_workers()
        # one more check than workers: while one works in this process, the workers stay busy
        self.checks_at_once = self.workers + 1 if self.workers > 1 else 1
        self.progress = progress
        self.block_bytes = block_bytes
        self._workdir = Path(tempfile.mkdtemp(prefix="fineaudit-"))
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()  # checks running at once share one pool
        self._loads = 0

    def load(self, source: Source, layout: str, role: str, options: ReadOptions | str | None,
             fmt_name: str | None = None) -> LocalRecords:
        spec = BatchSpec(layout, role, options, self.batch_size)
        stem = str(self._workdir / f"{role}-{self._loads}")
        self._loads += 1
        with track_step(self.progress, f"loading {role}", None) as task, self._spool_errors():
            if source.rows is not None:
                blocks: list[Block] = []
                paths, sha = [f"{stem}-rows.arrow"], None
                items = chain.from_iterable(source.items(self.batch_size))
                records, lines = [write_spool(items, spec, paths[0])], [0]
            else:
                blocks = plan_blocks(source.files, self.block_bytes, self.max_record_bytes)
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
        with deferred():
            futures: list[Future[tuple[int, int]]] = [self.pool().submit(spool_block, b, spec, p)
                                                      for b, p in zip(blocks, paths)]
        sha = source.sha256()  # hashing in this process overlaps the parsing in the workers
        done = []
        for future in futures:
            done.append(future.result())
            if task is not None:
                task.advance(done[-1][0])
        return [r for r, _ in done], [n for _, n in done], sha

    @contextmanager
    def _spool_errors(self) -> Iterator[None]:
        """A full disk (or quota, or file size limit) while spooling is exit 2 naming the folder."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise
            raise FineauditError(f"{self._workdir.parent}: no room to spool the dataset there "
                                 f"({os.strerror(exc.errno)}); free space or set TMPDIR to a larger "
                                 "folder") from None

    def pool(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            return self._started_pool()

    def _started_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers must not inherit threads (torch, the progress bar) from us; the
            # server imports this module once, so each new worker starts without importing it again
            self._pool = ProcessPoolExecutor(self.workers, mp_context=_worker_context(),
                                             initializer=_worker_init)
        return self._pool

    def close(self, abort: bool = False) -> None:
        """Stop the workers and remove the spool folder. `abort` (an error or a signal unwinds the
        run): the workers are killed at once rather than left to finish their current batch."""
        if self._pool is not None:
            if abort:
                # killed first, futures left pending: the pool marks them broken and its manager
                # thread exits at once (cancelling them too races it into InvalidStateError on 3.11)
                _kill_workers(self._pool)
            self._pool.shutdown(wait=True, cancel_futures=not abort)
            self._pool = None
        forget_readers(str(self._workdir))
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=exc_type is not None)


def _worker_init() -> None:
    """Workers ignore Ctrl-C (the terminal sends it to the whole process group): the main process
    decides, stops them and prints one line, instead of a traceback from every worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=5)


def _apply(fn: Callable[[RecordBatch], T], ref: SpoolBatch, source: str) -> T:
    return fn(read_spool_batch(ref, source))


def _apply_timed(fn: Callable[[RecordBatch], T], ref: SpoolBatch, source: str) -> tuple[T, float]:
    """In a worker: the result, and the seconds it took (charged to the check that asked)."""
    started = time.perf_counter()
    out = fn(read_spool_batch(ref, source))
    return out, time.perf_counter() - started


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
        require_picklable(fn, "map_batches")
        results: list[T] = []
        n = len(self.batches)
        with track_step(self.engine.progress, desc, len(self)) as task:
            if n > 1 and self.engine.workers > 1:
                outputs = self._in_workers(fn)
            else:
                outputs = (_apply(fn, ref, self.source) for ref in self.batches)
            for ref, out in zip(self.batches, outputs):
                results.append(out)
                if task is not None:
                    task.advance(ref.length)
        return results

    def _in_workers(self, fn: Callable[[RecordBatch], T]) -> Iterator[T]:
        """Results in batch order. Not Executor.map: on an interrupt it cancels the pending futures,
        which the pool's manager thread (3.11) then fails to mark broken when the workers are killed;
        an error stops the rest here, an interrupt leaves them to the engine's abort."""
        with deferred():
            futures = [self.engine.pool().submit(_apply_timed, fn, ref, self.source) for ref in self.batches]
        try:
            for future in futures:
                out, seconds = future.result()
                charge_worker_seconds(seconds)
                yield out
        except Exception:
            for future in futures:
                future.cancel()
            raise

    def group_by_key(self, fn: Callable[[RecordBatch], tuple[Any, Any]], *,
                     desc: str | None = None) -> list[list[int]]:
        return groups_of_parts(self.map_batches(fn, desc=desc))

    def take(self, indices: Sequence[int]) -> list[Record]:
        wanted = sorted({int(i) for i in indices if 0 <= int(i) < len(self)})
        by_batch: dict[int, list[int]] = {}
        for i in wanted:
            by_batch.setdefault(bisect_right(self._starts, i) - 1, []).append(i)
        found: dict[int, Record] = {}
        for number, members in by_batch.items():
            ref = self.batches[number]
            batch = read_spool_rows(ref, self.source, [i - ref.first_index for i in members])
            for k, i in enumerate(members):
                found[i] = batch.record(k)
        return [found[int(i)] for i in indices if int(i) in found]

    def sample(self, n: int, seed: int) -> list[Record]:
        return self.take(sample_indices(len(self), n, seed))
