"""The drift check: small hand-made cases (lexical embeddings) and real data (the real model)."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import CheckResult, InputError, Status
from fineaudit.vectors.embeddings import LEXICAL_ID
from tests.conftest import real_file

CONTRACT_KEYS = {"method", "embedding_model", "statistic", "p_value", "drift_detected",
                 "uncovered_fraction", "sample_size"}

COOKING = ["How long should I bake {} bread?", "What spices go well with {} soup?",
           "Can I freeze {} dough overnight?", "How do I stop {} pasta from sticking?",
           "What oven temperature is best for {} cookies?"]
LEGAL = ["Is a {} contract valid without a notary?", "Which court hears {} tenancy disputes?",
         "How do I appeal a {} parking fine?", "What is the statute of limitations for {} fraud?",
         "Can my employer enforce a {} non-compete clause?"]
FILLERS = ["rye", "spelt", "vegan", "gluten free", "homemade", "whole wheat", "spicy", "sweet"]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for this module: the real-data tests reuse each other's embeddings."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(autouse=True)
def _cache_env(shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(shared_cache))  # never ~/.cache in tests


def prompts(templates: list[str], fillers: list[str] = FILLERS) -> list[str]:
    return [t.format(f) for t in templates for f in fillers]


def instruction(prompt: str) -> dict[str, str]:
    return {"instruction": prompt, "input": "", "output": "ok"}


def run_drift(train: list[str], production: list[Any], label_field: str = "", **params: Any) -> CheckResult:
    """The drift check through the real pipeline, on in-memory records."""
    production_rows = [p if isinstance(p, dict) else {"prompt": p} for p in production]
    config = {"label_field": label_field, "checks": {"drift": params}}
    report = fineaudit.audit([instruction(p) for p in train], production=production_rows,
                             config=config, only=["drift"])
    return report.checks["drift"]


@pytest.mark.parametrize("train, production, expected", [
    (prompts(COOKING), prompts(COOKING, FILLERS[::-1]), Status.PASS),  # same topics
    (prompts(COOKING), prompts(LEGAL), Status.FAIL),  # another domain entirely
])
def test_lexical_verdicts(train: list[str], production: list[str], expected: Status) -> None:
    result = run_drift(train, production, embedding_model="lexical")
    assert result.status is expected, result.summary
    assert result.metrics["embedding_model"] == LEXICAL_ID
    assert result.metrics["drift_detected"] is (expected is not Status.PASS)


def test_contract_metrics_and_projection_shape() -> None:
    production = prompts(COOKING[:3]) + prompts(LEGAL)
    result = run_drift(prompts(COOKING), production, embedding_model="lexical")
    metrics = result.metrics
    assert CONTRACT_KEYS <= set(metrics)
    json.dumps(metrics)  # plain JSON types only
    proj = metrics["projection"]
    assert proj["method"] == "pca"
    assert len(proj["train"]) == len(prompts(COOKING)) and len(proj["production"]) == len(production)
    assert len(proj["production_cluster"]) == len(proj["production"])
    assert all(len(xy) == 2 for xy in proj["train"] + proj["production"])
    assert {c for c in proj["production_cluster"]} - {-1} == set(range(
        sum(f.code == "drift.uncovered_cluster" for f in result.findings)))
    for key in ("length_ks_statistic", "length_wasserstein", "vocabulary_js_divergence"):
        assert 0 <= metrics[key]


@pytest.mark.parametrize("train, production, setting, expected", [
    (40, 24, 1000, 24),  # fewer prompts than the setting on both sides: the smaller side
    (24, 40, 1000, 24),
    (40, 40, 30, 30),  # the setting caps both sides
    (40, 3, 1000, 3),  # too few to test: still what was sampled
])
def test_sample_size_is_the_number_compared(train: int, production: int, setting: int, expected: int) -> None:
    pool = prompts(COOKING) + prompts(LEGAL)
    result = run_drift(pool[:train], pool[-production:], embedding_model="lexical", sample_size=setting)
    metrics = result.metrics
    assert metrics["sample_size"] == expected == min(metrics["train_sampled"], metrics["production_sampled"])
    assert metrics["sample_size_limit"] == setting


def test_uncovered_clusters_name_production_records() -> None:
    production = prompts(COOKING) + prompts(LEGAL)
    result = run_drift(prompts(COOKING), production, embedding_model="lexical")
    clusters = [f for f in result.findings if f.code == "drift.uncovered_cluster"]
    assert clusters and all(f.source == "production" for f in clusters)
    named = [i for f in clusters for i in f.records]
    legal_start = len(prompts(COOKING))
    assert sum(i >= legal_start for i in named) / len(named) >= 0.9  # the legal prompts
    assert "production prompts" in clusters[0].message


def test_too_few_prompts_warns() -> None:
    result = run_drift(prompts(COOKING), ["How long should I bake rye bread?"] * 3, embedding_model="lexical")
    assert result.status is Status.WARN
    assert [f.code for f in result.findings] == ["drift.too_few"]
    assert result.metrics["statistic"] is None


@pytest.mark.parametrize("label_field", ["label", ""])  # a `label` column is read without being named
def test_label_distribution_when_production_has_labels(label_field: str) -> None:
    production = [{"prompt": p, "label": "bread" if "bake" in p else "other"} for p in prompts(COOKING)]
    result = run_drift(prompts(COOKING), production, label_field=label_field, embedding_model="lexical")
    labels = result.metrics["label_distribution"]
    assert labels["production"] == {"other": 32, "bread": 8}
    assert result.status is Status.PASS


def test_production_logs_with_metadata_columns_compare_their_prompts() -> None:
    """Timestamps and session ids are not prompts: joining them in made any log 'drift'."""
    logged = [{"timestamp": f"2024-05-01T10:{i % 60:02d}:00Z", "session": f"sess-{i:05d}", "message": p}
              for i, p in enumerate(prompts(COOKING, FILLERS[::-1]))]
    assert run_drift(prompts(COOKING), logged, embedding_model="lexical").status is Status.PASS
    noted = [{"q": p, "agent_note": f"caller {i} asked about a delayed refund for order {1000 + i} again"}
             for i, p in enumerate(prompts(COOKING, FILLERS[::-1]))]
    assert run_drift(prompts(COOKING), noted, embedding_model="lexical").status is Status.FAIL
    config = {"production_field": "q", "checks": {"drift": {"embedding_model": "lexical"}}}
    report = fineaudit.audit([instruction(p) for p in prompts(COOKING)], production=noted, config=config, only=["drift"])
    assert report.checks["drift"].status is Status.PASS
    assert report.inputs["production"]["format"] == "prompts"
    with pytest.raises(InputError, match="no record has the field 'question'"):
        fineaudit.audit([instruction(p) for p in prompts(COOKING)], production=noted,
                        config={**config, "production_field": "question"}, only=["drift"])


def test_an_uncovered_slice_warns_even_when_the_auc_stays_small() -> None:
    production = prompts(COOKING) * 4 + prompts(LEGAL)[:10]  # 6% new topics, far from training
    loose = run_drift(prompts(COOKING) * 4, production, embedding_model="lexical", warn_auc=0.99)
    assert loose.metrics["uncovered_fraction"] > 0.05
    strict = run_drift(prompts(COOKING) * 4, production, embedding_model="lexical", warn_auc=0.99,
                       warn_uncovered_fraction=0.05)
    assert (loose.status, strict.status) == (Status.PASS, Status.WARN)
    assert strict.summary.startswith("part of production lies outside what training covers")


def test_thresholds_are_configurable() -> None:
    result = run_drift(prompts(COOKING), prompts(LEGAL), embedding_model="lexical", fail_auc=1.01)
    assert result.status is Status.WARN


def test_falls_back_to_lexical_without_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    result = run_drift(prompts(COOKING), prompts(LEGAL))
    assert result.metrics["embedding_model"] == LEXICAL_ID
    assert "not installed" in result.summary and result.status is Status.FAIL


# --------------------------------------------------------------------------- real data


def alpaca_prompts() -> list[str]:
    rows = json.loads(real_file("alpaca/alpaca_5000_original_sample.json").read_text("utf-8"))
    return ["\n".join(p for p in (r["instruction"], r["input"]) if p) for r in rows]


def dolly_questions() -> list[str]:
    """The Human part of Dolly's `### Human: ... ### Assistant: ...` texts."""
    lines = real_file("dolly/chinkara-open_qa.jsonl").read_text("utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    return [m.group(1).strip() for t in texts if (m := re.search(r"### Human:(.*?)### Assistant:", t, re.S))]


def sms_messages() -> list[str]:
    lines = real_file("sms_spam/SMSSpamCollection").read_text("utf-8").splitlines()
    return [line.split("\t", 1)[1].strip() for line in lines if "\t" in line]


def shuffled(items: list[str], seed: int) -> list[str]:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


@pytest.fixture(scope="module")
def alpaca() -> list[str]:
    return shuffled(alpaca_prompts(), 0)


def test_random_halves_of_alpaca_pass_lexical(alpaca: list[str]) -> None:
    """No false alarm: seeded random halves pass (the benchmark runs 100 splits)."""
    passed = 0
    for seed in range(10):
        split = shuffled(alpaca, seed)[:600]
        result = run_drift(split[:300], split[300:], embedding_model="lexical", permutations=200)
        passed += result.status is Status.PASS
    assert passed >= 9


# The real model: 200 prompts per side, embeddings shared through the module's cache.
N = 200


@pytest.mark.slow
def test_alpaca_vs_dolly_fails_with_large_auc(alpaca: list[str]) -> None:
    result = run_drift(alpaca[:N], shuffled(dolly_questions(), 0)[:N])
    assert result.status is Status.FAIL, result.summary
    assert result.metrics["embedding_model"] == "all-MiniLM-L6-v2"
    assert result.metrics["statistic"] >= 0.9 and result.metrics["p_value"] < 0.01


@pytest.mark.slow
def test_alpaca_halves_pass_with_the_model(alpaca: list[str]) -> None:
    result = run_drift(alpaca[:N], alpaca[N:2 * N])
    assert result.status is Status.PASS, result.summary
    assert result.metrics["uncovered_fraction"] <= 0.1


@pytest.mark.slow
def test_partial_shift_is_located(alpaca: list[str]) -> None:
    """80% in-distribution + 20% SMS messages: about 20% uncovered, and the clusters are SMS."""
    added = shuffled(sms_messages(), 0)[:N // 5]
    production = alpaca[N:2 * N - len(added)] + added
    result = run_drift(alpaca[:N], production)
    assert 0.1 <= result.metrics["uncovered_fraction"] <= 0.3, result.metrics["uncovered_fraction"]
    named = [i for f in result.findings if f.code == "drift.uncovered_cluster" for i in f.records]
    first_added = N - len(added)
    assert named and sum(i >= first_added for i in named) / len(named) >= 0.6
    if result.metrics["uncovered_fraction"] > 0.15:  # a slice training never covers is a warning at least
        assert result.status is not Status.PASS and result.metrics["drift_detected"]


@pytest.mark.slow
def test_a_rerun_from_a_warm_cache_gives_the_same_report(alpaca: list[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "fresh"))  # cold on the first run
    train = [instruction(p) for p in alpaca[:40]]
    production = [{"prompt": p} for p in alpaca[40:80]]
    runs = [fineaudit.audit(train, production=production, only=["drift"]).checks["drift"] for _ in range(2)]
    cold, warm = ({k: v for k, v in r.metrics.items() if k != "embedding_seconds"} for r in runs)
    assert cold == warm and runs[0].findings == runs[1].findings and runs[0].summary == runs[1].summary
    assert runs[1].metrics["embedding_seconds"] < runs[0].metrics["embedding_seconds"]


@pytest.mark.parametrize("text, terms", [
    ("Hello, World 42", ["hello", "world", "42"]),
    ("我喜欢苹果", ["我喜", "喜欢", "欢苹", "苹果"]),  # unspaced: character bigrams
    ("GPT4模型 café", ["gpt4", "模型", "café"]),
    ("สวัสดี", ["สว", "วั", "ัส", "สด", "ดี"]),  # Thai combining marks stay in the run
])
def test_vocabulary_terms(text: str, terms: list[str]) -> None:
    from fineaudit.vectors.drift_stats import words

    assert words(text) == terms


def test_chinese_vocabulary_on_one_topic_overlaps() -> None:
    """Two Chinese prompts about apples share bigrams; split on spaces they shared nothing."""
    from collections import Counter

    from fineaudit.vectors.drift_stats import js_divergence, words

    a, b, c = "我想买一些新鲜的苹果", "新鲜的苹果多少钱一斤", "明天的航班几点起飞"
    same_topic = js_divergence(Counter(words(a)), Counter(words(b)))
    other_topic = js_divergence(Counter(words(a)), Counter(words(c)))
    assert same_topic < other_topic == 1.0
