"""The pattern tables of the `content` check, and the small detectors that use them.

Each detector takes one text and yields (code, matched text) pairs. They are ordered so that
the cheap work comes first: every regex is guarded by plain substring anchors (`str.__contains__`
is memchr-fast), because Python's `re` tries every alternative at every position and a guarded
scan is 20-50x faster on text that has nothing to find, which is nearly all text.
"""
from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from dataclasses import dataclass

import ftfy
import ftfy.badness
import phonenumbers

Hit = tuple[str, str]  # (finding code, the matched text)


@dataclass(frozen=True)
class SecretPattern:
    code: str
    anchors: tuple[str, ...]  # lower-cased substrings, one of which every match contains
    regex: re.Pattern[str]
    needs_digit: bool = False  # real tokens mix digits in; hyphenated words do not
    char: str = ""  # a character every match holds (case as matched): one memchr-fast test skips the anchors


_B = r"(?<![A-Za-z0-9_\-])"  # no token character before: 'task-force' holds no 'sk-' key
SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("content.openai_key", ("sk-",),
                  re.compile(_B + r"sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{20,}"), True, "-"),
    SecretPattern("content.aws_key", ("akia", "asia"),
                  re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"), char="A"),
    SecretPattern("content.github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
                  re.compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})"), char="_"),
    SecretPattern("content.slack_token", ("xox", "xapp-"),
                  re.compile(_B + r"(?:xox[abposr]|xapp)-[A-Za-z0-9\-]{10,}"), True, "-"),
    SecretPattern("content.huggingface_token", ("hf_",),
                  re.compile(_B + r"hf_[A-Za-z0-9]{30,}"), char="_"),
    SecretPattern("content.stripe_key", ("_live_", "_test_"),
                  re.compile(_B + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}"), True, "_"),
    SecretPattern("content.google_api_key", ("aiza",),
                  re.compile(_B + r"AIza[0-9A-Za-z_\-]{35}"), char="A"),
    SecretPattern("content.private_key", ("private key",),
                  re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), char="-"),
    SecretPattern("content.jwt", ("eyj",),
                  re.compile(_B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), char="."),
)
# a value assigned to a credential-like name (AWS_SECRET_ACCESS_KEY=, "db_password": "...",
# Authorization: Bearer ...): judged by its entropy, not its shape
_CREDENTIAL = re.compile(
    r"(?i)(?:api[_-]?key|apikey|secret|access[_-]?key|auth[_-]?token|"
    r"access[_-]?token|token|password|passwd|pwd)[A-Za-z0-9_\-]{0,40}[\"']?\s*[:=]\s*"
    r"(?:\"([^\"\s]{16,})\"|'([^'\s]{16,})'|([A-Za-z0-9/+_\-.=]{16,}))")
_BEARER = re.compile(r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)")
_URL_PASSWORD = re.compile(r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{0,30}://[^\s:/@]{1,100}:([^\s@/]{4,200})@[\w\-]")
_PLACEHOLDER_PASSWORDS = frozenset({"password", "passwd", "pass", "pwd", "secret", "xxxx", "xxxxxx", "****",
                                    "******", "changeme", "example", "user", "username"})
_CREDENTIAL_ANCHORS = ("key", "secret", "token", "pass", "pwd", "bearer")
_FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
MIN_CREDENTIAL_ENTROPY = 3.5  # bits per character; English words score below, random tokens above

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,})\b")
_FILE_SUFFIX_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "pdf"}  # icon@2x.png is not a person
_DIGIT_RUN = re.compile(r"(?<![\w.])\+?\(?\d[\d ().\-]{5,}\d(?![\w])")
# how cards are written: 13-19 digits in a row, or the groups issuers print (4-4-4-4, 4-4-4-4-3,
# Amex 4-6-5, Diners 4-6-4) with one kind of separator; a dash at another place is a sum or a
# range ("355909190063-746"). Not the decimals of 50.2654824574366.
_CARD = re.compile(r"(?<![\d.])(?:\d{13,19}|\d{4}([ \-])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?"
                   r"|\d{4}([ \-])\d{6}\2\d{4,5})(?!\d|\.\d)")
