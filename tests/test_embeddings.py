"""Embeddings: the bundled model offline, local folders, the cache, the lexical fallback."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from fineaudit.vectors.embeddings import (DEFAULT_MODEL, LEXICAL_ID, EmbeddingCache, LexicalEmbedder,
                                  SentenceEmbedder, choose_embedder, default_cache_dir, embed,
                                  model_path, text_key)

TEXTS = ["How long should I bake rye bread?", "Rye bread baking time and temperature",
         "Which court hears tenancy disputes?"]


@pytest.mark.parametrize("name", [DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", ""])
def test_default_names_resolve_to_the_bundled_folder(name: str) -> None:
    assert (model_path(name) / "modules.json").is_file()


def test_a_name_that_is_not_a_local_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never downloaded"):
        model_path(str(tmp_path / "BAAI-bge-small"))


@pytest.mark.parametrize("ctx_dir, env, expected", [
    ("/ctx", "/env", "/ctx/embeddings"),
    (None, "/env", "/env/embeddings"),
])
def test_cache_dir_precedence(ctx_dir: str | None, env: str, expected: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", env)
    assert default_cache_dir(Path(ctx_dir) if ctx_dir else None) == Path(expected)


def test_cache_dir_defaults_to_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINEAUDIT_CACHE_DIR", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "fineaudit" / "embeddings"


def test_text_key_depends_on_model_and_text() -> None:
    keys = {text_key(m, t) for m in ("a", "b") for t in ("x", "y")}
    assert len(keys) == 4 and text_key("a", "x") == text_key("a", "x")


def test_lexical_rows_are_normalised_deterministic_and_meaningful() -> None:
    x = LexicalEmbedder().encode(TEXTS)
    assert x.dtype == np.float32 and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    assert np.array_equal(x, LexicalEmbedder().encode(TEXTS))
    assert x[0] @ x[1] > x[0] @ x[2]  # shared words and n-grams bring texts together


def test_fallback_without_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    choice = choose_embedder(DEFAULT_MODEL)
    assert choice.embedder.model_id == LEXICAL_ID and "pip install" in choice.note


def test_cache_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    cache.put([b"k1", b"k2"], vectors)
    found = cache.get([b"k2", b"missing"])
    assert list(found) == [b"k2"] and np.array_equal(found[b"k2"], vectors[1])


@pytest.mark.slow
def test_bundled_model_loads_offline_and_the_cache_makes_reruns_free(tmp_path: Path) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # set for every test by conftest
    cache = EmbeddingCache(tmp_path)
    cold, stats = embed(SentenceEmbedder(DEFAULT_MODEL), TEXTS, cache)
    assert cold.shape == (3, 384) and stats.cached == 0
    assert cold[0] @ cold[1] > cold[0] @ cold[2] + 0.3  # bread questions sit together
    fresh = SentenceEmbedder(DEFAULT_MODEL)
    warm, stats = embed(fresh, TEXTS, cache)
    assert stats.cached == 3 and np.array_equal(cold, warm)
    assert fresh._model is None  # a warm run never loads the model


@pytest.mark.slow
def test_a_local_folder_is_its_own_cache_namespace(tmp_path: Path) -> None:
    import shutil

    folder = shutil.copytree(model_path(DEFAULT_MODEL), tmp_path / "my-model")
    local = SentenceEmbedder(str(folder), max_tokens=64)
    assert local.name == str(folder.resolve()) and local.model_id != SentenceEmbedder(DEFAULT_MODEL).model_id
    assert local.encode(TEXTS[:1]).shape == (1, 384)


def test_weights_overwritten_in_place_change_the_cache_namespace(tmp_path: Path) -> None:
    import shutil

    folder = shutil.copytree(model_path(DEFAULT_MODEL), tmp_path / "my-model")
    before = SentenceEmbedder(str(folder)).model_id
    weights = next(folder.rglob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data)  # same size, new weights as far as anyone can tell without hashing
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000_000))
    assert SentenceEmbedder(str(folder)).model_id != before


def test_a_model_that_is_not_a_local_folder_is_a_config_error(run_cli, tmp_path: Path) -> None:
    result = run_cli("audit", "sample_data/train.jsonl", "--production", "sample_data/production.jsonl",
                     "--set", "drift.embedding_model=BAAI/bge-small-en")
    assert result.exit_code == 2 and "never downloaded" in result.stderr
