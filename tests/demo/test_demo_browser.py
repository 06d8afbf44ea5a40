"""The page in a real headless Chromium: upload a picture, press Generate, get a playable video, screenshot it.

Needs Debian's chromium at /usr/bin/chromium (``apt-get install -y chromium``; .ci/run installs it) and the
``playwright`` Python package, which drives that browser (no browser download). Set DEMO_SCREENSHOT=docs/demo.png
to also write the screenshot there (that is how the README's picture is made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from demo.config import CUSTOM_SIZE, DemoConfig
from demo.layout import EXAMPLES_DIR, load_examples

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# A 16:9 size that is small enough for a CPU yet big enough to look like a video in the screenshot.
FORM = DemoConfig(resolution=CUSTOM_SIZE, width=256, height=144, min_side=32, num_frames=9, steps=4)
TIMEOUT_MS = 120_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)


def test_upload_generate_and_play_in_chromium(served, tmp_path: Path) -> None:
    picture, prompt = load_examples()[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(served.url, timeout=TIMEOUT_MS)
            expect(page.locator("#tiny-warning")).to_contain_text("random weights")
            page.locator("#input-image input[type=file]").set_input_files(picture)
            expect(page.locator("#input-image img")).to_be_visible(timeout=TIMEOUT_MS)
            page.get_by_label("Prompt", exact=True).fill(prompt)
            page.locator("#generate").click()

            video = page.locator("#output-video video")
            video.wait_for(timeout=TIMEOUT_MS)
            page.wait_for_function(
                "() => { const v = document.querySelector('#output-video video'); return v && v.readyState >= 1; }",
                timeout=TIMEOUT_MS,
            )
            duration = video.evaluate("v => v.duration")
            size = video.evaluate("v => [v.videoWidth, v.videoHeight]")
            expect(page.locator("#status")).to_contain_text("9 frames at 256×144", timeout=TIMEOUT_MS)
            page.locator("#status").scroll_into_view_if_needed()
            page.evaluate("() => window.scrollTo(0, 0)")
            screenshot = tmp_path / "demo.png"
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    assert size == [256, 144]
    assert duration == pytest.approx(9 / FORM.fps, abs=0.1)
    assert screenshot.stat().st_size > 10_000
    assert Path(picture).parent == EXAMPLES_DIR
    if os.environ.get("DEMO_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["DEMO_SCREENSHOT"])
