"""`fineaudit dedup`: same format out, duplicates gone, sidecar, input untouched, audits clean."""
from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest

import fineaudit
from fineaudit.audit import resolve_config
from fineaudit.commands.dedup import dedup_dataset
from tests.checkers.test_near_duplicates import BASE, OTHER, edit
from tests.conftest import chat, write_jsonl

ROWS = [chat("Q", BASE), chat("q", BASE), chat("Q", edit(BASE, 60)), chat("Q", OTHER),
        chat("Q", "something else entirely")]
KEPT = [0, 3, 4]  # 1 is an exact copy of 0 (after case folding), 2 a near copy of 0


def removed(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(f"{out}.removed.jsonl").read_text().splitlines()]


def test_jsonl_lines_copied_byte_for_byte(tmp_path: Path) -> None:
    lines = [json.dumps(r, indent=None, separators=(", ", ":")) for r in ROWS]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines[:2] + ["{broken"] + lines[2:]) + "\n", encoding="utf-8")
    before = src.read_bytes()
    out = tmp_path / "out.jsonl"
    summary = dedup_dataset(str(src), str(out), config=resolve_config({"workers": 1}))
    assert src.read_bytes() == before
    assert out.read_text().splitlines() == [lines[0], "{broken", lines[3], lines[4]]
    assert "removed 1 exact and 1 near" in summary
    gone = removed(out)
    assert [(r["index"], r["reason"], r["kept"]) for r in gone] == [(1, "exact", 0), (3, "near", 0)]
    assert gone[1]["similarity"] >= 0.8 and gone[1]["line"] == 4
    assert not list(tmp_path.glob(".out.jsonl.*"))  # no temporary file left behind


def write_json(path: Path) -> Path:
    path.write_text(json.dumps(ROWS), encoding="utf-8")
    return path


def write_csv(path: Path) -> Path:
    pd.DataFrame([{"text": r["messages"][1]["content"], "label": "x"} for r in ROWS]).to_csv(path, index=False)
    return path


def write_parquet(path: Path) -> Path:
    pd.DataFrame([{"text": r["messages"][1]["content"], "label": "x"} for r in ROWS]).to_parquet(path)
    return path


def read_json(path: Path) -> list[Any]:
    return json.loads(path.read_text())


def read_csv(path: Path) -> list[Any]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("suffix, write, read", [
    (".json", write_json, read_json),
    (".csv", write_csv, read_csv),
    (".parquet", write_parquet, lambda p: pd.read_parquet(p).to_dict("records")),
])
def test_other_formats(tmp_path: Path, suffix: str, write: Callable[[Path], Path], read: Callable[[Path], list[Any]]) -> None:
    src = write(tmp_path / f"in{suffix}")
    out = tmp_path / f"out{suffix}"
    dedup_dataset(str(src), str(out), config=resolve_config({"workers": 1}))
    original = read(src)
    assert read(out) == [original[i] for i in KEPT]


def test_output_audits_clean_on_corpus(tmp_path: Path, make_corpus: Any) -> None:
    data, _ = make_corpus("--records", "3000")
    out = tmp_path / "clean.jsonl"
    dedup_dataset(str(data), str(out), config=resolve_config({"workers": 1}))
    report = fineaudit.audit(str(out), only=["exact_duplicates", "near_duplicates"], config={"workers": 1})
    assert report.checks["exact_duplicates"].metrics["duplicate_records"] == 0
    assert report.checks["near_duplicates"].metrics["duplicate_records"] == 0
    before = fineaudit.audit(str(data), only=["near_duplicates"], config={"workers": 1})
    kept = sum(1 for _ in out.open())
    assert kept == 3000 - before.checks["near_duplicates"].metrics["duplicate_records"]


def test_cli(tmp_path: Path, run_cli: Any) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    result = run_cli("dedup", src, "--out", out, "--set", "near_duplicates.threshold=0.99")
    assert result.exit_code == 0, result.stderr
    assert "kept 4 of 5 records" in result.stdout  # the near copy stays at a stricter threshold
    assert run_cli("dedup", src, "--out", src).exit_code == 2  # never overwrites its input


