"""The content check: one table of small cases per kind, then the corpus, real data and reports."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.checkers.content import ContentChecker, ContentParams, scan_text
from fineaudit.text.content_patterns import mask
from fineaudit.core import CheckResult
from tests.conftest import real_file, chat, write_jsonl

OPENAI_KEY = "sk-" + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def codes(text: str, role: str = "response") -> set[str]:
    return {code for code, _ in scan_text(text, role, ContentParams())}


@pytest.mark.parametrize("text, expected", [
    (f"use key={OPENAI_KEY} here", "content.openai_key"),
    (f"aws_access_key_id = {AWS_KEY}", "content.aws_key"),
    (f"export GH_TOKEN={GITHUB}", "content.github_token"),
    ("SLACK=xoxb-123456789012-abcdefghijkl", "content.slack_token"),
    ("maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "content.google_api_key"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow...", "content.private_key"),
    (f"Authorization: Bearer {JWT}", "content.jwt"),
    ('api_key = "a8F3kL9qZ2xW7vB1nM4p"', "content.credential"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "content.credential"),  # prefixed names
    ("DB_PASSWORD=Tr0ub4dor3xKq9Lm2Zp", "content.credential"),
    ('password="Xk9$mQ2!vL7#pR4@"', "content.credential"),  # quoted, with symbols
    ("Authorization: Bearer 8fK2mQ9xL4vN7pR1sT3wY6zB", "content.credential"),
    ("postgres://admin:S3cr3tPassw0rd@db.internal:5432/app", "content.credential"),
    ("HF_TOKEN hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "content.huggingface_token"),
    ("stripe sk_live_51H8xYzAbCdEfGhIjKlMnOpQr", "content.stripe_key"),
    ("xapp-1-A0123456789-1234567890123-abcdef", "content.slack_token"),
])
def test_secret_is_found(text: str, expected: str) -> None:
    assert expected in codes(text)


@pytest.mark.parametrize("text", [
    "the task-force met at sk-level",  # 'sk-' inside words
    "use sk-learn-compatible-estimators-everywhere",  # no digit: a hyphenated word
    "token = 550e8400-e29b-41d4-a716-446655440000",  # a UUID names a thing, it unlocks nothing
    "secret_commit = 3f786850e387550fdab836ed7e6dc881de23001b",  # a git SHA
    "password: correcthorsebatterystaple",  # a word, low entropy, no digit
    "pwd = /home/user/projects/app2/src",  # a path
    '{"username": "john_doe", "password": "mypassword123"}',  # a short example password in a code sample
    "secret: data/train-00001-of-00004.parquet",
    "clone https://user:pass@example.com or postgres://u:${DB_PASS}@db/app",  # stand-in passwords
    "![img](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk)",
])
def test_near_miss_is_not_a_secret(text: str) -> None:
    assert not {c for c in codes(text) if c in SECRET_CODES}


SECRET_CODES = {"content.openai_key", "content.aws_key", "content.github_token", "content.slack_token",
                "content.google_api_key", "content.huggingface_token", "content.stripe_key",
                "content.private_key", "content.jwt", "content.credential"}


@pytest.mark.parametrize("text, expected", [
    ("Write to jane.roe@example.com today.", {"content.email"}),
    ("The regex matches user@example.com but not user@", {"content.email"}),  # an example is still an e-mail
    ("the icon@2x.png asset", set()),
    ("Call +44 20 7946 0958 after nine", {"content.phone"}),
    ("call (415) 555-2671 now", {"content.phone"}),
    ("count 1 2 3 4 5 6 7 8 9 10", set()),
    ("pi is 3.14159265359", set()),
    ("card 4111 1111 1111 1111 exp 12/29", {"content.credit_card"}),
    ("card 4111 1111 1111 1112", set()),  # fails Luhn
    ("the area is 50.26548245743669 cm", set()),  # decimals, not a card
    ("server at 81.2.69.160 logged it", {"content.ip_address"}),
    ("router 192.168.1.1 and docs 203.0.113.5", set()),  # private and documentation ranges
    ("see section 1.7.7.3", set()),
    ("the host 2a00:1450:4001:81c::200e answered", {"content.ip_address"}),
    ("full form 2606:4700:4700:0000:0000:0000:0000:1111.", {"content.ip_address"}),
    ("docs use 2001:db8::1 and fe80::1ff:fe23:4567:890a", set()),  # documentation and link-local
    ("at 12:30:45 use std::vector<int> and a[1::2]", set()),  # times, C++ and slices
    ("mac 00:1a:2b:3c:4d:5e", set()),
    ("see §15.12.2.7 and Version 3.10.12.1", set()),  # section and version numbers
    ("clone git@github.com:org/repo.git or deploy@build.example.com:apps/web.git", set()),  # repositories
    ("combo john.doe@acme.com:hunter2", {"content.email"}),  # a leaked login, not a repository
    ("every tenth row: rows[2000::10]", set()),  # a slice, not an IPv6 address
    ("mail jane@example.com: now", {"content.email"}),
])
def test_pii(text: str, expected: set[str]) -> None:
    assert {c for c in codes(text) if c in PII_CODES} == expected


@pytest.mark.parametrize("text, is_card", [
    # real cards: contiguous, or in the groups issuers print (4-4-4-4, 4-4-4-4-3, Amex 4-6-5)
    ("card 4111111111111111 on file", True),
    ("card 4111-1111-1111-1111 on file", True),
    ("Visa 4111 1111 1111 1111, exp 12/29", True),
    ("amex 3782 822463 10005 please", True),
    ("Mastercard 5555555555554444", True),
    ("charge 2 items to 4111 1111 1111 1111", True),  # a number elsewhere in the sentence is no sum
    ("paid = 4111111111111111", True),  # '=' after a word is an assignment, not a result
    ("cards on file:\n- 4111 1111 1111 1111\n- 5555555555554444", True),  # list bullets, not minus signs
    # arithmetic: a digit run joined to an operator, or in a calculation (dpo_en_demo records 13, 80)
    ("Provide a step-by-step calculation for 355909190063-746. equations/math only", False),
    ("256626720691 + 1646615806005 =\n\nThe result is:\n\n4212883012996", False),
    ("4212883012996 - 17 = 4212883012979", False),
    ("What is 4212883012996 * 3?", False),
    ("Calculate 4212883012996 divided by 2.", False),
    ("x = 12 × 351062751083 = 4212883012996", False),
    ("4111-1111-111-11111 is no printed grouping", False),  # dashes at odd places: a range or sum
])
def test_card_numbers_and_arithmetic(text: str, is_card: bool) -> None:
    assert ("content.credit_card" in codes(text)) is is_card


PII_CODES = {"content.email", "content.phone", "content.credit_card", "content.ip_address"}


@pytest.mark.parametrize("text, role, expected", [
    ("As an AI language model, I have no opinions.", "response", {"content.ai_disclaimer"}),
    ("I\u2019m sorry, but I can\u2019t help with that.", "response", {"content.refusal"}),
    ("I cannot assist with hacking.", "response", {"content.refusal"}),
    ("I can't help with that.", "response", {"content.refusal"}),
    ("I'm sorry, I can't do that.", "response", {"content.refusal"}),
    ("As an AI language model, what do you think?", "prompt", set()),  # the user may say it
    ("I'm sorry to hear that. Try resting.", "response", set()),
    ("The model cannot fly.", "response", set()),
])
def test_boilerplate(text: str, role: str, expected: set[str]) -> None:
    assert {c for c in codes(text, role) if c in ("content.ai_disclaimer", "content.refusal")} == expected


@pytest.mark.parametrize("text, role, expected", [
    ("caf\ufffd au lait", "response", {"content.replacement_char"}),
    ("cafÃ© and dÃ©jÃ  vu", "response", {"content.mojibake"}),
    ("Itâ€™s broken", "response", {"content.mojibake"}),
    ("naïve café, It’s fine", "response", set()),
    ("bell\x07 rang", "response", {"content.control_chars"}),
    ("Tom &amp; Jerry", "response", {"content.escape_sequence"}),
    ("caf\\u00e9 is open", "response", {"content.escape_sequence"}),
    ("line one\\nline two\\nline three", "response", {"content.escape_sequence"}),
    ("s = 'a\\nb\\nc'", "prompt", set()),  # a quoted string of code in a prompt
    ("```\nprint('caf\\u00e9 &amp;')\n```", "response", set()),  # code may escape
])
def test_encoding(text: str, role: str, expected: set[str]) -> None:
    encoding = {"content.replacement_char", "content.mojibake", "content.control_chars", "content.escape_sequence"}
    assert {c for c in codes(text, role) if c in encoding} == expected


@pytest.mark.parametrize("text, role, expected", [
    ("<noinput>", "prompt", {"content.placeholder"}),
    ("No input.", "prompt", {"content.placeholder"}),
    ("\\<noinput\\>", "prompt", {"content.placeholder"}),
    ("N/A", "response", {"content.placeholder"}),
    ("TODO", "response", {"content.placeholder"}),
    ("Na", "response", set()),  # sodium
    ("Hi, I am <NAME>, made by <AUTHOR>.", "response", {"content.template_placeholder"}),
    ("Hello {{user_name}}, welcome!", "response", {"content.template_placeholder"}),
    ("Best regards,\n[Your Name]", "response", {"content.template_placeholder"}),
    ("Use List<T> and <br> tags", "response", set()),
    ("Press <ENTER> to continue, or <CTRL>+C to stop.", "response", set()),  # keys, not blanks
    ("ha" * 200, "response", {"content.repetition"}),  # a loop without spaces
    ("好的" * 60, "response", {"content.repetition"}),
    ("hahaha, that is a good one.", "response", set()),
    ("=" * 60, "response", set()),  # a rule line is not a loop of a phrase
    ("In Jinja write `{{ name }}`.", "response", set()),
    ("", "response", {"content.empty_response"}),
    ("   ", "response", {"content.empty_response"}),
    ("...", "response", {"content.empty_response"}),
    ("2", "response", set()),
    ("", "prompt", set()),  # an empty input field is normal
    ("Eat a banana!" * 30, "response", {"content.repetition"}),
    ("the cat sat on the mat " * 8, "response", {"content.repetition"}),
    ("C D D D D D D D D D D E E C C C C C C C C", "response", set()),  # a melody
    ("A normal answer that explains the idea in a few plain words and stops.", "response", set()),
])
def test_placeholders_empty_and_repetition(text: str, role: str, expected: set[str]) -> None:
    kinds = {"content.placeholder", "content.template_placeholder", "content.empty_response", "content.repetition"}
    assert {c for c in codes(text, role) if c in kinds} == expected


def test_mask_never_shows_the_secret() -> None:
    shown = mask(OPENAI_KEY)
    assert shown == f"sk-a1…t0 ({len(OPENAI_KEY)} chars)" and OPENAI_KEY not in shown


def test_invalid_action_is_a_config_error(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("hi", "hello")])
    result = run_cli("audit", path, "--set", "content.pii=explode")
    assert result.exit_code == 2 and "pii" in result.stderr


def content_of(data: Any, **kwargs: Any) -> CheckResult:
    return fineaudit.audit(data, only=["content"], max_findings=0, **kwargs).checks["content"]


def test_secret_fails_and_pii_warns_by_default(tmp_path: Path) -> None:
    secret = write_jsonl(tmp_path / "s.jsonl", [chat("key?", f"it is {OPENAI_KEY}"), chat("hi", "hello.")])
    pii = write_jsonl(tmp_path / "p.jsonl", [chat("mail?", "jane@example.com"), chat("hi", "hello.")])
    assert content_of(secret).status.value == "fail"
    assert content_of(pii).status.value == "warn"
    assert content_of(secret, settings=["content.secrets=warn"]).status.value == "warn"
    relaxed = content_of(pii, settings=["content.max_pii_fraction=0.6"])
    assert relaxed.status.value == "pass" and relaxed.metrics["pii_records"] == 1


def test_a_key_in_tool_call_arguments_is_found(tmp_path: Path) -> None:
    call = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "fetch", "arguments": json.dumps({"url": "https://api.example.com", "api_key": OPENAI_KEY})}}]}
    rows = [{"messages": [{"role": "user", "content": "get it"}, call]}, chat("hi", "hello.")]
    result = content_of(write_jsonl(tmp_path / "d.jsonl", rows))
    assert result.status.value == "fail"
    assert [(f.code, f.field) for f in result.findings] == [("content.openai_key", "messages[1].tool_calls")]


def test_a_failing_secret_is_listed_before_earlier_warnings(tmp_path: Path) -> None:
    rows = [chat("mail?", f"write to jane{i}@example.com") for i in range(3)] + [chat("key?", f"use {AWS_KEY}")]
    result = content_of(write_jsonl(tmp_path / "d.jsonl", rows))
    assert result.status.value == "fail"
    assert [(f.code, f.records) for f in result.findings] == [
        ("content.aws_key", (3,))] + [("content.email", (i,)) for i in range(3)]


def test_no_full_secret_in_any_report(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    secrets = [OPENAI_KEY, AWS_KEY, GITHUB, JWT, "4111 1111 1111 1111"]
    records = [chat("what is the key?", f"Use {s} to log in.") for s in secrets] + [chat("hi", "hello.")] * 3
    path = write_jsonl(tmp_path / "d.jsonl", records)
    result = run_cli("audit", path, "--json", tmp_path / "r.json", "--markdown", tmp_path / "r.md",
                     "--max-findings", "0")
    report = json.loads((tmp_path / "r.json").read_text())
    content = next(c for c in report["checks"] if c["name"] == "content")
    assert content["status"] == "fail" and content["metrics"]["secret_records"] == 4
    for text in (result.stdout, result.stderr, (tmp_path / "r.json").read_text(), (tmp_path / "r.md").read_text()):
        for secret in secrets:
            assert secret not in text


def test_no_checker_quotes_a_full_secret(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """Duplicate excerpts, leakage, label conflicts and schema errors quote records: masked too."""
    leaky = f"Use {OPENAI_KEY} or AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY to log in."
    secrets = [OPENAI_KEY, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWS_KEY]
    rows = [chat("what is the key?", leaky)] * 3 + [chat("what is the key?", leaky + " Quickly.")]
    rows += [chat(f"question {i}", f"an ordinary answer number {i}.") for i in range(6)]
    rows.append(chat("price?", json.dumps({"name": "a", "price": AWS_KEY})))
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    labels = write_jsonl(tmp_path / "l.jsonl", [{"text": leaky, "label": "a"}, {"text": leaky, "label": "b"}])
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"price": {"type": "number"}}}))
    outputs = [tmp_path / name for name in ("r.json", "r.md", "r.html", "r.xml")]
    result = run_cli("audit", data, labels, "--eval", data, "--max-findings", "0",
                     "--set", f"format.output_schema={schema}", "--json", outputs[0], "--markdown", outputs[1],
                     "--html", outputs[2], "--junit", outputs[3])
    reports = json.loads(outputs[0].read_text())
    quoted = {c["name"] for r in reports for c in r["checks"] for f in c["findings"] if "sk-a1" in f["message"]}
    assert {"exact_duplicates", "near_duplicates", "leakage", "conflicting_labels"} <= quoted
    for text in [result.stdout, result.stderr] + [out.read_text() for out in outputs]:
        for secret in secrets:
            assert secret not in text


def test_a_secret_cut_by_an_excerpt_or_used_as_a_key_is_still_masked(tmp_path: Path) -> None:
    straddling = "x" * 70 + f" {AWS_KEY} tail"  # an 80-character excerpt would cut the key in half
    rows = [chat("q", straddling), chat("q", straddling), {"messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok."}], GITHUB: "1"}]
    report = fineaudit.audit(write_jsonl(tmp_path / "d.jsonl", rows), max_findings=0)
    text = report.to_json()
    assert AWS_KEY[:12] not in text and GITHUB[:12] not in text
    assert "AKIAI…" in text  # the duplicate finding still quotes the record, masked


# --------------------------------------------------------------------------- corpus and real data


def test_every_planted_email_key_and_empty_response_is_found(make_corpus: Callable[..., Any]) -> None:
    path, truth = make_corpus("--records", "2000", "--defects")
    # batches of 400: the scan runs in worker processes as it does on large data
    result = content_of(path, config={"batch_size": 400})
    found: dict[str, set[int]] = {}
    for f in result.findings:
        found.setdefault(f.code, set()).add(f.line)
    planted = truth["defects"]
    assert found["content.email"] == {i + 1 for i in planted["email"]}
    assert found["content.openai_key"] == {i + 1 for i in planted["api_key"]}
    assert {i + 1 for i in planted["empty_response"]} <= found["content.empty_response"]
    assert result.metrics["secret_records"] == len(planted["api_key"])
    assert result.status.value == "fail"


@pytest.fixture(scope="module")
def alpaca() -> CheckResult:
    return content_of(real_file("alpaca/alpaca_5000_original_sample.json"))


def test_alpaca_empty_outputs_and_no_input_placeholders(alpaca: CheckResult) -> None:
    empty = {f.records[0] for f in alpaca.findings if f.code == "content.empty_response"}
    assert empty == {2335, 4658}
    no_input = {f.records[0] for f in alpaca.findings if f.code == "content.placeholder" and f.field == "input"}
    assert {24, 93, 211, 1136, 1684, 2351, 2800} <= no_input and len(no_input) >= 50


def test_llama_factory_unfilled_name_placeholders() -> None:
    result = content_of(real_file("llama_factory_legacy/self_cognition.json"))
    named = [f for f in result.findings if f.code == "content.template_placeholder"]
    assert len(named) >= 70 and any("<NAME>" in f.message for f in named)


def test_cookbook_banana_repetition() -> None:
    result = content_of(real_file("openai_cookbook/toy_chat_fine_tuning.jsonl"))
    [finding] = [f for f in result.findings if f.code == "content.repetition"]
    assert finding.records == (4,) and finding.line == 5 and "Eat a banana!" in finding.message


# --------------------------------------------------------------------------- other languages


@pytest.mark.parametrize("text, expected", [
    ("作为一个人工智能语言模型，我没有个人观点。", {"content.ai_disclaimer"}),
    ("我是由OpenAI训练的大型语言模型。", {"content.ai_disclaimer"}),
    ("很抱歉，我无法提供这方面的信息。", {"content.refusal"}),
    ("Como modelo de lenguaje, no tengo opiniones personales.", {"content.ai_disclaimer"}),
    ("Lo siento, pero no puedo ayudarte con eso.", {"content.refusal"}),
    ("Als KI-Sprachmodell habe ich keine persönlichen Meinungen.", {"content.ai_disclaimer"}),
    ("Es tut mir leid, aber ich kann dabei nicht helfen.", {"content.refusal"}),
    ("En tant qu'IA, je n'ai pas d'opinions personnelles.", {"content.ai_disclaimer"}),
    ("Désolé, mais je ne peux pas faire cela.", {"content.refusal"}),
    ("AI言語モデルとして、個人的な意見は持っていません。", {"content.ai_disclaimer"}),
    ("申し訳ありませんが、お手伝いできません。", {"content.refusal"}),
    ("Как языковая модель, я не имею собственного мнения.", {"content.ai_disclaimer"}),
    ("Извините, но я не могу помочь с этим.", {"content.refusal"}),
    ("Como um modelo de linguagem, não tenho opiniões pessoais.", {"content.ai_disclaimer"}),
    ("Desculpe, mas não posso ajudar com isso.", {"content.refusal"}),
    # ordinary sentences about AI, or with the same words, are not boilerplate
    ("人工智能是计算机科学的一个分支。", set()),
    ("La IA generativa es una tecnología reciente. Como IA generativa se conoce...", set()),
    ("Die KI ist ein Werkzeug. Als KI bezeichnet man Systeme, die lernen.", set()),
    ("Ele saiu como ia fazer sempre.", set()),
    ("No puedo creer que sea verdad.", set()),
    ("Я не могу не согласиться с вами.", set()),
])
def test_multilingual_boilerplate(text: str, expected: set[str]) -> None:
    assert {c for c in codes(text) if c in ("content.ai_disclaimer", "content.refusal")} == expected


@pytest.mark.parametrize("text, expected", [
    ("他说：“你好”，然后离开了。", set()),
    ("他说：”è“是法语字母", set()),  # curly quotes beside a Latin-1 letter, in correct Chinese
    ("½“杯”水", set()),
    ("《红楼梦》是“四大名著”之一——曹雪芹著。", set()),
    ("「こんにちは」と彼は言った。", set()),
    ("你好 cafÃ© 世界", {"content.mojibake"}),  # real mojibake inside Chinese text is still found
    ("ä½ å¥½ï¼Œä¸–ç•Œ", {"content.mojibake"}),  # Chinese decoded as Latin-1
])
def test_cjk_typography_is_not_mojibake(text: str, expected: set[str]) -> None:
    assert {c for c in codes(text) if c == "content.mojibake"} == expected


def test_planted_chinese_spanish_german_self_identification(tmp_path: Path) -> None:
    clean = [chat(f"Question {i}: what is {i} plus {i}?", f"{i} plus {i} is {2 * i}.") for i in range(40)]
    planted = {5: chat("你是谁？", "我是一个由OpenAI开发的人工智能语言模型，很高兴为您服务。"),
               12: chat("¿Qué opinas?", "Como modelo de lenguaje, no tengo opiniones personales."),
               30: chat("Was denkst du?", "Als KI-Sprachmodell habe ich keine persönlichen Meinungen.")}
    for at, record in planted.items():
        clean[at] = record
    result = content_of(write_jsonl(tmp_path / "d.jsonl", clean))
    flagged = {i for f in result.findings if f.code == "content.ai_disclaimer" for i in f.records}
    assert flagged == set(planted) and result.metrics["boilerplate_records"] == 3


@pytest.mark.parametrize("settings, codes", [
    ({}, {"content.refusal"}),
    ({"intended_refusals": True}, set()),
])
def test_intended_refusals_are_a_setting(settings: dict[str, Any], codes: set[str]) -> None:
    from fineaudit.engines.memory import run_checker

    rows = [chat(f"quote for ticker ZZZ{i}", "I'm sorry, but I couldn't find that ticker.") for i in range(5)]
    found = {f.code for f in run_checker(ContentChecker, rows, **settings).findings}
    assert found & {"content.refusal"} == codes


@pytest.mark.parametrize("settings, flagged", [({}, False), ({"chosen_boilerplate": True}, True)])
def test_a_chosen_refusal_is_not_boilerplate_by_default(settings: dict[str, Any], flagged: bool) -> None:
    from fineaudit.engines.memory import run_checker

    rows = [{"prompt": f"how do I pick lock {i}?", "chosen": "I'm sorry, but I can't help with that.",
             "rejected": "Insert a tension wrench and rake the pins."} for i in range(5)]
    found = {f.code for f in run_checker(ContentChecker, rows, **settings).findings}
    assert bool(found & {"content.refusal", "content.ai_disclaimer"}) is flagged
