"""Several checks at once (check_runs.py): plan order, at most `at_once`, `after`, `alone`,
errors raised where they were asked for; and through the real audit, the same report as one
check at a time, with plugins that are not `parallel_safe` running alone."""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.check_runs import PlannedCheck, run_checks
from fineaudit.commands.interrupts import Stopped
from fineaudit.core import AuditContext, Checker, CheckResult, Records, Status
from fineaudit.engines import make_engine
from fineaudit.registry import load_checkers
from tests.conftest import REPO

WAIT = 10.0  # seconds a check waits for another before the test fails (a wrong scheduler would hang)


class Recorder:
    """A `run` for run_checks that records, under a lock, when each check starts and ends and
    which checks it ran beside; `hooks[name]` runs inside the check (waits, barriers, raises)."""

    def __init__(self, hooks: dict[str, Callable[[], object]] | None = None) -> None:
        self.hooks = hooks or {}
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self.peak = 0
        self.beside: dict[str, set[str]] = {}
        self.started = {name: threading.Event() for name in "abcdefgh"}
        self.ended = {name: threading.Event() for name in "abcdefgh"}

    def run(self, name: str) -> CheckResult:
        with self.lock:
            self.events.append(("start", name))
            for other in self.running:
                self.beside.setdefault(name, set()).add(other)
                self.beside.setdefault(other, set()).add(name)
            self.running.add(name)
            self.peak = max(self.peak, len(self.running))
        self.started[name].set()
        try:
            self.hooks.get(name, lambda: None)()
        finally:
            with self.lock:
                self.events.append(("end", name))
                self.running.discard(name)
            self.ended[name].set()
        return CheckResult(name=name, status=Status.PASS, summary=f"ran {name}")

    def at(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


def raising(error: BaseException) -> Callable[[], None]:
    def fail() -> None:
        raise error
    return fail


def wait_for(event: threading.Event) -> None:
    if not event.wait(WAIT):
        raise TimeoutError("the event never came: the scheduler did not run the checks it should have")


def plan(*specs: str) -> list[PlannedCheck]:
    """'b<a' is b after a (several: 'c<ab'); a trailing '!' runs alone."""
    out = []
    for spec in specs:
        alone = spec.endswith("!")
        name, _, after = spec.rstrip("!").partition("<")
        out.append(PlannedCheck(name, tuple(after), alone))
    return out


@pytest.mark.parametrize("finish_order", ["abc", "cba", "bca", "cab"])
def test_results_come_back_in_plan_order_whatever_order_they_finish_in(finish_order: str) -> None:
    rec = Recorder()
    rec.hooks = {later: partial(wait_for, rec.ended[earlier])  # each waits for the one before it to end
                 for earlier, later in zip(finish_order, finish_order[1:])}
    results = run_checks(plan("a", "b", "c"), rec.run, at_once=3)
    assert [r.name for r in results] == ["a", "b", "c"]
    assert [name for kind, name in rec.events if kind == "end"] == list(finish_order)


@pytest.mark.parametrize("at_once", [2, 3])
def test_never_more_than_at_once_and_that_many_do_run_together(at_once: int) -> None:
    barrier = threading.Barrier(at_once)  # passes only when `at_once` checks wait at it together

    def meet() -> None:
        barrier.wait(WAIT)
        time.sleep(0.05)  # room for a wrong scheduler to start one more beside these

    rec = Recorder({name: meet for name in "abcdef"})
    results = run_checks(plan(*"abcdef"), rec.run, at_once=at_once)
    assert [r.name for r in results] == list("abcdef")
    assert rec.peak == at_once


@pytest.mark.parametrize("specs,at_once", [
    (["b<a", "a"], 1),                 # plan order fixed up: a runs first
    (["c<ab", "b<a", "a"], 1),
    (["a", "b<a"], 1),
    (["b<a", "a", "c"], 3),            # with room for all three, b still waits for a
    (["a", "b<a", "c<a", "d"], 3),
    (["c<ab", "b<a", "a", "d"], 2),
])
def test_a_check_starts_only_after_the_checks_it_reads_from_ended(specs: list[str], at_once: int) -> None:
    checks = plan(*specs)
    rec = Recorder({"a": lambda: time.sleep(0.05)})  # gives a wrong scheduler the time to start b beside a
    results = run_checks(checks, rec.run, at_once=at_once)
    assert sorted(r.name for r in results) == sorted(p.name for p in checks)
    for check in checks:
        for first in check.after:
            assert rec.at("end", first) < rec.at("start", check.name), (check.name, first, rec.events)


@pytest.mark.parametrize("specs,at_once", [
    (["b<a", "a"], 1),
    (["a<b", "b<c", "c<a"], 1),
    (["a<a", "b"], 1),
    (["a", "b<a"], 1),
    (["b<a", "a"], 2),
    (["a<b", "b<c", "c<a"], 2),
    (["a<a", "b"], 2),
])
def test_results_are_in_plan_order_when_after_changes_the_order_checks_run_in(specs: list[str],
                                                                               at_once: int) -> None:
    checks = plan(*specs)
    results = run_checks(checks, Recorder().run, at_once=at_once)
    assert [r.name for r in results] == [p.name for p in checks]


@pytest.mark.parametrize("at_once", [1, 2])
def test_an_after_naming_a_check_not_in_the_plan_is_ignored(at_once: int) -> None:
    rec = Recorder()
    if at_once > 1:  # b does not wait for the missing check: a and b run together
        barrier = threading.Barrier(2)
        rec.hooks = {name: (lambda: barrier.wait(WAIT)) for name in "ab"}
    results = run_checks([PlannedCheck("a", ("zzz",)), PlannedCheck("b", ("yyy",))], rec.run, at_once=at_once)
    assert [r.name for r in results] == ["a", "b"]
    assert {name for _, name in rec.events} == {"a", "b"}


@pytest.mark.parametrize("specs", [["a<b", "b<a"], ["a<b", "b<c", "c<a"], ["a<b", "b<a", "c"],
                                   ["a<a", "b"]])  # the last: a check after itself
@pytest.mark.parametrize("at_once", [1, 3])
def test_a_cycle_of_after_still_runs_everything(specs: list[str], at_once: int) -> None:
    checks = plan(*specs)
    rec = Recorder()
    results = run_checks(checks, rec.run, at_once=at_once)
    assert sorted(r.name for r in results) == sorted(p.name for p in checks)
    assert sorted(name for kind, name in rec.events if kind == "start") == sorted(p.name for p in checks)


@pytest.mark.parametrize("specs,alone", [
    (["a!", "b", "c", "d"], "a"),
    (["a", "b!", "c", "d"], "b"),
    (["a", "b", "c", "d!"], "d"),
    (["a", "b!", "c!", "d"], "c"),
])
def test_an_alone_check_never_overlaps_another(specs: list[str], alone: str) -> None:
    rec = Recorder({name: (lambda: time.sleep(0.05)) for name in "abcd"})  # room for a wrong overlap
    results = run_checks(plan(*specs), rec.run, at_once=3)
    assert [r.name for r in results] == list("abcd")
    assert rec.beside.get(alone, set()) == set(), rec.events


def test_checks_that_are_not_alone_do_run_beside_each_other_around_an_alone_one() -> None:
    barrier = threading.Barrier(2)  # c and d pass only together: the alone b did not stop them
    rec = Recorder({"c": lambda: barrier.wait(WAIT), "d": lambda: barrier.wait(WAIT)})
    run_checks(plan("a", "b!", "c", "d"), rec.run, at_once=3)
    assert rec.beside["c"] == {"d"} and "b" not in rec.beside


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), Stopped(signal.SIGINT), KeyboardInterrupt()],
                         ids=["exception", "stopped", "keyboard_interrupt"])