# a number joined to an operator and another number on its line ("1646615806005 + 7",
# "4212883012996 * 3") is a term of a sum; a line ending in '=' announces a result. Same line
# only: "- " starting the next line is a list bullet. '=' after a word is an assignment ("paid = ...").
_ARITHMETIC_BEFORE = re.compile(r"[\d)][ \t]*(?:[-+*/×÷x^=][ \t]*|=\s*)$")
_ARITHMETIC_AFTER = re.compile(r"[ \t]*(?:[-+*/×÷x^][ \t]*[\d(]|=)")
# a calculation nearby: a sum between numbers (spaces around '-', 'x' and '/' keep phone numbers
# and dates 12/29 out), or the words that ask for one
_CALCULATION = re.compile(r"\d[ \t]*[+*×÷=^][ \t]*\d|\d[ \t]+[-x/][ \t]+\d|(?i:calculat|equation|arithmetic"
                          r"|divided by|multipl|subtract|the result is)")
CALCULATION_WINDOW = 80  # characters either side of a number looked at for a calculation
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_SCP_PATH = re.compile(r":[\w.~-]*/")  # host:path/to/repo, not user@host:password
_VERSION_BEFORE = re.compile(r"(?i)(?:§|\bsection|\bversion|\bver\.?|\bv\.?|\brelease|\bbuild)\s*$")
_IPV6 = re.compile(r"(?<![\w:])[23][0-9A-Fa-f]{3}:[0-9A-Fa-f:]{2,35}(?![\w:])")  # 2000::/3, then validated

# lower-cased, apostrophes straightened; guarded by the anchors below
_AI_DISCLAIMER = re.compile(
    r"as an ai(?: language model| assistant| model)?\b|as a (?:large )?language model|"
    r"i(?: am|'m) (?:just |only )?an ai\b|i do(?: not|n't) have (?:personal )?(?:opinions|feelings|"
    r"emotions|beliefs|preferences)|my (?:knowledge cutoff|training data)|i do(?: not|n't) have "
    r"(?:access to )?real-time")
_REFUSAL = re.compile(
    r"i(?: cannot| can't| can not|'m unable to| am unable to|'m not able to| am not able to) "
    r"(?:assist|help|fulfill|comply|provide|create|generate|engage|do that)|"
    r"i(?:'m| am) sorry, (?:but|i can't|i cannot)|"
    r"i apologi[sz]e, but|i must decline|i won't be able to")
# "as an ai" is not among them: "an ai" finds every text it would
_BOILERPLATE_ANCHORS = ("language model", "an ai", "have personal", "opinions",
                        "knowledge cutoff", "training data", "real-time")
_REFUSAL_ANCHORS = ("cannot", "can't", "unable", "not able", "sorry", "apologi", "decline", "won't be")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LITERAL_UNICODE = re.compile(r"\\u[0-9a-fA-F]{4}")
_HTML_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|nbsp|#\d{2,5}|#x[0-9a-fA-F]{2,4});")
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)

# a whole field that says "nothing here"; compared after _squash
WHOLE_FIELD_PLACEHOLDERS = frozenset({
    "noinput", "ninput", "noinputneeded", "noinputrequired", "n/a", "n.a", "todo", "tbd", "fixme",
    "placeholder", "null", "nan", "undefined", "insertanswerhere", "answerhere", "xxx"})
_SQUASH = re.compile(r"[\s<>\"'\\`*_\[\]()]+")
_TEMPLATE = re.compile(
    r"<(?!(?:BR|HR|DIV|P|B|I|U|UL|OL|LI|TD|TR|TH|HTML|BODY|HEAD|TABLE|SPAN|IMG|EOS|BOS|EOF|PAD|"
    r"UNK|CLS|SEP|MASK|S|ENTER|RETURN|TAB|ESC|SHIFT|CTRL|ALT|SPACE|BACKSPACE|DELETE|DEL|INSERT|HOME|END|"
    r"PGUP|PGDN|UP|DOWN|LEFT|RIGHT|CR|LF|NUL)>)[A-Z][A-Z_]{2,}>"
    r"|\{\{\s*[A-Za-z_][\w.]*\s*\}\}"
    r"|\[(?:[Yy]our|[Ii]nsert|[Ee]nter|[Rr]ecipient|[Cc]ompany|[Nn]ame of)\b[^\]\n]{0,40}\]")
_NEAR_EMPTY = re.compile(r"[\s.\-_*?…·,;:!'\"`~]*")
_WORD = re.compile(r"\w\w+")
_ANY_DIGIT = re.compile(r"\d")


