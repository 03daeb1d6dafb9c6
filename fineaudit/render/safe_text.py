"""The one place where text from data becomes output text, for each medium a report is written in.

Dataset text reaches reports in record excerpts, keys, labels, role names, file names and config
values. Whatever the field, it goes through one function here for its medium, which first masks
secrets (`content_patterns.redact_secrets`), then makes the text inert there:

- terminal: control characters and escape sequences (ESC ] 52 writes the clipboard, ESC ] 0 the
  window title, ESC [ 2J clears the screen, ESC ] 8 makes hyperlinks), C1 controls, DEL and
  bidirectional overrides become visible escapes such as `\\x1b`; rich markup stays text because
  callers print `rich.text.Text`, never markup strings.
- GitHub Actions annotations: the workflow-command encoding (`%25 %0D %0A`, and `%3A %2C` in
  properties) so that a newline in a file name cannot start a command of its own.
- Markdown: HTML, emphasis, tables and link syntax escaped; code spans fenced so that their text
  shows as written (a code span shows backslashes, so it is never backslash-escaped).
- HTML: jinja2 autoescape does the markup; `html` cleans controls and masks secrets (the report's
  environment applies it to every expression) and attributes are never built from data.
- XML: characters XML 1.0 cannot carry (controls, lone surrogates, U+FFFE/U+FFFF) as escapes.
"""
from __future__ import annotations

import re

from fineaudit.text.content_patterns import redact_secrets

# C0 controls but tab/newline, DEL, C1 controls (U+009B is a one-character CSI), bidi overrides and
# isolates (they reorder what a reader sees), line/paragraph separators and lone surrogates
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_BUT_CRLF = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def plain(text: object, one_line: bool = False) -> str:
    """Secrets masked, every control character shown as an escape (newlines kept unless one_line)."""
    value = (_UNSAFE_IN_LINE if one_line else _UNSAFE).sub(_visible, redact_secrets(str(text)))
    return _redact_between_escapes(value)


# an escape written as text (`\x07`, `\u202e`, `\n`, by us or by a checker's repr()) glues
# itself to the key after it ('x07sk-proj-...'), where no detector sees a key start
_WRITTEN_ESCAPE = re.compile(r"(\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt\\]))")


def _redact_between_escapes(value: str) -> str:
    if "\\" not in value:
        return value
    return "".join(part if i % 2 else redact_secrets(part) for i, part in enumerate(_WRITTEN_ESCAPE.split(value)))


def terminal(text: object, one_line: bool = False) -> str:
    """Text for a terminal (or a pipe that ends in one): nothing in it can drive the terminal."""
    return plain(text, one_line)


def one_line(text: object) -> str:
    """Text for a single line: whitespace runs (newlines included) become one space, then `plain`."""
    return plain(" ".join(str(text).split()), one_line=True)


# --------------------------------------------------------------------------- GitHub Actions


def annotation_message(text: object) -> str:
    """A workflow command's message (after `::`), as @actions/core command.ts encodes it."""
    # controls made visible; \n and \r are kept for the encoding below
    value = _redact_between_escapes(_UNSAFE_BUT_CRLF.sub(_visible, redact_secrets(str(text))))
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation_property(text: object) -> str:
    """A workflow command's property value (file=, title=): also `:` and `,`, which end it."""
    return annotation_message(text).replace(":", "%3A").replace(",", "%2C")


# --------------------------------------------------------------------------- Markdown

_MD_ESCAPES = {"|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "`": "\\`", "*": "\\*", "_": "\\_",
               "[": "\\[", "]": "\\]", "#": "\\#", "\\": "\\\\", "!": "\\!", "~": "\\~"}


def markdown(text: object) -> str:
    """Inline Markdown text: no HTML, links, images, emphasis or table cells broken; one line."""
    return "".join(_MD_ESCAPES.get(ch, ch) for ch in one_line(text))


def code_span(text: object) -> str:
    """`text` as a Markdown code span that shows it exactly (backslashes are literal in code spans).

    The fence is one backtick longer than the longest run inside; a space pads text that starts
    or ends with a backtick (CommonMark strips one such space on each side). A `|` would still
    end a table cell, so code spans built here are for text outside tables."""
    value = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    return f"{fence}{pad}{value}{pad}{fence}"


# --------------------------------------------------------------------------- HTML and XML


def html(value: object) -> object:
    """jinja2 `finalize`: every string an expression prints is masked and cleaned; the
    environment's autoescape then makes it text. Numbers and markup built here pass unchanged."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        # chart geometry ('123.4') is most of what a page prints; it holds neither keys nor controls
        return value if _GEOMETRY.fullmatch(value) else plain(value)
    return value


_GEOMETRY = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?")


def xml(text: object) -> str:
    """Text for an XML document (JUnit): masked, with every character XML 1.0 cannot hold and every
    other control character written as a visible escape; xml.etree escapes the markup."""
    value = plain(text)  # tab, newline kept; the rest escaped
    return "".join(ch if _xml_char(ord(ch)) else f"\\u{ord(ch):04x}" for ch in value)


def _xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code < 0xD800 or 0xE000 <= code < 0xFFFE or code > 0xFFFF


def masked(text: str) -> str:
    """Secrets masked, nothing else changed (for JSON, which escapes controls itself)."""
    return _redact_between_escapes(redact_secrets(text))


def json_strings(value: object) -> object:
    """A JSON-ready value with secrets masked in every string and key (JSON escapes controls)."""
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {(masked(k) if isinstance(k, str) else k): json_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_strings(v) for v in value]
    return value


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 finding', '2 findings', '1,204 records' (the one plural rule of every report)."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}"


__all__ = ["plain", "terminal", "one_line", "annotation_message", "annotation_property", "markdown",
           "code_span", "html", "xml", "json_strings", "masked", "plural"]