@pytest.mark.parametrize("at_once", [1, 3])
def test_an_exception_raised_by_run_is_raised_by_run_checks(error: BaseException, at_once: int) -> None:
    rec = Recorder({"b": raising(error)})
    with pytest.raises(type(error)) as raised:
        run_checks(plan("a", "b", "c"), rec.run, at_once=at_once)
    assert raised.value is error


def test_a_raising_check_is_raised_while_another_still_runs() -> None:
    release = threading.Event()
    rec = Recorder({"a": lambda: wait_for(release), "b": raising(Stopped(signal.SIGTERM))})
    try:
        with pytest.raises(Stopped):
            run_checks(plan("a", "b"), rec.run, at_once=2)
        assert rec.running == {"a"}  # run_checks did not wait for a (its thread is a daemon)
    finally:
        release.set()
        wait_for(rec.ended["a"])


# --------------------------------------------------------------------------- through the real audit

SAMPLE = REPO / "sample_data"
SMALL_BATCHES = {"batch_size": 100}  # 600 training records: 6 batches, passes in worker processes


VOLATILE_METRICS = ("embedding_seconds",)  # drift's: a duration (wall time), not an answer


def without_volatile(report: dict[str, Any]) -> dict[str, Any]:
    report = dict(report, created=None)
    report["checks"] = [dict(c, duration_s=None, metrics={k: v for k, v in c["metrics"].items()
                                                          if k not in VOLATILE_METRICS})
                        for c in report["checks"]]
    return report


def sample_audit(workers: int) -> dict[str, Any]:
    return fineaudit.audit(SAMPLE / "train.jsonl", production=SAMPLE / "production.jsonl",
                           eval=SAMPLE / "eval.jsonl", config={**SMALL_BATCHES, "workers": workers}).to_dict()


