"""Reading datasets: files, shards, save_to_disk folders and in-memory objects.

A loader turns its input into a stream of RawItem batches. It never stops at a malformed
record: a JSON Lines line that does not parse becomes an item carrying the error, which the
`format` check reports with its line. Only what makes the whole input unreadable (a missing
file, a binary file, an unsupported type) raises InputError, which the CLI turns into exit 2.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from fineaudit.core import InputError, Shard
from fineaudit.formats import RawItem, detect_layout

FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
_BINARY_SNIFF = 8192


def to_json_text(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                        default=_jsonable).decode("utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


@dataclass
class Source:
    """A dataset to read: a list of files read in order, or records already in memory."""

    path: str | None
    files: list[Path] = field(default_factory=list)
    rows: Any = None  # list of dicts, pandas DataFrame or datasets.Dataset

    @property
    def sharded(self) -> bool:
        return len(self.files) > 1 or (self.path is not None and len(self.files) == 1
                                       and str(self.files[0]) != self.path)

    def items(self, batch_size: int, shards: list[Shard] | None = None) -> Iterator[list[RawItem]]:
        """All records as RawItem batches, indices running across files in sorted order.

        `shards`, when given, is filled with each file and the index of its first record."""
        stream = self._iter_rows_in_memory() if self.rows is not None else self._iter_files(shards)
        while batch := list(islice(stream, batch_size)):
            yield batch

    def peek(self, n: int = 1000) -> list[Any]:
        """The first n parsed objects, for layout detection."""
        return [item.obj for item in self._first_items(n) if item.error is None]

    def detect_layout(self, n: int = 1000) -> str:
        """The layout of the first n records (UnknownLayout naming the first bad line if none parse)."""
        items = self._first_items(n)
        first_error = next((f"{f'line {i.line}' if i.line else f'record {n}'}: {i.error}"
                            for n, i in enumerate(items) if i.error is not None), None)
        return detect_layout([i.obj for i in items if i.error is None], self.path or "data", first_error)

    def _first_items(self, n: int) -> list[RawItem]:
        stream = self._iter_rows_in_memory() if self.rows is not None else self._iter_files()
        return list(islice(stream, n))

    def sha256(self) -> str | None:
        if self.rows is not None:
            return None
        digest = hashlib.sha256()
        for path in self.files:
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file():
                    with open(file, "rb") as fh:
                        while chunk := fh.read(1 << 20):
                            digest.update(chunk)
        return digest.hexdigest()

    def _iter_files(self, shards: list[Shard] | None = None) -> Iterator[RawItem]:
        count = 0
        for path in self.files:
            if shards is not None:
                shards.append(Shard(str(path), count))
            for item in read_file(path):
                count += 1
                yield item

    def _iter_rows_in_memory(self) -> Iterator[RawItem]:
        rows = self.rows
        if hasattr(rows, "to_dict") and hasattr(rows, "iloc"):  # pandas DataFrame
            for start in range(0, len(rows), 4096):
                for obj in rows.iloc[start:start + 4096].to_dict("records"):
                    yield item_from_object(None, without_fill(obj))
            return
        if hasattr(rows, "iter") and hasattr(rows, "features"):  # datasets.Dataset
            for batch in rows.iter(batch_size=4096):
                keys = list(batch)
                for values in zip(*(batch[k] for k in keys)):
                    yield item_from_object(None, without_fill(dict(zip(keys, values))))
            return
        for obj in rows:
            yield item_from_object(None, obj)


def without_fill(value: Any) -> Any:
    """A row read from a table, without the nulls (NaN in pandas) a table puts where a record had
    no such key: Arrow gives every row every column, JSON records leave optional keys out."""
    if isinstance(value, dict):
        return {k: without_fill(v) for k, v in value.items() if not _is_fill(v)}
    if isinstance(value, list):
        return [without_fill(v) for v in value]
    return value


def _is_fill(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def item_from_object(line: int | None, obj: Any) -> RawItem:
    raw = to_json_text(obj)
    if not isinstance(obj, dict):
        return RawItem(line, None, raw, f"a JSON {type(obj).__name__}, not an object")
    return RawItem(line, obj, raw)


# --------------------------------------------------------------------------- opening


def open_source(data: Any, what: str = "data") -> Source:
    """A Source for a path, glob, folder, or an in-memory dataset."""
    if isinstance(data, (str, os.PathLike)):
        return _open_path(str(data))
    if isinstance(data, list):
        return Source(path=None, rows=data)
    if hasattr(data, "iloc") or (hasattr(data, "iter") and hasattr(data, "features")):
        return Source(path=None, rows=data)
    raise InputError(f"{what}: cannot audit a {type(data).__name__}; give a path, a list of dicts, "
                     "a pandas DataFrame or a datasets Dataset/DatasetDict")


def _open_path(spec: str) -> Source:
    if any(ch in spec for ch in "*?["):
        matches = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix in FILE_SUFFIXES)
        if not matches:
            raise InputError(f"no {'/'.join(FILE_SUFFIXES)} file matches the pattern", spec)
        return Source(path=spec, files=matches)
    path = Path(spec)
    if not path.exists():
        raise InputError("no such file or folder", spec)
    if path.is_dir():
        return _open_folder(path)
    if path.suffix not in FILE_SUFFIXES:
        raise InputError(f"unsupported file type {path.suffix or '(no extension)'!r}; expected "
                         ".jsonl, .json, .csv or .parquet, a folder of such shards, or a "
                         "datasets save_to_disk folder", spec)
    return Source(path=spec, files=[path])


def _open_folder(path: Path) -> Source:
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        return Source(path=str(path), rows=_load_from_disk(path))
    shards = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in FILE_SUFFIXES)
    if not shards:
        raise InputError("folder holds no .jsonl/.json/.csv/.parquet shards and is not a "
                         "datasets save_to_disk folder", str(path))
    return Source(path=str(path), files=shards)


def _load_from_disk(path: Path) -> Any:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        return loaded["train"] if "train" in loaded else loaded[next(iter(loaded))]
    return loaded


def held_out_split_at(data: Any) -> Any:
    """The test/validation split of a `save_to_disk` DatasetDict folder (None for anything else),
    so that a folder path gives the same audit as the DatasetDict object."""
    if not isinstance(data, (str, os.PathLike)) or not (Path(data) / "dataset_dict.json").is_file():
        return None
    import datasets

    return split_dataset_dict(datasets.load_from_disk(str(data)))[1]


def split_dataset_dict(data: Any) -> tuple[Any, Any]:
    """A DatasetDict's train split and its test/validation split (None without one)."""
    if type(data).__name__ != "DatasetDict":
        return data, None
    name = "train" if "train" in data else next(iter(data))
    held_out = next((data[s] for s in ("test", "validation", "eval", "dev") if s in data and s != name), None)
    return data[name], held_out  # a dict with one split is audited alone, never against itself


