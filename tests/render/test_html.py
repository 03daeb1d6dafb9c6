"""The HTML report: structure and escaping here, then the real page in headless Chromium."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import CheckResult, DatasetInfo, Finding, Report, Status
from fineaudit.render.html import charts_for, render_html

REPO = Path(__file__).resolve().parents[2]
SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '"><img src=x onerror="window.__pwned = 2">'
SVG = "</text></svg><svg onload=\"window.__pwned = 3\">"


def check(name: str, status: Status = Status.PASS, metrics: dict[str, Any] | None = None,
          findings: tuple[Finding, ...] = (), summary: str = "ok") -> CheckResult:
    return CheckResult(name=name, status=status, summary=summary, metrics=metrics or {},
                       findings=findings, findings_total=len(findings), score=1.0)


def hostile_report() -> Report:
    """A report with every chart metric, and dataset text that tries to become markup."""
    projection = {"method": "pca", "train": [[i / 10, (i % 7) / 7] for i in range(40)],
                  "production": [[i / 10, 1.5 + (i % 3) / 5] for i in range(12)],
                  "production_cluster": [-1] * 6 + [0] * 3 + [1] * 3}
    checks = [
        check("format", Status.FAIL, {"format": "chat", "invalid_records": 2},
              (Finding("format.unknown_role", f"unknown role {SCRIPT}", (3,), line=4, field="messages[0].role"),
               Finding("format.empty_content", f"excerpt: {IMG}", (7,), line=8)),
              summary=f"2 invalid records {SCRIPT}"),
        check("length", Status.WARN, {"max_length": 300, "p50": 120.0,
                                      "histogram": {"edges": [0.0, 100.0, 200.0, 300.0, 400.0],
                                                    "counts": [5, 40, 12, 3]}}),
        check("label_balance", Status.PASS, {"counts": {"positive": 60, SVG: 30, IMG: 10}, "classes": 3}),
        check("exact_duplicates", Status.PASS, {"duplicate_records": 4, "group_sizes": {"2": 3, "3": 1}}),
        check("near_duplicates", Status.PASS, {"clusters": 2, "cluster_sizes": {"2": 1, "5": 1}}),
        check("drift", Status.FAIL, {"drift_detected": True, "projection": projection}),
    ]
    return Report(dataset=DatasetInfo(f"data/{IMG}.jsonl", 100, "chat", "ab" * 32),
                  checks={c.name: c for c in checks}, verdict="fail", score=41.0,
                  created="2025-01-01T00:00:00+00:00", fineaudit_version="test")


def test_verdict_and_score_come_first() -> None:
    html = render_html([hostile_report()])
    body = html[html.index("<body>"):]
    assert body.index("NOT READY") < body.index("41") < body.index("format")


def test_dataset_text_is_escaped() -> None:
    html = render_html([hostile_report()])
    assert "<script" not in html and "<img" not in html and "onload=\"window" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html


@pytest.mark.parametrize(("name", "metrics", "kind"), [
    ("length", {"histogram": {"edges": [0, 1, 2], "counts": [1, 2]}, "max_length": 1}, "bars"),
    ("label_balance", {"counts": {"a": 3, "b": 1}}, "hbars"),
    ("exact_duplicates", {"group_sizes": {"2": 4}}, "bars"),
    ("near_duplicates", {"cluster_sizes": {"2": 1, "4": 2}}, "bars"),
    ("drift", {"projection": {"method": "pca", "train": [[0, 0]], "production": [[1, 1]],
                              "production_cluster": [0]}}, "scatter"),
])
def test_a_chart_per_metric_shape(name: str, metrics: dict[str, Any], kind: str) -> None:
    assert [c.kind for c in charts_for(check(name, metrics=metrics))] == [kind]


@pytest.mark.parametrize("metrics", [
    {}, {"histogram": {"edges": [0, 1], "counts": [1, 2]}},  # edges must be one longer than counts
    {"group_sizes": {}}, {"projection": {"train": [], "production": []}}, {"max_length": 512},
])
def test_no_chart_without_its_metric(metrics: dict[str, Any]) -> None:
    assert charts_for(check("length", metrics=metrics)) == []
    assert "<svg" not in render_html([Report(DatasetInfo("d.jsonl", 1, "chat", None),
                                             {"length": check("length", metrics=metrics)}, "pass", 100.0)])


def test_several_reports_in_one_page() -> None:
    ok = Report(DatasetInfo("clean.jsonl", 10, "chat", None), {"size": check("size")}, "pass", 100.0)
    html = render_html([ok, hostile_report()])
    assert html.count('class="dataset"') == 2 and "READY" in html and 'href="#dataset-2"' in html


# --------------------------------------------------------------------------- headless Chromium

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--window-size=1280,1600")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must not look for drivers online
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser: Any, path: Path) -> dict[str, Any]:
    """Load a report; return what the page did: console entries and every URL it requested."""
    import json

    browser.get_log("browser"), browser.get_log("performance")  # drop what earlier pages left
    browser.get(path.resolve().as_uri())
    messages = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    sent = [m["params"] for m in messages if m["method"] == "Network.requestWillBeSent"]
    # the browser loads its own chrome:// pages too; what matters is what the report asked for,
    # and that nothing at all went out to the network
    assert not [p["request"]["url"] for p in sent if p["request"]["url"].startswith(("http", "ws", "ftp"))]
    requested = [p["request"]["url"] for p in sent if p.get("documentURL") == path.resolve().as_uri()]
    return {"console": browser.get_log("browser"), "requests": requested}


@pytest.mark.slow
def test_page_is_inert_and_offline_in_chromium(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html([hostile_report()]), encoding="utf-8")
    seen = open_page(browser, page)
    assert seen["console"] == []
    assert seen["requests"] == [page.resolve().as_uri()]
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    counts = browser.execute_script(
        "return ['script', 'img', 'iframe', '[onerror]', '[onload]'].map(s => document.querySelectorAll(s).length)")
    assert counts == [0, 0, 0, 0, 0]
    text = browser.execute_script("return document.body.innerText")
    assert SCRIPT in text and IMG in text  # shown to the reader, as text


@pytest.mark.slow
def test_charts_render_in_chromium(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html([hostile_report()]), encoding="utf-8")
    open_page(browser, page)
    charts = browser.execute_script("""return [...document.querySelectorAll('svg.chart')].map(s => {
        const box = s.getBoundingClientRect();
        return {w: box.width, h: box.height, shapes: s.querySelectorAll('rect, circle').length,
                title: s.querySelector('title').textContent,
                limits: s.querySelectorAll('line[stroke-dasharray]').length};
    })""")
    assert len(charts) == 5
    assert all(c["w"] > 100 and c["h"] > 50 and c["shapes"] > 0 for c in charts)
    assert [c["limits"] for c in charts if c["title"] == "Tokens per record"] == [1]  # max_length
    uncovered = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart-scatter circle title')]"
        ".filter(t => t.textContent.includes('uncovered')).length")
    assert uncovered == 6


def sample_audit() -> Report:
    """The report of sample_data/flawed.jsonl with its eval and production files: every chart."""
    here = os.getcwd()
    os.chdir(REPO)  # paths in the report as a user in the repository would write them
    try:
        return fineaudit.audit("sample_data/flawed.jsonl", eval="sample_data/eval.jsonl",
                               production="sample_data/production.jsonl")
    finally:
        os.chdir(here)


@pytest.mark.slow
def test_sample_report_in_chromium(browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real report of the sample data, drift included: loads cleanly, draws its charts."""
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "cache"))  # never ~/.cache in tests
    page = tmp_path / "report.html"
    report = sample_audit()
    assert report.checks["drift"].metrics["projection"]["production"]  # the real embedding path ran
    report.write_html(page)
    seen = open_page(browser, page)
    assert seen["console"] == [] and seen["requests"] == [page.resolve().as_uri()]
    kinds = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart')].map(s => s.getAttribute('class'))")
    assert any("chart-scatter" in k for k in kinds) and len(kinds) >= 3, kinds
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("FINEAUDIT_SCREENSHOT"):  # how docs/report.png is made
        shutil.copyfile(shot, os.environ["FINEAUDIT_SCREENSHOT"])


