"""Hostile dataset text stays data in every output: terminal (on a pseudo-terminal and in pipes),
GitHub annotations, Markdown, HTML (in Chromium), JUnit XML and JSON; secrets masked in every field.

The datasets carry terminal escape sequences (ESC ] 52 clipboard, ESC ] 0 title, ESC [ 2J clear,
ESC ] 8 hyperlinks), markup (`<img onerror>`, `<script>`, `http-equiv`), Markdown links, control
characters, and an API key, in record text, role names, keys, labels and the file name itself,
whose name also holds a newline and a `::error` workflow command.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import Report
from fineaudit.render import RENDERERS, render_report
from fineaudit.render.annotations import render_annotations
from tests.conftest import REPO, write_jsonl
from tests.render.test_html import browser, open_page  # noqa: F401 - the Chromium fixture

KEY = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ3lN5pR7tV9xZ1bD3"
ESCAPES = {"clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07", "title": "\x1b]0;owned\x07", "clear": "\x1b[2J",
           "link": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", "c1": "\x9b2J"}
MARKUP = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
          '<meta http-equiv="refresh" content="0;url=https://evil.example/">[click](https://evil.example/)')
HOSTILE = "".join(ESCAPES.values()) + MARKUP + "\x00\x07" + KEY
FILE_NAME = f"d\n::error file=README.md,line=1::injected {KEY} \x1b]0;t\x07.jsonl"


def chat_records() -> list[dict[str, Any]]:
    good = [{"messages": [{"role": "user", "content": f"question {i} about a topic"},
                          {"role": "assistant", "content": f"answer {i}, with some words in it"}]} for i in range(30)]
    hostile = [{"messages": [{"role": HOSTILE, "content": HOSTILE},
                             {"role": "assistant", "content": f"an answer {HOSTILE}"}], HOSTILE: HOSTILE}]
    return good + hostile * 3


def label_records() -> list[dict[str, Any]]:
    labels = ["spam", "ham", HOSTILE]
    return [{"text": f"message {i} with a few words {HOSTILE if i % 7 == 0 else ''}", "label": labels[i % 3]}
            for i in range(60)]


@pytest.fixture(params=["chat", "labels"])
def hostile_report(request: pytest.FixtureRequest, tmp_path: Path) -> Report:
    records = chat_records() if request.param == "chat" else label_records()
    path = write_jsonl(tmp_path / FILE_NAME, records)
    return fineaudit.audit(str(path))


def raw_controls(text: str) -> list[str]:
    """Control characters a terminal or a log would act on (tab and newline are layout)."""
    return sorted({hex(ord(c)) for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F})


def test_terminal_report_has_no_raw_control_and_no_secret(hostile_report: Report) -> None:
    text = render_report("terminal", [hostile_report])
    assert raw_controls(text) == [] and KEY not in text and KEY[:16] not in text
    assert "\\x1b]52;c;" in text  # shown as visible escapes, so a reader sees what the data holds


def test_annotations_are_one_command_per_line_and_inert(hostile_report: Report) -> None:
    text = render_annotations([hostile_report])
    lines = text.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ")) for line in lines)
    assert not any(line.startswith("::error file=README.md") for line in lines)  # the name's command is data
    assert raw_controls(text) == [] and KEY not in text
    for line in lines:  # properties hold no raw ':' or ',' from data
        props = line.split(" ", 1)[1].split("::", 1)[0]
        assert all(p.count("=") >= 1 and ":" not in p for p in props.split(","))


def test_markdown_renders_no_markup_no_link(hostile_report: Report) -> None:
    from markdown_it import MarkdownIt

    text = render_report("markdown", [hostile_report])
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert not any(tag in html for tag in ("<img", "<script", "<meta", "<a ", "<iframe"))
    assert raw_controls(text) == [] and KEY not in text


def test_junit_parses_and_carries_no_control_or_secret(hostile_report: Report) -> None:
    text = render_report("junit", [hostile_report])
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "testsuites" and raw_controls(text.replace("\r", "")) == [] and KEY not in text


def test_json_masks_secrets_in_every_field(hostile_report: Report) -> None:
    from fineaudit.render.json_report import validate_report

    text = render_report("json", [hostile_report])
    document = json.loads(text)
    validate_report(document)
    assert KEY not in text and "sk-pr" in document["dataset"]["path"]  # masked, still recognisable


def test_every_renderer_is_covered() -> None:
    # a new renderer joins this battery by being in the table
    assert set(RENDERERS) == {"terminal", "json", "markdown", "html", "junit"}


# --------------------------------------------------------------------------- the real CLI


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(HF_HUB_OFFLINE="1", FINEAUDIT_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO), **extra)
    return env


def test_cli_on_a_pseudo_terminal_prints_no_escape_sequence_from_data(tmp_path: Path) -> None:
    import pty

    path = write_jsonl(tmp_path / FILE_NAME, chat_records())
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fineaudit.cli", "audit", str(path), "--no-progress"],
                            stdin=follower, stdout=follower, stderr=follower, env=cli_env(tmp_path, COLUMNS="100"),
                            cwd=tmp_path)
    os.close(follower)
    out = _read_all(leader, proc)
    assert proc.returncode == 1, out
    text = out.decode("utf-8", "replace")
    # rich colours the table (ESC [ ... m) on a terminal; nothing else may reach it
    assert not any(seq in text for seq in ("\x1b]", "\x1b[2J", "\x9b", "\x07")), text
    assert KEY not in text and "NOT READY" in text


def _read_all(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed (Linux reports EIO)
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(fd)
    return b"".join(chunks)


def test_cli_in_github_actions_pipe_injects_no_command(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / FILE_NAME, chat_records())
    done = subprocess.run([sys.executable, "-m", "fineaudit.cli", "audit", str(path), "--no-progress"],
                          capture_output=True, env=cli_env(tmp_path, GITHUB_ACTIONS="true"), cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode("utf-8", "replace")
    commands = [line for line in out.splitlines() if line.startswith("::")]
    assert commands and all(line.startswith(("::error ", "::warning ")) for line in commands)
    assert not [line for line in commands if line.startswith("::error file=README.md")]  # written as data
    assert raw_controls(out) == [] and KEY not in out


# --------------------------------------------------------------------------- HTML in Chromium


@pytest.mark.slow
def test_html_dom_has_no_hostile_element_or_attribute(hostile_report: Report, tmp_path: Path,
                                                      browser: Any) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_report("html", [hostile_report]), encoding="utf-8")
    assert KEY not in page.read_text(encoding="utf-8")
    seen = open_page(browser, page)
    assert seen["console"] == [] and seen["requests"] == [page.resolve().as_uri()]
    counts = browser.execute_script(
        "return ['script', 'img', 'iframe', 'meta[http-equiv=\"refresh\"]', '[onerror]', '[onload]', "
        "'[onmouseover]', 'a[href^=\"http\"]'].map(s => document.querySelectorAll(s).length)")
    assert counts == [0] * 8
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert "<img src=x onerror=" in browser.execute_script("return document.body.innerText")  # shown as text


def test_quiet_lines_are_inert(hostile_report: Report) -> None:
    from fineaudit.render.terminal import quiet_lines

    lines = [line.plain for line in quiet_lines(hostile_report, cached=True)]
    assert lines[0].startswith("NOT READY") and lines[0].endswith("(cached)")
    text = "\n".join(lines)
    assert raw_controls(text) == [] and KEY not in text
