"""A glob or a folder of shard files audits as one dataset, indices running across the shards."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fineaudit.engines.local import LocalEngine
from fineaudit.dataset.loaders import open_source
from tests.conftest import chat, write_jsonl
from tests.engines.conftest import all_rows

SIZES = (3, 0, 5, 2)  # records per shard; one shard is empty


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    folder = tmp_path / "train"
    folder.mkdir()
    for s, n in enumerate(SIZES):
        lines: list[Any] = [chat(f"shard {s} q{i}", "answer") for i in range(n)]
        if s == 2:
            lines[1:1] = ["{not json"]  # line 2 of the third shard; its records shift by one
        write_jsonl(folder / f"train-{s:05d}-of-00004.jsonl", lines) if lines else \
            (folder / f"train-{s:05d}-of-00004.jsonl").write_text("")
    (folder / "README.md").write_text("not a shard")
    return folder


def expected(folder: Path) -> list[tuple[int, str, int]]:
    """(index, file, line) of every record, in sorted file order."""
    out = []
    for path in sorted(folder.glob("train-*.jsonl")):
        lines = [n for n, text in enumerate(path.read_text().splitlines(), start=1) if text.strip()]
        out += [(len(out) + k, str(path), line) for k, line in enumerate(lines)]
    return out


def check(data: Any, folder: Path) -> None:
    rows = all_rows(data)
    want = expected(folder)
    assert [(r[0], r[1]) for r in rows] == [(i, line) for i, _, line in want]
    assert [data.info.file_of(i) for i, _, _ in want] == [f for _, f, _ in want]
    assert [s.path for s in data.info.shards] == sorted(str(p) for p in folder.glob("train-*.jsonl"))
    assert [s.first_index for s in data.info.shards] == [0, 3, 3, 9]
    assert len(data) == sum(SIZES) + 1
    assert rows[4][9] is not None and rows[4][1] == 2  # the malformed line stays a record


@pytest.mark.parametrize("spec", ["glob", "folder"])
@pytest.mark.parametrize("block_bytes", [70, 1 << 20])
def test_local_shards(shards: Path, spec: str, block_bytes: int) -> None:
    source = open_source(str(shards / "train-*-of-00004.jsonl") if spec == "glob" else str(shards))
    with LocalEngine(batch_size=2, workers=1, block_bytes=block_bytes) as engine:
        check(engine.load(source, "chat", "train", None), shards)


def test_dask_shards(shards: Path, dask_client: Any) -> None:
    from fineaudit.engines.dask import DaskEngine

    with DaskEngine(batch_size=2, client=dask_client, block_bytes=70) as engine:
        check(engine.load(open_source(str(shards / "train-*-of-00004.jsonl")), "chat", "train", None), shards)


def test_dask_reads_relative_paths_from_workers_started_elsewhere(shards: Path, dask_client: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers of a real cluster start in their own folders: a relative glob must still resolve."""
    from fineaudit.engines.dask import DaskEngine

    monkeypatch.chdir(shards.parent)  # the workers were started in another folder
    with DaskEngine(batch_size=2, client=dask_client, block_bytes=70) as engine:
        data = engine.load(open_source("train/train-*-of-00004.jsonl"), "chat", "train", None)
        assert len(all_rows(data)) == sum(SIZES) + 1
        assert [s.path for s in data.info.shards][0] == "train/train-00000-of-00004.jsonl"  # as the user wrote it


def test_cli_reports_shard_lines(shards: Path, run_cli: Any) -> None:
    result = run_cli("audit", str(shards / "train-*-of-00004.jsonl"), "--only", "format,size", "--json", "-")
    report = json.loads(result.stdout)
    assert report["dataset"]["records"] == sum(SIZES) + 1
    bad = [f for c in report["checks"] for f in c["findings"] if f["code"] == "format.unparsable"]
    assert [(f["records"], f["line"]) for f in bad] == [([4], 2)]
    assert "train-00002-of-00004.jsonl line 2: " in result.stderr  # the table names the shard


def test_markdown_names_the_shard_of_a_line(shards: Path, run_cli: Any, tmp_path: Path) -> None:
    run_cli("audit", str(shards), "--only", "format", "--markdown", tmp_path / "r.md")
    assert "train-00002-of-00004.jsonl line 2: " in (tmp_path / "r.md").read_text().replace("\\", "")
