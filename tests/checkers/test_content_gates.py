"""The content detectors' cheap gates skip only texts their regexes cannot match.

Each gate (a character every secret holds, ten digit scans for ASCII text, the words every
multilingual phrase spells) must never hide a match: these tables hold texts that match and
near misses, and compare the gated detector with the bare regex."""
from __future__ import annotations

import re

import pytest

from fineaudit.text.content_patterns import (MULTILINGUAL_BOILERPLATE, SECRET_PATTERNS, find_boilerplate, find_secrets, present_gates,
                                        has_digit)


@pytest.mark.parametrize("text", [
    "", "no digits here", "room 7", "0", "tab\t9", "fullwidth ３", "arabic-indic ٣", "devanagari ७",
    "thai ๕", "superscript ² is not a decimal digit", "roman Ⅻ is not one either", "ｆｕｌｌ ｗｉｄｔｈ",
])
def test_has_digit_is_what_backslash_d_finds(text: str) -> None:
    assert has_digit(text) == (re.search(r"\d", text) is not None)


SECRETS = [
    "key sk-proj-abcdefghij1234567890XYZ in prose", "AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE",
    "ghp_" + "a1" * 18, "github_pat_" + "b2" * 26, "xoxb-1234567890-abcdef", "xapp-1-A0123456789",
    "hf_" + "c3" * 15, "sk_live_" + "d4" * 10, "rk_test_" + "e5" * 10, "AIza" + "f6G" * 12,
    "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
]


@pytest.mark.parametrize("text", SECRETS)
def test_every_shaped_secret_holds_its_gate_character(text: str) -> None:
    for pattern in SECRET_PATTERNS:
        for m in pattern.regex.finditer(text):
            assert pattern.char in m.group(), pattern.code
    assert list(find_secrets(text, text.lower())), text


@pytest.mark.parametrize("text, expected", [
    ("api_key = 'Zx81Lq0vTr55Mn2Bq7Yw'", 1),  # an assignment: ':' or '=' present
    ("Authorization: Bearer Zx81Lq0vTr55Mn2Bq7Yw", 1),  # the bearer word
    ("BEARER Zx81Lq0vTr55Mn2Bq7Yw", 1),  # the word in capitals: gated on the lower-cased text
    ("my password Zx81Lq0vTr55Mn2Bq7Yw has no assignment", 0),
    ("postgres://admin:Zx81Lq0v@db.example.com/app", 1),
])
def test_credentials_behind_their_gates(text: str, expected: int) -> None:
    found = [hit for hit in find_secrets(text, text.lower()) if hit[0] == "content.credential"]
    assert len(found) == expected


PHRASES = [
    "como modelo de lenguaje, no puedo opinar", "soy una ia, así que", "no tengo opiniones personales",
    "als ki-sprachmodell habe ich", "ich bin ein sprachmodell und", "ich habe keine gefühle",
    "en tant qu'ia, je", "en tant que modèle de langage", "je suis une ia", "je n'ai pas d'opinions",
    "como um modelo de linguagem, não", "sou uma ia, e", "não tenho sentimentos",
    "作为一个人工智能语言模型", "我没有个人观点", "言語モデルとして", "как ии, я", "у меня нет мнений",
    # near misses: the anchors without the phrase
    "the aim was said to be clear", "mania and media", "kiwi, skiing and kin", "a trivial idea",
]


@pytest.mark.parametrize("text", PHRASES)
def test_phrase_gates_never_hide_a_match(text: str) -> None:
    for pattern in MULTILINGUAL_BOILERPLATE:
        ungated = any(a in text for a in pattern.anchors) and pattern.regex.search(text) is not None
        if ungated:
            assert pattern.may_match(text, text.isascii(), present_gates(text, text.isascii())), (pattern.language, pattern.code)
    codes = {code for code, _ in find_boilerplate(text, text.lower())}
    expected = {p.code for p in MULTILINGUAL_BOILERPLATE
                if any(a in text for a in p.anchors) and p.regex.search(text)}
    assert expected <= codes
