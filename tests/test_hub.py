"""Hub datasets by name, through the real `datasets` client and no network.

The cache is written the way `datasets` itself writes it after a load of `org/name` (a packaged
Json builder whose repo id is `org/name`, prepared into `org___name/default/0.0.0/<hash>`), and
then read by `datasets.load_dataset("org/name")` offline: with datasets 5.x a bare
huggingface_hub snapshot folder is not read offline, only this cache of a previous load.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.dataset.hub import is_hub_name
from tests.conftest import chat, write_jsonl

CHECKS = ["size", "format", "exact_duplicates", "near_duplicates", "conflicting_labels", "leakage",
          "content"]


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A datasets cache in tmp_path, offline, with the Hub endpoint pointed at a closed port."""
    import datasets
    import huggingface_hub

    cache = tmp_path / "hf-datasets"
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"),
                        ("HF_ENDPOINT", "http://127.0.0.1:9"), ("HF_DATASETS_CACHE", str(cache))):
        monkeypatch.setenv(name, value)
    # datasets and huggingface_hub read these at import: set the live values too
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    return cache


def cache_hub_dataset(cache: Path, repo_id: str, files: dict[str, Path], hash: str = "0123456789abcdef") -> None:
    """Prepare `repo_id` in the cache as a previous `load_dataset(repo_id)` would have left it."""
    from datasets.packaged_modules.json.json import Json

    builder = Json(cache_dir=str(cache), dataset_name=repo_id.split("/")[1], config_name="default",
                   config_id="default", hash=hash,
                   data_files={split: str(path) for split, path in files.items()})
    builder.repo_id = repo_id  # the data files are local, so the id is set after the check on them
    builder._cache_dir = builder._build_cache_dir()
    builder.download_and_prepare()


