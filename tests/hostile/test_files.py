"""Odd but valid files load; broken ones are exit 2 naming the file; special files are refused at
once; compressed files stream with the line numbers of the decompressed text."""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.dataset.loaders import MAX_DEPTH, open_source, read_json_lines
from tests.conftest import CliResult
from tests.hostile._inputs import chats, snapshot

BAD_LINE = 7  # the malformed line planted in the compressed files


def _jsonl_bytes(n: int = 30, bad_line: int | None = BAD_LINE) -> bytes:
    lines = [json.dumps(r) for r in chats(n)]
    if bad_line:
        lines.insert(bad_line - 1, '{"messages": [broken')
        lines.insert(2, "")  # a blank line still counts in the numbering
    return ("\n".join(lines) + "\n").encode()


def _zstd(blob: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(blob)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress, ".zst": _zstd}


@pytest.fixture
def no_hang() -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("blocked on a special file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _format_lines(report: Any) -> list[int]:
    return [f.line for f in report.checks["format"].findings if f.code == "format.unparsable"]


# --------------------------------------------------------------------------- compressed


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_compressed_jsonl_matches_plain_with_decompressed_line_numbers(suffix: str, tmp_path: Path) -> None:
    blob = _jsonl_bytes()
    plain, packed = tmp_path / "train.jsonl", tmp_path / f"train.jsonl{suffix}"
    plain.write_bytes(blob)
    packed.write_bytes(COMPRESSORS[suffix](blob))
    a, b = (fineaudit.audit(str(p), only=["size", "format"]) for p in (plain, packed))
    assert _format_lines(b) == _format_lines(a) == [BAD_LINE + 1]  # +1: the blank line before it
    assert a.checks["size"].metrics == b.checks["size"].metrics


@pytest.mark.parametrize("name", ["train.json.gz", "train.csv.bz2", "train.parquet.xz"])
def test_other_compressed_formats_load(name: str, tmp_path: Path) -> None:
    import pandas as pd

    rows = [{"text": f"document {i} about subject {i % 7}", "label": ["a", "b"][i % 2]} for i in range(40)]
    path = tmp_path / name
    data = (json.dumps(rows).encode() if ".json" in name else
            pd.DataFrame(rows).to_csv(index=False).encode() if ".csv" in name else
            pd.DataFrame(rows).to_parquet(index=False))
    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[path.suffix]
    path.write_bytes(compress(data))
    report = fineaudit.audit(str(path), only=["size", "format"])
    assert report.checks["size"].metrics["records"] == 40 and report.dataset.format == "classification"


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "not_compressed"])
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_broken_archive_is_exit_2_naming_the_file(damage: str, suffix: str, tmp_path: Path,
                                                  run_cli: Callable[..., CliResult]) -> None:
    packed = COMPRESSORS[suffix](_jsonl_bytes(2000, bad_line=None))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    elif damage == "corrupt":
        middle = len(packed) // 2
        packed = packed[:middle] + bytes(b ^ 0x5A for b in packed[middle:middle + 64]) + packed[middle + 64:]
    else:
        packed = _jsonl_bytes(50, bad_line=None)
    path = tmp_path / f"train.jsonl{suffix}"
    path.write_bytes(packed)
    before = snapshot(path)
    result = run_cli("audit", str(path), "--only", "size,format", "--no-cache", "-q")
    assert result.exit_code == 2 and path.name in result.stderr and "internal error" not in result.stderr, \
        result.stderr
    assert snapshot(path) == before


def test_compressed_lines_are_streamed_not_read_whole(tmp_path: Path) -> None:
    """The reader holds one line at a time: a record past the limit is skipped in pieces."""
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "' + b"x" * 3_000_000 + b'"}\n{"text": "small"}\n'))
    items = list(read_json_lines(path, max_record_bytes=1 << 20))
    assert [i.line for i in items] == [1, 2] and "over max_record_bytes" in (items[0].error or "")
    assert len(items[0].raw) <= 200 and items[1].obj == {"text": "small"}


# --------------------------------------------------------------------------- no records


@pytest.mark.parametrize("name, content, message", [
    ("empty.jsonl", b"", "the file is empty"),
    ("blank.jsonl", b"\n\n  \n", "the file is empty"),
    ("header.csv", b"text,label\n", "has only a header"),
    ("empty.jsonl.gz", gzip.compress(b"", mtime=0), "the file is empty"),
])
def test_file_without_records_says_so(name: str, content: bytes, message: str, tmp_path: Path,
                                      run_cli: Callable[..., CliResult]) -> None:
    (tmp_path / name).write_bytes(content)
    result = run_cli("audit", str(tmp_path / name), "--no-cache", "-q")
    assert result.exit_code == 2 and message in result.stderr and "unknown layout" not in result.stderr


