"""A real two-worker Dask cluster, shared by the engine tests of one session."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from fineaudit.core import RecordBatch


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def rows_of(batch: RecordBatch) -> list[tuple[Any, ...]]:
    """Every column of every record (module level: it runs in worker processes)."""
    return [tuple(getattr(batch, c)[i] for c in RecordBatch.COLUMNS) for i in range(len(batch))]


def all_rows(data: Any) -> list[tuple[Any, ...]]:
    return [row for part in data.map_batches(rows_of) for row in part]
