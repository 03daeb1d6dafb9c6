"""Terminal and Markdown reports: readable, and dataset text stays inert."""
from __future__ import annotations

import io

from rich.console import Console

import fineaudit
from fineaudit.render.json_report import render_json, validate_report
from fineaudit.render.markdown import md_escape, render_markdown
from fineaudit.render.terminal import render_terminal
from tests.conftest import write_jsonl

EVIL = '[bold red]x[/] <script>alert(1)</script> | `code` **b** [link](http://evil)'


def flawed_report(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"messages": [{"role": EVIL, "content": "hi"}]}] * 4)
    return fineaudit.audit(path, format="chat", only=["format"])


def test_terminal_table_shows_status_check_summary_and_findings_without_markup(tmp_path) -> None:
    report = flawed_report(tmp_path)
    buffer = io.StringIO()
    render_terminal(report, Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    assert "FAIL" in text and "format" in text and "line 1:" in text and "NOT READY" in text
    assert "[bold red]x[/]" in text  # printed as text, not interpreted as rich markup
    assert "… and 1 more" in text


def test_markdown_escapes_dataset_text(tmp_path) -> None:
    text = render_markdown([flawed_report(tmp_path)])
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[link](" not in text and "\\[link\\](" in text and "\\|" in text
    assert md_escape("a|b\n<c>") == "a\\|b &lt;c&gt;"


def test_json_of_several_reports_is_an_array_that_validates(tmp_path) -> None:
    import json

    report = flawed_report(tmp_path)
    document = json.loads(render_json([report, report]))
    assert isinstance(document, list) and len(document) == 2
    validate_report(document)
