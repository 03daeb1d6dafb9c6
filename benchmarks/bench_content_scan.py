"""The content check's per-record scan, before and after: CPU seconds, and the same hits.

Loads `fineaudit/text/content_patterns.py` and `fineaudit/checkers/content.py` as they were at a
git revision (`--base`) next to the working tree's, then
1. times `scan_record` of both on the first N records of a make_corpus chat corpus, in this
   process, with `time.process_time` (a shared machine disturbs CPU time far less than wall
   time), versions alternating, best of `--rounds`;
2. checks that both give the same hits (code -> field, matched text) on every record of the
   make_corpus --defects corpora of same_reports.py, sample_data and the real sets under
   ../shared/realdata (each with its detected layout).

    python benchmarks/bench_content_scan.py --base HEAD --records 20000
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from synthetic_corpus import chat_corpus  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
CORPORA = Path("/tmp/fineaudit-same-reports")


def _module_at(rev: str, path: str, name: str, replace: tuple[str, str] | None = None) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True, capture_output=True,
                            text=True).stdout
    if replace:
        source = source.replace(*replace)
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module  # dataclasses look their module up by name
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def base_content(rev: str) -> types.ModuleType:
    _module_at(rev, "fineaudit/text/content_patterns.py", "base_content_patterns")
    return _module_at(rev, "fineaudit/checkers/content.py", "base_content",
                      ("from fineaudit.text.content_patterns import", "from base_content_patterns import"))


def records(path: Path, limit: int) -> list[Any]:
    text = path.read_bytes()
    if path.suffix == ".json":
        data = orjson.loads(text)
        return list(data if isinstance(data, list) else [data])[:limit]
    out = []
    for line in text.splitlines()[:limit]:
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return out


def scan_all(module: types.ModuleType, objs: list[Any], layout: str) -> list[Any]:
    p = module.ContentParams()
    return [module.scan_record(obj, layout, p) for obj in objs]


def timed(module: types.ModuleType, objs: list[Any]) -> float:
    started = time.process_time()
    scan_all(module, objs, "chat")
    return time.process_time() - started


def equality_sets() -> Iterator[Path]:
    for name in ("chat-defects-5000", "classification-defects-5000"):
        if (CORPORA / name / "data.jsonl").exists():
            yield CORPORA / name / "data.jsonl"
    yield from sorted((REPO / "sample_data").glob("*.jsonl"))
    if REALDATA.exists():
        yield from sorted(REALDATA.rglob("*.jsonl"))
        yield from sorted(REALDATA.rglob("*.json"))


def compare(base: types.ModuleType, now: types.ModuleType, limit: int) -> int:
    from fineaudit.core import FineauditError
    from fineaudit.dataset.formats import detect_layout

    differ = 0
    for path in equality_sets():
        objs = records(path, limit)
        try:
            layout = detect_layout(objs)
        except FineauditError:
            continue
        a, b = scan_all(base, objs, layout), scan_all(now, objs, layout)
        bad = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        hits = sum(len(x) for x in a)
        print(f"{'SAME' if not bad else 'DIFFERENT'}  {path.relative_to(path.parents[1])}: "
              f"{len(objs)} records ({layout}), {hits} hits" + (f", {len(bad)} differ, e.g. #{bad[0]}: "
                                                                f"{a[bad[0]]} vs {b[bad[0]]}" if bad else ""))
        differ += bool(bad)
    return differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="HEAD", help="git revision of the 'before' version")
    ap.add_argument("--records", type=int, default=20000, help="chat records timed")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=20000, help="records compared per file")
    ap.add_argument("--no-compare", action="store_true")
    args = ap.parse_args()
    from fineaudit.checkers import content as now

    base = base_content(args.base)
    with open(chat_corpus(100000), "rb") as f:
        objs = [orjson.loads(line) for _, line in zip(range(args.records), f)]
    best = {"base": float("inf"), "now": float("inf")}
    for _ in range(args.rounds):
        for name, module in (("base", base), ("now", now)):
            best[name] = min(best[name], timed(module, objs))
    for name, seconds in best.items():
        print(f"{name:5} {seconds:7.2f} CPU s  {seconds / len(objs) * 1e6:7.1f} µs/record")
    print(f"ratio {best['base'] / best['now']:.2f}x on {len(objs)} chat records (best of {args.rounds})")
    if not args.no_compare:
        sys.exit(1 if compare(base, now, args.limit) else 0)


if __name__ == "__main__":
    main()
