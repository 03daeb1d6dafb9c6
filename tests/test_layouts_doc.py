"""docs/layouts.md is what the tool reads from each example, so it cannot go stale."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_layouts_doc_is_current_and_every_example_is_valid() -> None:
    run = subprocess.run([sys.executable, str(REPO / "docs" / "make_layouts.py"), "--check"], capture_output=True)
    assert run.returncode == 0, "docs/layouts.md is stale: run python docs/make_layouts.py"
    text = (REPO / "docs" / "layouts.md").read_text("utf-8")
    assert "problems:" not in text
    for layout in ("chat", "instruction", "completion", "classification", "preference", "kto", "text"):
        assert f"Detected as `{layout}`" in text, layout
