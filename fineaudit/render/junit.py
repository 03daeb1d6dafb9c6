"""The JUnit XML report: one test suite per dataset, one test case per check.

A check that blocks the verdict is a <failure> (an <error> when the checker itself broke), so
CI test views show it red; skipped checks are <skipped>; warnings that do not block pass and
carry their summary in <system-out>. xml.etree escapes all text and attributes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from fineaudit.core import CheckResult, Report, Status
from fineaudit.render.finding_text import finding_line, more_line
from fineaudit.render.safe_text import xml

FINDINGS_IN_FAILURE = 10


def render_junit(reports: Sequence[Report]) -> str:
    root = ET.Element("testsuites", name="fineaudit")
    for report in reports:
        root.append(_suite(report))
    _count(root, root.findall("testsuite"))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(report: Report) -> ET.Element:
    dataset = report.dataset.path or "(in memory)"
    suite = ET.Element("testsuite", name=_clean(f"fineaudit: {dataset}"), timestamp=report.created or "")
    props = ET.SubElement(suite, "properties")
    for key, value in (("verdict", report.verdict), ("score", f"{report.score:.1f}"),
                       ("records", str(report.dataset.records)), ("format", report.dataset.format),
                       ("fineaudit_version", report.fineaudit_version)):
        ET.SubElement(props, "property", name=key, value=_clean(value))
    for result in report.checks.values():
        suite.append(_case(result, report, dataset))
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("time", f"{sum(r.duration_s for r in report.checks.values()):.3f}")
    return suite


def _case(result: CheckResult, report: Report, dataset: str) -> ET.Element:
    case = ET.Element("testcase", name=_clean(result.name), classname=_clean(f"fineaudit.{dataset}"),
                      time=f"{result.duration_s:.3f}")
    if report.dataset.path:
        case.set("file", _clean(report.dataset.path))
    if result.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=_clean(result.summary))
    elif result.blocks_verdict(report.fail_on):
        tag = "error" if result.status is Status.ERROR else "failure"
        element = ET.SubElement(case, tag, message=_clean(result.summary), type=result.status.value)
        element.text = _details(result, report)
    elif result.status is not Status.PASS or result.findings:
        out = ET.SubElement(case, "system-out")
        blocking = "" if result.blocking else " (not blocking)"
        out.text = _clean(f"{result.status.value}{blocking}: {result.summary}\n") + _details(result, report)
    return case


def _details(result: CheckResult, report: Report) -> str:
    lines = [f"{f.code} {finding_line(f, 300, report.dataset)}" for f in result.findings[:FINDINGS_IN_FAILURE]]
    more = more_line(result.findings_total, len(lines))
    if more:
        lines.append(more)
    return _clean("\n".join([result.summary, *lines]))


def _count(root: ET.Element, suites: list[ET.Element]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))


def _clean(text: str) -> str:
    # secrets masked; characters XML 1.0 cannot hold even escaped (controls, lone surrogates,
    # U+FFFE/U+FFFF) written as visible escapes: one function for every attribute and text
    return xml(text)


__all__ = ["render_junit"]
