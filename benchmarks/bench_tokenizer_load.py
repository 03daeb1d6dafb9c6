"""What loading the tokenizer costs each process that counts tokens (every worker of a pass).

Two ways of getting a cl100k_base / o200k_base counter, each timed in a fresh interpreter
(as a worker starts), from the first tokenizer import to the first count:

  package    `import bpe_openai; bpe_openai.get_encoding(name)` (what token_counting did):
             the package's import builds its model table, parsing the rank files of all three
             encodings in Python
  extension  `fineaudit.text.token_counting.load_counter(name)`: bpe-openai's Rust extension alone,
             which builds only the vocabulary asked for

It prints the median wall seconds (and the minimum), the median CPU seconds (steadier on a
shared machine) and the process's RSS growth over the repeats, the ratio, and
checks that both count the same tokens on the texts of a make_corpus corpus.

    python benchmarks/bench_tokenizer_load.py --repeats 5
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from synthetic_corpus import chat_corpus  # benchmarks/ is on sys.path when run as a script

_PROLOGUE = """
import json, sys, time, psutil
import fineaudit.core  # the package's own imports are not the tokenizer's cost
rss = psutil.Process().memory_info().rss
started, cpu = time.perf_counter(), time.process_time()
"""
WAYS = {
    "package": """
import bpe_openai
count = bpe_openai.get_encoding(NAME)._backend.count
count("hello world")
""",
    "extension": """
from fineaudit.text.token_counting import load_counter
count = load_counter(NAME).count
count(["hello world"])
""",
}
_EPILOGUE = """
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "rss_mb": (psutil.Process().memory_info().rss - rss) / 2**20,
                  "package_imported": "bpe_openai.compat" in sys.modules}))
"""


def load_once(way: str, encoding: str) -> dict[str, float]:
    code = _PROLOGUE + WAYS[way].replace("NAME", repr(encoding)) + _EPILOGUE
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def same_counts(encoding: str, records: int) -> int:
    """Texts of a make_corpus corpus counted both ways; SystemExit on the first difference."""
    import bpe_openai

    from fineaudit.text.token_counting import count_tokens

    with open(chat_corpus(records)) as lines:
        texts = [m["content"] for line in lines for m in json.loads(line).get("messages", [])
                 if isinstance(m.get("content"), str)]
    reference = bpe_openai.get_encoding(encoding)
    expected = [len(reference.encode_ordinary(t)) for t in texts]
    if count_tokens(encoding, texts) != expected:
        raise SystemExit(f"{encoding}: the two ways count different tokens")
    return len(texts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--encodings", default="cl100k_base,o200k_base")
    ap.add_argument("--check-records", type=int, default=2000, help="corpus records whose counts are compared")
    args = ap.parse_args(argv)
    print(f"load average: {os.getloadavg()}, cpus: {os.cpu_count()}, repeats: {args.repeats}")
    print(f"{'encoding':12} {'way':10} {'median s':>9} {'min s':>7} {'CPU s':>7} {'RSS MB':>7} {'package imported':>17}")
    for encoding in args.encodings.split(","):
        medians = {}
        for way in WAYS:
            runs = [load_once(way, encoding) for _ in range(args.repeats)]
            seconds = [r["seconds"] for r in runs]
            medians[way] = statistics.median(seconds)
            print(f"{encoding:12} {way:10} {medians[way]:>9.3f} {min(seconds):>7.3f} "
                  f"{statistics.median(r['cpu'] for r in runs):>7.3f} "
                  f"{statistics.median(r['rss_mb'] for r in runs):>7.0f} {str(runs[0]['package_imported']):>17}")
        print(f"{encoding:12} package / extension: {medians['package'] / medians['extension']:.1f}x")
        texts = same_counts(encoding, args.check_records)
        print(f"{encoding:12} same counts both ways on {texts} texts of {args.check_records} corpus records")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
