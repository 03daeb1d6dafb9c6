"""Config that would open the gate is refused before any data is read: numbers that are not finite
or out of range, a config file that does not parse, an output schema that points elsewhere."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fineaudit.config import build_config
from fineaudit.core import AuditContext, Checker, CheckResult, ConfigError, Records, Status
from fineaudit.registry import load_checkers
from tests.conftest import CliResult
from tests.hostile._inputs import chats, snapshot, write_records


@pytest.fixture
def data(tmp_path: Path) -> Path:
    records = chats(50)
    records[3]["messages"][1]["content"] = "use the key AKIAIOSFODNN7EXAMPLE with secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    return write_records(tmp_path / "train.jsonl", records)


BAD_SETTINGS = [
    ("content.max_secret_fraction=nan", "content.max_secret_fraction"),
    ("content.max_secret_fraction=inf", "content.max_secret_fraction"),
    ("exact_duplicates.max_fraction=-inf", "exact_duplicates.max_fraction"),
    ("near_duplicates.threshold=nan", "near_duplicates.threshold"),
    ("size.min_records=-1", "size.min_records"),
    ("size.warn_records=-5", "size.warn_records"),
    ("exact_duplicates.max_fraction=1.5", "exact_duplicates.max_fraction"),
    ("exact_duplicates.max_fraction=-0.1", "exact_duplicates.max_fraction"),
    ("format.max_invalid_fraction=2", "format.max_invalid_fraction"),
    ("length.max_length=-100", "length.max_length"),
    ("max_findings=-1", "max_findings"),
    ("batch_size=0", "batch_size"),
    ("max_record_bytes=10", "max_record_bytes"),
    ("max_record_bytes=nan", "max_record_bytes"),
]


@pytest.mark.parametrize("setting, key", BAD_SETTINGS)
def test_bad_number_is_exit_2_naming_the_key(setting: str, key: str, data: Path,
                                             run_cli: Callable[..., CliResult]) -> None:
    before = snapshot(data)
    result = run_cli("audit", str(data), "--set", setting, "--no-cache", "-q")
    assert result.exit_code == 2 and key in result.stderr, result.stderr
    assert snapshot(data) == before


@pytest.mark.parametrize("setting, key", BAD_SETTINGS[:6])
def test_bad_number_in_a_config_file_is_exit_2(setting: str, key: str, data: Path, tmp_path: Path,
                                               run_cli: Callable[..., CliResult]) -> None:
    name, value = setting.split("=")
    check, _, param = name.rpartition(".")
    (tmp_path / "fineaudit.toml").write_text(f"[checks.{check}]\n{param} = {value}\n" if check
                                             else f"{param} = {value}\n")
    result = run_cli("audit", str(data), "--no-cache", "-q")
    assert result.exit_code == 2 and key in result.stderr, result.stderr


def test_nan_no_longer_passes_a_secret(data: Path, run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("audit", str(data), "--only", "content", "--no-cache", "-q").exit_code == 1
    assert run_cli("audit", str(data), "--only", "content", "--set", "content.max_secret_fraction=nan",
                   "--no-cache", "-q").exit_code == 2


def test_every_default_is_in_its_range() -> None:
    """The generic range rule holds for every registered checker's defaults (built-ins and plugins)."""
    build_config({}, load_checkers())


@pytest.mark.parametrize("name", ["pyproject.toml", "fineaudit.toml"])
def test_config_file_that_does_not_parse_is_exit_2_naming_file_and_line(name: str, data: Path, tmp_path: Path,
                                                                        run_cli: Callable[..., CliResult]) -> None:
    text = "[project]\nname = 'x'\n\n[tool.fineaudit\nfail_on = 'warn'\n" if name == "pyproject.toml" \
        else "fail_on = 'warn'\n[checks.size\nmin_records = 1\n"
    (tmp_path / name).write_text(text)
    result = run_cli("audit", str(data), "--no-cache", "-q")
    assert result.exit_code == 2 and name in result.stderr and "line" in result.stderr, result.stderr


@pytest.mark.parametrize("ref", ["https://example.invalid/schema.json", "http://127.0.0.1:9/x#/a",
                                 "file:///etc/passwd", "other.json", "other.json#/$defs/a"])
def test_output_schema_ref_outside_the_file_is_refused(ref: str, data: Path, tmp_path: Path,
                                                       run_cli: Callable[..., CliResult]) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"a": {"$ref": ref}}}))
    result = run_cli("audit", str(data), "--set", f"format.output_schema={json.dumps(str(schema))}",
                     "--no-cache", "-q")
    assert result.exit_code == 2 and "$ref" in result.stderr and "outside" in result.stderr, result.stderr


def test_output_schema_local_ref_is_accepted(data: Path, tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"$defs": {"s": {"type": "string"}}, "type": "object",
                                  "properties": {"a": {"$ref": "#/$defs/s"}}}))
    result = run_cli("audit", str(data), "--only", "size", "--set",
                     f"format.output_schema={json.dumps(str(schema))}", "--no-cache", "-q")
    assert result.exit_code == 1 and result.stderr == ""  # judged (answers are not JSON), not refused


# --------------------------------------------------------------------------- the generic rule


@dataclass(frozen=True)
class RangedParams:
    share: float = field(default=0.5, metadata={"help": "a share", "min": 0.0, "max": 1.0})
    offset: float = field(default=-2.0, metadata={"help": "may be negative", "min": -10.0})
    count: int = field(default=3, metadata={"help": "a count"})
    weights: tuple[float, ...] = field(default=(0.5, 0.5), metadata={"help": "weights"})


class RangedChecker(Checker):
    """A checker whose parameters declare ranges only in metadata.

    Why it matters: none; it shows the config's generic rule.

    Fix: none.
    """

    name = "ranged"
    Params = RangedParams
    codes: dict[str, str] = {}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        return self.result(Status.PASS, "ok", {})


@pytest.mark.parametrize("values, ok", [
    ({"share": 0.2, "offset": -9.5, "count": 0}, True),
    ({"share": 1.01}, False), ({"share": float("nan")}, False), ({"offset": -11.0}, False),
    ({"count": -1}, False), ({"weights": [0.1, float("inf")]}, False), ({"weights": [0.1, -0.2]}, False),
])
def test_params_metadata_gives_each_field_its_range(values: dict[str, object], ok: bool) -> None:
    checkers = {"ranged": RangedChecker}
    if ok:
        params = build_config({"checks": {"ranged": values}}, checkers).checks["ranged"].params
        assert {k: getattr(params, k) for k in values} == values
        assert dataclasses.is_dataclass(params)
    else:
        with pytest.raises(ConfigError, match="ranged"):
            build_config({"checks": {"ranged": values}}, checkers)


@pytest.mark.parametrize("setting", ["fail_on={secret}", "format={secret}", "size.min_records={secret}",
                                     "{secret}.threshold=1", "size.{secret}=1"])
def test_secret_in_a_config_value_is_masked_in_the_error(setting: str, data: Path,
                                                         run_cli: Callable[..., CliResult]) -> None:
    secret = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    result = run_cli("audit", str(data), "--set", setting.format(secret=secret), "--no-cache", "-q")
    assert result.exit_code == 2 and secret not in result.stderr and "ghp_1" in result.stderr, result.stderr
