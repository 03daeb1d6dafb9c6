"""Loaders: every supported input, malformed lines kept as records, clear errors otherwise."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fineaudit.core import InputError
from fineaudit.dataset.loaders import is_json_document, open_source, split_dataset_dict, split_shards

ROWS = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]


def items(source, batch_size: int = 1000):
    return [item for batch in source.items(batch_size) for item in batch]


def test_jsonl_keeps_malformed_lines_as_records_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n\n{"prompt": "c",\n[1, 2]\n', encoding="utf-8")
    got = items(open_source(path))
    assert [i.line for i in got] == [1, 3, 4]  # the blank line is not a record
    assert got[0].obj == ROWS[0] and got[0].error is None
    assert got[1].obj is None and got[1].error.startswith("invalid JSON")
    assert got[2].error == "a JSON array, not an object"


def test_a_corrupt_line_with_nul_bytes_is_a_record_wherever_it_sits(tmp_path: Path) -> None:
    good = [json.dumps({"text": f"row {i}", "label": "a"}) for i in range(400)]
    for at in (9, 300):  # inside the first 8 KiB and beyond it: the same answer
        lines = good[:at] + ['{"text": "bro\x00\x00ken", "la'] + good[at:]
        path = tmp_path / f"d{at}.jsonl"
        path.write_bytes("\n".join(lines).encode() + b"\n")
        items = [i for batch in open_source(str(path)).items(1000) for i in batch]
        assert len(items) == 401 and [i.line for i in items if i.error] == [at + 1]


def test_jsonl_line_that_is_not_utf8_is_a_record_with_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"prompt": "a", "completion": "b"}\n{"prompt": "caf\xe9"}\n')
    got = items(open_source(path))
    assert got[1].line == 2 and "not valid UTF-8" in got[1].error and "0xe9" in got[1].error


def test_pretty_printed_json_in_a_jsonl_file_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0], indent=2) + "\n", encoding="utf-8")
    got = items(open_source(path))
    assert "pretty-printed JSON" in got[0].error


@pytest.mark.parametrize("content", [json.dumps(ROWS), json.dumps({"data": ROWS}),
                                     "\n".join(json.dumps(r) for r in ROWS)])
def test_json_file_as_array_wrapped_list_or_json_lines(tmp_path: Path, content: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(content, encoding="utf-8")
    assert [i.obj for i in items(open_source(path))] == ROWS


def test_csv_lines_count_the_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('prompt,completion\na,b\n"multi\nline",d\n', encoding="utf-8")
    got = items(open_source(path))
    assert [i.line for i in got] == [2, 3]
    assert got[1].obj == {"prompt": "multi\nline", "completion": "d"}


def test_parquet_and_save_to_disk(tmp_path: Path) -> None:
    import datasets

    pd.DataFrame(ROWS).to_parquet(tmp_path / "d.parquet")
    assert [i.obj for i in items(open_source(tmp_path / "d.parquet"))] == ROWS
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "saved"))
    assert [i.obj for i in items(open_source(tmp_path / "saved"))] == ROWS


@pytest.mark.parametrize("make", [lambda: ROWS, lambda: pd.DataFrame(ROWS),
                                  lambda: __import__("datasets").Dataset.from_list(ROWS)])
def test_in_memory_inputs(make) -> None:
    got = items(open_source(make()), batch_size=1)
    assert [i.obj for i in got] == ROWS and all(i.line is None for i in got)


def test_dataset_dict_gives_train_and_held_out_split() -> None:
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS),
                               "test": datasets.Dataset.from_list(ROWS[:1])})
    train, held_out = split_dataset_dict(dd)
    assert len(train) == 2 and len(held_out) == 1
    only_test = datasets.DatasetDict({"test": datasets.Dataset.from_list(ROWS)})
    assert split_dataset_dict(only_test)[1] is None  # not audited against itself


def test_a_saved_dataset_dict_folder_audits_like_the_object(tmp_path: Path, run_cli) -> None:
    import datasets

    import fineaudit

    rows = [{"messages": [{"role": "user", "content": f"question {i}?"},
                          {"role": "assistant", "content": f"answer {i}."}]} for i in range(30)]
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows),
                               "test": datasets.Dataset.from_list(rows[:3])})  # the test split leaks
    dd.save_to_disk(tmp_path / "dd")
    from_object = fineaudit.audit(dd, only=["leakage"]).checks["leakage"].metrics["leaked_records"]
    from_folder = fineaudit.audit(str(tmp_path / "dd"), only=["leakage"]).checks["leakage"].metrics["leaked_records"]
    assert from_object == from_folder == 3
    assert run_cli("audit", tmp_path / "dd", "--only", "leakage", "-q").exit_code == 1


def test_glob_and_folder_of_shards_run_indices_across_files_in_sorted_order(tmp_path: Path) -> None:
    for n in (1, 0):  # written out of order on purpose
        (tmp_path / f"train-{n:05d}-of-00002.jsonl").write_text(
            "\n".join(json.dumps({"prompt": f"{n}-{k}", "completion": "x"}) for k in range(2)) + "\n")
    for spec in (str(tmp_path / "train-*-of-00002.jsonl"), str(tmp_path)):
        source = open_source(spec)
        shards: list = []
        got = [i for batch in source.items(3, shards) for i in batch]
        assert [i.obj["prompt"] for i in got] == ["0-0", "0-1", "1-0", "1-1"]
        assert [i.line for i in got] == [1, 2, 1, 2]
        assert [s.first_index for s in shards] == [0, 2]


@pytest.mark.parametrize("name, content, message", [
    ("missing.jsonl", None, "no such file"),
    ("d.txt", b"hello", "unsupported file type"),
    ("d.jsonl", b"\x00\x01\x02binary", "not a text file"),
    ("d.jsonl", "\ufeff{}".encode("utf-16"), "UTF-16"),
    ("d.json", b"[1, 2", "invalid JSON array"),
])
def test_unreadable_inputs_raise_input_error_naming_the_file(tmp_path: Path, name: str, content: bytes | None,
                                                            message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        items(open_source(path))
    assert name in str(info.value)


def test_csv_with_bad_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\nok,a\ncaf\xe9,b\n")
    with pytest.raises(InputError, match=r"d\.csv:3: not valid UTF-8"):
        items(open_source(path))


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n")
    assert open_source(path).sha256() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert open_source(ROWS).sha256() is None


def heterogeneous_chats() -> list[dict]:
    """Optional keys on some records only: absent in JSON, null-filled by any table."""
    rows = []
    for i in range(12):
        user = {"role": "user", "content": f"question {i}?", **({"name": "ana"} if i % 3 == 0 else {})}
        reply = {"role": "assistant", "content": f"answer {i}.", **({"weight": 1} if i % 4 == 0 else {})}
        rows.append({"messages": [user, reply], **({"id": f"r{i}"} if i % 5 == 0 else {})})
    return rows


def as_table(rows: list[dict], kind: str, tmp_path: Path) -> object:
    import datasets

    if kind == "parquet":
        pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
        return str(tmp_path / "d.parquet")
    if kind == "save_to_disk":
        datasets.Dataset.from_list(rows).save_to_disk(tmp_path / "ds")
        return str(tmp_path / "ds")
    return datasets.Dataset.from_list(rows) if kind == "dataset" else pd.DataFrame(rows)


@pytest.mark.parametrize("kind", ["parquet", "dataset", "dataframe", "save_to_disk"])
def test_tables_null_fill_is_not_a_format_error(tmp_path: Path, kind: str) -> None:
    import fineaudit

    rows = heterogeneous_chats()
    from_json = fineaudit.audit(rows, only=["format"]).checks["format"].metrics
    from_table = fineaudit.audit(as_table(rows, kind, tmp_path), only=["format"]).checks["format"].metrics
    assert from_table["invalid_records"] == 0
    assert from_table["field_sets"] == from_json["field_sets"]


def test_csv_rows_with_the_wrong_field_count_are_findings_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    rows = [f"row {i},pos" for i in range(1, 6)] + ['"She said hi,pos'] + [f"row {i},neg" for i in range(7, 12)]
    path.write_text("text,label\n" + "\n".join(rows) + "\ntoo,many,columns\n")
    items = list(open_source(str(path)).items(100))[0]
    bad = [(i.line, i.error) for i in items if i.error]
    assert len(items) == 6 and bad[0][0] == 7  # the unclosed quote swallowed the rest: one bad record
    assert "an unclosed quote?" in bad[0][1] and "from line 7 to line 13" in bad[0][1]
    path.write_text("text,label\nfine,pos\ntoo,many,columns\n")
    assert [(i.line, i.error) for i in list(open_source(str(path)).items(100))[0] if i.error] == [
        (3, "malformed CSV row: 3 fields, the header has 2")]


@pytest.mark.parametrize("names, train, held_out", [
    # a Hub download: train audited, test read as the eval split
    (["train-00000-of-00002.jsonl", "train-00001-of-00002.jsonl", "test-00000-of-00001.jsonl"],
     ["train-00000-of-00002.jsonl", "train-00001-of-00002.jsonl"], ["test-00000-of-00001.jsonl"]),
    (["train.jsonl", "validation.jsonl", "test.jsonl"], ["train.jsonl"], ["test.jsonl"]),  # test first
    (["train.jsonl", "valid.jsonl"], ["train.jsonl"], ["valid.jsonl"]),
    (["train_0.jsonl", "dev_0.jsonl"], ["train_0.jsonl"], ["dev_0.jsonl"]),
    # one dataset, as before: shards not named by split, one of them not, or no train split
    (["part-0.jsonl", "part-1.jsonl"], ["part-0.jsonl", "part-1.jsonl"], None),
    (["train.jsonl", "test.jsonl", "extra.jsonl"], ["extra.jsonl", "test.jsonl", "train.jsonl"], None),
    (["test-0.jsonl", "validation-0.jsonl"], ["test-0.jsonl", "validation-0.jsonl"], None),
    (["trainer.jsonl", "testing.jsonl"], ["testing.jsonl", "trainer.jsonl"], None),
    (["train-0.jsonl", "train-1.jsonl"], ["train-0.jsonl", "train-1.jsonl"], None),
])
def test_a_folder_of_split_named_shards_is_train_and_its_held_out_split(
        tmp_path: Path, names: list[str], train: list[str], held_out: list[str] | None) -> None:
    for name in names:
        (tmp_path / name).write_text(json.dumps(ROWS[0]) + "\n")
    got, held = split_shards(open_source(tmp_path))
    assert [f.name for f in got.files] == train and got.path == str(tmp_path)
    assert (held and [f.name for f in held.files]) == held_out


def test_a_hub_repository_folder_reads_the_shards_under_data(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-00000-of-00001.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    assert [f.name for f in open_source(tmp_path).files] == ["train-00000-of-00001.jsonl"]


@pytest.mark.parametrize("content, document", [
    ('{"name": "site", "version": "1.0.0", "dependencies": {"vite": "^5"}}', True),   # package.json
    ('{"schema_version": 1, "verdict": "pass", "checks": []}', True),                   # a saved report
    ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}', False),  # one record
    ('{"data": [{"prompt": "a", "completion": "b"}]}', False),                          # records wrapped
    ('[{"name": "x"}]', False),                                                         # an array: a dataset
    ('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}', False),  # JSON Lines
    ('{"broken": ', False),                                                             # the audit says why
])
def test_a_json_document_is_told_from_a_dataset(tmp_path: Path, content: str, document: bool) -> None:
    path = tmp_path / "f.json"
    path.write_text(content)
    assert is_json_document(path) is document
