"""The audit command around the renderers: cache, CI outputs, quiet summaries, progress."""
from __future__ import annotations

import json
import os
import pty
import random
import select
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, CliResult, chat, write_jsonl

FLAWED = [chat("hi", "hello")] * 3 + ['{"messages": [', {"messages": [{"role": "human", "content": "x"}]}]


def clean_records(n: int = 150, seed: int = 1) -> list[dict[str, Any]]:
    """Distinct, well-formed chats: enough records and no defect any check looks for."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3)) for _ in range(3000)]
    return [chat(" ".join(rng.choices(words, k=12)) + "?", " ".join(rng.choices(words, k=30)) + ".")
            for _ in range(n)]


@pytest.fixture
def flawed(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "flawed.jsonl", FLAWED)


def test_second_run_is_served_from_the_cache(run_cli: Callable[..., CliResult], flawed: Path) -> None:
    first = run_cli("audit", flawed, "-q")
    entries = sorted(Path(".fineaudit_cache").glob("*.json"))
    second = run_cli("audit", flawed, "-q")
    assert first.exit_code == second.exit_code == 1
    assert "(cached)" not in first.stdout and "(cached)" in second.stdout
    assert sorted(Path(".fineaudit_cache").glob("*.json")) == entries and len(entries) == 1
    assert "(cached)" not in run_cli("audit", flawed, "-q", "--no-cache").stdout


def test_changed_file_is_audited_again(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", clean_records())
    assert run_cli("audit", data, "-q").exit_code == 0
    write_jsonl(data, clean_records() + FLAWED)
    again = run_cli("audit", data, "-q")
    assert again.exit_code == 1 and "(cached)" not in again.stdout


def test_quiet_names_the_blocking_checks(run_cli: Callable[..., CliResult], flawed: Path) -> None:
    lines = run_cli("audit", flawed, "-q", "--no-cache").stdout.splitlines()
    assert lines[0].startswith("NOT READY") and any(l.startswith("  format: ") for l in lines[1:])


def test_junit_and_html_files(run_cli: Callable[..., CliResult], flawed: Path, tmp_path: Path) -> None:
    clean = write_jsonl(tmp_path / "clean.jsonl", clean_records())
    result = run_cli("audit", flawed, clean, "-q", "--junit", "r.xml", "--html", "r.html")
    assert result.exit_code == 1
    suites = ET.parse("r.xml").getroot().findall("testsuite")
    assert len(suites) == 2 and all(len(s.findall("testcase")) >= 2 for s in suites)
    html = Path("r.html").read_text()
    assert html.count('class="dataset"') == 2 and "NOT READY" in html


def test_github_annotations(run_cli: Callable[..., CliResult], flawed: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run_cli("audit", str(flawed.name), "-q")
    assert "::error file=flawed.jsonl,line=4,title=fineaudit format.unparsable::" in result.stdout
    to_json = run_cli("audit", str(flawed.name), "--json", "-")
    assert json.loads(to_json.stdout)["verdict"] == "fail"  # stdout stays one clean report
    assert "::error file=flawed.jsonl" in to_json.stderr


def test_no_annotations_outside_github(run_cli: Callable[..., CliResult], flawed: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert "::error" not in run_cli("audit", flawed).stdout


def fineaudit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from fineaudit.cli import main; raise SystemExit(main())", *args]


def test_nothing_but_the_report_on_a_pipe(flawed: Path) -> None:
    done = subprocess.run(fineaudit_cmd("audit", str(flawed), "--no-cache"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and done.stderr == ""
    assert "\x1b[" not in done.stdout and "loading" not in done.stdout


def run_on_terminal(*args: str) -> str:
    """Run fineaudit with stderr on a pseudo-terminal; return what the terminal received."""
    master, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen(fineaudit_cmd(*args), stdout=subprocess.DEVNULL, stderr=terminal,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(terminal)
    received = b""
    while True:  # read while it runs: a full terminal buffer would block the child
        ready, _, _ = select.select([master], [], [], 0.2)
        chunk = b""
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
        received += chunk
        if not chunk and proc.poll() is not None:
            break
    os.close(master)
    proc.wait(timeout=120)
    return received.decode("utf-8", "replace")


@pytest.mark.parametrize(("flags", "shown"), [((), True), (("--no-progress",), False)])
def test_progress_bars_only_on_a_terminal(flawed: Path, flags: tuple[str, ...], shown: bool) -> None:
    # --quiet takes the same path as --no-progress (audit(progress=False))
    received = run_on_terminal("audit", str(flawed), "--no-cache", *flags)
    assert ("loading train" in received) is shown


@pytest.mark.slow
def test_embedding_shows_progress_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "cache"))  # cold: the model really embeds
    received = run_on_terminal("audit", str(REPO / "sample_data" / "train.jsonl"), "--production",
                               str(REPO / "sample_data" / "production.jsonl"), "--only", "drift", "--no-cache")
    assert "drift: embedding training" in received and "drift: embedding production" in received
