"""Engines: where the passes of an audit run. `make_engine` is the one factory that `audit`,
`dedup` and `sample` use; each engine implements `core.Engine` and hands out `core.Records`."""
from __future__ import annotations

import pickle
from typing import Any

from fineaudit.core import ConfigError, Engine, ProgressSink

ENGINES = ("local", "dask")


class UnpicklableFunction(TypeError):
    """A function handed to an engine cannot travel to a worker process or machine."""


def require_picklable(fn: Any, method: str) -> None:
    """Refuse, on every path and at every input size, a function that cannot be pickled: one
    batch runs in-process and would pass, many batches go to workers and would fail (or hang)."""
    try:
        pickle.dumps(fn)
    except Exception as exc:  # pickling raises many types (PicklingError, AttributeError, TypeError)
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        raise UnpicklableFunction(
            f"{method} needs a picklable function (a module-level function, or functools.partial of "
            f"one, with picklable arguments), not {name}: {type(exc).__name__}: {exc}") from None


def make_engine(name: str, *, batch_size: int, workers: int | None = None, progress: ProgressSink | None = None,
                scheduler: str | None = None, client: Any = None, max_record_bytes: int | None = None) -> Engine:
    """The engine called `name`; a context manager that cleans up what it started."""
    from fineaudit.dataset.loaders import MAX_RECORD_BYTES

    limit = max_record_bytes or MAX_RECORD_BYTES
    if name == "local":
        from fineaudit.engines.local import LocalEngine

        return LocalEngine(batch_size=batch_size, workers=workers, progress=progress, max_record_bytes=limit)
    if name == "dask":
        try:
            from fineaudit.engines.dask import DaskEngine
        except ImportError as exc:
            raise ConfigError(f"--engine dask needs Dask: pip install 'fineaudit[dask]' ({exc})") from None
        return DaskEngine(batch_size=batch_size, progress=progress, scheduler=scheduler, client=client,
                          workers=workers, max_record_bytes=limit)
    raise ConfigError(f"unknown engine {name!r}; valid engines: {', '.join(ENGINES)}")


__all__ = ["ENGINES", "UnpicklableFunction", "make_engine", "require_picklable"]
