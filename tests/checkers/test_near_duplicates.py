"""near_duplicates: small cases, precision/recall on the synthetic corpus, real GPTeacher sets."""
from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from tests.checkers.test_exact_duplicates import run
from tests.conftest import real_file, chat

random.seed(5)
VOCAB = [f"w{i}" for i in range(3000)]


def prose(n: int, rng: random.Random) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def edit(text: str, every: int) -> str:
    words = text.split()
    return " ".join("changed" if i % every == 0 else w for i, w in enumerate(words))


RNG = random.Random(3)
BASE = prose(120, RNG)
OTHER = prose(120, RNG)


@pytest.mark.parametrize("texts, clusters", [
    ([BASE, edit(BASE, 60), OTHER], [(0, 1)]),          # 2 of 120 words changed: Jaccard ~0.85
    ([BASE, edit(BASE, 6), OTHER], []),                 # every 6th word changed: far below 0.8
    ([BASE, OTHER, BASE.upper()], [(0, 2)]),            # exact copies are in clusters too
    (["Thanks!", "thanks", "Thank you"], [(0, 1)]),     # shorter than a shingle: still matched
    (["", "", "ok then"], []),                          # no words: nothing to compare
])
def test_clusters(texts: list[str], clusters: list[tuple[int, ...]]) -> None:
    rows = [chat("Question?", t) for t in texts]
    result = run(rows, "near_duplicates", scope="response")
    assert [f.records for f in result.findings] == clusters
    assert result.metrics["clusters"] == len(clusters)
    assert result.metrics["duplicate_records"] == sum(len(c) - 1 for c in clusters)


def test_finding_names_lowest_verified_similarity() -> None:
    rows = [chat("Q", BASE), chat("Q", edit(BASE, 60)), chat("Q", BASE)]
    (finding,) = run(rows, "near_duplicates").findings
    assert finding.records == (0, 1, 2)
    assert "lowest verified Jaccard to record 0: 0.8" in finding.message


def test_threshold_setting() -> None:
    rows = [chat("Q", BASE), chat("Q", edit(BASE, 12))]
    assert run(rows, "near_duplicates").findings == ()
    assert [f.records for f in run(rows, "near_duplicates", threshold=0.3).findings] == [(0, 1)]


def test_metrics_shape() -> None:
    rows = [chat("Q", BASE)] * 3 + [chat("Q", OTHER)] * 2
    metrics = run(rows, "near_duplicates").metrics
    assert metrics["cluster_sizes"] == {"2": 1, "3": 1}
    assert metrics["threshold"] == 0.8
    assert {"duplicate_records", "clusters", "duplicate_fraction"} <= set(metrics)


def truth_labels(truth: dict[str, Any]) -> tuple[set[int], set[int]]:
    """(true duplicates: Jaccard >= 0.85 to another record, true uniques: < 0.5 to every other)."""
    best: dict[int, float] = {}
    for a, b, _, j5 in truth["near_pairs"]:
        best[a] = max(best.get(a, 0.0), j5)
        best[b] = max(best.get(b, 0.0), j5)
    dups = {i for i, j in best.items() if j >= 0.85}
    uniques = {i for i in range(truth["records"]) if best.get(i, 0.0) < 0.5}
    return dups, uniques


def precision_recall(clusters: list[tuple[int, ...]], truth: dict[str, Any]) -> tuple[float, float]:
    flagged = {i for c in clusters for i in c}
    dups, uniques = truth_labels(truth)
    precision = len(flagged & dups) / max(1, len(flagged & (dups | uniques)))
    return precision, len(flagged & dups) / max(1, len(dups))


def test_corpus_precision_and_recall(make_corpus: Any) -> None:
    data, truth = make_corpus("--records", "3000")
    result = run(str(data), "near_duplicates")
    precision, recall = precision_recall([f.records for f in result.findings], truth)
    assert precision >= 0.99 and recall >= 0.95


def test_gpteacher_stricter_filters_leave_fewer_near_duplicates() -> None:
    files = ["toolformer-dedupe-only-dataset", "toolformer-similarity-0.9-dataset",
             "toolformer-similarity-0.7-dataset"]
    counts = [run(str(real_file(f"gpteacher/{f}.json")), "near_duplicates").metrics["duplicate_records"]
              for f in files]
    assert all(a > b for a, b in itertools.pairwise(counts[:2])) and counts[1] >= counts[2]
    assert counts[0] > 100


def test_same_clusters_in_batches_and_worker_processes(make_corpus: Any) -> None:
    # small batches spread the corpus over worker processes: clusters must not depend on it
    import fineaudit

    data, _ = make_corpus("--records", "3000")
    config = {"workers": 2, "batch_size": 400}
    batched = fineaudit.audit(str(data), only=["near_duplicates"], config=config, max_findings=0)
    whole = run(str(data), "near_duplicates")
    assert [f.records for f in batched.checks["near_duplicates"].findings] == [f.records for f in whole.findings]
    assert batched.checks["near_duplicates"].metrics == whole.metrics
