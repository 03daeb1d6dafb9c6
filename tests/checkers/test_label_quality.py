"""label_quality: confident learning flags the flipped labels, and only them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fineaudit.checkers.label_quality import LabelQualityParams
from tests.checkers.test_exact_duplicates import run
from tests.conftest import DATA, REALDATA, chat, write_jsonl

SPAM = ["win a free {} prize now, call {}", "urgent! claim your {} cash reward, text {}",
        "congratulations you won a {} voucher, reply {}", "free entry to win {} tickets, send {}"]
HAM = ["see you at {} tomorrow, {}", "can you pick up {} on the way home {}",
       "running late for {}, sorry {}", "thanks for {} last night {}"]
WORDS = ["lunch", "the game", "dinner", "bread", "class", "the party", "milk", "work"]
NAMES = ["anna", "bob", "chris", "dee", "eli", "fay", "gus", "hal"]


FILLER = "ok so yes well maybe just really about today later okay right then also".split()


def corpus(per_class: int = 40) -> list[dict[str, str]]:
    """Two classes told apart by their templates, with filler words both share (so that the
    classifier is sure, not certain, as on real data)."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(per_class):
        for label, templates, slot in (("spam", SPAM, str(80000 + i * 7)), ("ham", HAM, NAMES[i % 8])):
            filler = " ".join(rng.choice(FILLER, 4))
            rows.append({"text": f"{templates[i % 4].format(WORDS[(i * 3) % 8], slot)} {filler}", "label": label})
    return rows


def flipped(rows: list[dict[str, str]], at: list[int]) -> list[dict[str, str]]:
    other = {"spam": "ham", "ham": "spam"}
    return [dict(r, label=other[r["label"]]) if i in at else r for i, r in enumerate(rows)]


@pytest.mark.parametrize("flips", [[], [3, 10], [0, 21, 55]])
def test_flags_exactly_the_flipped_records(flips: list[int]) -> None:
    result = run(flipped(corpus(), flips), "label_quality", fmt="classification")
    suspects = [f for f in result.findings if f.code == "label_quality.suspected_mislabeled"]
    assert sorted(r for f in suspects for r in f.records) == flips
    assert result.metrics["suspected_mislabeled"] == len(flips)
    assert result.status.value == ("warn" if flips else "pass")


def test_finding_names_given_and_suggested_label_and_score(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "flipped.jsonl", flipped(corpus(), [3, 10]))
    result = run(str(data), "label_quality")
    finding = next(f for f in result.findings if f.records == (10,))
    assert finding.line == 11 and finding.field == "label"
    assert "labelled 'ham', looks like 'spam' (score 0.0" in finding.message
    assert "reward" in finding.message


def test_suspects_ranked_by_score() -> None:
    result = run(flipped(corpus(), [0, 21, 55]), "label_quality", fmt="classification")
    scores = [float(f.message.split("(score ")[1].split(")")[0]) for f in result.findings]
    assert scores == sorted(scores)


def test_small_class_reported_never_flagged() -> None:
    rows = corpus() + [{"text": "win a free lunch prize now, call 99", "label": "promo"},
                       {"text": "see you at dinner tomorrow, anna", "label": "promo"}]
    result = run(rows, "label_quality", fmt="classification")
    small = [f for f in result.findings if f.code == "label_quality.class_too_small"]
    assert [f.records for f in small] == [(80, 81)] and "'promo' has 2 examples, fewer than 25" in small[0].message
    assert not [f for f in result.findings if f.code == "label_quality.suspected_mislabeled"]
    assert result.metrics["classes_too_small"] == 1 and result.metrics["examined_records"] == 80


def test_fewer_than_two_learnable_classes_pass() -> None:
    rows = corpus(10)  # 10 per class < 5 folds x 5
    result = run(rows, "label_quality", fmt="classification")
    assert result.status.value == "pass" and result.metrics["classes_too_small"] == 2


def test_fails_above_fail_fraction() -> None:
    result = run(flipped(corpus(), [0, 21, 55]), "label_quality", fmt="classification", fail_fraction=0.02)
    assert result.status.value == "fail"


def test_skipped_without_labels() -> None:
    result = run([chat("hi", "hello")] * 3, "label_quality")
    assert result.status.value == "skipped"


