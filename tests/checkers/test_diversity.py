"""The diversity check and the skeletons it groups by: small cases, then real data."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fineaudit
from fineaudit.checkers.diversity import DiversityParams, compression_ratio, distinct_n, vendi_score
from fineaudit.core import CheckResult, Status
from fineaudit.text.skeletons import skeleton
from tests.conftest import chat, real_file, write_jsonl


@pytest.mark.parametrize("a, b", [
    ("Ned had 9 shirts. If Ned washed 2, how many are left?", "Ann had 41 shirts. If Ann washed 17, how many are left?"),
    ('Translate "good morning" into French.', 'Translate "where is the station?" into German.'),
    ("Mail alice@example.com about https://a.io/x", "Mail bob.smith@corp.org about http://b.example/y?q=1"),
    ("Fix `x = 1` in the loop", "Fix `items.sort()` in the loop"),
    ("Run this:\n```python\nprint(1)\n```\nthen stop.", "Run this:\n```\nls -la\n```\nthen stop."),
    ("Give me two reasons to learn Python.", "Give me five reasons to learn Python."),
    ("Buy 3.5 kg for $20, or 1,000 units at 45%.", "Buy 12 kg for $7, or 250 units at 3%."),
    ("他有3个苹果。", "他有12个苹果。"),
])
def test_same_template_same_skeleton(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)


@pytest.mark.parametrize("a, b", [
    ("Write a poem about the sea.", "Write a story about the sea."),
    ("Name three colors.", "Explain how rain forms."),
    ("Summarize the text below.", "Summarize the text above."),
])
def test_different_prompts_different_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)


def test_skeleton_masks_each_slot() -> None:
    s = skeleton('Email Mary at m@x.org about "the plan", see https://x.org, run `go` 3 times.')
    assert s == "email <name> at <email> about <str> , see <url> , run <code> <num> times."


def fake_key(kind: str, i: int) -> str:
    """A key of the shape the content check knows (made up: random letters and digits)."""
    rng = np.random.default_rng(i)
    chars = list("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    body = "".join(rng.choice(chars, size=48))
    return {"openai": f"sk-proj-{body}", "github": f"ghp_{body[:36]}", "aws": "AKIA" + body[:16].upper()}[kind]


@pytest.mark.parametrize("kind", ["openai", "github", "aws"])
def test_a_secret_is_one_slot_never_shown(kind: str) -> None:
    a, b = (skeleton(f"My key is {fake_key(kind, i)}, use it for 3 calls.") for i in (1, 2))
    assert a == b == "my key is <secret> , use it for <num> calls."


def test_templated_records_with_keys_list_their_template_without_the_keys(tmp_path: Path) -> None:
    """The skeleton is shown in the report: lower-cased and cut by <num>, a key there would
    escape the masker that every report runs on its text."""
    keys = [fake_key("openai", i) for i in range(12)]
    records = [chat(VARIED[i], "An answer.") for i in range(12)]
    records += [chat(f"Call the API with key {key} and list {i + 2} models.", "Done.") for i, key in enumerate(keys)]
    result = diversity_of(write_jsonl(tmp_path / "d.jsonl", records))
    template = [f for f in result.findings if f.code == "diversity.template"]
    assert [f.records for f in template] == [tuple(range(12, 24))]
    assert "<secret>" in template[0].message
    shown = json.dumps(result.to_dict()).lower()
    assert not any(key.lower()[8:20] in shown for key in keys)


def diversity_of(data: Any, **kwargs: Any) -> CheckResult:
    return fineaudit.audit(data, only=["diversity"], **kwargs).checks["diversity"]


NAMES = ["Tom", "Ann", "Raj", "Mia", "Leo", "Zoe", "Sam", "Ivy", "Max", "Eva", "Kai", "Lia"]
VARIED = ["Explain how photosynthesis turns light into chemical energy in plants.",
          "Write a haiku about the first snow of winter falling on the city.",
          "What are the main causes of inflation in a modern economy?",
          "Describe the rules of chess for a complete beginner.",
          "Why do cats purr, and what does it tell us about their mood?",
          "Suggest a weekly meal plan for a vegetarian family of four.",
          "Compare the French and the American revolutions in a short essay.",
          "How does a compiler differ from an interpreter in practice?",
          "List some tips for keeping houseplants alive during a dry summer.",
          "Tell me about the history of the printing press in Europe.",
          "What should I pack for a week of hiking in the Scottish highlands?",
          "Give advice to a student who is nervous before an oral exam."]


def templated(i: int) -> str:
    name = NAMES[i % len(NAMES)]
    return f"{name} has {i + 3} apples and buys {2 * i + 1} more at the market. How many apples does {name} have now?"


def test_templated_records_are_one_finding_listing_its_members(tmp_path: Path) -> None:
    records = [chat(VARIED[i], "An answer.") for i in range(12)]
    records[3:3] = [chat(templated(i), "Some apples.") for i in range(12)]  # records 3..14
    result = diversity_of(write_jsonl(tmp_path / "d.jsonl", records))
    template = [f for f in result.findings if f.code == "diversity.template"]
    assert [f.records for f in template] == [tuple(range(3, 15))]
    assert "<name> has <num> apples" in template[0].message and "record 3:" in template[0].message
    assert result.metrics["templated_fraction"] == 0.5 and result.metrics["templates"] == 1
    assert result.status is Status.WARN


def test_varied_prompts_pass(tmp_path: Path) -> None:
    result = diversity_of(write_jsonl(tmp_path / "d.jsonl", [chat(v, "An answer.") for v in VARIED]))
    assert result.status is Status.PASS
    assert result.metrics["templated_fraction"] == 0.0 and not result.findings
    assert set(result.metrics) >= {"templated_fraction", "templates", "distinct_1", "distinct_2", "compression_ratio"}


def test_a_shared_header_is_a_frame(tmp_path: Path) -> None:
    header = "Context: you are answering for the city library help desk, be brief.\n"
    result = diversity_of(write_jsonl(tmp_path / "d.jsonl", [chat(header + v, "Sure.") for v in VARIED]))
    frames = [f for f in result.findings if f.code == "diversity.frame"]
    assert len(frames) == 1 and "you are answering for the city library help desk" in frames[0].message
    assert frames[0].records == tuple(range(12))


def test_distinct_n_and_compression() -> None:
    assert distinct_n([["a", "b", "a", "b"]], 1) == 0.5
    assert distinct_n([["a", "b", "a", "b"]], 2) == pytest.approx(2 / 3, abs=1e-4)
    assert compression_ratio(["the same line"] * 200) > 20 > compression_ratio(VARIED)


def test_vendi_score_counts_distinct_examples() -> None:
    assert vendi_score(np.ones((5, 3))) == pytest.approx(1.0)
    assert vendi_score(np.eye(4)) == pytest.approx(4.0)


@pytest.mark.parametrize("kwargs", [{"warn_templated_fraction": 2.0}, {"near_threshold": 0.0},
                                    {"sample_size": 0}, {"frame_share": -0.1}])
def test_invalid_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DiversityParams(**kwargs)


def test_multiarith_is_templated() -> None:
    result = diversity_of(str(real_file("multiarith/MultiArith.json")), format="text", fields={"text": "sQuestion"})
    assert result.metrics["templated_fraction"] >= 0.9 and result.status is Status.WARN


def test_alpaca_is_not() -> None:
    result = diversity_of(str(real_file("alpaca/alpaca_5000_original_sample.json")))
    assert result.metrics["templated_fraction"] <= 0.01 and result.status is Status.PASS


def test_toolformer_header_is_a_frame(tmp_path: Path) -> None:
    records = json.loads(real_file("gpteacher/toolformer-dedupe-only-dataset.json").read_text(encoding="utf-8"))
    path = tmp_path / "toolformer.json"
    path.write_text(json.dumps(records[:1500]), encoding="utf-8")
    frames = [f for f in diversity_of(path).findings if f.code == "diversity.frame"]
    assert any("toolformer enabled toolformer access" in f.message for f in frames)


def test_chinese_templates_are_found_near(tmp_path: Path) -> None:
    """Unspaced scripts compare in character bigrams: names in the slot do not hide the template."""
    filled = [{"instruction": f"{n}有{i}个苹果，又买了{i + 3}个，现在一共有多少个苹果？请写出计算过程。", "output": "好"}
              for i, n in enumerate(["小明", "小红", "小刚", "小丽", "小华", "小军"])]
    other = [{"instruction": t, "output": "好"} for t in
             ["请介绍一下长城的历史。", "如何学习编程？", "推荐几本好看的小说。", "今天天气怎么样？"]]
    path = tmp_path / "zh.json"
    path.write_text(json.dumps(other[:2] + filled + other[2:], ensure_ascii=False), encoding="utf-8")
    result = diversity_of(path)
    assert [f.records for f in result.findings if f.code == "diversity.template"] == [tuple(range(2, 8))]


def test_lines_most_prompts_repeat_are_left_out_of_skeletons(tmp_path: Path) -> None:
    """A fixed tool description above varied tasks is a frame, not a template."""
    tool = "Tool: calculator\nA calculator. Useful for arithmetic. Input should be an expression.\n"
    records = [chat(tool + v, "Sure.") for v in VARIED]
    result = diversity_of(write_jsonl(tmp_path / "d.jsonl", records))
    assert result.metrics["templated_fraction"] == 0.0 and result.metrics["shared_lines"] == 2


@pytest.mark.slow
def test_vendi_score_with_drifts_model(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    varied = diversity_of(write_jsonl(tmp_path / "v.jsonl", [chat(v, "ok") for v in VARIED]),
                          settings=["diversity.vendi=true"])
    same = diversity_of(write_jsonl(tmp_path / "s.jsonl", [chat(templated(i), "ok") for i in range(12)]),
                        settings=["diversity.vendi=true"])
    assert 1.0 <= same.metrics["vendi_score"] < varied.metrics["vendi_score"] <= 12.0
