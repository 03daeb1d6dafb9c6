"""Reading datasets: files, shards, save_to_disk folders and in-memory objects.

A loader turns its input into a stream of RawItem batches. It never stops at a malformed
record: a JSON Lines line that does not parse becomes an item carrying the error, which the
`format` check reports with its line. Only what makes the whole input unreadable (a missing
file, a binary file, an unsupported type) raises InputError, which the CLI turns into exit 2.
"""
from __future__ import annotations

import bz2
import csv
import glob
import gzip
import hashlib
import io
import json
import lzma
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from fineaudit.core import InputError, Shard
from fineaudit.dataset.formats import RawItem, ReadOptions, UnknownLayout, detect_layout

FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
MAX_RECORD_BYTES = 16 << 20  # default of the `max_record_bytes` setting
MAX_DEPTH = 64  # nesting of a record beyond this is a format finding (recursive code stops short)
_BINARY_SNIFF = 8192
_BOM = b"\xef\xbb\xbf"
_EXCERPT = 200


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

    def detect_layout(self, n: int = 1000, options: ReadOptions | None = None) -> str:
        """The layout of the first n records (UnknownLayout naming the first bad line if none parse);
        `options` carries the field map the records are read with."""
        items = self._first_items(n)
        if not items and self.rows is None:
            raise InputError(self._why_no_records(), self.path)
        first_error = next((f"{f'line {i.line}' if i.line else f'record {n}'}: {i.error}"
                            for n, i in enumerate(items) if i.error is not None), None)
        return detect_layout([i.obj for i in items if i.error is None], self.path or "data", first_error, options)

    def _why_no_records(self) -> str:
        """Why a file input holds no record: said plainly instead of 'unknown layout'."""
        if self.files and all(data_suffix(f) == ".csv" and csv_has_header_only(f) for f in self.files):
            return "the file has only a header (no rows)" if len(self.files) == 1 else "every shard has only a header"
        if len(self.files) == 1:
            return "the file is empty (no records)"
        return f"the {len(self.files)} files hold no records"

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
    try:
        raw = to_json_text(obj)
    except orjson.JSONEncodeError as exc:  # nested past orjson's limit (254), among others
        return RawItem(line, None, f"({type(obj).__name__})", f"cannot be read as JSON: {exc}")
    if raw.count("[") + raw.count("{") > MAX_DEPTH and (depth := nesting_depth(obj)) > MAX_DEPTH:
        return RawItem(line, None, raw[:_EXCERPT], f"nested more than {MAX_DEPTH} levels deep")
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


def data_suffix(path: str | os.PathLike[str]) -> str:
    """The data extension of a file name, past any compression: `train.jsonl.gz` -> `.jsonl`."""
    name = Path(path)
    if name.suffix in COMPRESSED_SUFFIXES:
        name = name.with_suffix("")
    return name.suffix


def compression_of(path: str | os.PathLike[str]) -> str | None:
    suffix = Path(path).suffix
    return suffix if suffix in COMPRESSED_SUFFIXES else None


def is_data_file(path: Path) -> bool:
    return data_suffix(path) in FILE_SUFFIXES and _is_regular(path)


def is_json_document(path: str | os.PathLike[str], options: ReadOptions | None = None) -> bool:
    """A .json file that holds one JSON object which is no record of a known layout and wraps
    no list of records: a package.json, a tsconfig, a saved report; a config, not a dataset.
    A .json dataset is an array, JSON Lines, `{"data": [...]}` or one record of a layout."""
    file = Path(path)
    if data_suffix(file) != ".json" or compression_of(file) or not _is_regular(file):
        return False
    try:
        value = orjson.loads(file.read_bytes().removeprefix(_BOM))
    except (OSError, orjson.JSONDecodeError):
        return False  # unreadable or not one JSON value: the audit says what is wrong
    if not isinstance(value, dict) or records_in(value) != [value]:
        return False  # an array, or an object wrapping a list of records
    try:
        detect_layout([value], str(file), options=options)
    except UnknownLayout:
        return True
    return False


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _open_path(spec: str) -> Source:
    path = Path(spec)
    # a name that exists is that file, even when it holds glob characters (`data[v2].jsonl`)
    if not path.exists() and any(ch in spec for ch in "*?["):
        matches = sorted(Path(p) for p in glob.glob(spec) if is_data_file(Path(p)))
        if not matches:
            raise InputError(f"no {'/'.join(FILE_SUFFIXES)} file matches the pattern", spec)
        return Source(path=spec, files=matches)
    if not path.exists():
        raise InputError("no such file or folder", spec)
    if path.is_dir():
        return _open_folder(path)
    _refuse_special(path, spec)
    if data_suffix(path) not in FILE_SUFFIXES:
        raise InputError(f"unsupported file type {path.suffix or '(no extension)'!r}; expected "
                         ".jsonl, .json, .csv or .parquet (optionally .gz, .bz2, .xz or .zst), a "
                         "folder of such shards, or a datasets save_to_disk folder", spec)
    return Source(path=spec, files=[path])


