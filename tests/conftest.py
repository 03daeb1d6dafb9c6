"""Shared fixtures: small dataset writers, the CLI runner, and the synthetic corpus maker."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fineaudit.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REALDATA = SHARED / "realdata"
MAKE_CORPUS = SHARED / "bench" / "make_corpus.py"
# small redistributable real files copied into the repository (see tests/data/README.md)
DATA = REPO / "tests" / "data"


def real_file(relative: str) -> Path:
    """A real public dataset by its path under realdata/: the repository's copy in tests/data
    when the license lets us carry it, else ../shared/realdata; the test skips, saying why,
    when neither is there (a user's clone without ../shared)."""
    for root in (DATA, REALDATA):
        if (root / relative).exists():
            return root / relative
    pytest.skip(f"{relative}: not in tests/data (its license keeps it out of the repository) and "
                f"{REALDATA} is absent: run from a checkout with shared/ beside it")


def chat(user: str, assistant: str, system: str | None = None) -> dict[str, Any]:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    """Write records as JSON Lines; a str item is written as the raw line (for malformed lines)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the fineaudit CLI in-process, as a user would from a shell."""

    def run(*args: str) -> CliResult:
        code = cli_main([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


_corpus_cache: dict[tuple[str, ...], Path] = {}


@pytest.fixture(scope="session")
def make_corpus(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple[Path, dict[str, Any]]]:
    """make_corpus(*args) -> (data.jsonl, truth); generated once per session for the same args."""
    if not MAKE_CORPUS.exists():
        pytest.skip(f"{MAKE_CORPUS} not found: run the tests from a checkout with shared/ beside it")

    def make(*args: str) -> tuple[Path, dict[str, Any]]:
        key = tuple(str(a) for a in args)
        if key not in _corpus_cache:
            out = tmp_path_factory.mktemp("corpus")
            subprocess.run([sys.executable, str(MAKE_CORPUS), *key, "--out", str(out)],
                           check=True, capture_output=True)
            _corpus_cache[key] = out
        out = _corpus_cache[key]
        return out / "data.jsonl", json.loads((out / "truth.json").read_text())

    return make


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test picks up a fineaudit.toml or pyproject.toml from wherever pytest was started."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
