"""The seconds of work one check causes, when several checks run at once.

A check's wall time means little when other checks' passes share the workers with it: its
batches wait behind theirs. So a check running beside others is charged what it did: the
seconds its batch functions ran in the worker processes (the engine reports them here, to the
thread that asked for the pass) plus the CPU seconds of its own thread in this process.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_local = threading.local()


@dataclass
class WorkMeter:
    thread_started: float = field(default_factory=time.thread_time)
    worker_seconds: float = 0.0

    def seconds(self) -> float:
        return self.worker_seconds + time.thread_time() - self.thread_started


@contextmanager
def metered() -> Iterator[WorkMeter]:
    """Charge the work of this thread, and of the passes it asks for, to one meter."""
    meter, outer = WorkMeter(), getattr(_local, "meter", None)
    _local.meter = meter
    try:
        yield meter
    finally:
        _local.meter = outer


def charge_worker_seconds(seconds: float) -> None:
    """A batch function asked for by this thread ran this long in a worker process."""
    meter: WorkMeter | None = getattr(_local, "meter", None)
    if meter is not None:
        meter.worker_seconds += seconds


__all__ = ["WorkMeter", "charge_worker_seconds", "metered"]
