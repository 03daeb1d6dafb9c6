"""safe_text: each medium's one function, on hostile text; and the one atomic write path."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from fineaudit.core import DatasetInfo, FineauditError, Report
from fineaudit.render import RENDERERS, atomic_write, render_report, write_report
from fineaudit.render.safe_text import (annotation_message, annotation_property, code_span, markdown, plural,
                                        terminal, xml)

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # writes the clipboard
TITLE = "\x1b]0;owned\x07"  # sets the window title
CLEAR = "\x1b[2J"  # clears the screen
LINK = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"  # a hyperlink
CSI_C1 = "\x9b2J"  # the one-character CSI
BIDI = "\u202egnp.exe"
KEY = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ3lN5pR7tV9xZ1bD3"


@pytest.mark.parametrize("hostile", [OSC52, TITLE, CLEAR, LINK, CSI_C1, BIDI, "a\rb", "\x00\x07\x7f", "\udc80"])
def test_terminal_text_cannot_drive_the_terminal(hostile: str) -> None:
    shown = terminal(f"before {hostile} after")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E
                   or 0xD800 <= ord(c) <= 0xDFFF for c in shown.replace("\n", "").replace("\t", ""))
    assert shown.startswith("before ") and shown.endswith(" after")


@pytest.mark.parametrize(("text", "shown"), [
    (CLEAR, "\\x1b[2J"), (OSC52, "\\x1b]52;c;cm0gLXJmIH4=\\x07"), ("a\rb", "a\\rb"), (CSI_C1, "\\x9b2J"),
    (BIDI, "\\u202egnp.exe"), ("tab\there", "tab\there"),
])
def test_escapes_are_visible(text: str, shown: str) -> None:
    assert terminal(text) == shown


def test_one_line_escapes_newlines() -> None:
    assert terminal("a\nb", one_line=True) == "a\\nb" and terminal("a\nb") == "a\nb"


@pytest.mark.parametrize(("text", "message", "prop"), [
    ("x\n::error file=README.md::pwned", "x%0A::error file=README.md::pwned",
     "x%0A%3A%3Aerror file=README.md%3A%3Apwned"),
    ("100% a,b\r", "100%25 a,b%0D", "100%25 a%2Cb%0D"),
    (CLEAR, "\\x1b[2J", "\\x1b[2J"),
])
def test_workflow_command_encoding(text: str, message: str, prop: str) -> None:
    assert annotation_message(text) == message and annotation_property(text) == prop
    assert "\n" not in annotation_message(text) and "\r" not in annotation_property(text)


@pytest.mark.parametrize("text", [
    "<img src=x onerror=alert(1)>", "[click](http://evil)", "![i](http://x/p.png)", "<script>x</script>",
    "**bold** _it_", "`code`", "<a href='http://evil'>x</a>", "[x]: http://evil", "~~gone~~", "a | b",
])
def test_markdown_is_inert(text: str) -> None:
    from markdown_it import MarkdownIt  # rich's own Markdown parser, CommonMark with GFM tables

    rendered = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(
        f"| k | v |\n|---|---|\n| a | {markdown(text)} |\n")
    assert not any(tag in rendered for tag in ("<a ", "<img", "<script", "<strong", "<em", "<code", "<s>"))
    assert rendered.count("<td>") == 2  # the cell held: a `|` in data did not add a column


@pytest.mark.parametrize(("text", "span"), [
    ("glaive_toolcall.jsonl", "`glaive_toolcall.jsonl`"),  # no backslashes inside a code span
    ("a`b", "``a`b``"), ("`x", "`` `x ``"), ("two\nlines", "`two lines`"),
])
def test_code_span_shows_text_as_written(text: str, span: str) -> None:
    assert code_span(text) == span


def test_xml_replaces_what_xml_cannot_carry() -> None:
    import xml.etree.ElementTree as ET

    text = xml("a\x00b\x1b[2J\ufffe\udc80c")
    ET.fromstring(f"<a>{text}</a>")  # parses
    assert text == "a\\x00b\\x1b[2J\\ufffe\\udc80c"


@pytest.mark.parametrize("render", [terminal, markdown, annotation_message, annotation_property, xml, code_span])
def test_secrets_are_masked_in_every_medium(render: object) -> None:
    shown = render(f"data/{KEY}.jsonl")  # type: ignore[operator]
    assert KEY not in shown and KEY[:20] not in shown and "sk-pr" in shown


@pytest.mark.parametrize(("count", "text"), [(0, "0 findings"), (1, "1 finding"), (2, "2 findings"),
                                             (1204, "1,204 findings")])
def test_plural(count: int, text: str) -> None:
    assert plural(count, "finding") == text


# --------------------------------------------------------------------------- one output path


def tiny_report(path: str = "d.jsonl") -> Report:
    return Report(DatasetInfo(path, 1, "chat", None), {}, "pass", 100.0, created="2025-01-01T00:00:00+00:00")


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_every_renderer_writes_through_one_atomic_path(kind: str, tmp_path: Path) -> None:
    target = tmp_path / f"report{RENDERERS[kind].suffix}"
    write_report(kind, [tiny_report()], target)
    assert target.read_text(encoding="utf-8") == render_report(kind, [tiny_report()]).rstrip("\n") + "\n"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_write_replaces_a_link_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    write_report("json", [tiny_report()], link)
    assert victim.read_text(encoding="utf-8") == "keep me" and not link.is_symlink()


def test_failed_write_leaves_no_temporary_file_and_the_old_report(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.md"
    target.write_text("old", encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(FineauditError, match="No space left"):
        atomic_write(target, "new")
    assert target.read_text(encoding="utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_a_device_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    write_report("json", [tiny_report()], "/dev/null")
    assert Path("/dev/null").is_char_device()


def test_dash_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    write_report("markdown", [tiny_report()], "-")
    assert capsys.readouterr().out.startswith("## fineaudit: ✅ ready — `d.jsonl`")


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="html"):
        render_report("pdf", [tiny_report()])

