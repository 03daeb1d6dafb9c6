"""Property tests: random bytes, random JSON and truncated lines never make a traceback."""
from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fineaudit
from fineaudit.cli import main as cli_main
from fineaudit.core import FineauditError

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
chat_like = st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", "human", ""]), "content": json_values}), max_size=4)})


def audit_or_clean_error(path: Path, fmt: str = "auto") -> None:
    """An audit gives a report, or a FineauditError (exit 2): anything else is a bug."""
    try:
        report = fineaudit.audit(path, format=fmt, config={})
    except FineauditError:
        return
    assert report.dataset.records >= 0 and all(c.status.value != "error" for c in report.checks.values()), \
        [c.summary for c in report.checks.values() if c.status.value == "error"]


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([".jsonl", ".json", ".csv", ".parquet"]))
def test_random_bytes(tmp_path: Path, blob: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(blob)
    audit_or_clean_error(path)
    audit_or_clean_error(path, "chat")


@FUZZ
@given(st.lists(json_values, min_size=1, max_size=8))
def test_random_json_lines(tmp_path: Path, values: list) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(json.dumps(v) for v in values) + "\n")
    audit_or_clean_error(path)
    audit_or_clean_error(path, "instruction")


@FUZZ
@given(st.lists(chat_like, min_size=1, max_size=6), st.integers(min_value=0, max_value=200))
def test_truncated_chat_lines(tmp_path: Path, records: list, cut: int) -> None:
    lines = [json.dumps(r) for r in records]
    lines[-1] = lines[-1][: cut % (len(lines[-1]) + 1)]
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines) + "\n")
    audit_or_clean_error(path)
    audit_or_clean_error(path, "chat")


@FUZZ
@given(st.binary(max_size=200))
def test_cli_on_random_bytes_exits_0_1_or_2_without_traceback(tmp_path: Path, capsys, blob: bytes) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(blob)
    code = cli_main(["audit", str(path), "--json", str(tmp_path / "r.json"), "-q"])
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err and "internal error" not in err
