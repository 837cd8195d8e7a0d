"""Every edge of both strategies' graphs, driven by scripted models over real clips, SQLite and FAISS."""
from __future__ import annotations

import pytest

from tests.conftest import clip
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA
from vidrecall.core.types import Span

PEOPLE = "intel_one-by-one-person-detection.mp4"  # 139.4 s: three coarse clips
FROG = "mdn_frog.mp4"  # 8.3 s: shorter than one coarse clip
OPTIONS = ["A. Red", "B. Green", "C. Blue", "D. Yellow"]
QUESTION = "What colour is the toy that appears on the table?"


def needle_captioner(needle: Span, text: str = "A small green toy frog sits on the table."):
    """Coarse captions say nothing useful; finer captions overlapping `needle` show the answer."""
    def text_for(span: Span, level: str, instruction: str | None) -> str:
        if level != "coarse" and span.overlap(needle) > 0:
            return text
        return f"An empty room with a white wall ({level} {span.label()})."
    return ScriptedCaptioner(text_for)


def make_qa(store_dir, embedder, llm, captioner, **overrides):
    settings = {"levels": fast_levels(), "spans_per_round": 1, "confidence_threshold": 0.7, **overrides}
    return VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store_dir, **settings)


def nodes_of(answer) -> list[str]:
    return [s.node for s in answer.trajectory]


def test_confident_at_coarse_answers_without_zooming(store_dir, embedder):
    captioner = ScriptedCaptioner(lambda span, level, instr: "A bright green toy frog on a wooden table.")
    llm = ScriptedChatModel(scripts={"answer": [{"answer": "B", "confidence": 0.9, "clips": [1]}]})
    with make_qa(store_dir, embedder, llm, captioner) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    assert nodes_of(answer) == ["recall", "answer", "finish"]
    assert answer.option == "B" and not answer.forced
    assert answer.decided_by == "llm+evidence"
    assert answer.cost.captions_by_level == {"coarse": 3}
    assert {lv for lv, *_ in captioner.captioned} == {"coarse"}


def test_open_question_confident_when_cited_clip_backs_it(store_dir, embedder):
    captioner = ScriptedCaptioner(lambda span, level, instr: "A man in a black jacket writes on a whiteboard.")
    llm = ScriptedChatModel(scripts={"answer": [{"answer": "a black jacket", "confidence": 0.8, "clips": [2]}]})
    with make_qa(store_dir, embedder, llm, captioner) as qa:
        answer = qa.ask(clip(PEOPLE), "What is the man wearing?")
    assert nodes_of(answer) == ["recall", "answer", "finish"]
    assert answer.option is None and answer.answer == "a black jacket" and answer.decided_by == "llm"
    assert answer.evidence and answer.evidence[0].start == pytest.approx(60.0)


def test_unbacked_confidence_counts_nothing_offline_so_the_agent_zooms_and_finds_the_needle(store_dir, embedder):
    needle = Span(70, 80)
    llm = ScriptedChatModel(
        scripts={"answer": [{"answer": "D", "confidence": 0.9}],  # sure of an answer nothing shows
                 "localize": [{"clips": [2], "instruction": "What colour is the toy on the table?"}]},
        defaults={"answer": {"answer": "B", "confidence": 0.8, "spans": [[70, 80]]}})
    with make_qa(store_dir, embedder, llm, needle_captioner(needle)) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    assert nodes_of(answer) == ["recall", "answer", "localize", "zoom", "answer", "finish"]
    first = answer.trajectory[1]
    # offline llm_confidence_weight is 0: the LLM's 0.9 for "Yellow", which no cited caption names, counts nothing
    assert first.detail["decision"]["confidence"] == 0.0 and first.detail["decision"]["grounded"] is False
    zoom = answer.trajectory[3]
    assert zoom.spans == [(60.0, 120.0)] and zoom.captions_added == 7  # entire + six 10 s clips
    assert answer.option == "B" and answer.confidence >= 0.7 and not answer.forced
    assert any(e.start == pytest.approx(70.0) and e.level == "fine" for e in answer.evidence)
    assert answer.cost.captions_by_level == {"coarse": 3, "fine": 7}


def test_budget_spent_forces_a_final_answer(store_dir, embedder):
    llm = ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.2},
                                      "localize": {"clips": [1]},
                                      "final_answer": {"answer": "C", "clips": [1]}})
    captioner = ScriptedCaptioner(lambda span, level, instr: "People walk to a wall one by one.")
    with make_qa(store_dir, embedder, llm, captioner, budgets={"max_iterations": 1}) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    assert nodes_of(answer) == ["recall", "answer", "localize", "zoom", "answer", "final", "finish"]
    assert answer.forced and answer.option == "C" and answer.decided_by == "llm"
    assert "budget spent: iterations 1/1" in answer.trajectory[-2].message


