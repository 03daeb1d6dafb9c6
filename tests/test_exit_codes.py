"""Exit status of the CLI: 0 ready, 1 not ready, 2 nothing could be judged (one line, no traceback)."""
from __future__ import annotations

import json
from xml.etree import ElementTree
from pathlib import Path

import pytest

from tests.conftest import REPO, chat, write_jsonl

SAMPLE = REPO / "sample_data"


def test_clean_sample_exits_0_with_a_table(run_cli) -> None:
    result = run_cli("audit", SAMPLE / "train.jsonl")
    assert result.exit_code == 0, result.stdout
    assert "READY" in result.stdout and "size" in result.stdout and "format" in result.stdout


def test_flawed_sample_exits_1_and_names_lines(run_cli) -> None:
    result = run_cli("audit", SAMPLE / "flawed.jsonl", "--only", "format", "--max-findings", "0",
                     "--json", "-")
    assert result.exit_code == 1
    lines = {f["line"] for f in json.loads(result.stdout)["checks"][0]["findings"]}
    assert {4, 8, 21, 51, 121} <= lines
    assert "NOT READY" in result.stderr  # the table moves to stderr when a report goes to stdout


def whole_html_page(text: str) -> None:
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")


def markdown_report(text: str) -> None:
    assert text.startswith("## fineaudit: ")


@pytest.mark.parametrize("option, parse", [
    ("--json", json.loads), ("--junit", ElementTree.fromstring),
    ("--html", whole_html_page), ("--markdown", markdown_report),
])
def test_a_report_on_stdout_is_all_that_stdout_holds(run_cli, option: str, parse) -> None:
    result = run_cli("audit", SAMPLE / "flawed.jsonl", "--only", "size,format", option, "-")
    assert result.exit_code == 1
    parse(result.stdout)
    assert "NOT READY" in result.stderr and "NOT READY" not in result.stdout.split("\n")[0]


@pytest.mark.parametrize("args, message", [
    (["audit", "missing.jsonl"], "missing.jsonl: no such file or folder"),
    (["audit", "--format", "xml", str(SAMPLE / "train.jsonl")], "Invalid value for '--format'"),
    (["audit", "--set", "size.min_recods=3", str(SAMPLE / "train.jsonl")], "unknown key 'min_recods' for check 'size'"),
    (["audit", "--only", "sizes", str(SAMPLE / "train.jsonl")], "--only: unknown check 'sizes'"),
    (["audit", "--config", "nope.toml", str(SAMPLE / "train.jsonl")], "nope.toml: config file not found"),
    (["audit"], "Missing argument 'DATA...'"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["audit", "--json", "-", "--junit", "-", str(SAMPLE / "train.jsonl")], "only one report can go to stdout"),
    (["audit", "--scheduler", "tcp://127.0.0.1:1", str(SAMPLE / "train.jsonl")], "--scheduler needs --engine dask"),
    (["audit", "--json", "no/such/folder/r.json", str(SAMPLE / "train.jsonl")], "does not exist"),
    (["audit", "--html", str(SAMPLE), str(SAMPLE / "train.jsonl")], "is a folder; give a file name"),
])
def test_errors_exit_2_with_one_line_on_stderr(run_cli, args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("fineaudit: error: ") and "Traceback" not in result.stderr


def test_misspelt_key_in_config_file_exits_2_before_reading_data(run_cli, tmp_path: Path) -> None:
    (tmp_path / "fineaudit.toml").write_text("[checks.format]\nmax_invalid = 0.1\n")
    result = run_cli("audit", "does-not-exist-either.jsonl")
    assert result.exit_code == 2 and "unknown key 'max_invalid' for check 'format'" in result.stderr


def test_unknown_layout_exits_2_listing_layouts_and_keys(run_cli, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "answer": "a"}] * 3)
    result = run_cli("audit", path)
    assert result.exit_code == 2 and "keys seen: question, answer" in result.stderr
    assert "instruction (instruction, output)" in result.stderr