def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A small chat set with an exact duplicate pair, and an eval split that leaks one record."""
    train = [chat(f"Question {i} about topic {i * 7 % 11}?", f"Answer {i}: it depends on {i % 5}.")
             for i in range(40)]
    train.append(train[3])
    evals = [chat(f"Held-out question {i}?", f"Held-out answer {i}.") for i in range(9)] + [train[10]]
    return train, evals


@pytest.fixture
def acme_tiny(tmp_path: Path, hub_cache: Path) -> tuple[Path, Path]:
    train, evals = rows()
    files = {"train": write_jsonl(tmp_path / "train.jsonl", train),
             "test": write_jsonl(tmp_path / "test.jsonl", evals)}
    cache_hub_dataset(hub_cache, "acme/tiny", files)
    return files["train"], files["test"]


def test_hub_name_audits_offline_like_the_same_rows_from_files(acme_tiny: tuple[Path, Path]) -> None:
    train, test = acme_tiny
    by_name = fineaudit.audit("acme/tiny", only=CHECKS)
    by_files = fineaudit.audit(str(train), eval=str(test), only=CHECKS)
    assert by_name.dataset.path == "acme/tiny" and by_name.dataset.records == 41
    assert list(by_name.checks) == list(by_files.checks) == CHECKS
    for name in CHECKS:
        assert by_name.checks[name].status == by_files.checks[name].status, name
        assert by_name.checks[name].metrics == by_files.checks[name].metrics, name
    # the test split played the eval role: its leaked record and the duplicate pair are seen
    assert by_name.checks["leakage"].metrics["leaked_records"] == 1
    assert by_name.checks["exact_duplicates"].metrics["duplicate_records"] == 1
    assert (by_name.verdict, by_name.score) == (by_files.verdict, by_files.score)


def test_cli_audits_a_hub_name_and_one_split(acme_tiny: tuple[Path, Path], run_cli: Any) -> None:
    result = run_cli("audit", "acme/tiny", "--only", "size,leakage", "--json", "all.json", "-q")
    report = json.loads(Path("all.json").read_text())
    assert result.exit_code == (0 if report["verdict"] == "pass" else 1), result.stderr
    assert report["dataset"]["path"] == "acme/tiny" and report["dataset"]["records"] == 41
    assert report["inputs"]["eval"]["records"] == 10

    result = run_cli("audit", "acme/tiny", "--split", "test", "--only", "size,leakage", "--json", "test.json")
    report = json.loads(Path("test.json").read_text())
    assert report["dataset"]["records"] == 10 and report["inputs"]["eval"] is None, result.stderr
    assert {c["name"]: c["status"] for c in report["checks"]}["leakage"] == "skipped"


@pytest.mark.parametrize("args, named", [
    (["acme/missing"], "acme/missing"),
    (["acme/tiny", "--config-name", "nope"], "acme/tiny"),
    (["acme/tiny", "--split", "nope"], "acme/tiny"),
])
def test_a_dataset_neither_cached_nor_reachable_is_exit_2_naming_it(
        acme_tiny: tuple[Path, Path], run_cli: Any, args: list[str], named: str) -> None:
    result = run_cli("audit", *args, "--only", "size")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_the_missing_message_says_offline_and_cache(hub_cache: Path, run_cli: Any) -> None:
    result = run_cli("audit", "acme/missing")
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr and "local datasets cache" in result.stderr
    assert hub_cache.name in result.stderr and "nor reachable on the Hub" in result.stderr


def test_a_hub_dataset_is_never_served_from_the_result_cache(acme_tiny: tuple[Path, Path], tmp_path: Path,
                                                            run_cli: Any) -> None:
    """The result cache keys files by their bytes; a Hub name has none here, so a newer copy of
    the dataset (a later load, newest in the datasets cache) must be audited, not the old report."""
    first = run_cli("audit", "acme/tiny", "--only", "size", "--json", "first.json")
    newer = write_jsonl(tmp_path / "newer.jsonl", [chat(f"q{i}?", f"a{i}.") for i in range(5)])
    cache_hub_dataset(tmp_path / "hf-datasets", "acme/tiny", {"train": newer}, hash="fedcba9876543210")
    second = run_cli("audit", "acme/tiny", "--only", "size", "--json", "second.json")
    assert json.loads(Path("first.json").read_text())["dataset"]["records"] == 41, first.stderr
    assert json.loads(Path("second.json").read_text())["dataset"]["records"] == 5, second.stderr
    assert "cached" not in second.stdout


def test_a_local_path_wins_over_the_hub_name(acme_tiny: tuple[Path, Path], run_cli: Any) -> None:
    Path("acme/tiny").mkdir(parents=True)  # a folder of shards called like the Hub dataset
    write_jsonl(Path("acme/tiny/part-0.jsonl"), [chat("local?", "yes, local.")] * 3)
    report = fineaudit.audit("acme/tiny", only=["size"])
    assert report.dataset.records == 3


def test_hub_options_on_a_local_file_are_exit_2(tmp_path: Path, run_cli: Any) -> None:
    write_jsonl(tmp_path / "train.jsonl", [chat("a?", "b.")])
    result = run_cli("audit", str(tmp_path / "train.jsonl"), "--split", "train")
    assert result.exit_code == 2 and "--split" in result.stderr


@pytest.mark.parametrize("name, hub", [
    ("org/name", True),
    ("HuggingFaceH4/ultrachat_200k", True),
    ("org/data.v2", True),
    ("data/train.jsonl", False),        # a missing data file stays a missing file
    ("data/train.jsonl.gz", False),
    ("data/train-*.jsonl", False),      # a glob
    ("name", False),                    # one part: a missing local file, not a Hub guess
    ("a/b/c", False),
    ("../secret", False),
    ("/abs/path", False),
])
def test_what_counts_as_a_hub_name(name: str, hub: bool) -> None:
    assert is_hub_name(name) is hub


def test_an_existing_path_is_never_a_hub_name(tmp_path: Path) -> None:
    Path("org").mkdir()
    Path("org/name").write_text("{}\n")
    assert not is_hub_name("org/name")
