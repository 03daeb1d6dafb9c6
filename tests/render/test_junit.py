"""The JUnit report: parses with xml.etree, one case per check and dataset, failures say why."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fineaudit.core import CheckResult, DatasetInfo, Finding, Report, Status
from fineaudit.render.junit import render_junit


def result(name: str, status: Status, blocking: bool = True, findings: int = 0) -> CheckResult:
    found = tuple(Finding(f"{name}.kind", f"bad <thing> & \x00 {i}", (i,), line=i + 1) for i in range(findings))
    return CheckResult(name=name, status=status, summary=f"{name} is {status.value}", findings=found,
                       findings_total=findings, blocking=blocking)


def report(path: str, *results: CheckResult, fail_on: str = "fail") -> Report:
    return Report(DatasetInfo(path, 10, "chat", None), {r.name: r for r in results}, "fail", 50.0,
                  fail_on=fail_on, created="2025-01-01T00:00:00+00:00", fineaudit_version="test")


@pytest.mark.parametrize(("status", "blocking", "fail_on", "tag"), [
    (Status.PASS, True, "fail", "system-out"),  # a passing check with findings still lists them
    (Status.FAIL, True, "fail", "failure"),
    (Status.ERROR, True, "fail", "error"),
    (Status.SKIPPED, True, "fail", "skipped"),
    (Status.WARN, True, "fail", "system-out"),
    (Status.WARN, True, "warn", "failure"),
    (Status.FAIL, False, "fail", "system-out"),  # not blocking: reported, not red
])
def test_status_becomes_junit_outcome(status: Status, blocking: bool, fail_on: str, tag: str) -> None:
    root = ET.fromstring(render_junit([report("a.jsonl", result("c", status, blocking, 1), fail_on=fail_on)]))
    children = [child.tag for child in root.find("testsuite/testcase")]
    assert children == [tag]


def test_one_case_per_check_and_dataset_with_counts() -> None:
    xml = render_junit([report("a.jsonl", result("size", Status.PASS), result("format", Status.FAIL, findings=15)),
                        report("b.jsonl", result("size", Status.PASS), result("format", Status.PASS))])
    root = ET.fromstring(xml)
    cases = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert cases == [("fineaudit.a.jsonl", "size"), ("fineaudit.a.jsonl", "format"),
                     ("fineaudit.b.jsonl", "size"), ("fineaudit.b.jsonl", "format")]
    assert (root.get("tests"), root.get("failures")) == ("4", "1")


def test_failure_carries_summary_and_first_findings() -> None:
    root = ET.fromstring(render_junit([report("a.jsonl", result("format", Status.FAIL, findings=15))]))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "format is fail"
    lines = failure.text.splitlines()
    assert lines[1] == "format.kind line 1: bad <thing> & \\x00 0"  # control character made visible
    assert lines[-1] == "… and 5 more findings"
