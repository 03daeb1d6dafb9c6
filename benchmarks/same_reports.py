"""Same reports as before? JSON reports of a fixed set of audits, written by one version of
fineaudit and compared with another's, byte for byte apart from `created` and `duration_s` (and drift's `embedding_seconds`).

    PYTHONPATH=/tmp/fa-base:/tmp/fa-base-meta python benchmarks/same_reports.py write /tmp/fa-base-reports
    python benchmarks/same_reports.py write /tmp/fa-new-reports
    python benchmarks/same_reports.py compare /tmp/fa-base-reports /tmp/fa-new-reports

The audits: each sample_data/*.jsonl alone (but production.jsonl), train.jsonl with --eval and --production (drift
included), and two make_corpus --defects corpora (chat and classification, seed 0) made once
under the first folder written, so that both versions read the same bytes at the same path.
The fineaudit audited with is whichever `python -m fineaudit.cli` imports (PYTHONPATH).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from synthetic_corpus import MAKE_CORPUS  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
CORPORA = Path(os.environ.get("TMPDIR", "/tmp")) / "fineaudit-same-reports"
NEUTRAL = tempfile.gettempdir()
VOLATILE = ("created", "duration_s", "embedding_seconds")  # the last: drift's time, cached on disk after a first run


def corpus(layout: str, records: int = 5000) -> Path:
    out = CORPORA / f"{layout}-defects-{records}"
    if not (out / "truth.json").exists():
        subprocess.run([sys.executable, str(MAKE_CORPUS), "--records", str(records), "--format", layout,
                        "--seed", "0", "--defects", "--out", str(out)], check=True, capture_output=True)
    return out / "data.jsonl"


def audits() -> dict[str, list[str]]:
    """Report name -> `fineaudit audit` arguments."""
    # production.jsonl holds prompts only: it is an input of drift, not a dataset to audit
    runs = {f"sample-{p.stem}": [str(p)] for p in sorted(SAMPLE.glob("*.jsonl")) if p.stem != "production"}
    runs["sample-train-eval-production"] = [str(SAMPLE / "train.jsonl"), "--eval", str(SAMPLE / "eval.jsonl"),
                                            "--production", str(SAMPLE / "production.jsonl")]
    for layout in ("chat", "classification"):
        runs[f"corpus-{layout}-defects"] = [str(corpus(layout))]
    return runs


def imported_from(env: dict[str, str]) -> str:
    code = "import fineaudit; print(fineaudit.__file__)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=NEUTRAL).stdout.strip()


def write(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    print(f"fineaudit from {imported_from(env)}")
    for name, args in audits().items():
        cmd = [sys.executable, "-m", "fineaudit.cli", "audit", *args, "--no-cache", "--no-progress",
               "--quiet", "--max-findings", "0", "--json", str(folder / f"{name}.json")]
        # from a neutral folder: `python -m` puts the working folder first on sys.path, and the
        # repository's root there would shadow the PYTHONPATH of a baseline run
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=NEUTRAL)
        print(f"{name:32} exit {done.returncode}", flush=True)
        if done.returncode not in (0, 1):
            print(done.stderr[-2000:], file=sys.stderr)
    return 0


def stable(doc: Any) -> Any:
    """The report without the keys that differ from run to run."""
    if isinstance(doc, dict):
        return {k: stable(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [stable(v) for v in doc]
    return doc


def compare_one(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two stable reports: top-level keys, then each check by name.
    Checks the newer version adds are listed, not counted as differences (they move `score`
    and may move `verdict`, which are then reported as such)."""
    notes = [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in sorted({*old, *new} - {"checks"})
             if old.get(key) != new.get(key)]
    before = {c["name"]: c for c in old["checks"]}
    after = {c["name"]: c for c in new["checks"]}
    for name, check in before.items():
        if name not in after:
            notes.append(f"check {name} missing")
        elif check != after[name]:
            keys = sorted(k for k in {*check, *after[name]} if check.get(k) != after[name].get(k))
            notes.append(f"check {name} differs in {', '.join(keys)}")
    added = [name for name in after if name not in before]
    if added:
        notes.append(f"(checks added: {', '.join(added)})")
    return notes


def compare(before: Path, after: Path) -> int:
    differ = 0
    for old in sorted(before.glob("*.json")):
        new = after / old.name
        if not new.exists():
            print(f"{old.name:40} missing in {after}")
            differ += 1
            continue
        notes = compare_one(stable(json.loads(old.read_text())), stable(json.loads(new.read_text())))
        real = [n for n in notes if not n.startswith("(")]
        differ += bool(real)
        print(f"{old.name:40} {'DIFFERENT' if real else 'same'}")
        for note in notes:
            print(f"    {note}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("write").add_argument("folder", type=Path)
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = ap.parse_args(argv)
    return write(args.folder) if args.command == "write" else compare(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
