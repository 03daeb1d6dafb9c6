"""docs/codes.md is generated from the checkers' `codes`: it fails here when it is stale."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from fineaudit.registry import load_checkers

REPO = Path(__file__).resolve().parents[2]


def make_codes() -> object:
    spec = importlib.util.spec_from_file_location("make_codes", REPO / "docs" / "make_codes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_codes_doc_is_current() -> None:
    generated = make_codes().render_codes()  # type: ignore[attr-defined]
    current = (REPO / "docs" / "codes.md").read_text(encoding="utf-8")
    assert current == generated, "docs/codes.md is stale: run python docs/make_codes.py"


def test_terminal_example_in_reports_doc_is_the_tool_output() -> None:
    module = make_codes()
    current = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    assert current == module.with_example(current, module.terminal_example()), (  # type: ignore[attr-defined]
        "docs/reports.md's terminal example is stale: run python docs/make_codes.py")


def test_every_code_of_every_checker_is_listed() -> None:
    text = (REPO / "docs" / "codes.md").read_text(encoding="utf-8")
    missing = [code for cls in load_checkers().values() for code in cls.codes if f"| `{code}` |" not in text]
    assert missing == []
