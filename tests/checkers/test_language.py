"""The language check and its identification wrapper: small cases, offline guard, real data."""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.text import language_id
from fineaudit.checkers.language import LanguageParams
from fineaudit.core import CheckResult, Status
from tests.conftest import chat, real_file, write_jsonl

LINGUA_LANGUAGES = ("ar", "de", "en", "es", "fa", "fr", "hi", "id", "it", "ja", "ko", "nl", "pl", "pt",
                    "ru", "sv", "tr", "uk", "vi", "zh")


@pytest.mark.parametrize("text, expected", [
    ("The weather was lovely, and we walked to the harbour for lunch.", "en"),
    ("Der Himmel ist heute sehr blau und die Sonne scheint.", "de"),
    ("El perro corre por el parque todos los días con su dueño.", "es"),
    ("Nous avons mangé une très bonne soupe hier soir.", "fr"),
    ("Eu gosto muito de ler livros antes de dormir.", "pt"),
    ("Я люблю читать книги по вечерам.", "ru"),
    ("我喜欢在周末和朋友一起去公园散步。", "zh"),
    ("今日はとても良い天気ですね。", "ja"),
    ("오늘 날씨가 정말 좋네요.", "ko"),
    ("ok", "und"),  # too short to judge
    ("42", "und"),
    ("```python\nprint('hello world and more code here')\n```", "und"),  # code is no language
    ("https://example.com/path/to/page", "und"),
    ("Übersetze bitte: https://example.com/a ```x = 1``` Wie geht es dir heute, mein Freund?", "de"),
])
def test_identify(text: str, expected: str) -> None:
    assert language_id.identify(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('[{"id": "call_id", "type": "function"}]', ""),
    ('{\n  "capitale": "Paris"\n}', ""),
    ('Je vérifie.\n[{"id": "c", "function": {"name": "f"}}]', "Je vérifie."),
    ("[1] Smith et al. found it.\n{name} is a placeholder", "[1] Smith et al. found it.\n{name} is a placeholder"),
    ("plain prose, no brackets", "plain prose, no brackets"),
    ("[" * 100000, "[" * 100000),  # nesting past the parser's stack is not JSON, and not an error
])
def test_without_structured(text: str, expected: str) -> None:
    assert language_id.without_structured(text) == expected


def test_identification_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled model only: a download attempt would fail here instead of passing unseen."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("language identification tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    language_id._model.cache_clear()  # load the model again, with sockets blocked
    try:
        assert language_id.identify("Dies ist ein ganz normaler deutscher Satz ohne Besonderheiten.") == "de"
        assert language_id.by_model("esto es una frase bastante corta")[0] == "es"
    finally:
        language_id._model.cache_clear()


def lingua_accuracy(kind: str) -> float:
    right = total = 0
    for code in LINGUA_LANGUAGES:
        lines = real_file(f"lingua_testdata/{kind}/{code}.txt").read_text(encoding="utf-8").splitlines()
        found = language_id.identify_many(line for line in lines if line.strip())
        right += sum(1 for f in found if f == code)
        total += len(found)
    return right / total


@pytest.mark.parametrize("kind, at_least", [("sentences", 0.98), ("word-pairs", 0.80)])
def test_lingua_accuracy(kind: str, at_least: float) -> None:
    assert lingua_accuracy(kind) >= at_least


def language_of(data: Any, **kwargs: Any) -> CheckResult:
    return fineaudit.audit(data, only=["language"], **kwargs).checks["language"]


ENGLISH = [("Write a short poem about the sea and the wind that blows over it.",
            "The waves roll in, the wind is cold, and the gulls cry over the grey water."),
           ("Explain how a bicycle stays upright when it is moving.",
            "A moving bicycle is steadied by the rider's steering and by the geometry of the fork."),
           ("What is the capital of France and why is it famous?",
            "Paris is the capital of France; it is known for its museums, food and history.")]
GERMAN = ("Schreibe ein kurzes Gedicht über den Herbst im Wald.",
          "Die Blätter fallen leise, der Wind weht kühl durch die Bäume.")


def test_minority_records_are_listed_exactly(tmp_path: Path) -> None:
    records = [chat(*ENGLISH[i % 3]) for i in range(30)]
    for at in (4, 17):
        records[at] = chat(*GERMAN)
    result = language_of(write_jsonl(tmp_path / "d.jsonl", records))
    assert result.status is Status.WARN
    assert result.metrics["dominant_language"] == "en"
    assert result.metrics["minority_records"] == 2
    minority = [f for f in result.findings if f.code == "language.minority"]
    assert [f.records for f in minority] == [(4, 17)] and "'de'" in minority[0].message


def test_expected_languages_are_not_a_minority(tmp_path: Path) -> None:
    records = [chat(*ENGLISH[i % 3]) for i in range(30)] + [chat(*GERMAN)]
    result = language_of(write_jsonl(tmp_path / "d.jsonl", records),
                         settings=["language.expected_languages=en,de"])
    assert result.status is Status.PASS and result.metrics["minority_records"] == 0


def test_prompt_answered_in_another_language_is_a_mismatch(tmp_path: Path) -> None:
    records = [chat(*ENGLISH[i % 3]) for i in range(10)]
    records[3] = chat(ENGLISH[0][0], GERMAN[1])
    result = language_of(write_jsonl(tmp_path / "d.jsonl", records))
    mismatch = [f for f in result.findings if f.code == "language.mismatch"]
    assert result.metrics["mismatched_records"] == 1 and mismatch[0].records == (3,)
    assert result.metrics["response_languages"]["de"] == pytest.approx(0.1)
    assert result.status is Status.WARN  # 10% is above warn_mismatch_fraction