# --------------------------------------------------------------------------- pairs side by side


@dataclass(frozen=True)
class PairFinding(Finding):
    """A finding with the optional `detail` the renderer reads (until core.Finding carries it)."""

    detail: dict[str, Any] | None = None


def pair_report(a: str, b: str) -> Report:
    found = PairFinding("near_duplicates.cluster", "2 near-duplicate records", (12, 31), line=13,
                        detail={"pair": [{"title": "line 13", "text": a}, {"title": "line 32", "text": b}]})
    result = check("near_duplicates", Status.WARN, findings=(found,))
    return Report(DatasetInfo("d.jsonl", 40, "chat", None), {result.name: result}, "pass", 90.0)


def test_pair_side_by_side_marks_only_the_differences() -> None:
    html = render_html([pair_report("Explain why copyright law matters today.",
                                    "Explain why copyright law matters now.")])
    assert html.count('class="side"') == 2 and "line 13" in html and "line 32" in html
    assert "<mark>today.</mark>" in html and "<mark>now.</mark>" in html
    assert "<mark>Explain" not in html  # the shared words stay unmarked


def test_pair_text_is_escaped() -> None:
    html = render_html([pair_report(SCRIPT, IMG)])
    assert "<script>window" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_no_pair_without_detail() -> None:
    assert 'class="pair"' not in render_html([hostile_report()])


