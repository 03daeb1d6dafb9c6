"""The HTML report: structure and escaping here, then the real page in headless Chromium."""
from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import CheckResult, DatasetInfo, Finding, Report, Status
from fineaudit.render.html import charts_for, render_html
from fineaudit.render.html_charts import BLUE, ORANGE
from tests.conftest import chat, real_file, write_jsonl

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


def pair_report(a: str, b: str) -> Report:
    found = Finding("near_duplicates.cluster", "2 near-duplicate records", (12, 31), line=13,
                    detail={"pair": [{"title": "line 13", "text": a}, {"title": "line 32", "text": b}]})
    result = check("near_duplicates", Status.WARN, findings=(found,))
    return Report(DatasetInfo("d.jsonl", 40, "chat", None), {result.name: result}, "pass", 90.0)


def test_pair_side_by_side_marks_only_the_differences() -> None:
    html = render_html([pair_report("Explain why copyright law matters today.",
                                    "Explain why copyright law matters now.")])
    assert html.count('class="side"') == 2 and "line 13" in html and "line 32" in html
    assert "<mark>today.</mark>" in html and "<mark>now.</mark>" in html
    assert "<mark>Explain" not in html  # the shared words stay unmarked


def test_pair_differing_only_in_case_and_spacing_has_no_marks() -> None:
    html = render_html([pair_report("Explain why Copyright law matters.", "EXPLAIN why copyright  law\nmatters.")])
    assert "<mark>" not in html and html.count("(identical but for case and spacing)") == 2


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


# --------------------------------------------------------------------------- preference and diversity


