"""The result cache: keyed by content, config and code; a damaged entry is a miss, not an error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import fineaudit
from fineaudit.audit import resolve_config
from fineaudit.commands.result_cache import ResultCache, default_cache_dir, report_from_dict
from tests.conftest import chat, write_jsonl


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", [chat(f"question {i}", f"answer {i}") for i in range(20)]
                       + ["{not json"])


def test_same_inputs_same_key(data: Path) -> None:
    cache = ResultCache(Path("c"))
    assert cache.key(str(data), resolve_config()) == cache.key(str(data), resolve_config())


@pytest.mark.parametrize("change", ["content", "config", "only", "eval"])
def test_anything_the_report_depends_on_changes_the_key(data: Path, change: str) -> None:
    cache, config = ResultCache(Path("c")), resolve_config()
    before = cache.key(str(data), config)
    if change == "content":
        data.write_text(data.read_text() + json.dumps(chat("one", "more")) + "\n")
        after = cache.key(str(data), config)
    elif change == "config":
        after = cache.key(str(data), resolve_config(settings=["size.min_records=5"]))
    elif change == "only":
        after = cache.key(str(data), config, only=["size"])
    else:
        after = cache.key(str(data), config, eval=str(data))
    assert after != before


def test_round_trip_gives_the_same_report(data: Path, tmp_path: Path) -> None:
    report = fineaudit.audit(str(data))
    cache = ResultCache(tmp_path / "cache")
    cache.put("k", report)
    served = cache.get("k")
    assert served is not None and served.to_dict() == report.to_dict() and served.fail_on == report.fail_on
    assert (tmp_path / "cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    (tmp_path / "k.json").write_text('{"report": {"dataset"')
    assert cache.get("k") is None and cache.get("absent") is None


def test_report_from_dict_restores_types(data: Path) -> None:
    report = fineaudit.audit(str(data))
    restored = report_from_dict(json.loads(report.to_json()))
    assert restored.checks["format"].findings == report.checks["format"].findings
    assert restored.checks["format"].status is report.checks["format"].status


def test_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "data").mkdir()
    assert default_cache_dir(tmp_path / "repo" / "data") == (tmp_path / "repo" / ".fineaudit_cache").resolve()
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir(tmp_path / "repo") == tmp_path / "elsewhere"
