"""Order, "when", "how long after" and "how many times" questions: the LLM places, the program compares.

Unit tests of the question kinds and option meanings, the comparison on hand-made memories (OCR lines with
their own times, transcript segments), and the default strategy's graph with a scripted LLM on a real clip.
"""
from __future__ import annotations

import pytest

from vidrecall.agent.memory_view import MemoryView
from vidrecall.agent.options import parse_options
from vidrecall.agent.time_questions import (TimeQuestion, option_count, option_duration, option_window,
                                            time_question)
from vidrecall.agent.timeline import event_words, mentions, timed_verdict
from vidrecall.core.types import SPEECH_LEVEL, MemoryNode, Span


def node(start: float, end: float, text: str, level: str = "coarse", node_id: int = 0) -> MemoryNode:
    depth = 3 if level == SPEECH_LEVEL else 0
    return MemoryNode(video_id="v", level=level, depth=depth, start=start, end=end, text=text, captioner="c",
                      prompt_hash="p", id=node_id)


def view_of(*nodes: MemoryNode) -> MemoryView:
    ordered = sorted(nodes, key=lambda n: (n.start, n.depth))
    coarse = sorted({(n.start, n.end) for n in ordered if n.level == "coarse"})
    return MemoryView(ordered, "", [Span(s, e) for s, e in coarse])


@pytest.mark.parametrize("question, options, kind", [
    ("Which of these was said first?", ["A. the ferry", "B. the museum"], TimeQuestion.FIRST),
    ("Which title appears later in the video?", ["A. ALPHA", "B. OMEGA"], TimeQuestion.LAST),
    ("When does the narrator mention the lighthouse?", ["A. In the first quarter of the video",
                                                        "B. In the last quarter of the video"], TimeQuestion.WHEN),
    ("At what point is the harbour code shown?", ["A. around 2:00-3:00", "B. around 7:00-8:00"], TimeQuestion.WHEN),
    ("How long after the welcome sign did the exit sign appear?", ["A. about 30 seconds", "B. about 4 minutes"],
     TimeQuestion.HOW_LONG_AFTER),
    ("How many times is the word LANTERN shown?", ["A. once", "B. twice", "C. three times", "D. four"],
     TimeQuestion.HOW_MANY),
    # not time questions
    ("What is the first name of the speaker?", ["A. Ann", "B. Bea"], None),
    ("What time does the clock on the wall show?", ["A. 2:30", "B. 3:15"], None),
    ("What was the second word on screen?", ["A. red", "B. blue"], None),
    ("Which fruit is named?", ["A. apple", "B. pear"], None),
    ("When does the narrator mention the lighthouse?", ["A. the lighthouse", "B. the pier"], None),
])
def test_time_question_kinds(question, options, kind):
    assert time_question(question, parse_options(options)) is kind


def test_option_meanings_on_the_clock():
    a, b, c, d = parse_options(["around 2:00-3:00", "In the last quarter of the video", "near the beginning",
                                "at about five minutes"])
    assert (option_window(a, 600).start, option_window(a, 600).end) == (120, 180)
    assert (option_window(b, 600).start, option_window(b, 600).end) == (450, 600)
    assert option_window(c, 600).end == 200
    assert option_window(d, 600).start == 270 and option_window(d, 600).end == 330
    dur = parse_options(["about two minutes", "90 seconds", "1:30"])
    assert [option_duration(o) for o in dur] == [120, 90, 90]
    counts = parse_options(["once", "twice", "three times", "seven"])
    assert [option_count(o) for o in counts] == [1, 2, 3, 7]


def test_ocr_lines_keep_their_own_times():
    caption = node(60, 120, 'On-screen text: "HARBOUR" (1:05-1:09); "LANTERN" (1:20, 1:50-1:52).', node_id=1)
    found = {m.text: m.times for m in mentions([caption])}
    assert found == {"HARBOUR": (65.0,), "LANTERN": (80.0, 110.0)}


def test_order_is_decided_by_the_times_of_the_texts_that_name_each_option():
    # both options in one coarse clip: only their own times can order them
    v = view_of(node(0, 60, 'On-screen text: "OMEGA GATE" (0:41-0:45); "ALPHA DOCK" (0:12-0:16).', node_id=1),
                node(60, 120, "A grey sky.", node_id=2))
    options = parse_options(["A. Omega gate", "B. Alpha dock"])
    cited = {"A": [Span(0, 60)], "B": [Span(0, 60)]}
    first = timed_verdict(TimeQuestion.FIRST, "Which sign is shown first?", options, v, 120, cited, forced=False)
    assert first.option == "B" and first.grounded and first.decided_by == "times" and first.confidence >= 0.7
    assert {round(e.start) for e in first.evidence_spans} == {12, 41}  # it cites what it compared
    last = timed_verdict(TimeQuestion.LAST, "Which sign is shown last?", options, v, 120, cited, forced=False)
    assert last.option == "A"


def test_an_option_the_llm_misplaced_is_placed_by_the_text_naming_it():
    v = view_of(node(0, 60, "A street.", node_id=1), node(60, 120, "A park.", node_id=2),
                node(95, 99, "Then we reached the museum.", SPEECH_LEVEL, node_id=3),
                node(20, 24, "First we took the ferry.", SPEECH_LEVEL, node_id=4))
    options = parse_options(["A. the museum", "B. the ferry"])
    # the LLM put the museum in clip 1 (wrong) and found no ferry: the texts place both
    verdict = timed_verdict(TimeQuestion.FIRST, "Which place was mentioned first?", options, v, 120,
                            {"A": [Span(0, 60)], "B": []}, forced=False)
    assert verdict.option == "B" and verdict.grounded


