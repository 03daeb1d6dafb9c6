#!/usr/bin/env python3
"""Benchmark: label_quality's quality on SMS Spam with planted label noise, and its speed.

Quality (../shared/realdata/sms_spam, 5,574 messages, 13.4% spam): the check runs through
`fineaudit.audit` on the collection with labels flipped, and its suspects are scored against
the flips:
  random    5% of all labels flipped at random (both directions), seeds 0..N-1
  one-way   5% of all records are spam relabelled ham (278 of 747 spam), seeds 0..N-1
  one-way-s 5% of the spam relabelled ham (37 records), seeds 0..N-1
  clean     the unmodified collection: how many records it flags

Speed: the whole check (reading, hashed features, 5-fold cross-validated fits, confident
learning, findings) on 100,000 classification records, wall and CPU seconds: `--corpus sms`
(default) resamples SMS Spam's messages with one word dropped and a number appended, so they
are distinct short texts like most classification data; `--corpus synthetic` is the shared
synthetic corpus (../shared/bench/make_corpus.py --format classification: 15-120 word texts,
labels drawn at random, so the check also shows that it judges no unpredictable labels).

  python benchmarks/bench_label_quality.py                 # both, 5 seeds
  python benchmarks/bench_label_quality.py --seeds 3 --skip speed
  python benchmarks/bench_label_quality.py --records 100000 --skip quality
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import fineaudit

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SMS = SHARED / "realdata" / "sms_spam" / "SMSSpamCollection"


def sms() -> list[dict[str, str]]:
    lines = SMS.read_text(encoding="utf-8").splitlines()
    return [dict(zip(("label", "text"), line.split("\t", 1))) for line in lines if line]


def suspects(rows: Any, **params: Any) -> set[int]:
    config = {"checks": {"label_quality": params}}
    result = fineaudit.audit(rows, format="classification", only=["label_quality"], config=config,
                             max_findings=0).checks["label_quality"]
    return {r for f in result.findings if f.code == "label_quality.suspected_mislabeled" for r in f.records}


def flip(rows: list[dict[str, str]], at: set[int]) -> list[dict[str, str]]:
    other = {"spam": "ham", "ham": "spam"}
    return [dict(r, label=other[r["label"]]) if i in at else r for i, r in enumerate(rows)]


def planted(rows: list[dict[str, str]], how: str, seed: int) -> set[int]:
    rng = np.random.default_rng(seed)
    if how == "random":
        return set(np.flatnonzero(rng.random(len(rows)) < 0.05).tolist())
    spam = [i for i, r in enumerate(rows) if r["label"] == "spam"]
    size = round(0.05 * (len(rows) if how == "one-way" else len(spam)))
    return set(rng.choice(spam, size=size, replace=False).tolist())


def quality(seeds: int) -> None:
    rows = sms()
    print(f"SMS Spam: {len(rows)} records, {sum(r['label'] == 'spam' for r in rows)} spam")
    for how in ("random", "one-way", "one-way-s"):
        scores = []
        for seed in range(seeds):
            truth = planted(rows, how, seed)
            found = suspects(flip(rows, truth))
            hit = len(found & truth)
            scores.append((hit / max(len(found), 1), hit / len(truth), len(found), len(truth)))
        p, r, f, t = np.mean(scores, axis=0)
        print(f"  {how:10s} flipped {t:6.0f}  flagged {f:6.1f}  precision {p:.3f}  recall {r:.3f}  "
              f"(mean of {seeds} seeds; per seed P {' '.join(f'{s[0]:.3f}' for s in scores)})", flush=True)
    found = suspects(rows)
    print(f"  clean      flagged {len(found)} of {len(rows)} ({len(found) / len(rows):.2%})", flush=True)


def sms_corpus(records: int) -> Path:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "fineaudit-bench" / f"sms-{records}.jsonl"
    if not path.exists():
        import json

        path.parent.mkdir(parents=True, exist_ok=True)
        rows, rng = sms(), np.random.default_rng(0)
        with open(path, "w", encoding="utf-8") as fh:
            for i, k in enumerate(rng.integers(0, len(rows), records)):
                words = rows[k]["text"].split()
                if len(words) > 3:
                    del words[int(rng.integers(0, len(words)))]
                fh.write(json.dumps({"text": " ".join(words) + f" {i}", "label": rows[k]["label"]}) + "\n")
    return path


def corpus(records: int) -> Path:
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "fineaudit-bench" / f"classification-{records}"
    data = folder / "data.jsonl"
    if not data.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(SHARED / "bench" / "make_corpus.py"), "--format", "classification",
                        "--records", str(records), "--out", str(folder)], check=True)
    return data


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def speed(records: int, kind: str) -> None:
    data = sms_corpus(records) if kind == "sms" else corpus(records)
    started, cpu = time.perf_counter(), cpu_seconds()
    report = fineaudit.audit(str(data), only=["label_quality"], max_findings=0)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    result = report.checks["label_quality"]
    print(f"speed: {records} {kind} records: label_quality {result.duration_s:.1f} s in the check, {wall:.1f} s wall "
          f"for the audit, {cpu:.1f} CPU s; {result.metrics['suspected_mislabeled']} suspects, "
          f"{result.metrics['classes']} classes ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--skip", choices=("quality", "speed"), action="append", default=[])
    ap.add_argument("--corpus", choices=("sms", "synthetic"), default="sms")
    args = ap.parse_args()
    if "quality" not in args.skip:
        quality(args.seeds)
    if "speed" not in args.skip:
        speed(args.records, args.corpus)


if __name__ == "__main__":
    main()
