"""The page in a real headless Chromium, on a desktop and on a phone: upload a picture, press Generate, watch the
preview change, get a playable video, compare two results, Extend the video shown; and a launch with a login
refusing visitors without one.

Needs Debian's chromium at /usr/bin/chromium (``apt-get install -y chromium``; .ci/run installs it) and the
``playwright`` Python package, which drives that browser (no browser download). Set DEMO_SCREENSHOTS=docs to
also write the screenshots there (demo.png and demo-phone.png: that is how the README's pictures are made).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright

from demo.app import Access
from demo.config import CUSTOM_SIZE, DemoConfig
from demo.layout import load_examples
from demo.worker import GenerationWorker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# A 16:9 size that is small enough for a CPU yet big enough to look like a video in the screenshot; previews at
# every step, so that a few steps show several.
FORM = DemoConfig(resolution=CUSTOM_SIZE, width=256, height=144, min_side=32, num_frames=5, steps=4,
                  preview_interval_s=0)  # fmt: skip
TIMEOUT_MS = 120_000
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)

# Records every distinct preview image and status text the page shows, from the moment it is installed.
WATCH = """() => {
  window.seen = {previews: [], status: []};
  const note = (list, value) => { if (value && list[list.length - 1] !== value) list.push(value); };
  new MutationObserver(() => {
    note(window.seen.previews, document.querySelector('#preview img')?.src);
    note(window.seen.status, document.querySelector('#status')?.innerText);
  }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def keep_screenshot(path: Path, name: str) -> None:
    folder = os.environ.get("DEMO_SCREENSHOTS")
    if folder:
        shutil.copyfile(path, Path(folder) / name)


def start(page: Page, url: str, picture: str, prompt: str) -> None:
    page.goto(url, timeout=TIMEOUT_MS)
    page.locator("#input-image input[type=file]").set_input_files(picture)
    expect(page.locator("#input-image img")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_label("Prompt", exact=True).fill(prompt)


def wait_for_video(page: Page, runs: int) -> None:
    expect(page.locator("#status")).to_contain_text("Done in", timeout=TIMEOUT_MS)
    expect(page.locator("#history .thumbnail-item")).to_have_count(runs, timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('#output-video video'); return v && v.readyState >= 1; }",
        timeout=TIMEOUT_MS,
    )


def test_desktop_preview_video_and_comparison(served, browser: Browser, tmp_path: Path) -> None:
    picture, prompt = load_examples()[0]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(served.url, timeout=TIMEOUT_MS)
    expect(page.locator("#tiny-warning")).to_contain_text("random weights")
    # before any run: nothing to act on, and no seed shown
    expect(page.locator("#generate")).to_be_disabled()
    expect(page.locator("#cancel")).to_be_disabled()
    expect(page.locator("#reuse-seed")).to_be_disabled()
    assert page.locator("#seed-used input").input_value() == ""
    assert "/" not in page.locator("#header").inner_text().replace("image to video", "")  # no server path

    start(page, served.url, picture, prompt)
    expect(page.locator("#generate")).to_be_enabled()
    page.evaluate(WATCH)
    page.locator("#generate").click()
    expect(page.locator("#cancel")).to_be_enabled(timeout=TIMEOUT_MS)
    wait_for_video(page, runs=1)
    seen = page.evaluate("window.seen")
    assert len(seen["previews"]) >= 2, "the preview must change while the run goes"
    assert any(text.startswith("Step ") for text in seen["status"])
    assert any(text.startswith("Decoding") for text in seen["status"])
    video = page.locator("#output-video video")
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [256, 144]
    assert video.evaluate("v => v.duration") == pytest.approx(5 / FORM.fps, abs=0.1)
    expect(page.locator("#status")).to_contain_text("5 frames at 256×144")
    expect(page.locator("#cancel")).to_be_disabled()
    expect(page.locator("#compare")).to_be_disabled()  # one video: nothing to compare yet

    # a second, smaller video (quicker; the comparison shows it resized to the first one's size)
    for field, value in (("seed", "5"), ("width", "128"), ("height", "80")):
        page.locator(f"#field-{field} input").fill(value)
    page.locator("#generate").click()
    wait_for_video(page, runs=2)
    expect(page.locator("#compare")).to_be_enabled()
    page.locator("#compare").click()
    expect(page.locator("#comparison-text")).to_contain_text("Left: #1, middle: #2", timeout=TIMEOUT_MS)
    expect(page.locator("#comparison-text")).to_contain_text("#2 was resized from 128×80")
    page.wait_for_function(
        "() => { const v = document.querySelector('#comparison-video video'); return v && v.readyState >= 1; }",
        timeout=TIMEOUT_MS,
    )
    side_by_side = page.locator("#comparison-video video").evaluate("v => [v.videoWidth, v.videoHeight]")
    assert side_by_side == [3 * 256 + 2 * 4, 144]
    expect(page.locator("#comparison-image img")).to_be_visible()
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot = tmp_path / "demo.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000
    keep_screenshot(screenshot, "demo.png")

    # Extend: the video shown (#2, 5 frames) grows by one segment of 4 new frames (1 conditioning frame)
    expect(page.locator("#extend")).to_be_enabled()
    expect(page.locator("#refine")).to_be_enabled()  # the tiny checkpoint has the refinement LoRA
    page.get_by_text("Extend / long video").click()
    page.locator("#extend").click()
    expect(page.locator("#status")).to_contain_text("extended: 9 frames in 2 segments", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('#output-video video'); return v && v.duration > 7 / 15; }",
        timeout=TIMEOUT_MS,
    )
    assert video.evaluate("v => v.duration") == pytest.approx(9 / FORM.fps, abs=0.1)
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [128, 80]
    expect(page.locator("#history .thumbnail-item")).to_have_count(3, timeout=TIMEOUT_MS)


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def test_phone_shows_generate_first_and_scrolls_to_the_result(served, browser: Browser, tmp_path: Path) -> None:
    picture, prompt = load_examples()[1]
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(served.url, timeout=TIMEOUT_MS)
    page.wait_for_selector("#generate")
    assert in_view(page, "#input-image") and in_view(page, "#field-prompt") and in_view(page, "#generate")
    start(page, served.url, picture, prompt)
    for field, value in (("width", "128"), ("height", "80")):  # smaller, for a quick run
        page.locator(f"#field-{field} input").fill(value)
    page.evaluate("() => window.scrollTo(0, 0)")
    assert in_view(page, "#generate"), "Generate must be on the first screen with an image chosen"
    page.locator("#generate").click()
    page.wait_for_function("() => window.scrollY > 300", timeout=TIMEOUT_MS)  # taken to the output
    wait_for_video(page, runs=1)
    box = page.locator("#output-video").bounding_box()
    assert box["y"] < PHONE["height"] and box["y"] + box["height"] > 0, "the video is on screen"
    screenshot = tmp_path / "demo-phone.png"
    page.screenshot(path=screenshot)
    keep_screenshot(screenshot, "demo-phone.png")


def test_a_launch_with_a_login_refuses_visitors_without_one(serve, tiny_pipe, browser: Browser) -> None:
    worker = GenerationWorker(tiny_pipe)
    with serve(worker, FORM, Access(users=(("ann", "wonderland"),))) as url:
        assert httpx.get(url + "config").status_code == 401
        join = httpx.post(url + "gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"})
        assert join.status_code == 401
        page = browser.new_page()
        page.goto(url, timeout=TIMEOUT_MS)
        expect(page.get_by_role("button", name="Login")).to_be_visible(timeout=TIMEOUT_MS)
        assert page.locator("#generate").count() == 0
        page.get_by_label("username").fill("ann")
        page.get_by_label("password").fill("wonderland")
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#generate")).to_be_visible(timeout=TIMEOUT_MS)
        assert Client(url, auth=("ann", "wonderland"), verbose=False).view_api(print_info=False, return_format="dict")