def test_output_is_an_ordinary_file_not_a_private_temporary_one(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    old = os.umask(0o022)
    try:
        dedup_dataset(str(src), str(out), config=resolve_config({"workers": 1}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def shard_rows() -> list[list[dict[str, Any]]]:
    """ROWS spread over three shards, so that a copy and its original sit in different files."""
    return [[ROWS[0], ROWS[3]], [], [ROWS[1], ROWS[2], ROWS[4]]]


def test_shards_are_deduplicated_together_and_written_as_the_same_shards(tmp_path: Path, run_cli: Any) -> None:
    data = tmp_path / "data"
    data.mkdir()
    names = [f"train-{k:05d}-of-00003.jsonl" for k in range(3)]
    for name, rows in zip(names, shard_rows()):
        write_jsonl(data / name, rows)
    before = {name: (data / name).read_bytes() for name in names}
    out = tmp_path / "clean"
    result = run_cli("dedup", str(data / "train-*-of-00003.jsonl"), "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "kept 3 of 5 records" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == names
    assert {name: (data / name).read_bytes() for name in names} == before  # input untouched
    kept = [[json.loads(line) for line in (out / name).read_text().splitlines()] for name in names]
    assert kept == [[ROWS[0], ROWS[3]], [], [ROWS[4]]]
    gone = removed(out)
    assert [(r["index"], r["kept"], Path(r["file"]).name, r["line"]) for r in gone] == [
        (2, 0, names[2], 1), (3, 0, names[2], 2)]
    report = fineaudit.audit(str(out), only=["exact_duplicates", "near_duplicates"], config={"workers": 1})
    assert report.passed and report.dataset.records == 3


def test_nested_shards_keep_their_relative_paths(tmp_path: Path) -> None:
    for part, rows in zip(("a", "b"), (ROWS[:2], ROWS[2:])):
        (tmp_path / part).mkdir()
        write_jsonl(tmp_path / part / "train.jsonl", rows)
    out = tmp_path / "clean"
    dedup_dataset(str(tmp_path / "*" / "train.jsonl"), str(out), config=resolve_config({"workers": 1}))
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.jsonl")) == ["a/train.jsonl", "b/train.jsonl"]
    assert sum(len(p.read_text().splitlines()) for p in out.rglob("*.jsonl")) == len(KEPT)


def test_sharded_output_must_be_a_new_folder(tmp_path: Path, run_cli: Any) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "part-0.jsonl", ROWS[:2])
    write_jsonl(data / "part-1.jsonl", ROWS[2:])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    result = run_cli("dedup", data, "--out", tmp_path / "busy")
    assert result.exit_code == 2 and "must be a new (or empty) folder" in result.stderr
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    assert run_cli("dedup", data, "--out", data).exit_code == 2  # the input folder is never a target


def test_kept_names_the_record_that_stays_when_a_copy_of_a_near_duplicate_is_removed(tmp_path: Path) -> None:
    rows = [chat("Q", BASE), chat("Q", edit(BASE, 60)), chat("Q", edit(BASE, 60))]  # 2 copies 1, 1 is near 0
    out = tmp_path / "out.jsonl"
    dedup_dataset(str(write_jsonl(tmp_path / "in.jsonl", rows)), str(out), config=resolve_config({"workers": 1}))
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows[:1]
    gone = removed(out)
    assert [(r["index"], r["reason"], r["duplicate_of"], r["kept"]) for r in gone] == [
        (1, "near", 0, 0), (2, "exact", 1, 0)]
    assert gone[1]["kept_record"] == json.dumps(rows[0])


def test_output_mistakes_are_one_line_before_any_work(tmp_path: Path, run_cli: Any) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    missing = run_cli("dedup", src, "--out", tmp_path / "nodir" / "out.jsonl")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr and "internal error" not in missing.stderr
    (tmp_path / "folder").mkdir()
    folder = run_cli("dedup", src, "--out", tmp_path / "folder")
    assert folder.exit_code == 2 and "--out is a folder" in folder.stderr
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "part-0.jsonl", ROWS[:2])
    write_jsonl(data / "part-1.jsonl", ROWS[2:])
    inside = run_cli("dedup", data, "--out", data / "clean")
    assert inside.exit_code == 2 and "inside the input" in inside.stderr
    assert sorted(p.name for p in data.iterdir()) == ["part-0.jsonl", "part-1.jsonl"]


TOP_UP = [{"text": "Has my top-up gone through?", "label": "top_up_reverted"},
          {"text": "has my top-up gone through?", "label": "pending_top_up"},
          {"text": "Where is my card?", "label": "card_arrival"},
          {"text": "where is my card?", "label": "card_arrival"}]


def test_label_conflicts_kept_whole_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", TOP_UP)
    out = tmp_path / "out.jsonl"
    summary = dedup_dataset(str(src), str(out), config=resolve_config({"workers": 1}))
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == [r["text"] for r in TOP_UP[:3]]
    assert "removed 1 exact" in summary
    rows = removed(out)
    assert [(r["index"], r["reason"], r["removed"]) for r in rows] == [
        (3, "exact", True), (0, "label_conflict", False), (1, "label_conflict", False)]
    assert rows[1]["label"] == "top_up_reverted" and rows[2]["group"] == [0, 1]
    err = capsys.readouterr().err
    assert "1 duplicate group (2 records) have different labels: kept whole" in err


def test_label_conflicts_can_be_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", TOP_UP)
    out = tmp_path / "out.jsonl"
    config = resolve_config({"workers": 1}, ["conflicting_labels.dedup_drops_conflicts=true"])
    dedup_dataset(str(src), str(out), config=config)
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == [TOP_UP[0]["text"], TOP_UP[2]["text"]]
    rows = removed(out)
    assert [(r["index"], r.get("label"), r.get("kept_label")) for r in rows] == [
        (1, "pending_top_up", "top_up_reverted"), (3, None, None)]
    assert "deduplicated anyway" in capsys.readouterr().err


def test_same_labels_dedup_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", TOP_UP[2:])
    out = tmp_path / "out.jsonl"
    dedup_dataset(str(src), str(out), config=resolve_config({"workers": 1}))
    assert [r["reason"] for r in removed(out)] == ["exact"]
    assert capsys.readouterr().err == ""
