"""Drift benchmark: embedding throughput levers, total check time cold and warm, false alarms.

    python benchmarks/bench_drift.py levers            # throughput of the cheap levers (300 prompts)
    python benchmarks/bench_drift.py check --n 1000    # Alpaca vs Dolly through the check, cold then warm
    python benchmarks/bench_drift.py check --n 5000    # 5,000 + 5,000 (minutes on a 2-core CPU)
    python benchmarks/bench_drift.py halves --splits 100   # random halves of Alpaca: false alarms

Figures are printed with the load average beside them: on a shared machine compare ratios
measured in the same run, not absolute numbers between runs. Caches go to a fresh temporary
folder unless --cache-dir is given.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def alpaca() -> list[str]:
    rows = json.loads((REALDATA / "alpaca" / "alpaca_5000_original_sample.json").read_text("utf-8"))
    return ["\n".join(p for p in (r["instruction"], r["input"]) if p) for r in rows]


def dolly() -> list[str]:
    texts = [json.loads(line)["text"] for line in (REALDATA / "dolly" / "chinkara-open_qa.jsonl").open()]
    return [m.group(1).strip() for t in texts if (m := re.search(r"### Human:(.*?)### Assistant:", t, re.S))]


def codegen() -> list[str]:
    rows = json.loads((REALDATA / "gpteacher" / "codegen-instruct.json").read_text("utf-8"))
    return ["\n".join(p for p in (r["instruction"], r["input"]) if p) for r in rows]


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def levers(n: int) -> None:
    """Prompts per second for each lever, on the same prompts, in one process."""
    import torch

    from fineaudit.vectors.embeddings import SentenceEmbedder

    texts = random.Random(0).sample(alpaca(), n)
    variants = [("max_tokens=256 (model limit)", {"max_tokens": 256}, None, False),
                ("max_tokens=128 (default)", {"max_tokens": 128}, None, False),
                ("max_tokens=128, presorted input", {"max_tokens": 128}, None, True),
                ("max_tokens=128, batch 32", {"max_tokens": 128, "batch_size": 32}, None, False),
                ("max_tokens=128, 1 torch thread", {"max_tokens": 128}, 1, False)]
    SentenceEmbedder("all-MiniLM-L6-v2").encode(texts[:8])  # load and warm up outside the timing
    default_threads = torch.get_num_threads()
    base = None
    for label, kwargs, threads, presort in variants:
        torch.set_num_threads(threads or default_threads)
        batch = sorted(texts, key=len) if presort else texts
        started = time.perf_counter()
        SentenceEmbedder("all-MiniLM-L6-v2", **kwargs).encode(batch)
        rate = n / (time.perf_counter() - started)
        base = base or rate
        print(f"{label:36s} {rate:6.1f} prompts/s  ({rate / base:.2f}x)  [{load()}]", flush=True)
    torch.set_num_threads(default_threads)


def check(n: int, cache_dir: Path) -> None:
    """The whole drift check through fineaudit.audit, cold cache then warm cache."""
    import fineaudit

    os.environ["FINEAUDIT_CACHE_DIR"] = str(cache_dir)
    production = dolly() + codegen()  # Dolly has 3,742 questions; code requests fill up to 5,000
    rng = random.Random(0)
    train_rows = [{"instruction": p, "input": "", "output": "-"} for p in alpaca()]
    prod_rows = [{"prompt": p} for p in rng.sample(production, min(n, len(production)))]
    config = {"checks": {"drift": {"sample_size": n}}}
    for label in ("cold", "warm"):
        started = time.perf_counter()
        report = fineaudit.audit(train_rows, production=prod_rows, config=config, only=["drift"])
        took = time.perf_counter() - started
        m = report.checks["drift"].metrics
        sampled = m["train_sampled"] + m["production_sampled"]  # all embedded when cold, none when warm
        rate = f"{sampled / max(m['embedding_seconds'], 1e-9):.1f} prompts/s" if label == "cold" else "from the cache"
        print(f"{n}+{n} {label}: total {took:6.1f} s, embedding {m['embedding_seconds']:6.1f} s ({rate}), "
              f"AUC {m['statistic']}, p {m['p_value']:.4f}, uncovered {m['uncovered_fraction']}, "
              f"status {report.checks['drift'].status.value}  [{load()}]", flush=True)


def halves(splits: int, n: int, cache_dir: Path, model: str) -> None:
    """Random halves of Alpaca through the check's statistics and status rule: how many pass."""
    from fineaudit.vectors import drift_stats as stats
    from fineaudit.checkers.drift import DriftParams, drift_status
    from fineaudit.core import Status
    from fineaudit.vectors.embeddings import EmbeddingCache, choose_embedder, embed

    texts = random.Random(0).sample(alpaca(), 2 * n)
    embedder = choose_embedder(model, 64, 128).embedder
    vectors, _ = embed(embedder, texts, EmbeddingCache(cache_dir / "embeddings"))
    params = DriftParams()
    started, passed, aucs, uncovered = time.perf_counter(), 0, [], []
    for seed in range(splits):
        order = np.random.default_rng(seed).permutation(len(texts))
        train, prod = vectors[order[:n]], vectors[order[n:]]
        test = stats.domain_classifier_test(train, prod, seed=seed)
        cover = stats.coverage(train, prod, params.coverage_quantile)
        aucs.append(test.auc)
        uncovered.append(cover.uncovered_fraction)
        passed += drift_status(test.auc, test.p_value, cover.uncovered_fraction, params) is Status.PASS
    print(f"random halves ({model}, {n}+{n}): {passed}/{splits} pass; AUC max {max(aucs):.3f}, "
          f"mean {np.mean(aucs):.3f}; uncovered max {max(uncovered):.3f}, mean {np.mean(uncovered):.3f}; "
          f"{time.perf_counter() - started:.1f} s for the tests  [{load()}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("levers", "check", "halves"))
    ap.add_argument("--n", type=int, default=1000, help="prompts per side")
    ap.add_argument("--splits", type=int, default=100)
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="or 'lexical'")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="fineaudit-bench-"))
    if args.what == "levers":
        levers(min(args.n, 300))
    elif args.what == "check":
        check(args.n, cache_dir)
    else:
        halves(args.splits, min(args.n, 500), cache_dir, args.model)


if __name__ == "__main__":
    main()