def test_a_file_with_no_parsable_record_names_its_first_bad_line(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "pretty.jsonl"  # pretty-printed objects under a .jsonl name, as people do
    path.write_text(json.dumps(chat("q", "a"), indent=4) + "\n" + json.dumps(chat("r", "b"), indent=4) + "\n")
    result = run_cli("audit", path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "no record could be parsed" in result.stderr and "line 1: invalid JSON" in result.stderr
    assert "pretty-printed JSON, not JSON Lines" in result.stderr


def test_several_datasets_one_report_each_and_json_array(run_cli, tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [chat(f"q{i}", f"a{i}") for i in range(600)])
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{oops"] + [chat(f"q{i}", f"a{i}") for i in range(600)])
    result = run_cli("audit", good, bad, "--only", "size,format", "--json", tmp_path / "r.json", "-q")
    reports = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 1 and [r["verdict"] for r in reports] == ["pass", "fail"]
    assert run_cli("audit", good, "--only", "size,format", "-q").exit_code == 0


@pytest.mark.parametrize("bad", ["missing.jsonl", "notes.txt", "'no-shard-*.jsonl'"])
def test_several_datasets_with_one_bad_path_exit_2_before_any_verdict(run_cli, tmp_path: Path, bad: str) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [chat(f"q{i}", f"a{i}") for i in range(50)])
    (tmp_path / "notes.txt").write_text("not data\n")
    result = run_cli("audit", good, tmp_path / bad.strip("'"), "--only", "size,format",
                     "--json", tmp_path / "r.json")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "READY" not in result.stdout and "NOT READY" not in result.stdout  # nothing judged, nothing said
    assert not (tmp_path / "r.json").exists()


def test_skip_non_datasets_names_what_it_skips_and_audits_the_rest(run_cli, tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [chat(f"q{i}", f"a{i}") for i in range(600)])
    (tmp_path / "package.json").write_text('{"name": "site", "version": "1.0.0"}\n')
    result = run_cli("audit", tmp_path / "package.json", good, "--only", "size,format", "--skip-non-datasets",
                     "--json", tmp_path / "r.json")
    assert result.exit_code == 0 and "package.json: skipped: one JSON object of no known layout" in result.stderr
    assert json.loads((tmp_path / "r.json").read_text())["dataset"]["records"] == 600
    alone = run_cli("audit", tmp_path / "package.json", "--skip-non-datasets")
    assert alone.exit_code == 0 and "skipped" in alone.stderr
    assert run_cli("audit", tmp_path / "package.json").exit_code == 2  # without the flag: unknown layout


def test_markdown_report_to_a_file(run_cli, tmp_path: Path) -> None:
    result = run_cli("audit", SAMPLE / "flawed.jsonl", "--only", "format", "--markdown", tmp_path / "r.md", "-q")
    text = (tmp_path / "r.md").read_text()
    assert result.exit_code == 1 and "| ❌ | `format` |" in text and "format.unparsable" in text


def test_init_writes_every_default_and_refuses_to_overwrite(run_cli, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    text = (tmp_path / "fineaudit.toml").read_text()
    assert "[checks.size]" in text and "min_records = 100  #" in text
    again = run_cli("init")
    assert again.exit_code == 2 and "exists; pass --force" in again.stderr
    assert run_cli("audit", SAMPLE / "train.jsonl", "-q").exit_code == 0  # the written file is valid config


def test_checks_lists_every_checker_with_codes(run_cli) -> None:
    result = run_cli("checks")
    assert result.exit_code == 0
    assert "format  (runs always)" in result.stdout and "format.unknown_role" in result.stdout


def test_quiet_prints_only_the_verdict_line(run_cli) -> None:
    result = run_cli("audit", SAMPLE / "train.jsonl", "--quiet")
    assert result.stdout.strip().startswith("READY") and result.stdout.count("\n") == 1