# --------------------------------------------------------------------------- odd encodings and shapes


def test_bom_before_a_json_array_loads(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(chats(20)).encode())
    assert fineaudit.audit(str(path), only=["size"]).checks["size"].metrics["records"] == 20


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be", "utf-16"])
def test_wide_encodings_are_named(encoding: str, tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(_jsonl_bytes(5, bad_line=None).decode().encode(encoding))
    result = run_cli("audit", str(path), "--no-cache", "-q")
    assert result.exit_code == 2 and encoding[:6].upper() in result.stderr, result.stderr


def test_csv_field_over_128_kib_loads(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    rows = [f'"document {i} {"word " * (40_000 if i == 3 else 5)}",{"ab"[i % 2]}' for i in range(30)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    report = fineaudit.audit(str(path), only=["size", "format"])
    assert report.checks["size"].metrics["records"] == 30 and report.checks["format"].metrics["unparsable_records"] == 0


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 5000])
def test_deep_nesting_is_a_format_finding(depth: int, tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    deep = '{"messages": ' + "[" * depth + "]" * depth + "}"
    path.write_bytes(_jsonl_bytes(30, bad_line=None) + deep.encode() + b"\n")
    report = fineaudit.audit(str(path), only=["size", "format"])
    findings = report.checks["format"].findings
    assert [f.line for f in findings if f.code == "format.unparsable"] == [31]


def test_deep_nesting_in_memory_is_a_format_finding() -> None:
    deep: Any = []
    for _ in range(2000):
        deep = [deep]
    report = fineaudit.audit([*chats(30), {"messages": deep}], only=["size", "format"])
    assert report.checks["format"].metrics["unparsable_records"] == 1


def test_record_over_max_record_bytes_is_a_finding_with_line_and_size(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    huge = json.dumps({"messages": [{"role": "user", "content": "x" * 50_000}]})
    path.write_bytes(_jsonl_bytes(30, bad_line=None) + huge.encode() + b"\n")
    items = [i for i in open_source(str(path)).items(1000) for i in i]
    big = [i for i in items if i.error]
    assert len(items) == 31 and [i.line for i in big] == []  # default limit 16 MiB: parsed
    items = list(read_json_lines(path, max_record_bytes=10_000))
    (over,) = [i for i in items if i.error]
    assert over.line == 31 and f"{len(huge) + 1:,} bytes" in over.error


def test_a_name_with_glob_characters_that_exists_is_that_file(tmp_path: Path) -> None:
    path = tmp_path / "data[v2].jsonl"
    path.write_bytes(_jsonl_bytes(20, bad_line=None))
    assert fineaudit.audit(str(path), only=["size"]).checks["size"].metrics["records"] == 20


def test_corrupt_save_to_disk_state_file_names_the_folder(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    import datasets

    folder = tmp_path / "saved"
    datasets.Dataset.from_list(chats(20)).save_to_disk(str(folder))
    (folder / "state.json").write_text('{"_data_files": [{"filename": ')
    result = run_cli("audit", str(folder), "--no-cache", "-q")
    assert result.exit_code == 2 and str(folder) in result.stderr and "internal error" not in result.stderr


# --------------------------------------------------------------------------- special files


def _special(kind: str, path: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path.symlink_to("/dev/zero")  # a device under a data file's name
    return path


@pytest.mark.parametrize("role", ["data", "--eval", "--production"])
@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
def test_special_file_is_exit_2_at_once(kind: str, role: str, tmp_path: Path, no_hang: None,
                                        run_cli: Callable[..., CliResult]) -> None:
    special = _special(kind, tmp_path / "special.jsonl")
    data = tmp_path / "train.jsonl"
    data.write_bytes(_jsonl_bytes(30, bad_line=None))
    args = [str(special)] if role == "data" else [str(data), role, str(special)]
    result = run_cli("audit", *args, "-q")  # with the cache: its key must not open the file either
    assert result.exit_code == 2 and str(special) in result.stderr, result.stderr


def test_dedup_of_a_compressed_file_is_exit_2(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl_bytes(20, bad_line=None)))
    result = run_cli("dedup", str(path), "--out", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2 and "decompress" in result.stderr and not (tmp_path / "out.jsonl").exists()


def test_sample_reads_a_compressed_file(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    path = tmp_path / "train.jsonl.xz"
    path.write_bytes(lzma.compress(_jsonl_bytes(20, bad_line=None)))
    result = run_cli("sample", str(path), "-n", "3", "--out", str(tmp_path / "s.jsonl"))
    assert result.exit_code == 0 and len((tmp_path / "s.jsonl").read_text().splitlines()) == 3
