"""The HTML reports a user is shown first, in Chromium: the flawed sample and a 77-class set.

The top panel (what blocks the verdict, why, the fix) must be on the first screen, and the
smallest class of the label chart drawn, not summed away. With FINEAUDIT_SCREENSHOT_DIR set, the
screenshots in docs/ are written from these very pages:

    FINEAUDIT_SCREENSHOT_DIR=docs python -m pytest tests/render/test_report_screens.py
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

import fineaudit
from fineaudit.core import Report
from fineaudit.render import write_report
from tests.conftest import write_jsonl
from tests.render.test_html import browser, open_page, sample_audit  # noqa: F401 - the Chromium fixture

WORDS = ("invoice refund login password shipping delay broken screen battery charger account locked "
         "upgrade plan billing address card declined warranty return label tracking order missing item "
         "color size exchange coupon discount loyalty points email phone verify identity travel hotel "
         "booking cancel flight seat baggage lost found store hours open closed holiday gift wrap").split()


def classes_77() -> list[dict[str, Any]]:
    """77 intents with long-tailed counts (420 down to 3), each text a unique random phrase."""
    rng = random.Random(77)
    counts = [max(3, int(420 / (1 + c) ** 1.1)) for c in range(77)]
    rows = [{"text": f"{' '.join(rng.choices(WORDS, k=rng.randint(6, 14)))} (ticket {c}-{i})",
             "label": f"intent_{c:02d}"} for c, n in enumerate(counts) for i in range(n)]
    rng.shuffle(rows)
    return rows


def classes_report(tmp_path: Path) -> Report:
    path = write_jsonl(tmp_path / "intents_77.jsonl", classes_77())
    return fineaudit.audit(str(path), only=["size", "format", "label_balance", "length", "exact_duplicates"])


def visible_on_first_screen(browser: Any, selector: str) -> bool:
    return bool(browser.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e) return false;"
        "const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.top < window.innerHeight;",
        selector))


def save_screenshot(browser: Any, name: str) -> None:
    folder = os.environ.get("FINEAUDIT_SCREENSHOT_DIR")
    if not folder:
        return
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 2600))
    browser.save_screenshot(str(Path(folder) / name))
    browser.set_window_size(1280, 1600)


@pytest.mark.slow
def test_flawed_sample_shows_what_blocks_first(browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    report = sample_audit()
    page = tmp_path / "flawed.html"
    write_report("html", [report], page)
    seen = open_page(browser, page)
    assert seen["console"] == [] and seen["requests"] == [page.resolve().as_uri()]
    assert visible_on_first_screen(browser, ".panel.block")
    panel = browser.execute_script("return document.querySelector('.panel.block').innerText")
    blocking = [c.name for c in report.checks.values() if c.blocks_verdict(report.fail_on)]
    assert blocking and all(name in panel for name in blocking)
    assert "Why it matters:" in panel and "Fix:" in panel
    save_screenshot(browser, "report-flawed.png")


@pytest.mark.slow
def test_77_classes_draw_the_smallest(browser: Any, tmp_path: Path) -> None:
    report = classes_report(tmp_path)
    counts = report.checks["label_balance"].metrics["counts"]
    assert len(counts) == 77
    page = tmp_path / "classes.html"
    write_report("html", [report], page)
    open_page(browser, page)
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart-hbars text')].filter(t => t.getBBox().width > 0)"
        ".map(t => t.textContent)")
    smallest = min(counts, key=lambda k: (counts[k], k))
    assert smallest in drawn and all(label in drawn for label in counts)  # every class, none summed away
    assert visible_on_first_screen(browser, ".panel")
    save_screenshot(browser, "report-77-classes.png")
