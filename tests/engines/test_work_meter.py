"""The work one check causes (engines/work_meter.py): worker seconds go to the meter of the
thread that asked for the pass, and a thread's own seconds are its CPU time, not its wall time."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fineaudit.core import RecordBatch
from fineaudit.dataset.loaders import open_source
from fineaudit.engines.local import LocalEngine
from fineaudit.engines.work_meter import WorkMeter, charge_worker_seconds, metered
from tests.conftest import chat, write_jsonl


def in_thread(fn: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def charge_unmetered() -> None:
    charge_worker_seconds(7.0)


def charge_in_own_meter() -> None:
    with metered() as own:
        charge_worker_seconds(7.0)
    assert own.worker_seconds == 7.0


@pytest.mark.parametrize("other_thread", [
    None,                   # only this thread's charges
    charge_unmetered,       # another thread without a meter: charged nowhere
    charge_in_own_meter,    # another thread with its own meter: charged there
])
def test_worker_seconds_go_to_the_meter_of_the_thread_that_opened_it(
        other_thread: Callable[[], None] | None) -> None:
    with metered() as meter:
        charge_worker_seconds(1.5)
        if other_thread is not None:
            in_thread(other_thread)
        charge_worker_seconds(0.5)
    assert meter.worker_seconds == 2.0


def test_two_threads_metered_at_once_keep_their_own_charges() -> None:
    both_open = threading.Barrier(2)
    meters: dict[str, WorkMeter] = {}

    def check(name: str, seconds: float) -> None:
        with metered() as meter:
            both_open.wait(10)  # both meters open before either charges
            charge_worker_seconds(seconds)
            both_open.wait(10)
            meters[name] = meter

    threads = [threading.Thread(target=check, args=(name, s)) for name, s in (("a", 1.0), ("b", 30.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert meters["a"].worker_seconds == 1.0 and meters["b"].worker_seconds == 30.0


def test_nothing_is_charged_outside_a_meter() -> None:
    charge_worker_seconds(5.0)  # no meter open: a no-op, not an error
    with metered() as meter:
        pass
    charge_worker_seconds(5.0)  # after the meter closed: not charged to it
    assert meter.worker_seconds == 0.0
    with metered() as later:
        assert later.worker_seconds == 0.0


def busy(seconds: float) -> None:
    """CPU work in this thread for `seconds` of its CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        sum(range(1000))


def test_a_threads_seconds_grow_with_its_cpu_work_not_with_sleeping() -> None:
    with metered() as meter:
        time.sleep(0.4)
        slept = meter.seconds()
        busy(0.2)
        worked = meter.seconds()
        charge_worker_seconds(3.0)
        charged = meter.seconds()
    assert slept < 0.1
    assert worked - slept >= 0.2
    assert charged - worked >= 3.0


def test_another_threads_cpu_work_is_not_this_threads() -> None:
    with metered() as meter:
        in_thread(lambda: busy(0.3))
        assert meter.seconds() < 0.15


def busy_batch(batch: RecordBatch) -> int:
    """Module level (it runs in worker processes): about 0.05 s of CPU per batch."""
    busy(0.05)
    return len(batch)


def test_the_local_engines_passes_charge_their_worker_seconds(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", f"a{i}") for i in range(60)])
    with LocalEngine(batch_size=10, workers=2) as engine:
        data = engine.load(open_source(str(path)), "chat", "train", None)
        with metered() as meter:
            sizes = data.map_batches(busy_batch)
        charged = meter.worker_seconds
        unmetered = data.map_batches(busy_batch)  # charged to no meter: the closed one keeps its count
    assert sizes == unmetered == [10] * 6  # six batches, in worker processes
    assert charged >= 6 * 0.04
    assert meter.worker_seconds == charged
    assert meter.seconds() >= meter.worker_seconds
