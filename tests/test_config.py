"""Config: discovery, validation before data is read, --set, and `init`."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fineaudit.audit import resolve_config
from fineaudit.config import find_config_file, load_config, parse_override, render_default_config
from fineaudit.core import ConfigError
from fineaudit.registry import load_checkers

CHECKERS = load_checkers()


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = load_config(CHECKERS)
    assert cfg.format == "auto" and cfg.fail_on == "fail" and cfg.path is None
    assert cfg.checks["size"].params.min_records == 100 and cfg.checks["size"].blocking


def test_fineaudit_toml_top_level_or_tool_table(tmp_path: Path) -> None:
    (tmp_path / "fineaudit.toml").write_text('format = "chat"\n[checks.size]\nmin_records = 5\n')
    assert load_config(CHECKERS).checks["size"].params.min_records == 5
    (tmp_path / "fineaudit.toml").write_text('[tool.fineaudit]\nfail_on = "warn"\n')
    assert load_config(CHECKERS).fail_on == "warn"


def test_pyproject_tool_table_as_in_the_contract(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.fineaudit]\nformat = "chat"\n'
        '[tool.fineaudit.checks.size]\nenabled = true\nblocking = false\nwarn_records = 200\n')
    found = find_config_file()
    assert found and found[1]
    cfg = load_config(CHECKERS)
    assert cfg.format == "chat" and not cfg.checks["size"].blocking
    assert cfg.checks["size"].params.warn_records == 200


def test_a_pyproject_without_the_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config_file() is None


@pytest.mark.parametrize("data, message", [
    ({"fromat": "chat"}, "unknown config key 'fromat'; valid keys: format, fail_on"),
    ({"checks": {"sizes": {}}}, "unknown check 'sizes'; valid checks: "),
    ({"checks": {"size": {"min_recs": 1}}}, "unknown key 'min_recs' for check 'size'; valid keys: enabled, blocking, min_records"),
    ({"checks": {"size": {"min_records": "ten"}}}, "size.min_records must be an integer"),
    ({"checks": {"size": {"enabled": "yes"}}}, "size.enabled must be true or false"),
    ({"format": "xml"}, "format 'xml' is not one of auto, chat"),
    ({"fail_on": "error"}, "fail_on must be 'fail' or 'warn'"),
    ({"max_findings": -5}, "max_findings must be at least 0, not -5"),
    ({"batch_size": 0}, "batch_size must be at least 1, not 0"),
])
def test_invalid_config_names_the_valid_choices(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(CHECKERS, data=data)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "fineaudit.toml").write_text("format = \n")
    with pytest.raises(ConfigError, match="fineaudit.toml: invalid TOML"):
        load_config(CHECKERS)


@pytest.mark.parametrize("item, expected", [
    ("size.min_records=7", {"checks": {"size": {"min_records": 7}}}),
    ("near_duplicates.threshold=0.7", {"checks": {"near_duplicates": {"threshold": 0.7}}}),
    ("length.tokenizer=cl100k_base", {"checks": {"length": {"tokenizer": "cl100k_base"}}}),
    ("format.output_schema=path/to/schema.json", {"checks": {"format": {"output_schema": "path/to/schema.json"}}}),
    ("fail_on=warn", {"fail_on": "warn"}),
    ("size.enabled=false", {"checks": {"size": {"enabled": False}}}),
])
def test_parse_override(item: str, expected: dict) -> None:
    assert parse_override(item) == expected


def test_overrides_win_over_the_file_and_ints_widen_to_floats(tmp_path: Path) -> None:
    (tmp_path / "fineaudit.toml").write_text("[checks.size]\nmin_records = 5\n")
    cfg = load_config(CHECKERS, overrides=["size.min_records=9", "format.max_invalid_fraction=1"])
    assert cfg.checks["size"].params.min_records == 9
    assert cfg.checks["format"].params.max_invalid_fraction == 1.0


@pytest.mark.parametrize("item", ["size", "=3", "a.b.c=1"])
def test_malformed_override(item: str) -> None:
    with pytest.raises(ConfigError, match="expected CHECK.KEY=VALUE"):
        parse_override(item)


def test_init_output_is_valid_config_with_every_default_and_a_comment_each() -> None:
    text = render_default_config(CHECKERS)
    data = tomllib.loads(text)
    cfg = load_config(CHECKERS, data=data, discover=False)
    for name, cls in CHECKERS.items():
        assert set(cls.defaults()) <= set(data["checks"][name]) | {k for k, v in cls.defaults().items() if v is None}
        assert cfg.checks[name].params == cls.Params()
    setting_lines = [ln for ln in text.splitlines() if " = " in ln and not ln.startswith("#")]
    assert setting_lines and all("  # " in ln for ln in setting_lines)


def test_relative_paths_in_a_config_file_name_files_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "schemas").mkdir(parents=True)
    (project / "schemas" / "answer.json").write_text('{"type": "object"}')
    (project / "fineaudit.toml").write_text('[checks.format]\noutput_schema = "schemas/answer.json"\n'
                                            '[checks.length]\ntokenizer = "o200k_base"\n')
    monkeypatch.chdir(tmp_path)  # run from elsewhere
    config = resolve_config(str(project / "fineaudit.toml"))
    assert config.checks["format"].params.output_schema == str(project / "schemas" / "answer.json")
    assert config.checks["length"].params.tokenizer == "o200k_base"  # an encoding name, not a file
