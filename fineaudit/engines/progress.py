"""Progress bars for long steps: on a terminal only, never with --quiet or --no-progress."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import IO, Any


class NoProgress:
    @contextmanager
    def track(self, desc: str, total: int | None = None) -> Iterator[None]:
        yield None


class TerminalProgress:
    """rich progress bars on stderr, one per step, removed when the step ends."""

    def __init__(self, stream: IO[str] | None = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)

    @contextmanager
    def track(self, desc: str, total: int | None = None) -> Iterator[Any]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=self.console, transient=True) as bar:
            task_id = bar.add_task(desc, total=total)
            yield _Task(bar, task_id)


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
