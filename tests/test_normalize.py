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
