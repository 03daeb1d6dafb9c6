"""Running the selected checks: one after another, or several at once on engines whose passes
run in worker processes.

Most of a check's time is its passes, which the workers do; but some checks then work in this
process alone (grouping MinHash bands, counting skeletons, clustering), and one check's last
batches leave workers idle while they wait for the slowest. Several checks at once keep the
workers fed meanwhile. Results come back in the order asked, so the report does not depend on
which check finished first; a check starts only after the checks it reads from (`after`), and
a check that is not `parallel_safe` (a plugin keeping global state) runs alone.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fineaudit.core import CheckResult


@dataclass(frozen=True)
class PlannedCheck:
    name: str
    after: tuple[str, ...] = ()  # selected checks that must end before this one starts
    alone: bool = False  # runs with no other check beside it


def run_checks(plan: Sequence[PlannedCheck], run: Callable[[str], CheckResult],
               at_once: int = 1) -> list[CheckResult]:
    """`run(name)` for every planned check, at most `at_once` at a time; results in plan order.

    An exception from `run` (a stop signal: checks' own errors are results) is raised here once
    the check that raised it is collected; checks still running are left to the engine's
    cleanup, which stops the workers they wait on (their threads are daemons)."""
    if at_once <= 1 or len(plan) <= 1:
        ran = {p.name: run(p.name) for p in _in_dependency_order(plan)}
        return [ran[p.name] for p in plan]
    done: dict[str, CheckResult] = {}
    finished: queue.Queue[tuple[str, CheckResult | None, BaseException | None]] = queue.Queue()
    waiting, running = list(plan), dict[str, PlannedCheck]()
    while waiting or running:
        for check in _startable(waiting, running, done, at_once):
            waiting.remove(check)
            running[check.name] = check
            threading.Thread(target=_run_one, args=(check.name, run, finished), daemon=True,
                             name=f"fineaudit check {check.name}").start()
        name, result, error = finished.get()
        del running[name]
        if error is not None:
            raise error
        assert result is not None
        done[name] = result
    return [done[p.name] for p in plan]


def _startable(waiting: list[PlannedCheck], running: dict[str, PlannedCheck], done: dict[str, CheckResult],
               at_once: int) -> list[PlannedCheck]:
    """The waiting checks that may start now, in plan order. A check that must run alone
    waits for the running ones to end, and the checks after it wait for it."""
    pending = {p.name for p in waiting} | set(running)
    chosen: list[PlannedCheck] = []
    for check in waiting:
        beside = [*running.values(), *chosen]
        if len(beside) >= at_once or any(p.alone for p in beside) or (check.alone and beside):
            break
        if any(a in pending and a != check.name for a in check.after):
            continue
        chosen.append(check)
    if not chosen and not running and waiting:  # only a cycle of `after` is left: plan order breaks it
        chosen.append(waiting[0])
    return chosen


def _run_one(name: str, run: Callable[[str], CheckResult],
             finished: queue.Queue[tuple[str, CheckResult | None, BaseException | None]]) -> None:
    try:
        finished.put((name, run(name), None))
    except BaseException as exc:  # a stop signal raised in this thread: the main thread re-raises it
        finished.put((name, None, exc))


def _in_dependency_order(plan: Sequence[PlannedCheck]) -> list[PlannedCheck]:
    """Plan order, except that a check comes after the planned checks it reads from."""
    names = {p.name for p in plan}
    ordered: list[PlannedCheck] = []
    placed: set[str] = set()
    remaining = list(plan)
    while remaining:
        ready = next((p for p in remaining if all(a in placed or a not in names for a in p.after)), remaining[0])
        ordered.append(ready)
        placed.add(ready.name)
        remaining.remove(ready)
    return ordered


__all__ = ["PlannedCheck", "run_checks"]
