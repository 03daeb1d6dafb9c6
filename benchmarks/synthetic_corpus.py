"""The synthetic corpus the benchmarks share: ../shared/bench/make_corpus.py output, made once.

Kept under $TMPDIR/fineaudit-bench/chat-N (data.jsonl and truth.json), so the near-duplicate,
length and scale benchmarks reuse one corpus of each size (1,000,000 records take minutes).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MAKE_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "make_corpus.py"
DEFAULT_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "fineaudit-bench"


def chat_corpus(records: int, cache: Path = DEFAULT_CACHE) -> Path:
    """data.jsonl of a make_corpus chat corpus of this many records (truth.json beside it)."""
    out = cache / f"chat-{records}"
    if not (out / "truth.json").exists():
        subprocess.run([sys.executable, str(MAKE_CORPUS), "--records", str(records), "--out", str(out)],
                       check=True, capture_output=True)
    return out / "data.jsonl"
