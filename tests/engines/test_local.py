"""The local engine gives exactly the records the loaders give, however the input is cut."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fineaudit.core import InputError, RecordBatch
from fineaudit.engines.grouping import groups_of_equal_keys, sample_indices
from fineaudit.engines.local import LocalEngine
from fineaudit.dataset.formats import build_batch
from fineaudit.dataset.loaders import Source, open_source
from tests.conftest import chat, write_jsonl
from tests.engines.conftest import all_rows, rows_of

CHAT = json.dumps(chat("hi", "hello"))
LONG = json.dumps(chat("x" * 400, "y"))

FILES = {  # name -> lines of a .jsonl file: BOM, blank lines, CRLF, malformed and non-object lines
    "mixed.jsonl": ["\ufeff" + CHAT, "", "   ", "{bad json", LONG, "[1, 2]", CHAT + "\r", "\xff"] * 5,
    "pretty.jsonl": ["{", '  "messages": []', "}", CHAT],
    "empty.jsonl": [],
}


def write(path: Path, lines: list[str]) -> Path:
    data = "\n".join(lines) + "\n" if lines else ""
    path.write_bytes(data.encode("utf-8", "surrogateescape").replace("\xff".encode(), b"\xff"))
    return path


def reference(source: Source, layout: str = "chat") -> list[tuple[Any, ...]]:
    """What a single sequential pass of the loaders gives (the contract's numbering)."""
    out, count = [], 0
    for items in source.items(1000):
        out += rows_of(build_batch(items, count, layout, "train", None))
        count += len(items)
    return out


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    """One engine (one process pool) for the module; tests set the cut they need."""
    with LocalEngine(batch_size=3, workers=2) as shared:
        yield shared


def cut(engine: LocalEngine, batch_size: int, block_bytes: int) -> LocalEngine:
    engine.batch_size, engine.block_bytes = batch_size, block_bytes
    return engine


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("block_bytes", [40, 150, 1 << 20])
def test_blocks_give_the_loaders_records(engine: LocalEngine, tmp_path: Path, name: str,
                                         block_bytes: int) -> None:
    path = write(tmp_path / name, FILES[name])
    data = cut(engine, 3, block_bytes).load(open_source(str(path)), "chat", "train", None)
    assert all_rows(data) == reference(open_source(str(path)))
    assert len(data) == len(reference(open_source(str(path))))


def test_other_file_types_and_memory(engine: LocalEngine, tmp_path: Path) -> None:
    objs = [chat(f"q{i}", f"a{i}") for i in range(10)] + [{"messages": "nope"}]
    pq.write_table(pa.Table.from_pylist([{"text": f"t{i}", "label": i % 3} for i in range(10)]),
                   tmp_path / "d.parquet", row_group_size=3)
    (tmp_path / "d.json").write_text(json.dumps(objs))
    (tmp_path / "d.csv").write_text("text,label\nhello,a\n\"multi\nline\",b\nbye,a\n")
    cases = [(str(tmp_path / "d.parquet"), "classification"), (str(tmp_path / "d.json"), "chat"),
             (str(tmp_path / "d.csv"), "classification"), (objs, "chat")]
    for spec, layout in cases:
        data = cut(engine, 2, 64).load(open_source(spec), layout, "train", None)
        assert all_rows(data) == reference(open_source(spec), layout), spec


def test_take_sample_and_groups(engine: LocalEngine, tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", [json.dumps(chat(f"q{i % 7}", "a")) for i in range(50)])
    data = cut(engine, 4, 200).load(open_source(str(path)), "chat", "train", None)
    assert [r.index for r in data.take([17, 3, 49, 3])] == [17, 3, 49, 3]
    assert data.take([17])[0].prompt == "q3" and data.take([17])[0].line == 18
    assert [r.index for r in data.sample(9, seed=5)] == sample_indices(50, 9, 5)
    groups = data.group_by_key(prompt_keys)
    assert groups == groups_of_equal_keys(np.array([i % 7 for i in range(50)], np.uint64), np.arange(50))
    assert len(groups) == 7 and groups[0] == list(range(0, 50, 7))


def prompt_keys(batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    return np.array([int(p[1:]) for p in batch.prompt], np.uint64), np.array(batch.index, np.int64)


def test_unreadable_file_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b'\x1f\x8b\x08\x00\x00\x00\x00\x00\n{"a": 1}\n')  # a gzip header: NUL in line 1
    with LocalEngine() as engine, pytest.raises(InputError, match="NUL byte"):
        engine.load(open_source(str(path)), "chat", "train", None)


def test_close_removes_the_spool(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", [CHAT] * 5)
    engine = LocalEngine(batch_size=2)
    engine.load(open_source(str(path)), "chat", "train", None)
    workdir = engine._workdir
    assert any(workdir.iterdir())
    engine.close()
    assert not workdir.exists()


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_script_without_a_main_guard_runs_once_with_workers(tmp_path: Path, how: str) -> None:
    """Workers must not re-run the caller's script: a training script calls gate() at top level."""
    import subprocess
    import sys

    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"question {i}?", f"answer {i}.") for i in range(300)])
    script = ("import fineaudit\nprint('script started', flush=True)\n"
              f"r = fineaudit.audit({str(data)!r}, only=['exact_duplicates', 'near_duplicates'],"
              " config={'batch_size': 50, 'workers': 2})\nprint(r.checks['near_duplicates'].status.value)\n")
    (tmp_path / "train.py").write_text(script)
    args, stdin = ([sys.executable, "train.py"], None) if how == "file" else ([sys.executable, "-"], script)
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["script", "started", "pass"]


def test_audits_in_threads_leave_the_main_module_as_it_was(tmp_path: Path) -> None:
    import sys
    from concurrent.futures import ThreadPoolExecutor

    import fineaudit

    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"question {i}?", f"answer {i}.") for i in range(200)])
    main = vars(sys.modules["__main__"])
    before = {k: main.get(k, "absent") for k in ("__file__", "__spec__")}
    with ThreadPoolExecutor(4) as threads:
        reports = list(threads.map(lambda _: fineaudit.audit(str(data), only=["exact_duplicates"],
                                                             config={"batch_size": 20, "workers": 2}), range(4)))
    assert all(r.checks["exact_duplicates"].status.value == "pass" for r in reports)
    assert {k: main.get(k, "absent") for k in ("__file__", "__spec__")} == before