def _tool_call_turn(name: str, arguments: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    calls = [{"id": "call_id", "type": "function",
              "function": {"name": name, "arguments": json.dumps(arguments)}}]
    return {"role": "assistant", "content": content, "tool_calls": calls}


ASK = ENGLISH[0][0]
PARIS = "Paris est la capitale de la France ; elle est célèbre pour ses musées et sa cuisine."


@pytest.mark.parametrize("answer, mismatched", [
    # structured answers are no language: tool calls and JSON, however the layout carries them
    ({"messages": [{"role": "user", "content": ASK},
                   _tool_call_turn("land_drone", {"location": "current"})]}, False),
    ({"messages": [{"role": "user", "content": ASK},
                   _tool_call_turn("set_drone_lighting", {"mode": "on", "couleur": "rouge"})]}, False),
    ({"conversations": [{"from": "human", "value": ASK}, {"from": "function_call",
      "value": '{"name": "get_capital", "arguments": {"country": "France", "langue": "français"}}'}]}, False),
    (chat(ASK, '{\n  "capitale": "Paris",\n  "pays": "France",\n  "monnaie": "euro"\n}'), False),
    (chat(ASK, '[{"ville": "Paris", "pays": "France"}, {"ville": "Lyon", "pays": "France"}]'), False),
    # prose in another language is still a mismatch, beside a call or alone
    (chat(ASK, PARIS), True),
    ({"messages": [{"role": "user", "content": ASK},
                   _tool_call_turn("get_capital", {"country": "France"}, content=PARIS)]}, True),
    (chat(ASK, "[Remarque] " + PARIS), True),  # a bracket opening prose is no JSON
])
def test_structured_answers_are_no_language(tmp_path: Path, answer: dict[str, Any], mismatched: bool) -> None:
    records = [chat(*ENGLISH[i % 3]) for i in range(9)] + [answer]
    result = language_of(write_jsonl(tmp_path / "d.jsonl", records))
    assert (result.metrics["mismatched_records"] == 1) is mismatched, result.summary
    assert result.metrics["response_languages"].get("fr", 0.0) == (pytest.approx(0.1) if mismatched else 0.0)


def test_drone_tool_calls_are_no_french() -> None:
    """openai_cookbook/drone_training.jsonl: every answer is a tool call; 40 read as French."""
    result = language_of(real_file("openai_cookbook/drone_training.jsonl"))
    assert result.metrics["mismatched_records"] == 0
    assert set(result.metrics["response_languages"]) == {"und"}
    assert not [f for f in result.findings if f.code == "language.mismatch"]


def test_production_in_another_language_is_reported(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "t.jsonl", [chat(*ENGLISH[i % 3]) for i in range(30)])
    prod = write_jsonl(tmp_path / "p.jsonl", [{"prompt": GERMAN[0]}] * 10 + [{"prompt": ENGLISH[0][0]}] * 10)
    result = language_of(train, production=str(prod))
    assert result.metrics["production_languages"] == {"de": 0.5, "en": 0.5}
    assert result.metrics["production_language_shift"] == 0.5
    assert [f.code for f in result.findings] == ["language.production_shift"]


@pytest.mark.parametrize("setting", ["minority_share=1.5", "min_confidence=-0.1", "max_identified=0"])
def test_invalid_settings(setting: str) -> None:
    name, value = setting.split("=")
    with pytest.raises(ValueError):
        LanguageParams(**{name: float(value) if "." in value else int(value)})


def test_identification_on_a_sample_keeps_shares(tmp_path: Path) -> None:
    """Beyond max_identified, the model sees a seeded sample, weighted back to the whole."""
    records = [{"text": GERMAN[0]}] * 60 + [{"text": "Il fait très beau aujourd'hui à Paris."}] * 40
    whole = language_of(write_jsonl(tmp_path / "d.jsonl", records))
    sampled = language_of(tmp_path / "d.jsonl", settings=["language.max_identified=50"])
    assert whole.metrics["languages"] == {"de": 0.6, "fr": 0.4}
    assert sampled.metrics["identified_records"] < 100
    assert abs(sampled.metrics["languages"]["de"] - 0.6) < 0.15


def test_planted_german_and_spanish_in_alpaca(tmp_path: Path) -> None:
    """Precision and recall >= 0.95 on records of 5 words or more (the issue's figure)."""
    alpaca = json.loads(real_file("alpaca/alpaca_5000_original_sample.json").read_text(encoding="utf-8"))
    foreign = [line for code in ("de", "es")
               for line in real_file(f"lingua_testdata/sentences/{code}.txt").read_text(encoding="utf-8").splitlines()
               if len(line.split()) >= 5][::3]  # about 100 of each
    records: list[dict[str, str]] = list(alpaca)
    for k, sentence in enumerate(foreign):
        records.insert(25 * k + 7, {"instruction": sentence, "input": "", "output": foreign[(k + 1) % len(foreign)]})
    planted = {i for i, r in enumerate(records) if r["instruction"] in set(foreign)}
    assert len(planted) == len(foreign)
    path = tmp_path / "alpaca_planted.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    result = language_of(path)
    flagged = {i for f in result.findings if f.code == "language.minority" for i in f.records}
    long_enough = {i for i, r in enumerate(records) if len(f"{r['instruction']} {r['input']}".split()) >= 5}
    flagged &= long_enough
    true = len(flagged & planted)
    assert true / len(flagged) >= 0.95 and true / len(planted & long_enough) >= 0.95