def mask(secret: str) -> str:
    """Enough of a secret to find it, never enough to use it: 'sk-ab…yz (43 chars)'."""
    keep = 5 if len(secret) >= 20 else 2
    return f"{secret[:keep]}…{secret[-2:]} ({len(secret)} chars)"


def entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


_SECRET_CHARS = "".join(sorted({pattern.char for pattern in SECRET_PATTERNS}))


def find_secrets(text: str, lower: str) -> Iterator[Hit]:
    # four single-character scans (memchr) stand in for the 17 anchor scans of the patterns
    # whose character is absent, which is most patterns of most prose
    present = [c for c in _SECRET_CHARS if c in text]
    if present:
        for pattern in SECRET_PATTERNS:
            if pattern.char in present and any(a in lower for a in pattern.anchors):
                for m in pattern.regex.finditer(text):
                    if not pattern.needs_digit or any(ch.isdigit() for ch in m.group()):
                        yield pattern.code, m.group()
    # an assignment needs ':' or '=', a bearer token the word: both before the six anchor scans
    if (":" in text or "=" in text) and any(a in lower for a in _CREDENTIAL_ANCHORS):
        for m in _CREDENTIAL.finditer(text):
            value = m.group(1) or m.group(2) or m.group(3)
            if _looks_random(value) and not _looks_like_path(value):
                yield "content.credential", value
    if "bearer" in lower:
        for m in _BEARER.finditer(text):
            if _looks_random(m.group(1)):
                yield "content.credential", m.group(1)
    if "://" in text:
        for m in _URL_PASSWORD.finditer(text):
            if _is_real_password(m.group(1)):
                yield "content.credential", m.group(1)


def redact_secrets(text: str) -> str:
    """`text` with every secret `find_secrets` sees replaced by its mask (for any report text)."""
    lower = text.lower()
    for _, secret in sorted(set(find_secrets(text, lower)), key=lambda hit: -len(hit[1])):
        text = text.replace(secret, mask(secret))
    return text


def _looks_like_path(value: str) -> bool:
    """/home/me/app, ./data, data/train-00001.parquet: a place, not a key."""
    return value.startswith(("/", "~", "./", "../")) or ("/" in value and bool(_FILE_SUFFIX.search(value)))


def _is_real_password(value: str) -> bool:
    """A URL's password unless it is a stand-in (<password>, ${DB_PASS}, ****, 'password')."""
    return not (set(value) & set("<>{}$*%") or value.lower() in _PLACEHOLDER_PASSWORDS)


def _looks_random(value: str) -> bool:
    """A credential, not an identifier: UUIDs and hex digests (git SHAs) name things, they unlock nothing."""
    if _UUID.fullmatch(value) or _HEX.fullmatch(value) and len(value) <= 64:
        return False
    has_digit, has_alpha = any(c.isdigit() for c in value), any(c.isalpha() for c in value)
    return has_digit and has_alpha and entropy(value) >= MIN_CREDENTIAL_ENTROPY


def find_pii(text: str, region: str) -> Iterator[Hit]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            if m.group(1).lower() not in _FILE_SUFFIX_TLDS and not _is_repository_address(text, m):
                yield "content.email", m.group()
    if not has_digit(text):
        return
    for m in _CARD.finditer(text):
        if _is_card(m.group()) and not _in_arithmetic(text, m):
            yield "content.credit_card", m.group()
    for m in _IPV4.finditer(text):
        if _is_public_ip(m.group()) and not _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
            yield "content.ip_address", m.group()
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            if _is_public_ipv6(m.group()):
                yield "content.ip_address", m.group()
    prose = strip_code(text)  # digits in code are constants, not phone numbers
    if _DIGIT_RUN.search(prose):  # phonenumbers is thorough but slow: only where a number may be
        for match in phonenumbers.PhoneNumberMatcher(prose, region, leniency=phonenumbers.Leniency.STRICT_GROUPING):
            if _written_as_phone(match.raw_string) and not _is_card(match.raw_string):
                yield "content.phone", match.raw_string


def has_digit(text: str) -> bool:
    """What `\\d` finds: in ASCII text (nearly all; `isascii` is O(1)) ten memchr scans, 3x
    faster than the regex; elsewhere the regex, which also knows the other scripts' digits."""
    if text.isascii():
        return "0" in text or "1" in text or "2" in text or "3" in text or "4" in text or "5" in text \
            or "6" in text or "7" in text or "8" in text or "9" in text
    return _ANY_DIGIT.search(text) is not None