def test_any_column_can_be_the_label() -> None:
    rows = [{"instruction": r["text"], "output": "ok", "category": r["label"]} for r in flipped(corpus(), [3, 10])]
    config = {"workers": 1, "checks": {"label_quality": {}}, "fields": {"label": "category"}}
    import fineaudit

    result = fineaudit.audit(rows, only=["label_quality"], config=config, max_findings=0).checks["label_quality"]
    assert sorted(f.records for f in result.findings) == [(3,), (10,)]


def test_deterministic() -> None:
    rows = flipped(corpus(), [3, 10])
    first = run(rows, "label_quality", fmt="classification")
    assert first.findings == run(rows, "label_quality", fmt="classification").findings


@pytest.mark.parametrize("params", [{"features": "tfidf"}, {"folds": 1}, {"min_per_fold": 0},
                                    {"fail_fraction": 1.5}, {"fail_fraction": float("nan")}])
def test_params_validated(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LabelQualityParams(**params)


@pytest.mark.slow
def test_embedding_features() -> None:
    result = run(flipped(corpus(), [3, 10]), "label_quality", fmt="classification", features="embeddings")
    assert "embeddings" in result.metrics["method"]
    found = {f.records for f in result.findings}
    assert {(3,), (10,)} <= found and len(found) <= 4  # sentence vectors blur the templates a little


# --------------------------------------------------------------------------- SMS Spam (real data)

SMS = DATA / "sms_spam" / "SMSSpamCollection" if (DATA / "sms_spam" / "SMSSpamCollection").exists() else REALDATA / "sms_spam" / "SMSSpamCollection"
needs_sms = pytest.mark.skipif(not SMS.exists(), reason="needs tests/data/sms_spam or ../shared/realdata/sms_spam")


def sms() -> list[dict[str, str]]:
    lines = SMS.read_text(encoding="utf-8").splitlines()
    return [dict(zip(("label", "text"), line.split("\t", 1))) for line in lines if line]


def precision_recall(rows: list[dict[str, str]], truth: set[int]) -> tuple[float, float, int]:
    result = run(rows, "label_quality", fmt="classification")
    found = {r for f in result.findings if f.code == "label_quality.suspected_mislabeled" for r in f.records}
    return len(found & truth) / max(len(found), 1), len(found & truth) / max(len(truth), 1), len(found)


@needs_sms
def test_sms_spam_random_flips() -> None:
    rows, scores = sms(), []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        truth = set(np.flatnonzero(rng.random(len(rows)) < 0.05).tolist())
        scores.append(precision_recall(flipped(rows, sorted(truth)), truth)[:2])
    precision, recall = np.mean(scores, axis=0)
    assert precision >= 0.85 and recall >= 0.80


@needs_sms
def test_sms_spam_one_way_flips() -> None:
    rows = sms()
    spam = [i for i, r in enumerate(rows) if r["label"] == "spam"]
    truth = set(np.random.default_rng(0).choice(spam, size=round(0.05 * len(rows)), replace=False).tolist())
    precision, recall, _ = precision_recall(flipped(rows, sorted(truth)), truth)
    assert precision >= 0.80 and recall >= 0.50


@needs_sms
def test_sms_spam_unmodified_barely_flagged() -> None:
    rows = sms()
    _, _, flagged = precision_recall(rows, set())
    assert flagged <= 0.01 * len(rows)


def test_kto_labels_are_not_classes() -> None:
    rows = [{"prompt": f"question {i}", "completion": f"answer {i}", "label": i % 2 == 0} for i in range(60)]
    result = run(rows, "label_quality")
    assert result.status.value == "skipped" and "kto" in result.summary


def test_labels_the_text_cannot_predict_are_not_judged() -> None:
    rng = np.random.default_rng(3)
    rows = [dict(r, label=str(rng.choice(["a", "b", "c"]))) for r in corpus()]  # labels ignore the text
    result = run(rows, "label_quality", fmt="classification")
    assert result.status.value == "pass" and "not predictable" in result.summary
    assert result.metrics["cv_balanced_accuracy"] < 0.67 and result.metrics["suspected_mislabeled"] == 0