def test_negated_mention_does_not_place_an_option():
    v = view_of(node(0, 60, "A street.", node_id=1), node(60, 120, "A park.", node_id=2),
                node(10, 14, "We will never visit the castle.", SPEECH_LEVEL, node_id=3),
                node(30, 34, "We visited the castle at noon.", SPEECH_LEVEL, node_id=4),
                node(70, 74, "The bridge was closed.", SPEECH_LEVEL, node_id=5))
    options = parse_options(["A. the castle", "B. the bridge"])
    verdict = timed_verdict(TimeQuestion.FIRST, "Which was mentioned first?", options, v, 120,
                            {"A": [Span(0, 60)], "B": [Span(60, 120)]}, forced=False)
    assert verdict.option == "A"
    assert all(e.start != 10 for e in verdict.evidence_spans)  # "never visit the castle" is not where it is


def test_only_llm_placed_times_are_not_grounded_and_ask_to_look_closer():
    v = view_of(node(0, 60, "Some people.", node_id=1), node(60, 120, "A table.", node_id=2))
    options = parse_options(["A. a red kite", "B. a blue boat"])
    verdict = timed_verdict(TimeQuestion.FIRST, "Which is shown first?", options, v, 120,
                            {"A": [Span(60, 120)], "B": [Span(0, 60)]}, forced=False)
    assert verdict.option == "B" and not verdict.grounded and verdict.confidence < 0.7
    assert timed_verdict(TimeQuestion.FIRST, "Which is shown first?", options, v, 120, {"A": [], "B": []},
                         forced=False) is None


def test_when_how_many_and_how_long_after():
    v = view_of(node(0, 120, 'Text: "LANTERN" (0:10, 1:40-1:42).', node_id=1), node(120, 240, "A lake.", node_id=2),
                node(150, 155, "The lighthouse keeper waved at us.", SPEECH_LEVEL, node_id=3))
    when = timed_verdict(TimeQuestion.WHEN, "When does the narrator mention the lighthouse keeper?",
                         parse_options(["In the first quarter of the video", "In the third quarter of the video"]),
                         v, 240, {"event": [Span(120, 240)]}, forced=False)
    assert when.option == "B" and when.grounded
    assert event_words("When does the narrator mention the lighthouse keeper?") == ["lighthouse", "keeper"]
    many = timed_verdict(TimeQuestion.HOW_MANY, "How many times is the word LANTERN shown?",
                         parse_options(["once", "twice", "three times"]), v, 240, {"event": [Span(0, 120)]},
                         forced=False)
    assert many.option == "B" and many.grounded
    gap = timed_verdict(TimeQuestion.HOW_LONG_AFTER, "How long after the LANTERN text did the lighthouse keeper wave?",
                        parse_options(["about 20 seconds", "about two minutes", "about ten minutes"]), v, 240,
                        {"earlier": [Span(0, 120)], "later": [Span(120, 240)]}, forced=False)
    assert gap.option == "B"


# --- the default strategy's graph, scripted LLM, real clip / SQLite / FAISS -------------------------------
def test_graph_orders_by_times_zooming_when_the_coarse_clip_cannot(store_dir, embedder):
    """Both signs are in the same coarse clip and its caption does not name them; the LLM places both
    there (ungrounded), the agent zooms, and the fine captions' times decide: the LLM never says which."""
    from tests.conftest import clip
    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
    from vidrecall.api import VideoQA

    def text_for(span: Span, level: str, instruction: str | None) -> str:
        if level == "coarse":
            return "A busy street with many signs."
        if span.overlap(Span(20, 30)) > 0:
            return "A sign reading ALPHA DOCK."
        if span.overlap(Span(40, 50)) > 0:
            return "A sign reading OMEGA GATE."
        return "Cars pass by."

    llm = ScriptedChatModel(defaults={"locate": {"A": [1], "B": [1]},
                                      "localize": {"clips": [1], "instruction": "Read the signs"}})
    with VideoQA("offline", llm=llm, vlm=ScriptedCaptioner(text_for), embedder=embedder, store_dir=store_dir,
                 levels=fast_levels(), spans_per_round=6, speech={"source": "off"}) as qa:
        answer = qa.ask(clip("intel_one-by-one-person-detection.mp4"), "Which sign is shown first?",
                        ["A. Omega gate", "B. Alpha dock"])
    assert [s.node for s in answer.trajectory][:3] == ["recall", "answer", "localize"]
    assert "answer" not in llm.roles() and "final_answer" not in llm.roles()  # the LLM only placed them
    assert answer.option == "B" and answer.decided_by == "times" and not answer.forced
    assert answer.confidence >= 0.7
    assert any(e.start < 30 and e.end > 20 for e in answer.evidence)
    assert any(e.start < 50 and e.end > 40 for e in answer.evidence)


def test_how_long_after_places_both_events_from_the_question_when_the_llm_places_none():
    from vidrecall.agent.timeline import two_events

    question = "How long after the sign 'HARBOUR TOURS' is the sign 'EXIT FOUR' shown?"
    assert two_events(question) == (["harbour", "tours"], ["exit", "4"])
    v = view_of(node(0, 60, 'Text: "HARBOUR TOURS" (0:12-0:15).', node_id=1), node(60, 120, "A lake.", node_id=2),
                node(120, 180, 'Text: "EXIT 4" (2:30-2:33).', node_id=3))
    verdict = timed_verdict(TimeQuestion.HOW_LONG_AFTER, question,
                            parse_options(["about 30 seconds", "about 2 minutes", "about 5 minutes"]), v, 180,
                            {"earlier": [], "later": []}, forced=False)
    assert verdict.option == "B" and verdict.grounded
