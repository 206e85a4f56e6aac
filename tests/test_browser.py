"""The page in a real browser (Debian's Chromium driven by Playwright): paste a mixed JD,
submit, see the verdict banner, the highlighted lines and the legend; correct one label and
find it stored. Screenshots go to the test's output folder."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from test_app_server import app_server, example  # noqa: F401  (the shared server fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture
def page(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def test_paste_mixed_posting_and_correct_a_label(app_server, page, tmp_path):  # noqa: F811
    page.goto(app_server["url"], wait_until="domcontentloaded")
    page.locator("#analyze-btn").wait_for(timeout=60_000)
    page.locator("#jd-title textarea, #jd-title input").first.fill("Product Manager, Growth")
    page.locator("#jd-text textarea").fill(example("mixed-mystic-pm.md"))
    page.locator("#analyze-btn").click()

    banner = page.locator("#verdict-banner")
    banner.wait_for(timeout=60_000)
    assert banner.get_attribute("data-verdict") == "mixed"
    assert "Mixed:" in banner.inner_text()
    highlighted = page.locator("#highlighted")
    assert "Craft launch messaging" in highlighted.inner_text()
    assert highlighted.locator("text=marketing-ops").count() >= 1  # the label text, not only a colour
    legend = page.locator("#legend")
    for label in ("PM", "PMM", "shared", "marketing-ops", "other"):
        assert legend.get_by_text(label, exact=True).count() >= 1
    page.screenshot(path=str(tmp_path / "analysis.png"), full_page=True)

    page.locator("#corrections").get_by_text("Correct a label").click()
    page.locator("#correct-line input").click()
    page.get_by_role("option").filter(has_text="HubSpot").first.click()
    page.locator("#correct-label input").click()
    page.get_by_role("option", name="PMM", exact=True).click()
    page.locator("#save-correction").click()
    page.locator("#correction-saved").wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "correction.png"), full_page=True)

    with sqlite3.connect(Path(app_server["data_dir"]) / "corrections.sqlite") as db:
        rows = db.execute("SELECT text, label, predicted, model FROM corrections").fetchall()
    assert any("HubSpot" in text and label == "PMM" and model for text, label, predicted, model in rows)