def test_caption_budget_stops_a_zoom_midway(store_dir, embedder):
    llm = ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.1}, "localize": {"clips": [1, 2]}})
    with make_qa(store_dir, embedder, llm, ScriptedCaptioner(), spans_per_round=2,
                 budgets={"max_captions": 6}) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    assert answer.cost.captions_made == 6  # 3 coarse + 3 fine, then the zoom stops
    zoom = next(s for s in answer.trajectory if s.node == "zoom")
    assert "caption budget reached mid-zoom" in zoom.detail["notes"]
    assert answer.forced and "captions 6/6" in answer.trajectory[-2].message


def test_malformed_model_output_is_retried_then_falls_back_to_retrieval(store_dir, embedder):
    needle = Span(125, 135)
    garbage = "I think the answer is probably one of them, hard to say"
    llm = ScriptedChatModel(defaults={"answer": garbage, "localize": "{clips: three", "final_answer": garbage})
    captioner = needle_captioner(needle, "A small green toy frog sits on the wooden table.")
    with make_qa(store_dir, embedder, llm, captioner, budgets={"max_iterations": 2}) as qa:
        answer = qa.ask(clip(PEOPLE), "Which toy frog colour is on the wooden table?", OPTIONS)
    first = answer.trajectory[1]
    assert first.node == "answer" and first.detail["parsed"] is False
    assert len(first.model_calls) == 3  # one call + two repair retries
    assert answer.cost.malformed_outputs >= 6
    plans = [p for s in answer.trajectory if s.node == "localize" for p in s.detail["plan"]]
    assert plans and all(p["source"] == "retrieval" for p in plans)
    # the evidence check reads the zoomed captions and answers although the LLM never produced JSON
    assert answer.option == "B" and answer.decided_by == "evidence"


def test_spans_outside_the_video_are_dropped_and_recorded(store_dir, embedder):
    llm = ScriptedChatModel(scripts={"localize": [{"clips": [99], "spans": [[5000, 5060], [-30, -1]],
                                                   "instruction": "look"}]},
                            defaults={"answer": {"answer": "A", "confidence": 0.1}})
    with make_qa(store_dir, embedder, llm, ScriptedCaptioner(), budgets={"max_iterations": 1}) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    localize = next(s for s in answer.trajectory if s.node == "localize")
    whys = [d["why"] for d in localize.detail["dropped"]]
    assert whys.count("outside the video (0-139.4 s)") == 2 and "no such clip number" in whys
    assert localize.detail["plan"][0]["source"] == "retrieval"
    assert answer.forced  # the run went on to a forced answer instead of crashing


def test_llm_times_snap_to_real_clips(store_dir, embedder):
    # 61.3-118.9 is "clip 2" with rounding noise: it must zoom exactly 60-120
    llm = ScriptedChatModel(scripts={"localize": [{"spans": [[61.3, 118.9]], "instruction": "look at the table"}]},
                            defaults={"answer": {"answer": "A", "confidence": 0.1}})
    with make_qa(store_dir, embedder, llm, ScriptedCaptioner(), budgets={"max_iterations": 1}) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    zoom = next(s for s in answer.trajectory if s.node == "zoom")
    assert zoom.spans == [(60.0, 120.0)]


def test_video_shorter_than_one_coarse_clip(store_dir, embedder):
    captioner = needle_captioner(Span(0, 9), "A bright green toy frog on a wooden table.")
    llm = ScriptedChatModel(defaults={"answer": {"answer": "", "confidence": 0.0}, "localize": {"clips": [1]}})
    with make_qa(store_dir, embedder, llm, captioner) as qa:
        answer = qa.ask(clip(FROG), QUESTION, OPTIONS)
    zoom = next(s for s in answer.trajectory if s.node == "zoom")
    assert zoom.spans == [(0.0, 8.27)] and zoom.captions_added == 1  # the one fine clip is the whole span
    assert answer.option == "B" and answer.decided_by == "evidence"


# --- the faithful VideoLucy strategy --------------------------------------------------------------------
def lucy(store_dir, embedder, llm, captioner, **overrides):
    """The faithful method: no evidence vote, as in the videolucy profile."""
    return make_qa(store_dir, embedder, llm, captioner, strategy="videolucy", evidence_role="off", **overrides)


