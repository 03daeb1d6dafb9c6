"""Text skeletons: what is left of a text when its slots are masked.

Records generated from one template differ only in their slots (numbers, names, quoted
strings, URLs, e-mails, code), so they are not duplicates, yet a model learns the template a
thousand times. `skeleton(text)` replaces each slot with a placeholder (`<num>`, `<name>`,
`<str>`, `<url>`, `<email>`, `<code>`, and `<secret>` for keys and tokens, which reports must
never show), lower-cases the rest and collapses whitespace, so
that texts of one template share one skeleton. `diversity` groups records by skeleton;
`eval_split` compares train and eval skeletons (template leakage).

Names are capitalized Latin words that are not sentence-initial, plus a sentence-initial
one that the text capitalizes again mid-sentence ("Lana picked ... did Lana pick"). A
sentence-initial name used once stays a word ("Debby had 32"): telling it from "Generate"
needs a dictionary, and near grouping (MinHash on skeletons) absorbs one differing word.
Number words (one .. twenty, hundred, ...) are numbers. Runs of one placeholder become one
("New York" -> one `<name>`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from fineaudit.text.content_patterns import find_secrets

PLACEHOLDERS = ("<num>", "<name>", "<str>", "<url>", "<email>", "<code>", "<secret>")

# Order matters: code first (it may hold anything), then URLs and e-mails (they hold dots and
# digits), quoted strings, and last names and numbers.
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]{1,300}`")
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]{1,15}://|www\.)[^\s<>\"'`)\]]*[^\s<>\"'`)\].,;:!?]", re.I)
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+\b")
_QUOTED = re.compile(
    r'"[^"\n]{1,300}"|“[^”\n]{1,300}”|‘[^’\n]{1,300}’|«[^»\n]{1,300}»|「[^」\n]{1,300}」'
    r"|『[^』\n]{1,300}』|(?<!\w)'[^'\n]{1,300}'(?!\w)"
)
_NUMBER_WORDS = (
    "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    "|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    "|eighty|ninety|hundred|thousand|million|billion|half|twice|dozen"
)
# a number starts with a digit (a sign or currency symbol stays a word: "$ <num>", the same in every record)
_NUMBER = re.compile(r"\d(?:[\d,.]*\d)?(?:st|nd|rd|th|%|k|m)?(?![^\W\d_])|\d+")
_NUMBER_WORD_SET = frozenset(_NUMBER_WORDS.split("|"))
_EDGE_PUNCTUATION = ".,;:!?()\"'"
_PUNCTUATION_TO_SPACE = str.maketrans(_EDGE_PUNCTUATION, " " * len(_EDGE_PUNCTUATION))
# A capitalized word (Latin script); the apostrophe keeps "Lana's" one token.
_CAPITALIZED = re.compile(r"(?<![\w<])[A-Z][a-z]+(?:'s)?(?![\w>])")
_SENTENCE_ENDS = frozenset('.!?:;"“(\n')
_PLACEHOLDER_RUN = re.compile(r"(<(?:num|name|str|url|email|code|secret)>)(?:[\s,]*\1)+")
_HAS_QUOTE = re.compile("[\"'“‘«「『]")
_HAS_DIGIT = re.compile(r"\d")


def _sub(pattern: re.Pattern[str], placeholder: str, text: str) -> str:
    # Spaces around the placeholder keep "x=`a`" from gluing to a word.
    return pattern.sub(f" {placeholder} ", text)


def _sentence_initial(text: str, start: int) -> bool:
    before = text[max(0, start - 8):start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_ENDS


def _mask_names(text: str) -> str:
    """Capitalized words that are names: not at a sentence start, or capitalized again later."""
    matches = [(m, _sentence_initial(text, m.start())) for m in _CAPITALIZED.finditer(text)]
    mid_sentence = {m.group().removesuffix("'s") for m, initial in matches if not initial}
    pieces: list[str] = []
    last = 0
    for m, initial in matches:
        if initial and m.group().removesuffix("'s") not in mid_sentence:
            continue
        pieces.append(text[last:m.start()])
        pieces.append(" <name> ")
        last = m.end()
    pieces.append(text[last:])
    return "".join(pieces)


def skeleton(text: str) -> str:
    """`text` with its slots masked, lower-cased, whitespace collapsed (see the module doc)."""
    # secrets first, whole: a skeleton is shown in reports, and once lower-cased and cut by
    # <num> a key no longer matches the masker that every report runs on its text
    for secret in sorted({found for _, found in find_secrets(text, text.lower())}, key=len, reverse=True):
        text = text.replace(secret, " <secret> ")
    # each pattern runs only where its anchor occurs: most texts hold no code, URL or e-mail
    if "`" in text or "~~~" in text:
        text = _sub(_INLINE_CODE, "<code>", _sub(_CODE_BLOCK, "<code>", text))
    if "://" in text or "www." in text:
        text = _sub(_URL, "<url>", text)
    if "@" in text:
        text = _sub(_EMAIL, "<email>", text)
    if _HAS_QUOTE.search(text):
        text = _sub(_QUOTED, "<str>", text)
    text = _mask_names(text)
    if _HAS_DIGIT.search(text):
        text = _sub(_NUMBER, "<num>", text)
    lower = text.lower()
    if _NUMBER_WORD_SET.isdisjoint(lower.translate(_PUNCTUATION_TO_SPACE).split()):  # C-speed test first
        text = " ".join(lower.split())
    else:
        text = " ".join(_number_word(w) for w in lower.split())
    return _PLACEHOLDER_RUN.sub(r"\1", text)


def _number_word(word: str) -> str:
    """'two,' -> '<num>,'; a set lookup per word is 5x faster than a regex of alternatives."""
    core = word.strip(_EDGE_PUNCTUATION)
    return word.replace(core, "<num>") if core in _NUMBER_WORD_SET else word


def skeletons(texts: Iterable[str]) -> list[str]:
    """`skeleton` of each text, in order."""
    return [skeleton(text) for text in texts]


__all__ = ["PLACEHOLDERS", "skeleton", "skeletons"]