# --------------------------------------------------------------------------- what the page shows


@pytest.mark.parametrize(("classes", "drawn"), [(3, 3), (77, 77), (120, 120), (200, 80)])
def test_label_chart_always_draws_the_smallest_classes(classes: int, drawn: int) -> None:
    counts = {f"c{i:03d}": 1000 - i * 4 for i in range(classes)}
    (chart,) = charts_for(check("label_balance", metrics={"counts": counts}))
    labels = [b.label for b in chart.bars]
    assert len(labels) == drawn and "c000" in labels and f"c{classes - 1:03d}" in labels


def test_limit_lines_lie_inside_their_axis() -> None:
    # data up to 100 tokens, max_length 4096: the line must not sit on the right edge
    metrics = {"histogram": {"edges": [1.0, 10.0, 100.0], "counts": [5, 3]}, "max_length": 4096}
    (chart,) = charts_for(check("length", metrics=metrics))
    line = next(m for m in chart.marks if m["type"] == "vline")
    assert max(b.x + b.w for b in chart.bars) < line["x"] < chart.width - 10
    counts = {"a": 300, "b": 40}
    (labels,) = charts_for(CheckResult("label_balance", Status.WARN, "s", metrics={"counts": counts},
                                       thresholds={"min_class_count": 500}))
    limit = next(m for m in labels.marks if m["type"] == "vline")
    assert max(b.x + b.w for b in labels.bars) < limit["x"] < labels.width


def test_metrics_are_tables_with_units_not_raw_json() -> None:
    metrics = {"p50": 11.0, "prompt": {"p50": 4.0, "max": 20}, "over_max_length_fraction": 0.0123,
               "production": None, "threshold": 0.8, "field_set_counts": [{"fields": ["messages"], "records": 3}]}
    result = CheckResult("length", Status.WARN, "s", metrics=metrics, thresholds={"threshold": 0.8, "max_length": 512})
    html = render_html([Report(DatasetInfo("d.jsonl", 3, "chat", None), {"length": result}, "pass", 90.0)])
    assert '{"p50"' not in html and "None" not in html and "threshold threshold" not in html
    assert "11 tokens" in html and "1.23 %" in html and "—" in html and "3 records" in html


def test_what_blocks_comes_first_with_why_fix_and_command() -> None:
    report = hostile_report()
    report.checks["exact_duplicates"] = check("exact_duplicates", Status.FAIL, summary="2 duplicates")
    body = render_html([report])
    body = body[body.index("<body>"):]
    panel = body[body.index("What blocks the verdict"):body.index("<h3>Checks</h3>")]
    assert "Why it matters:" in panel and "Fix:" in panel and "fineaudit dedup" in panel
    overview = body[body.index("<h3>Checks</h3>"):]
    assert overview.index(">drift<") < overview.index(">length<") < overview.index(">label_balance<")


def test_header_items_do_not_wrap_inside() -> None:
    html = render_html([hostile_report()])
    assert ".meta span{white-space:nowrap" in html and "<span>fails on: fail</span>" in html