def _is_repository_address(text: str, m: re.Match[str]) -> bool:
    """git@github.com:org/repo.git (scp-style SSH) names a repository, not a person."""
    return m.group().lower().startswith("git@") or _SCP_PATH.match(text, m.end()) is not None


def _written_as_phone(raw: str) -> bool:
    """A bare run of digits (14159265359) is a number; people write phones with separators or +."""
    return raw.startswith("+") or any(not c.isdigit() for c in raw)


def _is_card(candidate: str) -> bool:
    """Luhn-valid, 13-19 digits, and an issuer prefix (Visa, Mastercard, Amex, Discover, JCB, ...)."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19 or digits[0] not in (2, 3, 4, 5, 6):
        return False
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _in_arithmetic(text: str, m: re.Match[str]) -> bool:
    """A number that is a term or result of a calculation: joined to an operator, or with a
    calculation within CALCULATION_WINDOW characters (dpo_en_demo: "the result is: 4212883012996")."""
    before = text[max(0, m.start() - CALCULATION_WINDOW): m.start()]
    after = text[m.end(): m.end() + CALCULATION_WINDOW]
    if _ARITHMETIC_BEFORE.search(before) or _ARITHMETIC_AFTER.match(after):
        return True
    return _CALCULATION.search(before) is not None or _CALCULATION.search(after) is not None


def _is_public_ip(candidate: str) -> bool:
    """Only globally routable addresses: 192.168.0.1 and 127.0.0.1 in a tutorial identify nobody."""
    if sum(len(octet) >= 2 for octet in candidate.split(".")) < 2:
        return False  # 1.7.7.3 is a section or version number far more often than a host
    try:
        return ipaddress.IPv4Address(candidate).is_global
    except ValueError:
        return False


def _is_public_ipv6(candidate: str) -> bool:
    """A global unicast address (2000::/3, outside documentation and other special ranges),
    written with at least three groups: `rows[2000::10]` is a slice."""
    if sum(1 for group in candidate.split(":") if group) < 3:
        return False
    try:
        return ipaddress.IPv6Address(candidate).is_global
    except ValueError:
        return False


@dataclass(frozen=True)
class PhrasePattern:
    """An assistant phrase in one language: every match contains one of the anchors."""

    code: str
    language: str
    anchors: tuple[str, ...]  # lower-cased
    regex: re.Pattern[str]  # run on the lower-cased text, apostrophes straightened
    # cheap gates tested before the anchors: every match holds a non-ASCII character (CJK,
    # Cyrillic: `isascii` is O(1)), and one of `needs` (the words every alternative spells out;
    # an anchor such as "ai" or "ia" sits inside many English words, and these regexes start
    # with \b, which no prefix scan speeds up)
    non_ascii: bool = False
    needs: tuple[str, ...] = ()

    def may_match(self, straight: str, ascii_text: bool, present: set[str]) -> bool:
        """`present`: the gates found in `straight` (find_boilerplate's automaton)."""
        if self.non_ascii and ascii_text:
            return False
        if self.needs:
            return not present.isdisjoint(self.needs) and any(a in straight for a in self.anchors)
        return not present.isdisjoint(self.anchors)


def _phrase(code: str, language: str, anchors: str, regex: str, needs: str = "") -> PhrasePattern:
    non_ascii = language in ("zh", "ja", "ru")  # every alternative of theirs spells a CJK or Cyrillic word
    return PhrasePattern(code, language, tuple(anchors.split("|")), re.compile(regex), non_ascii,
                         tuple(needs.split("|")) if needs else ())


_D, _R = "content.ai_disclaimer", "content.refusal"
# AI self-identification and refusals in other languages, as chat models wrote them in
# translated and distilled data (ShareGPT, Alpaca translations): "作为一个人工智能语言模型",
# "Como modelo de lenguaje", "Als KI-Sprachmodell". Phrases, not single words: "IA" or "KI"
# alone are ordinary words in articles about AI.
MULTILINGUAL_BOILERPLATE: tuple[PhrasePattern, ...] = (
    _phrase(_D, "zh", "人工智能|语言模型|ai|个人|助手|openai",
            r"(?:作为|身为|我是|我只是|我是一[个名]|我只是一[个名])(?:一[个名])?(?:由\S{1,15}?(?:开发|训练|创建|打造)的)?"
            r"(?:ai|人工智能|大型语言模型|语言模型|ai语言模型|人工智能语言模型|ai助手|人工智能助手)"
            r"|我(?:没有|并没有|不具备)(?:任何)?个人(?:的)?(?:观点|感情|情感|意见|情绪|喜好|信仰)"),
    _phrase(_R, "zh", "不能|无法|抱歉|对不起",
            r"(?:很抱歉|抱歉|对不起)[，,。]?\s*(?:我|但我|但是我)(?:不能|无法|不可以)"
            r"|我(?:不能|无法|不可以)(?:为你|为您)?(?:帮助|协助|提供|满足|完成|回答|生成)"),
    _phrase(_D, "es", "modelo de lenguaje|inteligencia artificial|ia|opiniones|sentimientos",
            r"\b(?:como|soy) (?:un |una )?(?:modelo de lenguaje|inteligencia artificial|asistente de ia)\b"
            r"(?! (?:generativa|para|en|de la))|\b(?:como|soy) (?:una ia\b|ia,)"
            r"|\bno tengo (?:opiniones|sentimientos|emociones|creencias)(?: personales)?",
            "como |soy |no tengo "),
    _phrase(_R, "es", "no puedo",
            r"\blo siento,? (?:pero )?no puedo|\bno puedo (?:ayudar|ayudarte|ayudarle|proporcionar|cumplir|"
            r"hacer eso|crear|generar|brindar)"),
    _phrase(_D, "de", "ki|sprachmodell|künstliche intelligenz|meinungen|gefühle",
            r"\b(?:als|bin ich|ich bin) (?:ein |eine )?(?:ki-sprachmodell|ki-assistent|ki-modell|sprachmodell|"
            r"künstliche intelligenz|ki)\b(?=[ ,.]+(?:habe|bin|kann|verfüge|ich|nicht|und|,|\.))"
            r"|\bich habe keine (?:persönlichen )?(?:meinungen|gefühle|emotionen|überzeugungen)",
            "als |bin ich |ich bin |ich habe keine "),
    _phrase(_R, "de", "kann ich nicht|kann nicht|tut mir leid",
            r"\bes tut mir leid,? aber ich kann|\bich kann (?:ihnen |dir )?(?:dabei |damit )?nicht "
            r"(?:helfen|behilflich|weiterhelfen)|\bdas kann ich nicht (?:tun|machen)"),
    _phrase(_D, "fr", "intelligence artificielle|modèle de langage|ia|opinions|sentiments",
            r"\ben tant qu'(?:intelligence artificielle|ia|assistant|modèle)|\ben tant que (?:modèle de langage|"
            r"assistant)|\bje suis (?:une? )?(?:intelligence artificielle|ia|modèle de langage)\b"
            r"|\bje n'ai pas d'(?:opinions|sentiments|émotions)(?: personnel)?",
            "en tant qu|je suis |je n'ai pas d'"),
    _phrase(_R, "fr", "ne peux pas|désolé|pas en mesure",
            r"\bje ne peux pas (?:vous |t')?(?:aider|fournir|répondre|faire cela|générer|créer)"
            r"|\b(?:je suis )?désolée?,? (?:mais )?je ne peux pas|\bje ne suis pas en mesure de"),
    _phrase(_D, "ja", "ai|人工知能|言語モデル|個人的",
            r"(?:ai|人工知能|言語モデル|aiアシスタント|ai言語モデル)として|私は(?:\S{1,15}?によって)?(?:開発|訓練)?"
            r"(?:された)?(?:ai|人工知能|言語モデル)(?:です|であり|なので|のため)"
            r"|個人的な(?:意見|感情|好み)(?:は|を)(?:持って|持ち|ありません)"),
    _phrase(_R, "ja", "申し訳|できません",
            r"申し訳(?:ありません|ございません)が|(?:お手伝い|お答え|提供|回答|作成)(?:することは|することが)?できません"),
    _phrase(_D, "ru", "ии|искусственн|языков|мнени|чувств",
            r"(?:^|[^\w])(?:как|будучи|я|являюсь) (?:ии|искусственный интеллект|языковая модель|языковой моделью|"
            r"модель ии|ии-ассистент)(?![\w-])|у меня нет (?:личных )?(?:мнений|чувств|эмоций|убеждений)"),
    _phrase(_R, "ru", "не могу",
            r"(?:извините|простите|к сожалению),? (?:но )?я не могу|я не могу (?:помочь|предоставить|выполнить|"
            r"ответить|создать)"),
    _phrase(_D, "pt", "modelo de linguagem|inteligência artificial|ia|opiniões|sentimentos",
            r"\b(?:como|sou) (?:um |uma )?(?:modelo de linguagem|inteligência artificial|assistente de ia)\b"
            r"(?! (?:generativa|para|em|de))|\b(?:como|sou) (?:uma ia\b|ia,)|\bnão tenho (?:opiniões|sentimentos|emoções|crenças)(?: pessoais)?",
            "como |sou |não tenho "),
    _phrase(_R, "pt", "não posso",
            r"\b(?:desculpe|lamento),? (?:mas )?não posso|\bnão posso (?:ajudar|fornecer|cumprir|fazer isso|"
            r"criar|gerar)"),
)


def _gate_automaton(ascii_text: bool) -> Any:
    """One Aho-Corasick automaton over every boilerplate gate: the English anchors and, per
    language pattern, the words it needs (or its anchors when it needs none). One C pass over
    the text tells which are present, where testing each with `in` took 45 scans (37 -> 19 µs
    on a 1,300-character answer, benchmarks/bench_content_scan.py). Patterns that only match
    non-ASCII text are left out of the automaton for ASCII text: their anchors ("ai") sit
    inside many English words."""
    import ahocorasick

    gates = {*_BOILERPLATE_ANCHORS, *_REFUSAL_ANCHORS}
    for pattern in MULTILINGUAL_BOILERPLATE:
        if not (ascii_text and pattern.non_ascii):
            gates.update(pattern.needs or pattern.anchors)
    automaton = ahocorasick.Automaton()
    for gate in gates:
        automaton.add_word(gate, gate)
    automaton.make_automaton()
    return automaton


_GATES_ASCII, _GATES_ANY = _gate_automaton(True), _gate_automaton(False)
_BOILERPLATE_GATES, _REFUSAL_GATES = frozenset(_BOILERPLATE_ANCHORS), frozenset(_REFUSAL_ANCHORS)


def present_gates(straight: str, ascii_text: bool) -> set[str]:
    """The boilerplate gates found in a lower-cased text with straight apostrophes."""
    return {gate for _, gate in (_GATES_ASCII if ascii_text else _GATES_ANY).iter(straight)}


def find_boilerplate(text: str, lower: str) -> Iterator[Hit]:
    straight = lower.replace("\u2019", "'") if "\u2019" in lower else lower
    ascii_text = straight.isascii()
    present = present_gates(straight, ascii_text)
    if not present:
        return
    found: set[str] = set()
    if not present.isdisjoint(_BOILERPLATE_GATES):
        if m := _AI_DISCLAIMER.search(straight):
            found.add("content.ai_disclaimer")
            yield "content.ai_disclaimer", m.group()
    if not present.isdisjoint(_REFUSAL_GATES):
        if m := _REFUSAL.search(straight):
            found.add("content.refusal")
            yield "content.refusal", m.group()
    for pattern in MULTILINGUAL_BOILERPLATE:  # gates first: nearly every text skips the regex
        if pattern.code not in found and pattern.may_match(straight, ascii_text, present):
            if m := pattern.regex.search(straight):
                found.add(pattern.code)
                yield pattern.code, m.group()


def find_encoding(text: str, is_response: bool) -> Iterator[Hit]:
    if not text.isascii():
        if "\ufffd" in text:
            yield "content.replacement_char", _around(text, text.index("\ufffd"))
        if is_mojibake(text):
            yield "content.mojibake", _mojibake_excerpt(text)
    if m := _CONTROL.search(text):
        yield "content.control_chars", f"U+{ord(m.group()):04X} at offset {m.start()}"
    if "\\" in text or "&" in text:
        prose = strip_code(text)
        if m := (_LITERAL_UNICODE.search(prose) or _HTML_ENTITY.search(prose)):
            yield "content.escape_sequence", m.group()
        elif is_response and "\n" not in prose and prose.count("\\n") >= 2:
            # a response whose newlines were escaped twice teaches the model to write "\n";
            # in a prompt it is usually a quoted string of code
            yield "content.escape_sequence", "\\n"


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")
# typographic punctuation that CJK text sets beside its own characters; next to a Latin-1
# letter or sign (“é”, ½“杯”) ftfy's badness rule reads it as a mis-decoded UTF-8 sequence
_TYPOGRAPHIC = re.compile(r"[\u2010-\u2027\u2030-\u205e\u00ab\u00bb\u00b7\u3000-\u303f\uff01-\uff0f"
                          r"\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")


def is_mojibake(text: str) -> bool:
    """ftfy's verdict, except in CJK text, where a run must be bad without its typographic
    punctuation: correct Chinese with curly quotes beside a Latin letter is not mojibake."""
    if not ftfy.badness.is_bad(text):
        return False
    if _CJK.search(text) is None:
        return True
    return ftfy.badness.is_bad(_TYPOGRAPHIC.sub(" ", text))


def _mojibake_excerpt(text: str) -> str:
    m = ftfy.badness.BADNESS_RE.search(text)
    if m is None:
        return "mixed-up characters (run ftfy.fix_text on it)"
    start, end = max(0, m.start() - 15), m.end() + 15
    return f"{text[start:end]!r} (ftfy reads it as {ftfy.fix_text(text[start:end])!r})"


def _around(text: str, at: int, width: int = 20) -> str:
    return repr(text[max(0, at - width): at + width])


def strip_code(text: str) -> str:
    """Text without code blocks and inline code, where braces, entities and escapes are legitimate."""
    return _CODE.sub(" ", text) if "`" in text else text


def find_placeholders(text: str) -> Iterator[Hit]:
    if len(text) <= 40 and _squash(text) in WHOLE_FIELD_PLACEHOLDERS:
        yield "content.placeholder", text.strip()
        return
    if "<" in text or "{{" in text or "[" in text:
        if m := _TEMPLATE.search(strip_code(text)):
            yield "content.template_placeholder", m.group()


def _squash(text: str) -> str:
    return _SQUASH.sub("", text.lower()).rstrip(".:") if text else ""


def is_near_empty(text: str) -> bool:
    return _NEAR_EMPTY.fullmatch(text) is not None


def _unspaced_loop(stripped: str, min_repeats: int) -> str | None:
    if len(stripped) < 4 * min_repeats:
        return None
    period = (stripped + stripped).find(stripped, 1)
    unit = stripped[:period]
    if 0 < period and len(stripped) // period >= min_repeats and any(ch.isalnum() for ch in unit):
        return f"{unit[:60]!r} x{len(stripped) // period}"  # a rule line of '=' repeats no phrase
    return None


# ASCII bytes -> themselves for \w characters, a space for the rest: in ASCII text, the words
# of `_WORD` are the runs of two or more bytes left between spaces
_ASCII_WORD_BYTES = bytes(b if b < 128 and (chr(b).isalnum() or b == ord("_")) else 32 for b in range(256))


def _varied_ascii(lower: str, min_words: int) -> bool:
    """`repeated_unit`'s first test, that most words differ, on ASCII text without the regex
    (bytes.translate and split are C loops: 40 -> 22 µs on a 1,300-character answer)."""
    words = [w for w in lower.encode("ascii").translate(_ASCII_WORD_BYTES).split() if len(w) > 1]
    return len(words) >= min_words and len(set(words)) > 0.5 * len(words)


def repeated_unit(text: str, min_words: int, max_distinct_ratio: float, lower: str | None = None) -> str | None:
    """The phrase a degenerate response repeats, or None for a normal one (`lower`: text.lower(), when known)."""
    lower = text.lower() if lower is None else lower
    if lower.isascii() and _varied_ascii(lower, min_words):
        return None
    words = _WORD.findall(lower)  # \w\w+: a melody "C D D D" is not a loop
    if len(words) < min_words:  # unspaced loops ('hahaha...', CJK) have few words: their period shows it
        return _unspaced_loop(text.strip(), min_words)
    if len(set(words)) > 0.5 * len(words):  # cheap test first
        return None
    trigrams = Counter(zip(words, words[1:], words[2:]))
    if len(trigrams) > max_distinct_ratio * (len(words) - 2):
        return None
    stripped = text.strip()
    period = (stripped + stripped).find(stripped, 1)  # exact repetition: the shortest period
    if 0 < period < len(stripped):
        return f"{stripped[:period][:60]!r} x{len(stripped) // period}"
    top = " ".join(trigrams.most_common(1)[0][0])
    return f"{top!r} and {len(trigrams) - 1} other word 3-grams over {len(words)} words"
