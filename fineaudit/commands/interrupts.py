"""Stopping a run on SIGTERM / SIGINT / SIGHUP: at a safe point, through every cleanup.

The CLI installs `on_signal`; it raises `Stopped` in the main thread, which unwinds through the
engines' context managers (workers killed, spool removed) and the atomic writers (temporary
files removed). Some steps must not be cut in the middle: starting worker processes holds the
process pool's locks, and a worker half started when its pool goes away prints a traceback. Such
steps run inside `deferred()`: a signal that arrives then is kept and raised when the step ends.
(Masking the signal in the main thread is not enough: the kernel hands it to another thread,
and Python still runs the handler in the main thread at once.)
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


class Stopped(BaseException):
    """A stop signal arrived. A BaseException, so that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_depth = 0
_depth_lock = threading.Lock()
_pending: list[int] = []


def on_signal(signum: int, frame: FrameType | None) -> None:
    """The handler: raise Stopped now, or when the deferred step ends."""
    for sig in STOP_SIGNALS:  # a second signal must not interrupt the cleanup of the first
        signal.signal(sig, signal.SIG_IGN)
    if _depth:
        _pending.append(signum)
        return
    raise Stopped(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """A step that a stop signal must not cut: the signal takes effect when it ends."""
    global _depth
    with _depth_lock:  # checks running at once enter and leave such steps from their threads
        _depth += 1
    try:
        yield
    finally:
        with _depth_lock:
            _depth -= 1
            signum = _pending.pop() if not _depth and _pending else None
        if signum is not None:
            raise Stopped(signum)


def reset() -> None:
    """Forget a signal that was kept but never raised (a run that ended by another error)."""
    _pending.clear()


__all__ = ["STOP_SIGNALS", "Stopped", "deferred", "on_signal", "reset"]
