"""normalize: what compares equal, step by step."""
from __future__ import annotations

import pytest

from fineaudit.text.normalize import Normalization, normalize_text, text_key

LOOSE = Normalization(punctuation=True)


@pytest.mark.parametrize("a, b, how, equal", [
    ("Hi  there", "hi there", Normalization(), True),
    ("ｈｉ", "hi", Normalization(), True),
    ("top-up?", "top up", Normalization(), False),          # punctuation kept by default
    ("Has my top-up gone through?", "has my top up gone through", LOOSE, True),
    ("“quoted” (text)…", "quoted text", LOOSE, True),
    ("C++ function", "C function", LOOSE, False),            # symbols that change meaning stay
    ("C# code", "C code", LOOSE, False),
    ("version 3.5", "version 35", LOOSE, False),             # a point between digits stays
    ("1,000 items.", "1,000 items", LOOSE, True),
])
def test_equal_after_normalization(a: str, b: str, how: Normalization, equal: bool) -> None:
    assert (normalize_text(a, how) == normalize_text(b, how)) is equal
    assert (text_key(a, how) == text_key(b, how)) is equal


def test_ascii_punctuation_table_is_the_regex_outside_digits() -> None:
    from fineaudit.text.normalize import _ASCII_PUNCTUATION, _PUNCTUATION

    for b in range(128):
        replaced = _PUNCTUATION.fullmatch(chr(b)) is not None
        assert replaced == (_ASCII_PUNCTUATION[b] == ord(" ") and chr(b) != " "), repr(chr(b))


@pytest.mark.parametrize("text", [
    "top-up?  (now!) 'quoted' \"double\" [x] {y} a_b; c: d`e`",
    "version 3.5, 4,5 and 1.2.3 cost $5.", "a..b ,c, .5 5. 5.,6", "C++ #tag @me 100% a/b",
    "no punctuation at all", "...", "", "tabs\tand\nnewlines!", "é, ü. “curly” ‘quotes’ — dash… 1.5",
])
def test_punctuation_shortcut_gives_what_the_regex_gives(text: str) -> None:
    from fineaudit.text.normalize import _PUNCTUATION

    how = Normalization(punctuation=True)
    expected = " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())
    assert normalize_text(text, how) == expected
