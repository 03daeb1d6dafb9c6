"""`fineaudit sample`: stratified, seeded, readable."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fineaudit.audit import resolve_config
from fineaudit.sampling import allocate, sample_dataset
from tests.conftest import chat, write_jsonl


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    rows = [{"text": f"common message {i}", "label": "ham"} for i in range(95)]
    rows += [{"text": f"rare message {i}", "label": "spam"} for i in range(5)]
    return write_jsonl(tmp_path / "cls.jsonl", rows)


def jsonl_sample(path: Path, n: int, seed: int = 0, **config: Any) -> list[dict[str, Any]]:
    text = sample_dataset(str(path), n, seed=seed, config=resolve_config(config or None), as_jsonl=True)
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("sizes, n, shares", [
    ({"a": 95, "b": 5}, 10, {"a": 9, "b": 1}),
    ({"a": 98, "b": 1, "c": 1}, 4, {"a": 2, "b": 1, "c": 1}),
    ({"a": 50, "b": 50}, 3, {"a": 2, "b": 1}),
    ({"a": 2, "b": 2}, 10, {"a": 2, "b": 2}),
    ({"a": 10, "b": 1, "c": 1, "d": 1}, 2, {"a": 0, "b": 1, "c": 1, "d": 0}),
    ({"a": 4500, "b": 167, "c": 167, "d": 166}, 20, {"a": 17, "b": 1, "c": 1, "d": 1}),  # 90%: still 85%
    ({"a": 600, "b": 300, "c": 100}, 10, {"a": 6, "b": 3, "c": 1}),  # exactly proportional
])
def test_allocate(sizes: dict[str, int], n: int, shares: dict[str, int]) -> None:
    assert allocate(sizes, n) == shares


def test_same_seed_same_sample_other_seed_other_sample(labelled: Path) -> None:
    first, again, other = (jsonl_sample(labelled, 10, seed) for seed in (1, 1, 2))
    assert first == again and first != other


def test_stratified_by_label_keeps_the_rare_class(labelled: Path) -> None:
    labels = Counter(r["label"] for r in jsonl_sample(labelled, 10))
    assert labels == {"ham": 9, "spam": 1}


def test_stratified_by_length_band_without_labels(tmp_path: Path) -> None:
    rows = [chat("q", "word " * (i + 1)) for i in range(100)]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    sample = jsonl_sample(path, 8)
    lengths = sorted(len(r["messages"][1]["content"]) // 5 for r in sample)
    # two from each quarter of the lengths
    assert [sum(1 for n in lengths if lo < n <= lo + 25) for lo in (0, 25, 50, 75)] == [2, 2, 2, 2]


def test_jsonl_is_the_original_records(labelled: Path) -> None:
    originals = [json.loads(line) for line in labelled.read_text().splitlines()]
    assert all(r in originals for r in jsonl_sample(labelled, 7))


def test_markdown_shows_one_section_per_record_with_roles(tmp_path: Path,
                                                          run_cli: Callable[..., Any]) -> None:
    rows = [chat(f"question {i} with ``` fence", f"answer {i}", system="Be kind.") for i in range(6)]
    rows.append(chat("empty answer", " ", system="Be kind."))
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    result = run_cli("sample", path, "-n", "7", "--seed", "5")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.count("\n## Record ") == 7
    assert text.count("**system**") == text.count("**user**") == text.count("**assistant**") == 7
    assert "````text\nquestion 0 with ``` fence\n````" in text  # a fence longer than the text's
    assert "*(empty)*" in text


def test_cli_writes_jsonl_to_out(labelled: Path, run_cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "review.jsonl"
    assert run_cli("sample", labelled, "-n", "4", "--out", out).exit_code == 0
    assert len(out.read_text().splitlines()) == 4


def test_label_field_stratifies_other_layouts(tmp_path: Path) -> None:
    rows = [dict(chat(f"q{i}", f"a{i}"), intent="rare" if i == 3 else "common") for i in range(50)]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    assert any(r["intent"] == "rare" for r in jsonl_sample(path, 3, label_field="intent"))
