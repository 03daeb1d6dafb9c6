"""Progress bars (engines/progress.py): steps of checks running at once share one live display
(rich allows one per console), so tracking two steps at once works, and a later step again."""
from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable

import pytest

from fineaudit.engines.progress import NoProgress, TerminalProgress, make_progress, track_step

WAIT = 10.0


class TerminalStream(io.StringIO):
    """Text a terminal would get: rich draws live bars only on a terminal."""

    def isatty(self) -> bool:
        return True


def shown(stream: io.StringIO, *descs: str) -> None:
    """Wait until the live display has drawn every description (it refreshes in its own thread)."""
    deadline = time.monotonic() + WAIT
    while not all(d in stream.getvalue() for d in descs):
        assert time.monotonic() < deadline, f"never shown: {descs}; output: {stream.getvalue()!r}"
        time.sleep(0.01)


def two_threads(progress: TerminalProgress, stream: io.StringIO) -> None:
    """Step one opens in one thread, step two in another while one is open; two ends first."""
    one_open, two_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed back to the test's thread
                errors.append(exc)
                one_open.set()
                two_done.set()
        return run

    def first() -> None:
        with progress.track("step one: alpha", total=4) as task:
            task.advance()
            one_open.set()
            assert two_done.wait(WAIT)
            task.advance(3)

    def second() -> None:
        assert one_open.wait(WAIT)
        with progress.track("step two: beta", total=2) as task:
            task.advance(2)
            shown(stream, "step one: alpha", "step two: beta")
        two_done.set()

    threads = [threading.Thread(target=guarded(fn)) for fn in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    if errors:
        raise errors[0]


def nested_in_one_thread(progress: TerminalProgress, stream: io.StringIO) -> None:
    with progress.track("step one: alpha", total=4) as outer:
        with progress.track("step two: beta") as inner:  # no total: a count without a bar
            inner.advance()
            outer.advance(4)
            shown(stream, "step one: alpha", "step two: beta")


@pytest.mark.parametrize("steps", [two_threads, nested_in_one_thread])
def test_two_steps_at_once_share_one_display_and_a_later_step_works(
        steps: Callable[[TerminalProgress, io.StringIO], None]) -> None:
    stream = TerminalStream()
    progress = TerminalProgress(stream)
    assert progress.console.is_terminal
    steps(progress, stream)
    with progress.track("step three: gamma", total=1) as task:  # the shared display stopped: a new one starts
        task.advance()
        shown(stream, "step three: gamma")
    with progress.track("step four: delta", total=1), progress.track("step five: epsilon"):
        shown(stream, "step four: delta", "step five: epsilon")


def test_a_step_that_raises_still_ends_its_bar() -> None:
    stream = TerminalStream()
    progress = TerminalProgress(stream)
    with pytest.raises(RuntimeError):
        with progress.track("failing step", total=3):
            raise RuntimeError("boom")
    with progress.track("next step", total=1) as task:  # not left with a live display nobody stops
        task.advance()
        shown(stream, "next step")


@pytest.mark.parametrize("enabled,stream,kind", [
    (True, TerminalStream(), TerminalProgress),
    (True, io.StringIO(), NoProgress),     # not a terminal: no bars
    (False, TerminalStream(), NoProgress),
])
def test_make_progress_draws_only_on_a_terminal(enabled: bool, stream: io.StringIO, kind: type) -> None:
    assert type(make_progress(enabled, stream)) is kind


@pytest.mark.parametrize("desc,with_progress", [(None, True), ("step", False), (None, False)])
def test_track_step_shows_nothing_without_a_description_or_a_progress(desc: str | None, with_progress: bool) -> None:
    stream = TerminalStream()
    with track_step(TerminalProgress(stream) if with_progress else None, desc, 3) as task:
        assert task is None
    assert stream.getvalue() == ""
