"""Reports in every form, through one table and one write path.

    from fineaudit.render import RENDERERS, write_report
    write_report("html", [report], "out/report.html")     # atomic; "-" writes to stdout

A new report format is one module with a `render(reports) -> str` function and one row in
RENDERERS. The CLI, `Report.write_*` and the transformers callback all write through
`write_report`, which writes through `output_paths.write_atomically` like every other output: a
temporary file beside the target (opened O_EXCL|O_NOFOLLOW, so a planted link or file is never
followed or reused), fsync, then one rename; on any error the temporary file is removed and the
target is untouched; a device or pipe (/dev/null, `>(jq .)`) is written in place.
Renderers import `core`, never the reverse.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from fineaudit.core import Report, register_report_writer
from fineaudit.commands.output_paths import emit, write_atomically


class Renderer(NamedTuple):
    name: str
    suffix: str  # the file extension a report of this kind is written with
    render: Callable[[Sequence[Report]], str]


def _json(reports: Sequence[Report]) -> str:
    from fineaudit.render.json_report import render_json

    return render_json(reports)


def _markdown(reports: Sequence[Report]) -> str:
    from fineaudit.render.markdown import render_markdown

    return render_markdown(reports)


def _html(reports: Sequence[Report]) -> str:
    from fineaudit.render.html import render_html

    return render_html(reports)


def _junit(reports: Sequence[Report]) -> str:
    from fineaudit.render.junit import render_junit

    return render_junit(reports)


def _terminal(reports: Sequence[Report]) -> str:
    from fineaudit.render.terminal import render_terminal_text

    return render_terminal_text(reports)


# imports are deferred so that `fineaudit audit` without --html never loads jinja2
RENDERERS: dict[str, Renderer] = {
    "terminal": Renderer("terminal", ".txt", _terminal),
    "json": Renderer("json", ".json", _json),
    "markdown": Renderer("markdown", ".md", _markdown),
    "html": Renderer("html", ".html", _html),
    "junit": Renderer("junit", ".xml", _junit),
}


def render_report(kind: str, reports: Sequence[Report]) -> str:
    """The reports as text of that kind (a key of RENDERERS)."""
    if kind not in RENDERERS:
        raise ValueError(f"unknown report kind {kind!r}; known: {', '.join(RENDERERS)}")
    return RENDERERS[kind].render(list(reports))


def write_report(kind: str, reports: Sequence[Report], path: str | Path) -> None:
    """Render and write atomically to `path` (`-`: standard output)."""
    text = render_report(kind, reports)
    emit(str(path), text if text.endswith("\n") else text + "\n")  # a text file ends its last line


def atomic_write(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` whole or not at all, through `output_paths.write_atomically`
    (the one writer of every output: temp file beside it, O_EXCL|O_NOFOLLOW, fsync, rename; a
    device or pipe written in place); a failure is a FineauditError naming the path."""
    # lone surrogates (from odd JSON escapes) cannot be encoded; they become '?', not an error
    write_atomically(path, text.encode("utf-8", errors="replace"))


__all__ = ["RENDERERS", "Renderer", "render_report", "write_report", "atomic_write"]


register_report_writer(write_report)  # Report.write reaches this one path without core importing render