def test_videolucy_filter_then_single_span_zoom_then_confident(store_dir, embedder):
    needle = Span(125, 135)
    llm = ScriptedChatModel(scripts={
        "videolucy_answer": [{"Confidence": False, "Answer": "No Answer", "Time Period": "No Time"},
                             {"Confidence": True, "Answer": "B", "Time Period": [[125, 135]], "Reason": "green"}],
        "videolucy_filter": [{"Flag": True, "Time Period": [[0, 60], [120, 139.4]], "Reason": "a detail"}],
        "videolucy_localize": [{"Time Period": [120, 139.4], "Instruction": "Describe the toy's colour"}]})
    captioner = needle_captioner(needle)
    with lucy(store_dir, embedder, llm, captioner) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    assert llm.roles() == ["videolucy_answer", "videolucy_filter", "videolucy_localize", "videolucy_answer"]
    assert nodes_of(answer) == ["recall", "answer", "filter", "localize", "zoom", "answer", "finish"]
    assert answer.trajectory[2].spans == [(0.0, 60.0), (60.0, 120.0), (120.0, 139.4)]  # 2 periods ±1 neighbour
    assert answer.trajectory[4].spans == [(120.0, 139.4)]
    fine = [(span, instr) for lv, span, instr, _ in captioner.captioned if lv == "fine"]
    assert len(fine) == 3 and all(instr == "Describe the toy's colour" for _, instr in fine)  # entire + divided
    assert answer.option == "B" and answer.confidence == 1.0 and answer.decided_by == "llm"


def test_videolucy_ordinal_question_skips_the_filter_and_forces_an_answer(store_dir, embedder):
    llm = ScriptedChatModel(defaults={"videolucy_answer": {"Confidence": False, "Answer": "No Answer"},
                                      "videolucy_localize": {"Time Period": "none", "Instruction": ""},
                                      "videolucy_final": {"Answer": "A", "Time Period": [[0, 60]]}})
    with lucy(store_dir, embedder, llm, ScriptedCaptioner(), budgets={"max_iterations": 2}) as qa:
        answer = qa.ask(clip(PEOPLE), "Who is the first person to walk to the wall?", ["A. A woman", "B. A man"])
    assert "videolucy_filter" not in llm.roles()
    assert answer.trajectory[2].node == "filter" and answer.trajectory[2].detail["ordinal"] is True
    assert llm.roles().count("videolucy_localize") == 2
    sources = [s.detail["plan"][0]["source"] for s in answer.trajectory if s.node == "localize"]
    assert sources == ["retrieval fallback", "retrieval fallback"]
    assert answer.forced and answer.option == "A"
    assert nodes_of(answer)[-2:] == ["final", "finish"]


def test_memory_beyond_the_context_budget_is_recalled_by_retrieval(store_dir, embedder):
    from tests.conftest import HAYSTACK
    from vidrecall.memory.render import estimate_tokens

    video = HAYSTACK / "haystack_15min.mp4"
    if not video.exists():
        pytest.skip(f"shared haystack missing: {video}")

    def text_for(span: Span, level: str, instruction: str | None) -> str:
        if span.contains(500):
            return "A pink toy pig stands on a wooden table, filmed close up."
        return f"Ordinary footage of people, streets and rooms, minute {int(span.start // 60)}, nothing on tables."

    llm = ScriptedChatModel(defaults={"answer": {"answer": "C", "confidence": 0.9, "clips": [2]}})
    with make_qa(store_dir, embedder, llm, ScriptedCaptioner(text_for), context_tokens=200, retrieval_k=1) as qa:
        answer = qa.ask(video, "Which toy is shown on a wooden table?", ["A. A frog", "B. A car", "C. A pink pig"])
        recall = answer.trajectory[0]
        recalled = [qa.memory.store.get(i) for i in recall.detail["node_ids"]]
    assert recall.detail["how"].startswith("top-1 retrieval")
    assert [n.span.label() for n in recalled] == ["7:00-8:00", "8:00-9:00", "9:00-10:00"]  # the hit ± 1 neighbour
    memory_text = llm.calls[0][1].split("Question:")[0]
    assert estimate_tokens(memory_text) <= 200 + 120  # the rendered memory plus the prompt's own lines
    assert answer.option == "C"


def test_without_usable_localization_the_agent_covers_unexplored_clips_before_digging_deeper(store_dir, embedder):
    needle = Span(125, 130)
    unsure = {"answer": "A", "confidence": 0.1}
    llm = ScriptedChatModel(defaults={"answer": unsure, "localize": {"clips": [], "instruction": ""}})

    def text_for(span: Span, level: str, instruction: str | None) -> str:  # no clip looks likelier than another
        return "A small green toy frog sits on the table." if level != "coarse" and span.overlap(needle) > 0 \
            else "An empty room with a white wall."

    with make_qa(store_dir, embedder, llm, ScriptedCaptioner(text_for), budgets={"max_iterations": 3}) as qa:
        answer = qa.ask(clip(PEOPLE), QUESTION, OPTIONS)
    zooms = [s.spans for s in answer.trajectory if s.node == "zoom"]
    assert zooms == [[(0.0, 60.0)], [(60.0, 120.0)], [(120.0, 139.4)]]  # breadth first, not into 0-60's children
    assert answer.option == "B" and answer.decided_by == "evidence"
