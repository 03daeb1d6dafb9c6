"""Token counting: OpenAI encodings offline, local tokenizer.json files, and bad specs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from fineaudit.audit import resolve_config
from fineaudit.core import ConfigError
from fineaudit.text.token_counting import DEFAULT_TOKENIZER, TokenizerSpecError, count_tokens, resolve_spec

TEXTS = ["Hello world!", "", "Fine-tuning data, audited before training.", "naïve café ünïcödé 🙂",
         "tokens tokens tokens"]


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Tokenizer]:
    """A small BPE trained here (no download), saved with truncation on to prove it is ignored."""
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(TEXTS * 20 + ["the quick brown fox jumps over the lazy dog"] * 20, trainer)
    folder = tmp_path_factory.mktemp("tok")
    reference = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.enable_truncation(max_length=3)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder, reference


@pytest.mark.parametrize("as_folder", [False, True])
def test_tokenizer_json_counts_equal_the_tokenizers_library(tiny_tokenizer: tuple[Path, Tokenizer],
                                                            as_folder: bool) -> None:
    folder, reference = tiny_tokenizer
    spec = str(folder if as_folder else folder / "tokenizer.json")
    expected = [len(reference.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    assert count_tokens(spec, TEXTS) == expected
    assert max(expected) > 3  # the saved truncation would have capped these


@pytest.mark.parametrize("spec, text, tokens", [
    ("cl100k_base", "hello world", 2),
    ("o200k_base", "hello world", 2),
    ("default", "hello world", 2),
    ("cl100k_base", "<|endoftext|>", 7),  # special-token text in data is counted as text
    ("cl100k_base", "", 0),
])
def test_openai_encodings_count_offline(spec: str, text: str, tokens: int) -> None:
    assert count_tokens(spec, [text]) == [tokens]


def test_default_is_a_real_bpe_not_a_word_count() -> None:
    assert resolve_spec("") == resolve_spec("default") == DEFAULT_TOKENIZER
    assert count_tokens("", ["antidisestablishmentarianism"])[0] > 1


def test_very_long_text_is_counted_exactly_in_pieces() -> None:
    import bpe_openai

    text = "lorem ipsum dolor sit amet, " * 8000  # 224,000 characters: counted in pieces
    whole = len(bpe_openai.get_encoding("cl100k_base").encode_ordinary(text))
    assert count_tokens("cl100k_base", [text]) == [whole]


@pytest.mark.parametrize("spec", ["cl100k_base", "o200k_base"])
def test_counts_equal_the_public_encode_ordinary(spec: str) -> None:
    import bpe_openai

    encoding = bpe_openai.get_encoding(spec)
    texts = [*TEXTS, "lone surrogate \ud800 here", "x" * 60_000]
    assert count_tokens(spec, texts) == [len(encoding.encode_ordinary(t)) for t in texts]


# In a fresh interpreter, as in a worker: count, note what was imported, then import the
# bpe_openai package after all and count with its public API in the same process.
_FRESH_PROCESS = """
import json, sys
from fineaudit.text.token_counting import count_tokens
counts = count_tokens(SPEC, TEXTS)
loaded = sorted(m for m in sys.modules if m.startswith("bpe_openai"))
import bpe_openai
public = [len(bpe_openai.get_encoding(SPEC).encode_ordinary(t)) for t in TEXTS]
print(json.dumps({"counts": counts, "public": public, "loaded": loaded}))
"""


@pytest.mark.parametrize("spec", ["cl100k_base", "o200k_base"])
def test_a_process_loads_only_the_extension_and_the_package_still_imports_after(spec: str) -> None:
    code = _FRESH_PROCESS.replace("SPEC", repr(spec)).replace("TEXTS", repr(TEXTS))
    out = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                    text=True).stdout)
    # the package's __init__ (compat) parses all three vocabularies; counting needs none of it
    assert out["loaded"] == ["bpe_openai._bindings"]
    assert out["counts"] == out["public"]
    assert max(out["counts"]) > 1


@pytest.mark.parametrize("spec", ["gpt2-medium", "meta-llama/Llama-3-8B", "missing/tokenizer.json"])
def test_unknown_spec_is_an_error_naming_the_choices(spec: str) -> None:
    with pytest.raises(TokenizerSpecError, match="cl100k_base"):
        resolve_spec(spec)


def test_bad_tokenizer_is_a_config_error_before_data_is_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tokenizer"):
        resolve_config(None, ["length.tokenizer=no-such-tokenizer"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="save_pretrained"):
        resolve_config(None, [f"length.tokenizer={tmp_path / 'empty'}"])
