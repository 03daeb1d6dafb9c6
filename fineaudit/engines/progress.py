"""Progress bars for long steps: on a terminal only, never with --quiet or --no-progress."""
from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import IO, Any


class NoProgress:
    @contextmanager
    def track(self, desc: str, total: int | None = None) -> Iterator[None]:
        yield None


class TerminalProgress:
    """rich progress bars on stderr, one per step, removed when the step ends. Steps of checks
    running at once share one live display (rich allows one per console), shown while any
    step is under way."""

    def __init__(self, stream: IO[str] | None = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)
        self._lock = threading.Lock()
        self._bar: Any = None
        self._steps = 0

    @contextmanager
    def track(self, desc: str, total: int | None = None) -> Iterator[Any]:
        with self._lock:
            bar = self._bar = self._bar or self._started_bar()
            self._steps += 1
            task_id = bar.add_task(desc, total=total)
        try:
            yield _Task(bar, task_id)
        finally:
            with self._lock:
                bar.remove_task(task_id)
                self._steps -= 1
                if not self._steps:
                    bar.stop()
                    self._bar = None

    def _started_bar(self) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        bar = Progress(*columns, console=self.console, transient=True)
        bar.start()
        return bar


class _Task:
    def __init__(self, bar: Any, task_id: Any):
        self.bar, self.task_id = bar, task_id

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.task_id, n)


def make_progress(enabled: bool, stream: IO[str] | None = None) -> NoProgress | TerminalProgress:
    stream = stream or sys.stderr
    if enabled and stream.isatty():
        return TerminalProgress(stream)
    return NoProgress()


def track_step(progress: Any, desc: str | None, total: int | None) -> Any:
    """`progress.track(desc, total)`, or a context that shows nothing when either is missing."""
    if progress is None or desc is None:
        return nullcontext(None)
    return progress.track(desc, total)
