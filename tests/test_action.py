"""The GitHub Action (action.yml), run the way the runner runs a composite action.

Each `run:` step goes through `bash --noprofile --norc -eo pipefail` (GitHub's `shell: bash`) in a
temporary workspace, with its `env:` expressions filled from the inputs, its own
$GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY files, and GITHUB_ACTIONS=true; the action's outputs are
then read through its `outputs:` expressions. fineaudit is the one installed in this venv
(`install: none`), so no package index is needed.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from fineaudit.action import audit_args
from tests.conftest import REPO

ACTION = REPO / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@dataclass
class Run:
    codes: list[int] = field(default_factory=list)
    stdout: str = ""
    summary: str = ""
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


def action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def evaluate(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    """`${{ inputs.x }}` and `${{ steps.id.outputs.x }}`; anything else is not what we test."""
    def value(match: re.Match[str]) -> str:
        parts = match.group(1).split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return inputs[parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return steps.get(parts[1], {}).get(parts[3], "")
        raise AssertionError(f"expression the test runner does not know: {match.group(0)}")
    return EXPRESSION.sub(value, text)


def read_outputs(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def run_action(workspace: Path, given: dict[str, str]) -> Run:
    spec = action()
    inputs = {name: str(given.get(name, item.get("default", ""))) for name, item in spec["inputs"].items()}
    missing = [n for n, item in spec["inputs"].items() if item.get("required") and not inputs[n]]
    assert not missing, f"required inputs not given: {missing}"
    result = Run()
    for number, step in enumerate(spec["runs"]["steps"]):
        files = {kind: workspace.parent / f"{kind}-{number}" for kind in ("output", "summary")}
        for path in files.values():
            path.write_text("")
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(workspace.parent),
               "HF_HUB_OFFLINE": "1", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
               "GITHUB_ACTION_PATH": str(REPO), "GITHUB_OUTPUT": str(files["output"]),
               "GITHUB_STEP_SUMMARY": str(files["summary"]),
               "FINEAUDIT_CACHE_DIR": str(workspace.parent / "fineaudit-cache"),
               **{k: evaluate(str(v), inputs, result.step_outputs) for k, v in step.get("env", {}).items()}}
        assert step["shell"] == "bash"
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=workspace, env=env, capture_output=True, text=True, timeout=600)
        result.codes.append(done.returncode)
        result.stdout += done.stdout + done.stderr
        result.summary += files["summary"].read_text(encoding="utf-8")
        if "id" in step:
            result.step_outputs[step["id"]] = read_outputs(files["output"])
        if done.returncode != 0:
            break  # the runner stops the job at the first failing step
    result.outputs = {name: evaluate(item["value"], inputs, result.step_outputs)
                      for name, item in spec["outputs"].items()}
    return result


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "data").mkdir(parents=True)
    shutil.copy(REPO / "sample_data" / "flawed.jsonl", root / "data" / "flawed.jsonl")
    return root


def test_flawed_data_fails_the_step_with_the_report_as_summary(workspace: Path) -> None:
    run = run_action(workspace, {"data": "data/flawed.jsonl", "install": "none", "python": sys.executable})
    assert run.codes == [0, 1], run.stdout  # installed, then the audit step fails: not ready
    report = json.loads((workspace / run.outputs["json"]).read_text())
    assert run.outputs["verdict"] == "fail" == report["verdict"]
    assert float(run.outputs["score"]) == report["score"] and run.outputs["exit-code"] == "1"
    markdown = (workspace / run.outputs["report"]).read_text(encoding="utf-8")
    assert run.summary == markdown  # the job summary is the Markdown report, nothing else
    assert markdown.startswith("## fineaudit: ❌ not ready — `data/flawed.jsonl`")
    assert f"Score **{report['score']:.0f}/100**" in markdown
    for check in report["checks"]:
        assert f"| `{check['name']}`" in markdown
    assert (workspace / run.outputs["html"]).read_text(encoding="utf-8").lower().startswith("<!doctype html>")
    # annotations pin the findings to the file's lines, relative to the workspace
    assert "::error file=data/flawed.jsonl,line=" in run.stdout


def test_data_that_cannot_be_judged_is_exit_2_with_a_summary_saying_so(workspace: Path) -> None:
    run = run_action(workspace, {"data": "data/missing.jsonl", "install": "none", "python": sys.executable})
    assert run.codes == [0, 2]
    assert run.outputs["verdict"] == "error" and run.outputs["score"] == ""
    assert run.summary.startswith("## fineaudit: nothing could be judged")
    assert "data/missing.jsonl" in run.stdout


@pytest.mark.parametrize("given, data, options", [
    ({"INPUT_DATA": "a.jsonl"}, ["a.jsonl"], []),
    ({"INPUT_DATA": "a.jsonl\nb.jsonl\n", "INPUT_FAIL_ON": "warn"}, ["a.jsonl", "b.jsonl"], ["--fail-on", "warn"]),
    ({"INPUT_DATA": "'data/train-*.jsonl'", "INPUT_EVAL": "e.jsonl", "INPUT_CONFIG": "c.toml"},
     ["data/train-*.jsonl"], ["--eval", "e.jsonl", "--config", "c.toml"]),
    ({"INPUT_DATA": "a.jsonl", "INPUT_PRODUCTION": " p.jsonl ", "INPUT_ARGS": "--skip cost --set size.min_records=5"},
     ["a.jsonl"], ["--production", "p.jsonl", "--skip", "cost", "--set", "size.min_records=5"]),
])
def test_inputs_become_the_audit_command(tmp_path: Path, given: dict[str, str], data: list[str],
                                         options: list[str]) -> None:
    reports = ["--markdown", str(tmp_path / "report.md"), "--json", str(tmp_path / "report.json"),
               "--html", str(tmp_path / "report.html")]
    assert audit_args(given, tmp_path) == ["audit", *data, "--no-progress", *reports, *options]


def test_no_data_is_a_clear_stop(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="`data` is empty"):
        audit_args({"INPUT_DATA": "  \n"}, tmp_path)


def test_inputs_never_reach_a_script_as_text() -> None:
    for step in action()["runs"]["steps"]:
        assert "${{" not in step["run"], step["name"]  # an input like `$(curl ..)` stays data