def _refuse_special(path: Path, spec: str) -> None:
    """A FIFO, device or socket would block or never end: refuse it before opening it."""
    mode = path.stat().st_mode
    if stat.S_ISREG(mode):
        return
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    raise InputError(f"{kind}, not a data file; give a regular file", spec)


def _open_folder(path: Path) -> Source:
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        return Source(path=str(path), rows=_load_from_disk(path))
    shards = sorted(p for p in path.iterdir() if is_data_file(p))
    if not shards and (path / "data").is_dir():
        # a Hub dataset repository (cloned or downloaded) keeps its shards in data/
        shards = sorted(p for p in (path / "data").iterdir() if is_data_file(p))
    if not shards:
        raise InputError("folder holds no .jsonl/.json/.csv/.parquet shards and is not a "
                         "datasets save_to_disk folder", str(path))
    return Source(path=str(path), files=shards)


HELD_OUT_SPLITS = ("test", "validation", "eval", "dev")  # the order split_dataset_dict prefers
_SPLIT_NAMES = {"train": "train", "test": "test", "validation": "validation", "valid": "validation",
                "eval": "eval", "dev": "dev"}


def shard_split(path: Path) -> str | None:
    """The split a shard's name gives, as the Hub names them (`train-00000-of-00002.parquet`,
    `test.jsonl`, `validation_0.jsonl.gz`), or None."""
    name = path.name.lower()
    for prefix, split in _SPLIT_NAMES.items():
        if name.startswith(prefix) and name[len(prefix):len(prefix) + 1] in ("-", "_", "."):
            return split
    return None


def split_shards(source: Source) -> tuple[Source, Source | None]:
    """A folder whose every shard is named by its split and one of them is train: its train
    shards, and the shards of its held-out split (the first of HELD_OUT_SPLITS there is), so
    that a downloaded Hub dataset is audited like its DatasetDict (test records counted as
    training data would be duplicates of nothing, and leakage would go unchecked). Any other
    source is itself, with no held-out split."""
    if len(source.files) < 2 or source.path is None or not Path(source.path).is_dir():
        return source, None
    splits = [shard_split(f) for f in source.files]
    if None in splits or "train" not in splits:
        return source, None
    train = Source(path=source.path, files=[f for f, s in zip(source.files, splits) if s == "train"])
    held = next((s for s in HELD_OUT_SPLITS if s in splits), None)
    if held is None:
        return train, None
    files = [f for f, s in zip(source.files, splits) if s == held]
    where = str(files[0]) if len(files) == 1 else str(files[0].parent / f"{held}*")
    return train, Source(path=where, files=files)


def _load_from_disk(path: Path) -> Any:
    import datasets

    loaded = load_saved(path)
    if isinstance(loaded, datasets.DatasetDict):
        return loaded["train"] if "train" in loaded else loaded[next(iter(loaded))]
    return loaded


def held_out_split_at(data: Any) -> Any:
    """The test/validation split of a `save_to_disk` DatasetDict folder (None for anything else),
    so that a folder path gives the same audit as the DatasetDict object."""
    if not isinstance(data, (str, os.PathLike)) or not (Path(data) / "dataset_dict.json").is_file():
        return None
    return split_dataset_dict(load_saved(Path(data)))[1]


def load_saved(path: Path) -> Any:
    """datasets.load_from_disk, with a damaged folder (state file, Arrow file) as an InputError
    naming the folder instead of whatever the library raises."""
    import datasets

    try:
        return datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - JSONDecodeError, KeyError, ArrowInvalid, ...
        raise InputError(f"not a readable datasets save_to_disk folder ({type(exc).__name__}: "
                         f"{str(exc)[:200]})", str(path)) from None


