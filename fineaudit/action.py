"""The GitHub Action's one step: `python -m fineaudit.action` (see action.yml at the repository root).

It reads the action's inputs from INPUT_* variables (the composite action passes them through
`env:`, never pasted into a script), runs `fineaudit audit` in-process (which prints the
`::error file=..,line=..::` annotations itself under GITHUB_ACTIONS=true), appends the Markdown
report to $GITHUB_STEP_SUMMARY, writes the outputs `verdict`, `score`, `report`, `json`, `html` and
`exit-code` to $GITHUB_OUTPUT, and exits with the audit's status: 0 ready, 1 not ready (the step
fails), 2 nothing could be judged.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fineaudit.cli import EXIT_ERROR, main as cli_main


def audit_args(env: Mapping[str, str], report_dir: Path) -> list[str]:
    """The `fineaudit audit` command line for these inputs; the reports go into report_dir."""
    data = shlex.split(env.get("INPUT_DATA", ""))  # one per line or space-separated; quote globs
    if not data:
        raise SystemExit("fineaudit action: the input `data` is empty: name the datasets to audit")
    args = ["audit", *data, "--no-progress", "--markdown", str(report_dir / "report.md"),
            "--json", str(report_dir / "report.json"), "--html", str(report_dir / "report.html")]
    for name, option in (("EVAL", "--eval"), ("PRODUCTION", "--production"), ("CONFIG", "--config"),
                         ("FAIL_ON", "--fail-on")):
        value = env.get(f"INPUT_{name}", "").strip()
        if value:
            args += [option, value]
    return args + shlex.split(env.get("INPUT_ARGS", ""))


def outcome(json_path: Path, code: int) -> dict[str, str]:
    """verdict and score of the run: the lowest score and `fail` if any dataset failed."""
    if code == EXIT_ERROR or not json_path.is_file():
        return {"verdict": "error", "score": ""}
    body: Any = json.loads(json_path.read_text(encoding="utf-8"))
    reports = body if isinstance(body, list) else [body]
    verdict = "fail" if any(r["verdict"] == "fail" for r in reports) else "pass"
    return {"verdict": verdict, "score": f"{min(r['score'] for r in reports):g}"}


def summary(report_md: Path, code: int) -> str:
    """The job summary: the Markdown report itself, or why there is none."""
    if code != EXIT_ERROR and report_md.is_file():
        return report_md.read_text(encoding="utf-8")
    return ("## fineaudit: nothing could be judged\n\n"
            "The audit stopped before judging the data (exit status 2); the step's log says why.\n")


def append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    report_dir = Path(env.get("INPUT_REPORT_DIR") or "fineaudit-report")
    report_dir.mkdir(parents=True, exist_ok=True)
    args = audit_args(env, report_dir)
    print("fineaudit " + shlex.join(args), flush=True)
    code = cli_main(args)
    sys.stdout.flush()
    append(env.get("GITHUB_STEP_SUMMARY"), summary(report_dir / "report.md", code))
    outputs = {**outcome(report_dir / "report.json", code), "report": str(report_dir / "report.md"),
               "json": str(report_dir / "report.json"), "html": str(report_dir / "report.html"),
               "exit-code": str(code)}
    # one line per output: a newline in a value (a report-dir input) must not start another output
    append(env.get("GITHUB_OUTPUT"), "".join(f"{k}={' '.join(v.splitlines())}\n" for k, v in outputs.items()))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
