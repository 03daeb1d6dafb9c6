"""Spool batches (engines/spool.py): a SpoolRecordBatch is the RecordBatch that was written,
column for column, whose columns become Python lists only when first read."""
from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import pytest

from fineaudit.core import RecordBatch
from fineaudit.dataset.formats import RawItem, build_batch
from fineaudit.dataset.loaders import open_source
from fineaudit.engines.grouping import BatchSpec
from fineaudit.engines.spool import SpoolBatch, SpoolRecordBatch, from_arrow, read_spool_batch, to_arrow, write_spool
from tests.conftest import chat

ROWS: list[Any] = [  # every column's kinds: a system prompt, unicode, empty text, a malformed line, a bad record
    chat("hi", "hello"),
    chat("Grüße, 世界 🌍", "ça va\nbien", system="be brief"),
    chat("", "empty prompt"),
    "{not json",
    {"messages": "nope"},
    chat("q" * 300, "a"),
    chat("last", "one"),
]
BATCH_SIZE = 3


def jsonl_lines(path: Path) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n",
                    encoding="utf-8")
    return path


def items(spec: Any) -> Iterator[RawItem]:
    return chain.from_iterable(open_source(spec).items(100))


def plain_batches(spec: Any) -> list[RecordBatch]:
    """What the loaders give, as plain RecordBatches numbered from 0 (what a spool file holds)."""
    all_items = list(items(spec))
    return [build_batch(all_items[s:s + BATCH_SIZE], s, "chat", "train", None)
            for s in range(0, len(all_items), BATCH_SIZE)]


@pytest.fixture(params=["file", "memory"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A JSON Lines file (every record has a line) or records in memory (no lines)."""
    return str(jsonl_lines(tmp_path / "d.jsonl")) if request.param == "file" else [r for r in ROWS if
                                                                                    not isinstance(r, str)]


def test_arrow_round_trip_gives_every_column_back(spec: Any) -> None:
    for plain in plain_batches(spec):
        spooled = from_arrow(to_arrow(plain), "train")
        assert isinstance(spooled, SpoolRecordBatch)
        for column in RecordBatch.COLUMNS:
            assert getattr(spooled, column) == getattr(plain, column), column
        assert spooled.source == "train"


@pytest.mark.parametrize("block_start,line_offset", [(0, 0), (100, 0), (0, 7), (1000, 250)])
def test_a_spool_file_gives_the_batches_written_shifted_to_global_numbering(
        spec: Any, tmp_path: Path, block_start: int, line_offset: int) -> None:
    path = str(tmp_path / "block.arrow")
    written = write_spool(items(spec), BatchSpec("chat", "train", None, BATCH_SIZE), path)
    expected = plain_batches(spec)
    assert written == sum(len(b) for b in expected)
    for number, plain in enumerate(expected):
        ref = SpoolBatch(path, number, block_start + plain.index[0], len(plain), block_start, line_offset)
        spooled = read_spool_batch(ref, "train")
        assert spooled.index == [i + block_start for i in plain.index]
        assert spooled.line == [None if n is None else n + line_offset for n in plain.line]
        for column in RecordBatch.COLUMNS[2:]:
            assert getattr(spooled, column) == getattr(plain, column), column


@pytest.fixture
def pair(tmp_path: Path) -> tuple[RecordBatch, RecordBatch]:
    """A batch read from a real spool file, fresh (no column read yet), and the plain one written."""
    path = str(tmp_path / "block.arrow")
    spec = str(jsonl_lines(tmp_path / "d.jsonl"))
    write_spool(items(spec), BatchSpec("chat", "train", None, 100), path)
    (plain,) = [build_batch(list(items(spec)), 0, "chat", "train", None)]
    return read_spool_batch(SpoolBatch(path, 0, 0, len(ROWS), 0, 0), "train"), plain


def test_len_touches_no_column(pair: tuple[RecordBatch, RecordBatch]) -> None:
    spooled, _ = pair
    assert len(spooled) == len(ROWS)
    assert not set(vars(spooled)) & set(RecordBatch.COLUMNS)


@pytest.mark.parametrize("column", ["index", "raw", "error", "valid", "label"])
def test_a_column_is_read_on_first_use_and_kept(pair: tuple[RecordBatch, RecordBatch], column: str) -> None:
    spooled, plain = pair
    assert column not in vars(spooled)
    first = getattr(spooled, column)
    assert first == getattr(plain, column)
    assert vars(spooled)[column] is first and getattr(spooled, column) is first
    assert set(vars(spooled)) & set(RecordBatch.COLUMNS) == {column}  # the others still unread


def test_an_unknown_attribute_is_still_an_attribute_error(pair: tuple[RecordBatch, RecordBatch]) -> None:
    spooled, _ = pair
    with pytest.raises(AttributeError):
        getattr(spooled, "no_such_column")
    assert not hasattr(spooled, "chosen")


def test_equal_to_the_plain_batch_both_ways(pair: tuple[RecordBatch, RecordBatch]) -> None:
    spooled, plain = pair
    assert spooled == plain and plain == spooled
    assert not spooled != plain and not plain != spooled


@pytest.mark.parametrize("other", [
    lambda plain: plain.take(range(len(plain) - 1)),                                   # a record fewer
    lambda plain: RecordBatch(**{**vars(plain), "source": "eval"}),                    # another source
    lambda plain: RecordBatch(**{**vars(plain), "label": ["x"] * len(plain)}),         # one column differs
])
def test_not_equal_to_a_different_batch(pair: tuple[RecordBatch, RecordBatch], other: Any) -> None:
    spooled, plain = pair
    different = other(plain)
    assert spooled != different and different != spooled


@pytest.mark.parametrize("positions", [[], [0], [3], [6, 0, 2], [1, 1]])
def test_take_gives_the_plain_batchs_rows(pair: tuple[RecordBatch, RecordBatch], positions: list[int]) -> None:
    spooled, plain = pair
    taken = spooled.take(positions)
    assert type(taken) is RecordBatch and taken == plain.take(positions) and len(taken) == len(positions)


def test_record_and_iteration_give_the_plain_batchs_records(pair: tuple[RecordBatch, RecordBatch]) -> None:
    spooled, plain = pair
    assert [spooled.record(i) for i in range(len(ROWS))] == [plain.record(i) for i in range(len(ROWS))]
    assert list(spooled) == list(plain)
    assert spooled.record(3).error is not None and spooled.record(3).line == 4  # the malformed line


@pytest.mark.parametrize("read_first", [(), ("prompt",), RecordBatch.COLUMNS])
def test_it_pickles_as_a_plain_record_batch_equal_to_it(pair: tuple[RecordBatch, RecordBatch],
                                                        read_first: tuple[str, ...]) -> None:
    spooled, plain = pair
    for column in read_first:
        getattr(spooled, column)
    copy = pickle.loads(pickle.dumps(spooled))
    assert type(copy) is RecordBatch
    assert copy == spooled and copy == plain and spooled == copy
