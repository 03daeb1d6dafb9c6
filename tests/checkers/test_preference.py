"""The preference check: identical, near-identical and empty sides, length bias, side tells,
prompts in answers, implicit prompts, contradictions, ties and inversions, KTO balance."""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fineaudit
from fineaudit.checkers.preference import PreferenceParams, kto_weights, wilson_interval
from fineaudit.dataset.formats import preference_scores
from fineaudit.core import CheckResult, Status
from fineaudit.text.side_tells import find_tells, holm, holm_mask, p_values, two_proportion_p
from tests.conftest import chat, write_jsonl

DATA = Path(__file__).resolve().parents[1] / "data" / "llama_factory"
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def answer(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def filler(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Distinct, unremarkable pairs: chosen longer in every other one."""
    return [{"prompt": f"Question number {i}: what should I say?",
             "chosen": answer(2 * i, 20 + (i % 2) * 10), "rejected": answer(2 * i + 1, 25)}
            for i in range(start, start + n)]


def preference_of(data: Any, **kwargs: Any) -> CheckResult:
    return fineaudit.audit(data, only=["preference"], max_findings=0, **kwargs).checks["preference"]


def codes(result: CheckResult) -> set[str]:
    return {f.code for f in result.findings}


def flagged(result: CheckResult, code: str) -> set[int]:
    return {i for f in result.findings if f.code == f"preference.{code}" for i in f.records}


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text("utf-8"))


# --------------------------------------------------------------------------- small cases


BAD: list[tuple[str, dict[str, Any], Status]] = [
    ("identical_pair", {"prompt": "Say hi", "chosen": "Hello  there!", "rejected": "hello there!"}, Status.FAIL),
    ("near_identical_pair", {"prompt": "Name colours", "chosen": answer(99, 40) + " red",
                             "rejected": answer(99, 40) + " blue"}, Status.WARN),
    ("empty_side", {"prompt": "Say hi", "chosen": "Hello there, friend.", "rejected": "  "}, Status.WARN),
    ("prompt_in_response", {"prompt": "Explain how tides work please",
                            "chosen": "Explain how tides work please\n\nThe moon pulls the sea.",
                            "rejected": "Tides are wind."}, Status.WARN),
    ("prompt_in_response", {"prompt": "Explain tides", "chosen": "The moon pulls the sea.",
                            "rejected": "Wind.\n\nHuman: and then?"}, Status.WARN),
    ("inverted", {"prompt": "Rate me", "chosen": "A fine answer here.", "rejected": "A poor one, really.",
                  "score_chosen": 3, "score_rejected": 8}, Status.WARN),
    ("tie", {"prompt": "Rate me", "chosen": "A fine answer here.", "rejected": "A poor one, really.",
             "chosen_rating": 5, "rejected_rating": 5.0}, Status.WARN),
    # message lists that agree to the end: the last answers are the pair, identical (not two empty sides)
    ("identical_pair", {"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
                        "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
     Status.FAIL),
    ("implicit_prompt", {"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
                         "rejected": [{"role": "user", "content": "Hey"}, {"role": "assistant", "content": "Go away."}]},
     Status.WARN),
]


@pytest.mark.parametrize("code, bad, status", BAD, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(BAD)])
def test_a_defect_names_exactly_its_record(code: str, bad: dict[str, Any], status: Status) -> None:
    records = filler(30)
    if "chosen" in bad and isinstance(bad["chosen"], list):  # implicit message lists: the same shape throughout
        records = [{"chosen": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}],
                    "rejected": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["rejected"]}]}
                   for r in records]
    records.insert(7, bad)
    result = preference_of(records)
    assert result.status is status, result.summary
    assert codes(result) == {f"preference.{code}"}
    assert flagged(result, code) == {7}


def test_clean_pairs_pass() -> None:
    result = preference_of(filler(60))
    assert result.status is Status.PASS, result.summary
    assert result.findings == ()
    assert result.metrics["pairs"] == 60
    assert result.metrics["chosen_longer_fraction"] == 0.5


def test_swapped_pair_is_contradictory() -> None:
    records = filler(30)
    records.append({**records[4], "chosen": records[4]["rejected"], "rejected": records[4]["chosen"]})
    records.append(dict(records[9]))  # an exact repeat is exact_duplicates' finding, not a contradiction
    result = preference_of(records)
    assert codes(result) == {"preference.contradictory_pairs"}
    assert flagged(result, "contradictory_pairs") == {4, 30}
    assert result.metrics["contradictory_pairs"] == 1


def test_scores_give_tie_and_inversion_shares() -> None:
    records = [{**r, "score_chosen": 8, "score_rejected": 3} for r in filler(40)]
    records[0].update(score_chosen=2)
    records[1].update(score_chosen=3)
    result = preference_of(records)
    assert result.metrics["scored_pairs"] == 40
    assert result.metrics["inverted_fraction"] == 0.025 and result.metrics["tie_fraction"] == 0.025
    assert flagged(result, "inverted") == {0} and flagged(result, "tie") == {1}
    relaxed = preference_of(records, settings=["preference.max_tie_fraction=0.05"])
    assert codes(relaxed) == {"preference.inverted"}


def test_skipped_on_other_layouts(tmp_path: Path) -> None:
    result = preference_of([chat(f"q{i}", f"a{i}") for i in range(5)])
    assert result.status is Status.SKIPPED


@pytest.mark.parametrize("values", [{"near_threshold": 0.0}, {"near_threshold": 1.5}, {"ngram": 0},
                                    {"min_longer_fraction": 0.9, "max_longer_fraction": 0.1},
                                    {"tell_alpha": 0.0}, {"near_threshold": float("nan")}])
def test_bad_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PreferenceParams(**values)


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("k, n, low, high", [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634),
                                             (128, 297, 0.3759, 0.4878), (10, 10, 0.7225, 1.0)])
def test_wilson_interval(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_holm_steps_down() -> None:
    assert holm([0.001, 0.02, 0.04, 0.5], 0.05) == [True, False, False, False]
    assert holm([0.01, 0.012, 0.02], 0.05) == [True, True, True]
    assert holm([0.2, 0.01], 0.05) == [False, True]


def test_two_proportion_p() -> None:
    assert two_proportion_p(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportion_p(60, 100, 40, 100) == pytest.approx(0.0047, abs=2e-4)  # z = 2.83
    assert two_proportion_p(0, 100, 0, 100) == 1.0


@pytest.mark.parametrize("desirable, undesirable, expected", [
    (150, 150, {"in_range": True, "desirable_weight": 1.0, "undesirable_weight": 1.0}),
    (130, 100, {"in_range": True, "desirable_weight": 1.0, "undesirable_weight": 1.0}),
    (150, 10, {"in_range": False, "desirable_weight": 1.0, "undesirable_weight": 15.0,
               "weight_range": {"undesirable_weight": [11.25, 15.0]}}),
    (50, 100, {"in_range": False, "desirable_weight": 2.0, "undesirable_weight": 1.0,
               "weight_range": {"desirable_weight": [2.0, 2.67]}}),
])
def test_kto_weights_follow_trl(desirable: int, undesirable: int, expected: dict[str, Any]) -> None:
    got = kto_weights(desirable, undesirable)
    assert {k: got[k] for k in expected} == expected
    if not got["in_range"]:  # the suggested weights bring the weighted ratio into [1, 4/3]
        weighted = got["desirable_weight"] * desirable / (got["undesirable_weight"] * undesirable)
        assert 1.0 <= weighted <= 4 / 3 + 1e-9


@pytest.mark.parametrize("record, scores", [
    ({"score_chosen": 8.5, "score_rejected": "3"}, (8.5, 3.0)),
    ({"chosen_rating": 4, "rejected_rating": 4}, (4.0, 4.0)),
    ({"chosen_score": None, "rejected_score": 2}, (None, 2.0)),
    ({"chosen": "a", "rejected": "b"}, (None, None)),
    ({"score_chosen": True, "score_rejected": "n/a"}, (None, None)),
])
def test_preference_scores(record: dict[str, Any], scores: tuple[float | None, float | None]) -> None:
    assert preference_scores(record) == scores


def test_find_tells_reports_a_planted_opening_once() -> None:
    chosen = [(i, answer(i, 30)) for i in range(200)]
    rejected = [(i, ("Sure! " if i % 10 < 7 else "") + answer(1000 + i, 30)) for i in range(200)]
    search = find_tells(chosen, rejected)
    assert [(t.kind, t.phrase, t.favours_a) for t in search.tells] == [("opening", "sure", False)]
    tell = search.tells[0]
    assert (tell.count_a, tell.count_b) == (0, 140) and tell.examples == (0, 1, 2, 3, 4)
    assert search.tested > 20  # every phrase with support counts in the correction
    assert find_tells(chosen, chosen).tells == ()


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def dpo() -> list[dict[str, Any]]:
    return load("dpo_en_demo.json")


def test_dpo_demo_warns_only_on_its_near_identical_pair(dpo: list[dict[str, Any]]) -> None:
    result = preference_of(DATA / "dpo_en_demo.json")
    assert result.status is Status.WARN, result.summary
    assert codes(result) == {"preference.near_identical_pair"}
    assert flagged(result, "near_identical_pair") == {43}
    m = result.metrics
    assert (m["pairs"], m["identical_pairs"], m["near_identical_pairs"], m["empty_sides"]) == (300, 0, 1, 0)
    assert m["chosen_longer_fraction"] == 0.4267 and m["side_tells"] == []


def _planted(dpo: list[dict[str, Any]], seed: int = 16) -> tuple[list[dict[str, Any]], dict[str, set[int]]]:
    """dpo_en_demo with 20 identical, 20 near-identical (one word of 40+ changed) and 20
    prompt-repeating pairs planted on distinct records; the natural near pair (43) stays."""
    rng = random.Random(seed)
    records = [json.loads(json.dumps(r)) for r in dpo]
    long_enough = [i for i, r in enumerate(records)
                   if i != 43 and len(set(r["chosen"]["value"].split())) >= 40]
    picked = rng.sample(long_enough, 60)
    truth: dict[str, set[int]] = {"identical_pair": set(picked[:20]), "near_identical_pair": set(picked[20:40]) | {43},
                                  "prompt_in_response": set(picked[40:])}
    for i in picked[:20]:
        records[i]["rejected"] = {"from": "gpt", "value": records[i]["chosen"]["value"].upper()}
    for i in picked[20:40]:
        words = records[i]["chosen"]["value"].split(" ")
        words[rng.randrange(len(words))] = "zyzzyva"
        records[i]["rejected"] = {"from": "gpt", "value": " ".join(words)}
    for i in picked[40:]:
        side = rng.choice(["chosen", "rejected"])
        records[i][side]["value"] = records[i]["conversations"][-1]["value"] + "\n\n" + records[i][side]["value"]
    return records, truth


def test_planted_defects_found_with_full_recall(dpo: list[dict[str, Any]]) -> None:
    records, truth = _planted(dpo)
    result = preference_of(records)
    assert result.status is Status.FAIL
    for code, expected in truth.items():
        found = flagged(result, code)
        recall = len(found & expected) / len(expected)
        precision = len(found & expected) / max(len(found), 1)
        assert recall == 1.0 and precision >= 0.99, (code, sorted(found - expected), sorted(expected - found))


def test_chosen_longer_in_90_percent_warns(dpo: list[dict[str, Any]]) -> None:
    records = []
    for i, r in enumerate(dpo):
        a, b = sorted((r["chosen"], r["rejected"]), key=lambda m: len(m["value"].split()))
        longer, shorter = (b, a) if i % 10 else (a, b)
        records.append({**r, "chosen": longer, "rejected": shorter})
    result = preference_of(records)
    assert "preference.length_bias" in codes(result)
    assert 0.85 <= result.metrics["chosen_longer_fraction"] <= 0.91
    assert result.metrics["length_ratio"] > 1.2


def test_rejected_opening_with_sure_is_a_side_tell(dpo: list[dict[str, Any]]) -> None:
    records = [json.loads(json.dumps(r)) for r in dpo]
    for i, r in enumerate(records):
        if i % 4:
            r["rejected"]["value"] = "Sure! " + r["rejected"]["value"]
    result = preference_of(records)
    tells = result.metrics["side_tells"]
    assert tells and (tells[0]["kind"], tells[0]["phrase"], tells[0]["favours"]) == ("opening", "sure", "rejected")
    finding = next(f for f in result.findings if f.code == "preference.side_tell")
    assert "'sure'" in finding.message and finding.field == "rejected" and len(finding.records) == 5


def test_kto_demo_passes_and_an_imbalanced_split_gets_weights() -> None:
    kto = load("kto_en_demo.json")
    result = preference_of(DATA / "kto_en_demo.json")
    assert result.status is Status.PASS, result.summary
    assert (result.metrics["desirable"], result.metrics["undesirable"]) == (150, 150)
    skewed = [r for r in kto if r["label"]] + [r for r in kto if not r["label"]][:10]
    result = preference_of(skewed)
    assert result.status is Status.WARN and codes(result) == {"preference.kto_imbalance"}
    weights = result.metrics["suggested_weights"]
    assert (weights["desirable_weight"], weights["undesirable_weight"]) == (1.0, 15.0)
    assert "undesirable_weight=15" in result.findings[0].message


def _messages(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    return [{"role": roles[t["from"]], "content": t["value"]} for t in turns]


SHAPES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "openai": lambda r: {"input": {"messages": _messages(r["conversations"])},
                         "preferred_output": _messages([r["chosen"]]),
                         "non_preferred_output": _messages([r["rejected"]])},
    "trl_explicit": lambda r: {"prompt": _messages(r["conversations"]), "chosen": _messages([r["chosen"]]),
                               "rejected": _messages([r["rejected"]])},
    "trl_implicit": lambda r: {"chosen": _messages(r["conversations"] + [r["chosen"]]),
                               "rejected": _messages(r["conversations"] + [r["rejected"]])},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_gives_the_same_metrics(dpo: list[dict[str, Any]], shape: str, tmp_path: Path) -> None:
    records, _ = _planted(dpo)
    expected = preference_of(records).metrics
    converted = write_jsonl(tmp_path / f"{shape}.jsonl", [SHAPES[shape](r) for r in records])
    assert preference_of(converted).metrics == expected


def test_cli_exit_status(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    bad = write_jsonl(tmp_path / "pairs.jsonl", filler(20) + [{"prompt": "p", "chosen": "Same.", "rejected": "same."}])
    out = run_cli("audit", bad, "--only", "preference", "--json", "-", "--no-progress")
    assert out.exit_code == 1
    report = json.loads(out.stdout)
    check = next(c for c in report["checks"] if c["name"] == "preference")
    assert check["status"] == "fail" and check["findings"][0]["records"] == [20]
    assert check["findings"][0]["line"] == 21


@pytest.mark.parametrize("seed", range(5))
def test_vectorized_statistics_match_the_plain_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.02, 40) ** rng.uniform(0.5, 2, 40)
    assert holm_mask(p, 0.01).tolist() == holm(p.tolist(), 0.01)
    a, b = rng.integers(0, 100, 40), rng.integers(0, 100, 40)
    assert p_values(a, 100, b, 100).tolist() == pytest.approx(
        [two_proportion_p(int(x), 100, int(y), 100) for x, y in zip(a, b)])


def test_hh_transcripts_that_diverge_early() -> None:
    def hh(*turns: str) -> str:
        return "".join(f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns))

    records = [{"chosen": hh(f"Question {i} about tides?", answer(i, 20)),
                "rejected": hh(f"Question {i} about tides?", answer(1000 + i, 20))} for i in range(30)]
    records[5] = {"chosen": hh("Hi", "Hello!", "Bye", "Ciao"), "rejected": hh("Hi", "Go away.", "Bye", "Bye")}
    result = preference_of(records)
    assert codes(result) == {"preference.implicit_prompt", "preference.prompt_in_response"}
    assert flagged(result, "implicit_prompt") == flagged(result, "prompt_in_response") == {5}
    assert result.metrics["implicit_prompt_pairs"] == 1 and result.metrics["pairs"] == 30


def test_kto_answer_labelled_both_ways_is_contradictory() -> None:
    records = [{"prompt": f"Question {i}?", "completion": answer(i, 20), "label": i % 2 == 0} for i in range(40)]
    records.append({**records[3], "label": True})
    result = preference_of(records)
    assert codes(result) == {"preference.contradictory_pairs"}
    assert flagged(result, "contradictory_pairs") == {3, 40}
    assert (result.metrics["answers"], result.metrics["desirable"], result.metrics["undesirable"]) == (41, 21, 20)