# --------------------------------------------------------------------------- files


def read_file(path: Path) -> Iterator[RawItem]:
    if path.suffix == ".parquet":
        return _read_parquet(path)
    _reject_binary(path)
    if path.suffix == ".csv":
        return _read_csv(path)
    if path.suffix == ".json" and _first_byte(path) in (b"[", b"{"):
        whole = _read_whole_json(path)
        if whole is not None:
            return whole
    return _read_json_lines(path)


def _first_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(_BINARY_SNIFF).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1]


def _reject_binary(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(_BINARY_SNIFF)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("the file is UTF-16 encoded; save it as UTF-8", str(path))
    nul = head.find(b"\x00")
    first_line_end = head.find(b"\n") if b"\n" in head else len(head)
    # binary (gzip, Parquet, UTF-16 without a BOM) shows NUL bytes in its first line; a text
    # file with a corrupt line later, however zeroed, is text, and that line a format finding
    if 0 <= nul < first_line_end:
        raise InputError(f"not a text file (NUL byte at offset {nul}); expected "
                         f"{path.suffix[1:].upper()} text", str(path))


def _read_whole_json(path: Path) -> Iterator[RawItem] | None:
    """A JSON array (or an object holding one list of records); None if it is JSON Lines."""
    blob = path.read_bytes()
    try:
        value = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        if blob.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
            raise InputError(f"invalid JSON array: {exc}", str(path)) from None
        return None  # JSON Lines in a .json file
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 and len(value) == 1 else [value]
    return (item_from_object(None, obj) for obj in value)


def _read_json_lines(path: Path) -> Iterator[RawItem]:
    pretty = False
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
                pretty = line.strip() in (b"{", b"[")
            if not line.strip():
                continue
            yield parse_json_line(number, line.rstrip(b"\r\n"), pretty)


def parse_json_line(number: int, line: bytes, pretty: bool = False) -> RawItem:
    """One JSON Lines line (without its newline) as a RawItem; never raises."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RawItem(number, None, line.decode("utf-8", "replace"),
                       f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        hint = ("; the file looks like pretty-printed JSON, not JSON Lines (one object per line)"
                if pretty else "")
        return RawItem(number, None, text, f"invalid JSON: {exc}{hint}")
    if not isinstance(obj, dict):
        return RawItem(number, None, text, f"a JSON {_json_type(obj)}, not an object")
    return RawItem(number, obj, text)


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _read_csv(path: Path) -> Iterator[RawItem]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            start = reader.line_num + 2  # the header is line 1
            for row in reader:
                obj = {k: v for k, v in row.items() if k is not None}
                problem = _csv_row_problem(row, len(reader.fieldnames or ()), start, reader.line_num)
                raw = json.dumps(obj, ensure_ascii=False)
                yield RawItem(start, None if problem else obj, raw, problem)
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        line = _line_of_offset(path, exc.start)
        raise InputError(f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})", str(path), line) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", str(path)) from None


def _csv_row_problem(row: dict[Any, Any], columns: int, first: int, last: int) -> str | None:
    """A row whose field count is not the header's: a stray delimiter, or an unclosed quote that
    swallowed the lines after it (the csv module reads on to the next quote or the file's end)."""
    extra = len(row.get(None) or ())
    missing = sum(1 for k, v in row.items() if k is not None and v is None)
    if not extra and not missing:
        return None
    fields = columns + extra - missing
    text = f"malformed CSV row: {fields} field{'s' if fields != 1 else ''}, the header has {columns}"
    if last > first:
        return f"{text}; a quoted field runs from line {first} to line {last}: an unclosed quote?"
    return text


def _line_of_offset(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def _read_parquet(path: Path) -> Iterator[RawItem]:
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputError(f"not a readable Parquet file: {exc}", str(path)) from None
    for batch in reader.iter_batches(batch_size=4096):
        for obj in batch.to_pylist():
            yield item_from_object(None, without_fill(obj))
