#!/usr/bin/env python3
"""Benchmark the diversity and language checks: accuracy on real data, and what they add to an audit.

Measured in this one process run, so the ratios hold on a busy machine even when the absolute
figures do not:

  1. language identification on lingua-py's test data (20 languages, 300 lines each):
     accuracy on sentences and word pairs, and milliseconds per 1,000 lines;
  2. German and Spanish sentences planted into the Alpaca sample: precision and recall of
     `language.minority` on records of 5 words or more;
  3. templated share on MultiArith and the Alpaca sample, and the frames of GPTeacher toolformer;
  4. the seconds both checks add to an audit of the synthetic corpus: an audit running `size`
     alone (loading and parsing, which every check shares) against `size`, `diversity` and
     `language` together, each run twice and the faster kept;
  5. the same in CPU seconds, with one worker (every pass in this process, timed with
     process_time, which other processes on a shared machine disturb far less than wall
     time): two cores can at best halve it.

Usage:
  python benchmarks/bench_diversity_language.py --records 100000          # makes the corpus (slow, once)
  python benchmarks/bench_diversity_language.py --corpus /tmp/c100k/data.jsonl
  python benchmarks/bench_diversity_language.py --skip-real                 # the corpus only
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import fineaudit
from fineaudit.text import language_id
from synthetic_corpus import chat_corpus  # benchmarks/ is on sys.path when run as a script

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
LINGUA = ("ar", "de", "en", "es", "fa", "fr", "hi", "id", "it", "ja", "ko", "nl", "pl", "pt", "ru", "sv",
          "tr", "uk", "vi", "zh")


def lingua(kind: str) -> tuple[float, float]:
    """(accuracy, ms per 1,000 lines) over the 20 languages."""
    right = total = 0
    seconds = 0.0
    for code in LINGUA:
        lines = [ln for ln in (REALDATA / "lingua_testdata" / kind / f"{code}.txt").read_text("utf-8").splitlines()
                 if ln.strip()]
        started = time.perf_counter()
        found = language_id.identify_many(lines)
        seconds += time.perf_counter() - started
        right += sum(1 for f in found if f == code)
        total += len(lines)
    return right / total, 1000 * seconds / total * 1000


def planted_alpaca(folder: Path) -> tuple[float, float, int]:
    alpaca = json.loads((REALDATA / "alpaca" / "alpaca_5000_original_sample.json").read_text("utf-8"))
    foreign = [ln for code in ("de", "es")
               for ln in (REALDATA / "lingua_testdata" / "sentences" / f"{code}.txt").read_text("utf-8").splitlines()
               if len(ln.split()) >= 5][::3]
    records: list[dict[str, str]] = list(alpaca)
    for k, sentence in enumerate(foreign):
        records.insert(25 * k + 7, {"instruction": sentence, "input": "", "output": foreign[(k + 1) % len(foreign)]})
    planted = {i for i, r in enumerate(records) if r["instruction"] in set(foreign)}
    path = folder / "alpaca_planted.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    result = fineaudit.audit(str(path), only=["language"], max_findings=0).checks["language"]
    long_enough = {i for i, r in enumerate(records) if len(f"{r['instruction']} {r['input']}".split()) >= 5}
    flagged = {i for f in result.findings if f.code == "language.minority" for i in f.records} & long_enough
    hits = len(flagged & planted)
    return hits / max(1, len(flagged)), hits / len(planted & long_enough), len(planted)


def diversity_of(path: Path, **kwargs: Any) -> Any:
    return fineaudit.audit(str(path), only=["diversity"], max_findings=0, **kwargs).checks["diversity"]


def real(folder: Path) -> None:
    for kind in ("sentences", "word-pairs"):
        accuracy, ms = lingua(kind)
        print(f"lingua {kind:<10} accuracy {accuracy:.1%}   {ms:.0f} ms per 1,000 lines")
    precision, recall, planted = planted_alpaca(folder)
    print(f"Alpaca + {planted} planted de/es: language.minority precision {precision:.3f}, recall {recall:.3f}")
    multiarith = diversity_of(REALDATA / "multiarith" / "MultiArith.json", format="text", fields={"text": "sQuestion"})
    alpaca = diversity_of(REALDATA / "alpaca" / "alpaca_5000_original_sample.json")
    tool = diversity_of(REALDATA / "gpteacher" / "toolformer-dedupe-only-dataset.json")
    print(f"templated: MultiArith {multiarith.metrics['templated_fraction']:.1%}, "
          f"Alpaca sample {alpaca.metrics['templated_fraction']:.1%}, "
          f"GPTeacher toolformer {tool.metrics['templated_fraction']:.1%}")
    for f in tool.findings:
        if f.code == "diversity.frame":
            print(f"  toolformer frame: {f.message}")


def audit_seconds(path: Path, only: list[str]) -> tuple[float, Any]:
    best, report = float("inf"), None
    for _ in range(2):
        started = time.perf_counter()
        report = fineaudit.audit(str(path), only=only)
        best = min(best, time.perf_counter() - started)
    return best, report


def corpus(path: Path) -> None:
    base, _ = audit_seconds(path, ["size"])
    both, report = audit_seconds(path, ["size", "diversity", "language"])
    records = report.dataset.records if report else 0
    print(f"corpus {path} ({records:,} records): audit size only {base:.1f} s; "
          f"with diversity and language {both:.1f} s; added {both - base:.1f} s")
    for name in ("diversity", "language"):
        check = report.checks[name]
        print(f"  {name}: {check.duration_s:.1f} s in the report; {check.summary}")


def cpu_seconds(path: Path, only: list[str]) -> float:
    started = time.process_time()
    fineaudit.audit(str(path), only=only, config={"workers": 1})
    return time.process_time() - started


def corpus_cpu(path: Path) -> None:
    base = cpu_seconds(path, ["size"])
    both = cpu_seconds(path, ["size", "diversity", "language"])
    print(f"one worker: size only {base:.1f} CPU s; with diversity and language {both:.1f} CPU s; "
          f"added {both - base:.1f} CPU s (/2 cores = {(both - base) / 2:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--corpus", help="an existing data.jsonl instead of making one")
    parser.add_argument("--skip-real", action="store_true", help="skip the real-data figures")
    args = parser.parse_args()
    if not args.skip_real:
        with tempfile.TemporaryDirectory() as folder:
            real(Path(folder))
    path = Path(args.corpus) if args.corpus else chat_corpus(args.records)
    corpus(path)
    corpus_cpu(path)


if __name__ == "__main__":
    main()
