"""Plugins: a third-party checker installed under the entry-point group runs like a built-in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fineaudit.registry import load_checkers
from tests.conftest import chat, write_jsonl

PLUGIN = '''
from dataclasses import dataclass, field
from fineaudit import Checker, Finding, Status

def count_shouting(batch):
    return [i for i, text in zip(batch.index, batch.response) if text.isupper()]

@dataclass(frozen=True)
class Params:
    max_shouting: int = field(default=0, metadata={"help": "responses in capitals allowed"})

class ShoutingChecker(Checker):
    """Flags responses written in capitals.

    Why: the model learns to shout.
    """
    name = "shouting"
    Params = Params
    codes = {"shouting.response": "a response in capitals"}

    def check(self, data, ctx):
        hits = [i for part in data.map_batches(count_shouting) for i in part]
        status = Status.FAIL if len(hits) > ctx.params.max_shouting else Status.PASS
        findings = [Finding("shouting.response", "response in capitals", (i,)) for i in hits]
        return self.result(status, f"{len(hits)} shouting", {"shouting": len(hits)}, findings=findings)

class BrokenChecker(Checker):
    """Always raises."""
    name = "broken"
    def check(self, data, ctx):
        raise RuntimeError("disk on fire")

class LambdaChecker(Checker):
    """Maps a lambda: fine on one batch in-process, broken once workers get the batches."""
    name = "lambdas"
    def check(self, data, ctx):
        return self.result(Status.PASS, str(sum(data.map_batches(lambda batch: len(batch)))), {})

class ImpostorChecker(ShoutingChecker):
    """Takes a name that is already taken."""
    name = "size"
    codes = {"size.too_small": "the same code as the built-in"}

class StrayCodeChecker(Checker):
    """Emits a code it never declared."""
    name = "stray"
    codes = {"stray.declared": "declared"}
    def check(self, data, ctx):
        return self.result(Status.WARN, "x", {}, findings=[Finding("stray.undeclared", "x", (0,))])

class WrongPrefixChecker(Checker):
    """Declares a code of another checker."""
    name = "prefix"
    codes = {"size.too_small": "not mine"}

class AfterStringChecker(Checker):
    """Names the check it follows as a bare string, which would read as six one-letter names."""
    name = "after_string"
    after = "length"
'''


def install_plugin(site: Path, entries: dict[str, str]) -> dict[str, str]:
    site.mkdir()
    (site / "shouting_plugin.py").write_text(PLUGIN)
    info = site / "shouting_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shouting-plugin\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = shouting_plugin:{cls}" for name, cls in entries.items())
    (info / "entry_points.txt").write_text(f"[fineaudit.checkers]\n{lines}\n")
    return dict(os.environ, PYTHONPATH=str(site))


def fineaudit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fineaudit.cli", *args], env=env, capture_output=True, text=True)


def test_plugin_is_listed_and_run_like_a_built_in(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"shouting": "ShoutingChecker"})
    listing = fineaudit(env, "checks")
    assert "shouting  (runs always)" in listing.stdout and "shouting.response" in listing.stdout
    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", "HELLO" if i == 3 else "hi") for i in range(120)])
    run = fineaudit(env, "audit", str(data), "--only", "size,shouting", "--json", "-", "--set", "size.warn_records=10")
    report = json.loads(run.stdout)
    shouting = next(c for c in report["checks"] if c["name"] == "shouting")
    assert run.returncode == 1 and shouting["status"] == "fail" and shouting["findings"][0]["records"] == [3]
    assert fineaudit(env, "audit", str(data), "--only", "size,shouting", "--set", "size.warn_records=10",
                     "--set", "shouting.max_shouting=1", "-q").returncode == 0


def test_a_checker_that_raises_is_an_error_that_fails_the_verdict(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"broken": "BrokenChecker"})
    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", "a") for i in range(600)])
    run = fineaudit(env, "audit", str(data), "--only", "size,broken", "--json", "-")
    broken = next(c for c in json.loads(run.stdout)["checks"] if c["name"] == "broken")
    assert run.returncode == 1
    assert broken["status"] == "error" and "RuntimeError: disk on fire" in broken["summary"]


def test_a_plugin_that_fails_to_load_is_a_loud_error_naming_the_package(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"ghost": "NoSuchClass"})
    run = fineaudit(env, "checks")
    assert run.returncode == 2
    assert "checker plugin 'ghost' from package 'shouting-plugin' failed to load" in run.stderr
    assert "Traceback" not in run.stderr


def test_built_ins_arrive_through_the_entry_point_group_in_report_order() -> None:
    names = list(load_checkers())
    assert names[:2] == ["size", "format"]


def test_a_function_that_cannot_be_pickled_is_a_clear_error_at_every_size(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"lambdas": "LambdaChecker"})
    for records in (50, 12_000):  # one batch in-process, and several batches in worker processes
        data = write_jsonl(tmp_path / f"d{records}.jsonl", [chat(f"q{i}", "a") for i in range(records)])
        run = subprocess.run([sys.executable, "-m", "fineaudit.cli", "audit", str(data), "--only", "lambdas",
                              "--json", "-", "--no-cache"], env=env, capture_output=True, text=True, timeout=120)
        lambdas = next(c for c in json.loads(run.stdout)["checks"] if c["name"] == "lambdas")
        assert run.returncode == 1 and lambdas["status"] == "error", records
        assert "needs a picklable function" in lambdas["summary"] and "<lambda>" in lambdas["summary"]


def test_two_checkers_with_one_name_are_refused(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"impostor": "ImpostorChecker"})
    run = fineaudit(env, "checks")
    assert run.returncode == 2 and "two checkers are named 'size'" in run.stderr


def test_a_code_outside_the_checkers_prefix_is_refused(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"prefix": "WrongPrefixChecker"})
    run = fineaudit(env, "checks")
    assert run.returncode == 2 and "'size.too_small' must start with 'prefix.'" in run.stderr


def test_after_that_is_not_a_tuple_of_names_is_refused(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"after_string": "AfterStringChecker"})
    run = fineaudit(env, "checks")
    assert run.returncode == 2 and "'after_string': `after` must be a tuple of check names" in run.stderr


def test_an_undeclared_finding_code_fails_closed(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site", {"stray": "StrayCodeChecker"})
    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", "a") for i in range(20)])
    run = fineaudit(env, "audit", str(data), "--only", "stray", "--json", "-", "--no-cache")
    stray = next(c for c in json.loads(run.stdout)["checks"] if c["name"] == "stray")
    assert run.returncode == 1 and stray["status"] == "error" and "'stray.undeclared'" in stray["summary"]


def test_checks_name_prints_why_it_matters_and_the_fix(tmp_path: Path) -> None:
    run = fineaudit(dict(os.environ), "checks", "size")
    assert run.returncode == 0
    assert "Why it matters:" in run.stdout and "Fix:" in run.stdout and "format  (runs" not in run.stdout
    assert fineaudit(dict(os.environ), "checks", "nonesuch").returncode == 2


def test_every_built_in_declares_its_codes_under_its_name() -> None:
    for name, cls in load_checkers().items():
        assert cls.codes, name
        assert all(code.startswith(f"{name}.") for code in cls.codes), name
        assert cls.section("Why it matters") and cls.section("Fix"), name
