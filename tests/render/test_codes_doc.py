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


def test_generated_docs_are_current() -> None:
    """codes.md and the output examples in reports.md and integrations.md: what the tool prints now."""
    for path, text in make_codes().generated().items():  # type: ignore[attr-defined]
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python docs/make_codes.py"


def test_every_code_of_every_checker_is_listed() -> None:
    text = (REPO / "docs" / "codes.md").read_text(encoding="utf-8")
    missing = [code for cls in load_checkers().values() for code in cls.codes if f"| `{code}` |" not in text]
    assert missing == []