@pytest.fixture(scope="module")
def sample_reports() -> dict[int, dict[str, Any]]:
    return {workers: sample_audit(workers) for workers in (2, 1)}


@pytest.mark.parametrize("workers,at_once", [(1, 1), (2, 3)])
def test_the_local_engine_runs_checks_at_once_only_with_several_workers(workers: int, at_once: int) -> None:
    with make_engine("local", batch_size=100, workers=workers) as engine:
        assert engine.checks_at_once == at_once


def test_checks_at_once_give_the_report_of_checks_one_at_a_time(sample_reports: dict[int, dict[str, Any]]) -> None:
    at_once, one_by_one = sample_reports[2], sample_reports[1]
    assert [c["name"] for c in at_once["checks"]] == [c["name"] for c in one_by_one["checks"]]
    assert {c["name"] for c in at_once["checks"] if c["status"] != "skipped"} >= {
        "leakage", "drift", "eval_split", "length", "cost", "near_duplicates"}  # eval and production were read
    assert without_volatile(at_once) == without_volatile(one_by_one)


def test_cost_still_bills_lengths_counts_when_checks_run_at_once(sample_reports: dict[int, dict[str, Any]]) -> None:
    cost = {w: next(c for c in r["checks"] if c["name"] == "cost")["metrics"] for w, r in sample_reports.items()}
    assert cost[2] == cost[1]
    assert cost[2]["tokens_from"] == "length" and cost[2]["records_counted"] == 600
    assert cost[2]["billing_tokens_per_epoch"] > 0


# A plugin without parallel_safe, and one with it, registered through the entry-point group the
# way a third-party package registers them (a dist-info folder on sys.path).

SEEN: dict[str, list[Any]] = {}
PREFIX = "fineaudit check "


def check_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(PREFIX)}


class AloneChecker(Checker):
    """Keeps global state, so it does not say parallel_safe: it must run alone."""

    name = "alone_plugin"
    order = 42  # among the built-ins, so that checks are running around it

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        started, threads = time.perf_counter(), check_threads()
        batches = data.map_batches(len)  # a pass in the workers, while no other check may run
        time.sleep(0.2)  # room for a wrong scheduler to start another check beside it
        threads |= check_threads()
        SEEN["alone"] = [started, time.perf_counter(), threads, batches]
        return self.result(Status.PASS, "alone", {"batches": len(batches)})


class BesideChecker(Checker):
    """parallel_safe: runs beside others; it waits until it sees another check's thread."""

    name = "beside_plugin"
    order = 35
    parallel_safe = True

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        started, deadline = time.perf_counter(), time.monotonic() + WAIT
        while len(check_threads()) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        SEEN["beside"] = [started, time.perf_counter(), check_threads()]
        return self.result(Status.PASS, "beside", {})


class AfterCostChecker(Checker):
    """Reads what cost leaves, so it starts after cost, though its place in reports is earlier."""

    name = "after_cost_plugin"
    order = 25
    after = ("cost",)
    parallel_safe = True

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        return self.result(Status.PASS, "after cost", {})


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    info = tmp_path / "site" / "check_runs_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: check-runs-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[fineaudit.checkers]\n"
                                           f"alone_plugin = {__name__}:AloneChecker\n"
                                           f"beside_plugin = {__name__}:BesideChecker\n"
                                           f"after_cost_plugin = {__name__}:AfterCostChecker\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    load_checkers.cache_clear()
    SEEN.clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        load_checkers.cache_clear()


def test_a_plugin_without_parallel_safe_runs_alone(plugins: None) -> None:
    assert not load_checkers()["alone_plugin"].parallel_safe
    report = fineaudit.audit(SAMPLE / "train.jsonl", eval=SAMPLE / "eval.jsonl",
                             config={**SMALL_BATCHES, "workers": 2})
    assert report.checks["alone_plugin"].status == Status.PASS
    assert report.checks["beside_plugin"].status == Status.PASS
    alone_start, alone_end, alone_threads, batches = SEEN["alone"]
    beside_start, beside_end, beside_threads = SEEN["beside"]
    assert batches == [100] * 6  # its pass ran over several batches, in the workers
    assert alone_threads == {PREFIX + "alone_plugin"}  # no other check's thread beside it
    assert len(beside_threads) >= 2  # checks did run at once in this audit
    assert beside_end <= alone_start or alone_end <= beside_start


@pytest.mark.parametrize("workers", [1, 2])
def test_a_check_after_a_later_one_keeps_its_place_in_the_report(plugins: None, workers: int) -> None:
    report = fineaudit.audit(SAMPLE / "train.jsonl", only=["size", "format", "cost", "after_cost_plugin"],
                             config={**SMALL_BATCHES, "workers": workers})
    assert list(report.checks) == ["size", "format", "after_cost_plugin", "cost"]