class Page(HTMLParser):
    """What a reader sees of the charts and pairs: each chart's class, texts and bars; pair titles."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.charts: list[dict[str, Any]] = []
        self.pair_titles: list[str] = []
        self.tags: set[str] = set()
        self._in: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        cls = dict(attrs).get("class") or ""
        if tag == "svg":
            self.charts.append({"class": cls, "texts": [], "bars": 0, "fills": set()})
        elif tag == "rect" and self.charts and "svg" in self._in:
            self.charts[-1]["bars"] += 1
            self.charts[-1]["fills"].add(dict(attrs).get("fill"))
        self._in.append(cls if tag == "span" and cls == "t" else tag)

    def handle_endtag(self, tag: str) -> None:
        while self._in:
            if self._in.pop() in (tag, "t"):
                break

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "text" and self.charts:
            self.charts[-1]["texts"].append(data)
        elif self._in and self._in[-1] == "t":
            self.pair_titles.append(data.strip())

    def chart(self, kind: str, title: str) -> dict[str, Any]:
        found = [c for c in self.charts if f"chart-{kind}" in c["class"] and c.get("title") == title]
        assert len(found) == 1, (kind, title, [c.get("title") for c in self.charts])
        return found[0]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)


def page_of(report: Report) -> Page:
    html = render_html([report])
    page = Page(html)
    for chart, title in zip(page.charts, re.findall(r'<svg class="chart[^>]*><title>([^<]*)</title>', html)):
        chart["title"] = title
    return page


def planted_dpo(tmp_path: Path) -> tuple[Path, list[int]]:
    """LLaMA-Factory's dpo_en_demo with 5 identical pairs planted (rejected := chosen) and a tell:
    three rejected answers in four open with "Sure!"."""
    records = json.loads((REPO / "tests/data/llama_factory/dpo_en_demo.json").read_text(encoding="utf-8"))
    for i, r in enumerate(records):
        if i % 4:
            r["rejected"]["value"] = "Sure! " + r["rejected"]["value"]
    planted = [7, 30, 101, 150, 222]
    for i in planted:
        records[i]["rejected"] = dict(records[i]["chosen"])
    path = tmp_path / "dpo_planted.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path, planted


def test_preference_report_draws_lengths_and_shows_each_identical_pair(tmp_path: Path) -> None:
    path, planted = planted_dpo(tmp_path)
    report = fineaudit.audit(str(path), only=["preference"])
    result = report.checks["preference"]
    page = page_of(report)
    lengths = page.chart("bars", "Answer lengths by side")
    assert {"chosen", "rejected"} <= set(lengths["texts"]) and {BLUE, ORANGE} <= lengths["fills"]
    assert lengths["bars"] >= 2 * 5  # two bars per length bin (and the legend's swatches)
    identical = [f for f in result.findings if f.code == "preference.identical_pair"]
    assert sorted(f.records[0] for f in identical) == planted
    titles = [f"record {i} · {side} (identical)" for i in planted for side in ("chosen", "rejected")]
    assert all(t in page.pair_titles for t in titles), page.pair_titles[:6]
    near = next(f for f in result.findings if f.code == "preference.near_identical_pair")  # the demo's own, 43
    assert near.detail is not None
    assert [p["title"] for p in near.detail["pair"]] == ["record 43 · chosen", "record 43 · rejected"]
    assert all(len(p["text"]) <= 2000 for f in result.findings if f.detail for p in f.detail["pair"])
    tells = page.chart("rows", "Side tells: phrase share by side")
    assert "opens with “sure” · favours rejected" in tells["texts"] and tells["bars"] == 2 + 2


def test_jsonl_pairs_are_titled_by_line(tmp_path: Path) -> None:
    rows = [{"prompt": f"Question {i} about the weather in town {i}?", "chosen": f"Sunny, {i} degrees and calm.",
             "rejected": f"Rain all day in town {i}, and {i * 3} mm of it."} for i in range(20)]
    rows[4]["rejected"] = "Question 4 about the weather in town 4?\n" + rows[4]["chosen"]
    rows[9]["rejected"] = rows[9]["chosen"]
    report = fineaudit.audit(str(write_jsonl(tmp_path / "pairs.jsonl", rows)), only=["preference"])
    detail = {f.code: f.detail or {} for f in report.checks["preference"].findings}
    assert detail["preference.identical_pair"]["pair"][0] == {"title": "line 10 · chosen", "text": rows[9]["chosen"]}
    assert [p["title"] for p in detail["preference.prompt_in_response"]["pair"]] == ["line 5 · chosen", "line 5 · rejected"]
    titles = page_of(report).pair_titles
    assert "line 10 · chosen (identical)" in titles and "line 5 · rejected" in titles


def test_kto_answer_repeating_its_prompt_is_shown_beside_it(tmp_path: Path) -> None:
    def kto(i: int, answer: str) -> dict[str, Any]:
        return {"prompt": [{"role": "user", "content": f"Name a colour seen in flag number {i}."}],
                "completion": [{"role": "assistant", "content": answer}], "label": i % 2 == 0}

    repeated = "Name a colour seen in flag number 3. Blue."
    rows = [kto(i, repeated if i == 3 else f"Red, like flag {i}.") for i in range(12)]
    report = fineaudit.audit(str(write_jsonl(tmp_path / "kto.jsonl", rows)), only=["preference"])
    (found,) = [f for f in report.checks["preference"].findings if f.code == "preference.prompt_in_response"]
    assert found.detail == {"pair": [{"title": "line 4 · prompt", "text": "Name a colour seen in flag number 3."},
                                     {"title": "line 4 · answer", "text": repeated}]}


def test_side_tells_are_paired_bars_and_hostile_phrases_stay_text() -> None:
    tells = [{"kind": "opening", "phrase": SCRIPT, "favours": "rejected", "chosen_share": 0.04, "rejected_share": 0.35,
              "chosen_count": 12, "rejected_count": 104, "p_value": 1e-21},
             {"kind": "phrase", "phrase": SVG, "favours": "chosen", "chosen_share": 0.5, "rejected_share": 0.1,
              "chosen_count": 50, "rejected_count": 10, "p_value": 1e-9}]
    result = check("preference", Status.WARN, {"side_tells": tells})
    page = page_of(Report(DatasetInfo("d.jsonl", 100, "preference", None), {"preference": result}, "pass", 80.0))
    chart = page.chart("rows", "Side tells: phrase share by side")
    assert chart["bars"] == 2 * 2 + 2  # a chosen and a rejected bar per phrase, two legend swatches
    assert "4.0% (12)" in chart["texts"] and "35.0% (104)" in chart["texts"]
    assert any(SCRIPT in t for t in chart["texts"])  # shown as text ...
    assert "script" not in page.tags and "img" not in page.tags  # ... never as markup


@pytest.mark.parametrize(("histogram", "sides", "bins"), [
    ({"edges": [0, 1, 2, 4, 8], "chosen": [0, 3, 5, 2, 0], "rejected": [0, 1, 6, 3, 1]}, ("chosen", "rejected"), 4),
    ({"edges": [0, 1, 2, 4], "desirable": [1, 4, 0, 0], "undesirable": [0, 2, 2, 0]}, ("desirable", "undesirable"), 3),
    ({"edges": [0.0, 10.0, 20.0], "chosen": [3, 4], "rejected": [1, 2]}, ("chosen", "rejected"), 2),  # closed bins
])
def test_answer_lengths_pair_the_sides_per_bin(histogram: dict[str, Any], sides: tuple[str, str], bins: int) -> None:
    (chart,) = charts_for(check("preference", metrics={"length_histogram": histogram}))
    assert len(chart.bars) == 2 * bins  # empty bins at either end are left out
    assert [b.fill for b in chart.bars[:2]] == [BLUE, ORANGE] and chart.bars[0].label.startswith(sides[0])
    shares = [float(b.value.split("%")[0]) for b in chart.bars]
    assert abs(sum(shares[0::2]) - 100) < 0.2 and abs(sum(shares[1::2]) - 100) < 0.2  # shares of each side


@pytest.mark.parametrize("histogram", [
    {"edges": [0, 1, 2], "chosen": [1, 2, 3]},  # one side only
    {"edges": [0, 1, 2], "chosen": [1, 2, 3], "rejected": [1, 2]},  # sides of different lengths
    {"edges": [0, 1], "chosen": [0, 0], "rejected": [0, 0]},  # nothing counted
    {"edges": [0, 1], "chosen": [1, 2, 3, 4], "rejected": [1, 2, 3, 4]},  # more bins than edges
])
def test_no_length_chart_from_a_malformed_histogram(histogram: dict[str, Any]) -> None:
    assert charts_for(check("preference", metrics={"length_histogram": histogram})) == []


NAMES = ["Tom", "Ann", "Raj", "Mia", "Leo", "Zoe"]
TEMPLATES = {"{n} has {a} apples and buys {b} more at the market. How many apples does {n} have now?": 30,
             "A baker made {a} cakes and sold {b} of them. How many cakes are left for {n}?": 18,
             "</text></svg><script>alert({a})</script> {n} wrote {b} lines": 9}


def arithmetic_prompts() -> list[dict[str, Any]]:
    """MultiArith-like word problems from three templates (one of them hostile markup)."""
    rng = random.Random(5)
    rows = [chat(t.format(n=rng.choice(NAMES), a=rng.randint(2, 90), b=rng.randint(2, 90)), "Worked out.")
            for t, k in TEMPLATES.items() for _ in range(k)]
    rng.shuffle(rows)
    return rows


def test_diversity_report_draws_the_largest_skeletons_and_frames(tmp_path: Path) -> None:
    report = fineaudit.audit(str(write_jsonl(tmp_path / "arith.jsonl", arithmetic_prompts())), only=["diversity"])
    result = report.checks["diversity"]
    page = page_of(report)
    chart = page.chart("rows", "Largest repeated prompt skeletons")
    sizes = [t for t in chart["texts"] if t.endswith(" records")]
    assert sizes == ["30 records", "18 records", "9 records"]  # largest first
    assert chart["texts"][0].startswith("<name> has <num> apples")
    assert "</text></svg><script>alert( <num> )</script> <name> wrote <num> lines" in chart["texts"]
    assert "script" not in page.tags
    frames = [f for f in result.findings if f.code == "diversity.frame"]
    assert frames  # the largest template's fixed words are in half the prompts
    frame_chart = page.chart("rows", "Shared frames")
    assert "frame_share 25%" in frame_chart["texts"] and len(frames) == len(
        [t for t in frame_chart["texts"] if t.endswith("%") and not t.startswith("frame_share")])


@pytest.mark.parametrize(("message", "drawn"), [
    ("3 prompts share the skeleton 'it\\'s <num> o\\'clock', e.g. record 1: 'x'", "it's <num> o'clock"),
    ("3 prompts share the skeleton \"say 'hi' <num> times\", e.g. record 1: 'x'", "say 'hi' <num> times"),
    ("3 prompts share the skeleton 'a, e.g. record 9: b <num>', e.g. record 1: 'x'", "a, e.g. record 9: b <num>"),
])
def test_skeletons_read_back_from_their_message(message: str, drawn: str) -> None:
    found = Finding("diversity.template", message, (1, 2, 3), field="prompt")
    (chart,) = charts_for(check("diversity", Status.WARN, {"templates": 1}, (found,)))
    assert [m["text"] for m in chart.marks if m["type"] == "text"][0] == drawn


def test_multiarith_is_drawn_as_its_largest_templates() -> None:
    report = fineaudit.audit(str(real_file("multiarith/MultiArith.json")), only=["diversity"], format="text",
                             fields={"text": "sQuestion"})
    chart = page_of(report).chart("rows", "Largest repeated prompt skeletons")
    assert sum(1 for t in chart["texts"] if t.endswith(" records")) == 12  # MAX_ROWS_DRAWN of 120 templates
    assert chart["bars"] == 12


@pytest.mark.slow
def test_preference_and_diversity_charts_in_chromium(browser: Any, tmp_path: Path) -> None:
    path, planted = planted_dpo(tmp_path)
    write_jsonl(tmp_path / "arith.jsonl", arithmetic_prompts())
    # relative names, as a user in the data's folder would write them (the page is a docs screenshot)
    pref = fineaudit.audit(os.path.relpath(path, tmp_path), only=["preference"])
    div = fineaudit.audit("arith.jsonl", only=["diversity"])
    page = tmp_path / "report.html"
    page.write_text(render_html([pref, div]), encoding="utf-8")
    seen = open_page(browser, page)
    assert seen["console"] == [] and seen["requests"] == [page.resolve().as_uri()]
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    boxes = browser.execute_script("""return [...document.querySelectorAll('svg.chart')].map(s => {
        const box = s.getBoundingClientRect(); return [s.querySelector('title').textContent, box.width, box.height];
    })""")
    titles = {t for t, w, h in boxes if w > 100 and h > 40}
    assert {"Answer lengths by side", "Largest repeated prompt skeletons"} <= titles, boxes
    sides = browser.execute_script("return document.querySelectorAll('.pair .side').length")
    assert sides >= 2 * len(planted)
    if os.environ.get("FINEAUDIT_SCREENSHOT_DIR"):
        browser.save_screenshot(str(Path(os.environ["FINEAUDIT_SCREENSHOT_DIR"]) / "report-preference.png"))


@pytest.mark.parametrize("used", [3, 8, 14])
def test_length_bin_names_fit_their_slots(used: int) -> None:
    edges = [0] + [2 ** k for k in range(13)]  # preference's bins: 0, 1, 2-3, ... 4096+
    counts = [5 if i < used else 0 for i in range(len(edges))]
    (chart,) = charts_for(check("preference", metrics={"length_histogram": {"edges": edges, "chosen": counts,
                                                                            "rejected": counts}}))
    ticks = sorted((m["x"], m["text"]) for m in chart.marks if m["type"] == "text" and m["anchor"] == "middle")
    assert len(ticks) == used
    for (x1, a), (x2, b) in zip(ticks, ticks[1:]):
        assert (len(a) + len(b)) / 2 * 6.5 < x2 - x1, (a, b)  # 11px labels: about 6.5px a character