def split_dataset_dict(data: Any) -> tuple[Any, Any]:
    """A DatasetDict's train split and its test/validation split (None without one)."""
    if type(data).__name__ != "DatasetDict":
        return data, None
    name = "train" if "train" in data else next(iter(data))
    held_out = next((data[s] for s in ("test", "validation", "eval", "dev") if s in data and s != name), None)
    return data[name], held_out  # a dict with one split is audited alone, never against itself


# --------------------------------------------------------------------------- files


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed as they are read when its name ends in .gz/.bz2/.xz/.zst."""
    kind = compression_of(path)
    if kind is None:
        return open(path, "rb")
    if kind == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    if kind == ".bz2":
        return cast(BinaryIO, bz2.open(path, "rb"))
    if kind == ".xz":
        return cast(BinaryIO, lzma.open(path, "rb"))
    try:
        import zstandard
    except ImportError:
        raise InputError("reading .zst needs zstandard: pip install zstandard", str(path)) from None
    raw = open(path, "rb")
    return cast(BinaryIO, io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)))


def _stream_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError, zlib_error()]
    zstd = sys.modules.get("zstandard")
    if zstd is not None:
        errors.append(zstd.ZstdError)
    return tuple(errors)


def zlib_error() -> type[BaseException]:
    import zlib

    return zlib.error


def _guarded(path: Path, items: Iterator[RawItem]) -> Iterator[RawItem]:
    """A compressed file that is corrupt or cut short is exit 2 naming the file and how far it got
    (the records before the damage are not audited: a partial file must not pass as the whole)."""
    if compression_of(path) is None:
        yield from items
        return
    count = 0
    try:
        for item in items:
            count += 1
            yield item
    except InputError:
        raise
    except _stream_errors() as exc:
        raise InputError(f"corrupt or truncated {compression_of(path)} file after {count} records "
                         f"({type(exc).__name__}: {exc})", str(path)) from None


def read_file(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawItem]:
    suffix = data_suffix(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    _reject_binary(path)
    if suffix == ".csv":
        return _guarded(path, _read_csv(path, max_record_bytes))
    if suffix == ".json" and _first_byte(path) in (b"[", b"{"):
        whole = _read_whole_json(path)
        if whole is not None:
            return whole
    return _guarded(path, read_json_lines(path, max_record_bytes=max_record_bytes))


def _head(path: Path, size: int = _BINARY_SNIFF) -> bytes:
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except _stream_errors() as exc:
        raise InputError(f"not a readable {compression_of(path) or 'data'} file ({type(exc).__name__}: "
                         f"{exc})", str(path)) from None


def _first_byte(path: Path) -> bytes:
    return _head(path).lstrip(_BOM + b" \t\r\n")[:1]


def _reject_binary(path: Path) -> None:
    head = _head(path)
    encoding = _wide_encoding(head)
    if encoding:
        raise InputError(f"the file is {encoding} encoded; save it as UTF-8", str(path))
    nul = head.find(b"\x00")
    first_line_end = head.find(b"\n") if b"\n" in head else len(head)
    # binary (gzip, Parquet, UTF-16 without a BOM) shows NUL bytes in its first line; a text
    # file with a corrupt line later, however zeroed, is text, and that line a format finding
    if 0 <= nul < first_line_end:
        raise InputError(f"not a text file (NUL byte at offset {nul}); expected "
                         f"{data_suffix(path)[1:].upper()} text", str(path))


def _wide_encoding(head: bytes) -> str | None:
    """UTF-32 or UTF-16 by BOM, or by the NUL pattern of ASCII text (UTF-32 first: its LE BOM
    starts with UTF-16's)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    units = [head[i:i + 4] for i in range(0, min(len(head), 16) - 3, 4)]
    if len(units) >= 2 and (all(u[0] and u[1:] == b"\0\0\0" for u in units)
                            or all(u[3] and u[:3] == b"\0\0\0" for u in units)):
        return "UTF-32"
    return None


def _read_whole_json(path: Path) -> Iterator[RawItem] | None:
    """A JSON array (or an object holding one list of records); None if it is JSON Lines."""
    with open_binary(path) as fh:
        blob = fh.read()
    blob = blob.removeprefix(_BOM)  # orjson refuses a BOM; editors on Windows write one
    try:
        value = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        if blob.lstrip(b" \t\r\n")[:1] == b"[":
            raise InputError(f"invalid JSON array: {exc}", str(path)) from None
        return None  # JSON Lines in a .json file
    return (item_from_object(None, obj) for obj in records_in(value))


def records_in(value: Any) -> list[Any]:
    """The records a whole JSON document holds: an array's items, the one list of an object
    with a single key (`{"data": [...]}`), else the document itself as one record."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and len(value) == 1 and isinstance(only := next(iter(value.values())), list):
        return only
    return [value]


class LineCount:
    """Filled by read_json_lines: how many lines (blank ones too) it read."""

    lines: int = 0


def read_json_lines(path: Path, start: int = 0, end: int | None = None, line_offset: int = 0,
                    pretty: bool | None = None, count: LineCount | None = None,
                    max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawItem]:
    """The JSON Lines records of the lines that start in bytes [start, end) (the whole file by
    default), numbered from line_offset + 1. The one JSON Lines reader: both engines' blocks and
    `read_file` use it. A line longer than max_record_bytes is a finding with its size, never
    parsed or held whole."""
    with open_binary(path) as fh:
        if start > 0:
            fh.seek(start - 1)
            fh.readline()  # the line that began before this range belongs to the one before
        pos, number = fh.tell(), 0
        while end is None or pos < end:
            line = fh.readline(max_record_bytes + 1)
            if not line:
                break
            number += 1
            if len(line) > max_record_bytes and not line.endswith(b"\n"):
                size = len(line) + _skip_line(fh)
                pos += size
                yield _oversized(line_offset + number, line, size, max_record_bytes)
                continue
            pos += len(line)
            if start == 0 and number == 1:
                line = line.removeprefix(_BOM)
                if pretty is None:
                    pretty = line.strip() in (b"{", b"[")
            if line.strip():
                yield parse_json_line(line_offset + number, line.rstrip(b"\r\n"), bool(pretty))
        if count is not None:
            count.lines = number


def _skip_line(fh: BinaryIO) -> int:
    """Read past the rest of a line in 1 MiB pieces; the bytes skipped."""
    skipped = 0
    while chunk := fh.readline(1 << 20):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _oversized(number: int, head: bytes, size: int, limit: int) -> RawItem:
    excerpt = head[:_EXCERPT].decode("utf-8", "replace")
    return RawItem(number, None, excerpt, f"record of {size:,} bytes is over max_record_bytes "
                                          f"({limit:,}); not parsed")


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
    # counting brackets is C-fast; only a line with many is walked for its real depth
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH and (depth := nesting_depth(obj)) > MAX_DEPTH:
        return RawItem(number, None, text[:_EXCERPT], f"nested more than {MAX_DEPTH} levels deep")
    return RawItem(number, obj, text)


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed value (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:  # enough to know it is too deep
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _read_csv(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawItem]:
    # one long document in a field is valid CSV: allow fields up to the record limit (default 128 KiB)
    csv.field_size_limit(max(csv.field_size_limit(), max_record_bytes))
    try:
        with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            start = reader.line_num + 2  # the header is line 1
            for row in reader:
                obj = {k: v for k, v in row.items() if k is not None}
                problem = _csv_row_problem(row, len(reader.fieldnames or ()), start, reader.line_num)
                raw = json.dumps(obj, ensure_ascii=False)
                yield RawItem(start, None if problem else obj, raw, problem)
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        line = _line_of_offset(path, exc.start) if compression_of(path) is None else None
        raise InputError(f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})", str(path), line) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", str(path)) from None


def csv_has_header_only(path: Path) -> bool:
    """A CSV with a header line and no rows (for the exit-2 line, instead of 'unknown layout')."""
    try:
        with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as fh:
            return bool(fh.readline().strip())
    except (OSError, UnicodeDecodeError, EOFError):
        return False


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


def parquet_file(path: Path) -> Any:
    """A pyarrow ParquetFile (decompressing a .parquet.gz into memory: Parquet needs seeks)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if compression_of(path) is None:
            return pq.ParquetFile(path)
        with open_binary(path) as fh:
            return pq.ParquetFile(pa.BufferReader(fh.read()))
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputError(f"not a readable Parquet file: {exc}", str(path)) from None


def read_parquet_groups(path: Path, groups: list[int] | None = None) -> Iterator[RawItem]:
    """The records of these row groups (all by default). The one Parquet reader of both engines."""
    reader = parquet_file(path)
    if groups is not None and not groups:
        return
    for batch in reader.iter_batches(batch_size=4096, row_groups=groups):
        for obj in batch.to_pylist():
            yield item_from_object(None, without_fill(obj))


def _read_parquet(path: Path) -> Iterator[RawItem]:
    parquet_file(path)  # a broken file is an InputError here, in the caller's process
    return read_parquet_groups(path)
