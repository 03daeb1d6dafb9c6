"""The pre-commit hook, with the real `pre-commit` tool in a temporary git repository.

The hook definition is read from the repository's .pre-commit-hooks.yaml and installed as a
`repo: local` hook with `language: system` (the installed fineaudit), so no virtualenv is built
and nothing is fetched; entry, files and require_serial are the published ones.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, chat, write_jsonl
from tests.test_cli import FLAWED, clean_records


def git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    hook = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())[0]
    assert (hook["id"], hook["require_serial"]) == ("fineaudit", True)
    local = {**hook, "language": "system"}
    root = tmp_path / "data-repo"
    root.mkdir()
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))
    (root / "fineaudit.toml").write_text("[checks.size]\nmin_records = 3\nwarn_records = 3\n")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.pop("FINEAUDIT_CACHE_DIR", None)
    env.pop("GITHUB_ACTIONS", None)
    assert git(root, "init", "-q", "-b", "main", env=env).returncode == 0
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=root, env=env,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    git(root, "add", ".pre-commit-config.yaml", "fineaudit.toml", env=env)
    assert git(root, "commit", "-q", "-m", "config", env=env).returncode == 0
    return root, env


@pytest.mark.slow
def test_hook_blocks_flawed_file_passes_clean_one(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    write_jsonl(root / "flawed.jsonl", FLAWED)
    (root / "notes.txt").write_text("not data: the hook ignores it\n")
    git(root, "add", "flawed.jsonl", "notes.txt", env=env)
    blocked = git(root, "commit", "-m", "add data", env=env)
    assert blocked.returncode != 0
    out = blocked.stdout + blocked.stderr
    assert "NOT READY" in out and "flawed.jsonl" in out and "format:" in out and "(cached)" not in out

    again = git(root, "commit", "-m", "add data", env=env)  # nothing changed: served from the cache
    assert again.returncode != 0 and "(cached)" in again.stdout + again.stderr
    assert len(list((root / ".fineaudit_cache").glob("*.json"))) == 1

    git(root, "rm", "-q", "--cached", "flawed.jsonl", env=env)
    write_jsonl(root / "clean.jsonl", clean_records(20) + [chat("one more", "clean record")])
    git(root, "add", "clean.jsonl", env=env)
    passed = git(root, "commit", "-m", "add clean data", env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "clean.jsonl" in git(root, "show", "--name-only", "HEAD", env=env).stdout
    assert ".fineaudit_cache" not in git(root, "status", "--porcelain", env=env).stdout


@pytest.mark.slow
def test_hook_skips_json_that_is_no_dataset_and_still_blocks_bad_data(repo: tuple[Path, dict[str, str]]) -> None:
    """The hook's file pattern takes every .json: a package.json or a saved report beside the
    data is named and skipped; a dataset in .json, or a broken one, is still audited."""
    root, env = repo
    (root / "package.json").write_text('{"name": "site", "version": "1.0.0", "scripts": {"build": "vite"}}\n')
    (root / "report.json").write_text('{"schema_version": 1, "verdict": "pass", "checks": []}\n')
    write_jsonl(root / "clean.jsonl", clean_records(20) + [chat("one more", "clean record")])
    git(root, "add", "package.json", "report.json", "clean.jsonl", env=env)
    passed = git(root, "commit", "-m", "site and data", env=env)
    out = passed.stdout + passed.stderr
    assert passed.returncode == 0, out  # (pre-commit shows a passing hook's output only with --verbose)

    (root / "bad.json").write_text('[{"mesages": [{"role": "user", "content": "hi"}]}]\n')  # a typo'd key
    git(root, "add", "bad.json", env=env)
    blocked = git(root, "commit", "-m", "bad data", env=env)
    assert blocked.returncode != 0 and "bad.json" in blocked.stdout + blocked.stderr
