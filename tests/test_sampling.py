"""`fineaudit sample`: stratified, seeded, readable."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fineaudit.audit import resolve_config
from fineaudit.commands.sampling import allocate, pick, sample_dataset, stratum_seed
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
    assert text.count("\n## Line ") == 7  # the line a user opens, not the 0-based index
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


# --------------------------------------------------------------------------- uniform within strata

SEEDS = range(8)


def classes_77() -> dict[str, list[int]]:
    """77 classes of 12 to 240 records, their indices interleaved as in a shuffled file."""
    sizes = [12 + (i * 37) % 229 for i in range(77)]
    owner = [c for c, size in enumerate(sizes) for _ in range(size)]
    order = sorted(range(len(owner)), key=lambda i: (i * 7919) % len(owner))
    groups: dict[str, list[int]] = {}
    for index, i in enumerate(order):
        groups.setdefault(f"class {owner[i]:02d}", []).append(index)
    return groups


def relative_positions(groups: dict[str, list[int]], n: int, seed: int) -> list[float]:
    """Where each pick sits inside its class: 0 the class's first record, 1 its last."""
    position = {name: {index: j / (len(members) - 1) for j, index in enumerate(members)}
                for name, members in groups.items()}
    return [position[name][index] for name, index in pick(groups, n, seed)]


def test_picks_are_uniform_inside_strata_over_77_classes_and_8_seeds() -> None:
    from scipy import stats

    groups = classes_77()
    per_seed = [relative_positions(groups, 300, seed) for seed in SEEDS]
    means = [sum(p) / len(p) for p in per_seed]
    # 300 picks: the mean of uniform positions has a standard error of 0.017; 0.07 is 4 of them
    assert all(abs(m - 0.5) < 0.07 for m in means), means
    pooled = [p for seed in per_seed for p in seed]
    assert stats.kstest(pooled, "uniform").pvalue > 0.01
    counts = [sum(1 for p in pooled if k / 10 <= p < (k + 1) / 10 or (k == 9 and p == 1.0)) for k in range(10)]
    assert stats.chisquare(counts).pvalue > 0.01, counts


def test_each_stratum_has_its_own_stream() -> None:
    # two strata of the same size under one seed: one shared stream picked the same positions
    groups = {"a": list(range(0, 100)), "b": list(range(100, 200))}
    chosen = pick(groups, 20, seed=3)
    a = [i for s, i in chosen if s == "a"]
    b = [i - 100 for s, i in chosen if s == "b"]
    assert len(a) == len(b) == 10 and a != b
    assert stratum_seed(3, "a") != stratum_seed(3, "b") and stratum_seed(3, "a") == stratum_seed(3, "a")


def test_whole_draw_is_reproducible_from_the_seed() -> None:
    groups = classes_77()
    assert pick(groups, 120, 11) == pick(groups, 120, 11) != pick(groups, 120, 12)


def test_tool_calls_and_results_are_shown(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_price", "arguments": '{"ticker": "ACME"}'}}
    rows = [{"messages": [{"role": "user", "content": f"price of ACME {i}?"},
                          {"role": "assistant", "content": None, "tool_calls": [call]},
                          {"role": "tool", "tool_call_id": "c1", "content": '{"price": 12.5}'},
                          {"role": "assistant", "content": f"It is 12.5 ({i})."}]} for i in range(3)]
    result = run_cli("sample", write_jsonl(tmp_path / "tools.jsonl", rows), "-n", "1")
    assert result.exit_code == 0, result.stderr
    assert 'get_price({\n  "ticker": "ACME"\n})' in result.stdout
    assert '{\n  "price": 12.5\n}' in result.stdout and "*(empty)*" not in result.stdout


HOSTILE = "\x1b]52;c;aGk=\x07\x1b[2J<img src=x onerror=alert(1)>[a](http://evil) sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ3lN5"


def test_sample_keeps_hostile_text_as_data(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    from markdown_it import MarkdownIt

    rows = [{"text": f"message {i} {HOSTILE}", "label": HOSTILE if i % 2 else "ham"} for i in range(10)]
    result = run_cli("sample", write_jsonl(tmp_path / "cls.jsonl", rows), "-n", "4")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "\x1b" not in out and "\x07" not in out and "sk-proj-Ab3dE5gH7jK9" not in out
    html = MarkdownIt("commonmark").render(out)
    assert "<img" not in html and "<a " not in html


@pytest.mark.parametrize("bad_lines, header", [
    (0, "# Sample of 3 of 10 records from"),
    (4, "# Sample of 3 of 10 parsable records from"),
])
def test_the_header_says_when_unparsable_records_were_left_out(tmp_path: Path, bad_lines: int,
                                                                header: str) -> None:
    path = tmp_path / "d.jsonl"
    lines = [json.dumps(chat(f"question {i}", f"answer {i}")) for i in range(10)] + ["{broken"] * bad_lines
    path.write_text("\n".join(lines) + "\n")
    first = sample_dataset(str(path), 3, seed=1).splitlines()[0]
    assert first.startswith(header)
    assert ("4 records that could not be parsed left out" in first) == (bad_lines > 0)
