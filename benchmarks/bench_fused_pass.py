"""What a fused pass would save: the default checks' first-pass batch functions run as
separate passes (today), as one pass (`fused_pass.fused`), and as one pass sharing parsing,
chat turns, validation and normalization (`fused_pass.fused_shared`), on the local engine.

Each variant is timed in wall seconds and in CPU seconds of the whole process tree (this
process, the forkserver and its pool workers; steadier than wall time on a shared machine),
and its results are compared with the separate passes' (pickled bytes, batch by batch).

    PYTHONPATH=/tmp/fa-base:/tmp/fa-base-meta python benchmarks/bench_fused_pass.py --records 100000

The batch functions and their arguments are those the checkers of the baseline (commit
db62321) build with default settings for a chat dataset (`first_pass`): run it on that code, as
above, since the checkers' batch functions are being reorganized; second passes (excerpts, near-duplicate
verification, conflicting answers) depend on the first pass's results and are not included.
"""
from __future__ import annotations

import argparse
import os
import pickle
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psutil
from fused_pass import fused, fused_shared  # benchmarks/ is on sys.path, here and in the workers
from synthetic_corpus import chat_corpus

from fineaudit.core import RecordBatch
from fineaudit.engines.local import LocalEngine
from fineaudit.dataset.loaders import open_source


def first_pass(layout: str = "chat", seed: int = 0) -> dict[str, Callable[[RecordBatch], Any]]:
    """check -> the function its first pass maps, built as the checker builds it by default."""
    from fineaudit.checkers import content, exact_duplicates, format, label_balance, length, near_duplicates, size

    prompt_keys = exact_duplicates.ExactDuplicatesParams(scope="prompt")
    text_keys = exact_duplicates.ExactDuplicatesParams()
    lp = length.LengthParams()
    return {
        "size": partial(size.count_valid, layout),
        "format": partial(format.tally_batch, layout, output_schema=""),
        "exact_duplicates": partial(exact_duplicates.exact_keys_batch, text_keys.scope, text_keys.normalization),
        "near_duplicates": partial(near_duplicates.band_keys_batch, near_duplicates.NearDuplicatesParams().lsh(seed)),
        "conflicting_labels": partial(exact_duplicates.exact_keys_batch, prompt_keys.scope, prompt_keys.normalization),
        "label_balance": label_balance.tally_batch,
        "length": partial(length.measure_batch, lp.tokenizer, layout, lp.tokens_per_message, lp.tokens_per_record,
                          lp.max_length, lp.near_empty_tokens, layout != "classification"),
        "content": partial(content.scan_batch, layout, content.ContentParams()),
    }


def tree_cpu() -> float:
    """User + system CPU seconds of this process and every descendant alive now."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def timed(run: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), tree_cpu()
    out = run()
    return out, time.perf_counter() - wall, tree_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the three variants, alternating")
    args = ap.parse_args(argv)
    fns = first_pass()
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    with LocalEngine() as engine:
        data = engine.load(open_source(str(chat_corpus(args.records)), "data"), "chat", "train", None)
        # warm the pool and each worker's tokenizer, so that no variant pays the start-up
        data.map_batches(partial(fused, [fns["length"]]))
        print(f"{len(data)} records, {data.num_batches} batches, {engine.workers} workers")
        for round_ in range(args.rounds):
            separate: dict[str, list[Any]] = {}
            wall = cpu = 0.0
            print(f"\nround {round_ + 1}\n{'pass':28} {'wall s':>7} {'CPU s':>7}")
            for name, fn in fns.items():
                separate[name], w, c = timed(partial(data.map_batches, fn))
                wall, cpu = wall + w, cpu + c
                print(f"  {name:26} {w:>7.2f} {c:>7.2f}")
            print(f"{'separate passes (8)':28} {wall:>7.2f} {cpu:>7.2f}")
            expected = {name: [pickle.dumps(r) for r in out] for name, out in separate.items()}
            for label, how in (("one fused pass", fused), ("one fused pass, shared work", fused_shared)):
                out, w, c = timed(partial(data.map_batches, partial(how, list(fns.values()))))
                same = all([pickle.dumps(batch[k]) for batch in out] == expected[name]
                           for k, name in enumerate(fns))
                print(f"{label:28} {w:>7.2f} {c:>7.2f}  saves {wall - w:.2f} s wall, {cpu - c:.2f} CPU s; "
                      f"results {'identical' if same else 'DIFFERENT'}")
    print(f"\nload average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
