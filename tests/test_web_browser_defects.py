"""Defects of `vidrecall serve` that only a browser shows (issue 33), in real Chromium (Playwright) against the
real server on a free 127.0.0.1 port, models scripted: a reload mid-question, long names and questions that
widen the page, a format the browser cannot play, options resent by a follow-up, and a nonsense search.
Screenshots go to /tmp (h33_*.png)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.browser import chromium, needs_chromium
from tests.conftest import CLIPS, clip
from tests.test_web_defects import GatedChatModel
from tests.webserver import live_server, scripted_factory
from vidrecall.web import ServeSettings, create_app

BOTTLES = "intel_bottle-detection.mp4"
AVI = "deb-opencv_tree.avi"  # 30 s of Cinepak in AVI: decodable by the server, not playable by Chromium
UPLOAD = {"content-type": "application/octet-stream", "x-vidrecall": "1"}
SHOTS = Path("/tmp")

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
    yield page
    context.close()


def serve(store, embedder, **model):
    factory = scripted_factory(store, embedder, **model)
    return create_app(ServeSettings(store=store, allow=(CLIPS,), qa_factory=factory))


def add(base: str, name: str = BOTTLES) -> str:
    r = httpx.post(f"{base}/api/videos", json={"path": str(clip(name))}, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def open_video(page, base: str, vid: str, session: str | None = None) -> None:
    page.goto(f"{base}/#/video/{vid}" + (f"/session/{session}" if session else ""))
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#chat-log")


def no_sideways_scroll(page) -> dict:
    return page.evaluate("() => ({scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, "
                         "width: window.innerWidth})")


# 3 -----------------------------------------------------------------------------------------------------------
def test_a_reload_mid_question_follows_the_running_question_to_its_answer(page, store_dir, embedder):
    gate = threading.Event()  # the model replies when the test says so
    llm = GatedChatModel(gate=gate, defaults={"answer": {"answer": "three bottles", "confidence": 0.9, "clips": [1]}})
    try:
        with live_server(serve(store_dir, embedder, llm=llm)) as base:
            vid = add(base)
            open_video(page, base, vid)
            page.fill("#question", "How many bottles are on the table?")
            page.click("#ask-button")
            page.wait_for_selector(".turn .step", timeout=30_000)  # a step is on screen; the agent still works
            assert page.locator(".turn .answer").count() == 0
            assert "/session/" in page.url

            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_selector(".turn .q")  # the question is back at once, not lost until another reload
            assert page.inner_text(".turn .q") == "How many bottles are on the table?"
            page.wait_for_selector(".turn .step")  # the steps so far are replayed
            assert page.is_disabled("#ask-button")  # it is still being answered
            assert "(0, answering now)" in page.inner_text("#session-select")
            page.screenshot(path=str(SHOTS / "h33_reloaded.png"), full_page=True)
            gate.set()
            page.wait_for_selector(".turn .answer", timeout=60_000)  # the answer arrives without another reload
            assert "three bottles" in page.inner_text(".turn .answer .answer-text")
            steps = page.locator(".turn .step")
            nodes = [s.get_attribute("data-node") for s in steps.all()]
            assert nodes == ["recall", "answer", "finish"]  # each step once: replayed, then streamed
            assert page.locator(".turn").count() == 1 and page.is_enabled("#ask-button")
            page.wait_for_function("() => document.getElementById('session-select').innerText.includes('(1)')")
            assert "answering now" not in page.inner_text("#session-select")
            assert not page.errors, page.errors
    finally:
        gate.set()


# 5 -----------------------------------------------------------------------------------------------------------
def test_long_names_and_questions_do_not_widen_the_page(page, store_dir, embedder):
    long_name = "conference-recording-" + "x" * 115 + ".mp4"  # 140 characters, no space to wrap at
    question = "What is written on " + "the-label-of-the-leftmost-bottle-" * 8 + "?"
    options = ["A. " + "a-very-long-option-without-spaces-" * 5, "B. short"]
    answer = {"answer": "B", "confidence": 0.9, "clips": [1]}
    with live_server(serve(store_dir, embedder, answer=answer, budgets={"max_iterations": 1})) as base:
        r = httpx.post(f"{base}/api/videos/upload", params={"filename": long_name},
                       content=clip(BOTTLES).read_bytes(), headers=UPLOAD, timeout=60)
        assert r.status_code == 201, r.text
        vid = r.json()["id"]
        with httpx.stream("POST", f"{base}/api/videos/{vid}/ask", json={"question": question, "options": options},
                          timeout=60) as asked:
            lines = asked.iter_lines()
            session = json.loads(next(line for line in lines if line.startswith("data: "))[6:])["session_id"]
            assert "event: answer" in list(lines)
        for width in (1400, 700):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(base)
            page.wait_for_selector("tr[data-video-id]")
            sizes = no_sideways_scroll(page)
            assert sizes["scroll"] <= sizes["width"] and sizes["body"] <= sizes["width"], ("library", sizes)

            open_video(page, base, vid, session)
            page.wait_for_selector(".turn .answer")
            page.fill("#search", "bottle-" * 40)
            page.click("#search-form button")
            page.wait_for_selector("#search-hits li .chip")
            sizes = no_sideways_scroll(page)
            assert sizes["scroll"] <= sizes["width"] and sizes["body"] <= sizes["width"], ("video page", width, sizes)
            box = page.locator("#chat").bounding_box()
            assert box["x"] + box["width"] <= width + 1
            page.screenshot(path=str(SHOTS / f"h33_long_text_{width}.png"), full_page=True)
        assert not page.errors, page.errors


# 2 -----------------------------------------------------------------------------------------------------------
def test_a_format_the_browser_cannot_play_is_said_in_words(page, store_dir, embedder):
    with live_server(serve(store_dir, embedder)) as base:
        vid = add(base, AVI)
        open_video(page, base, vid)
        note = page.wait_for_selector("#player-note:not([hidden])", timeout=15_000)
        assert note.inner_text() == ("this browser cannot play .avi; the memory and answers work, "
                                     "timestamps are shown as text")
        assert not page.is_visible("#player")  # no grey bar at 0:00
        page.screenshot(path=str(SHOTS / "h33_unplayable.png"), full_page=True)
        page.fill("#question", "What is in the video?")
        page.click("#ask-button")
        page.wait_for_selector(".turn .answer", timeout=30_000)  # the memory and answers work
        assert page.locator(".turn .answer .chip span").first.inner_text().startswith("0:")  # times as text

        playable = add(base, BOTTLES)  # and a video it can play says nothing of the kind
        open_video(page, base, playable)
        page.wait_for_function("() => document.getElementById('player').readyState >= 1")
        assert not page.is_visible("#player-note")
        assert not page.errors, page.errors


# 8, 10 -------------------------------------------------------------------------------------------------------
def test_a_follow_up_does_not_resend_the_last_options_and_nonsense_finds_no_close_match(page, store_dir, embedder):
    app = serve(store_dir, embedder)
    with live_server(app) as base:
        vid = add(base)
        open_video(page, base, vid)
        page.fill("#question", "What colour are the caps?")
        page.fill("#options", "A. red\nB. blue")
        page.click("#ask-button")
        page.wait_for_selector(".turn .answer", timeout=30_000)
        assert page.input_value("#options") == "" and page.input_value("#question") == ""

        page.fill("#question", "And how many bottles are there?")
        page.click("#ask-button")
        page.wait_for_function("() => document.querySelectorAll('.turn .answer').length === 2", timeout=30_000)
        assert page.locator(".turn").nth(1).locator(".options li").count() == 0
        session = page.url.rsplit("/session/", 1)[1]
        turns = app.state.services.book.turns(session)
        assert [t.options for t in turns] == [["A. red", "B. blue"], []]  # the follow-up went without them

        page.fill("#search", "qwertyuiop zxcvbnm")
        page.click("#search-form button")
        page.wait_for_selector("#search-hits .no-match")
        assert page.inner_text("#search-hits .no-match") == "no close match; the nearest captions:"
        page.screenshot(path=str(SHOTS / "h33_no_close_match.png"), full_page=True)
        assert page.locator("#search-hits li.weak").count() >= 1
        page.fill("#search", "bottles with blue caps")
        page.click("#search-form button")
        page.wait_for_function("() => !document.querySelector('#search-hits .no-match') && "
                               "document.querySelectorAll('#search-hits li .chip').length > 0")
        assert page.locator("#search-hits li.weak").count() == 0
        assert not page.errors, page.errors
