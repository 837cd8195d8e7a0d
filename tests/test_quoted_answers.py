"""The answer prompt asks the model to copy the memory text that answers before it names a letter. The program
checks the quote against the memory: a real quote is cited where it is and decides the option it clearly names
when the letter disagrees; a made-up quote grounds nothing."""
from __future__ import annotations

from vidrecall.agent.judge import JudgeSettings, LlmClaim, judge
from vidrecall.agent.memory_view import MemoryView
from vidrecall.core.types import SPEECH_LEVEL, MemoryNode, Span

OPTIONS = ["A. Strings: Martin M600 Tenor", "B. Strings: Aquila Nylgut Tenor AQ-10",
           "C. Strings: D'Addario EJ46 Classical", "D. Strings: D'Addario Pro Art Tenor J71"]
QUESTION = "What does the on-screen caption about the strings say?"
TIE_BREAK = JudgeSettings("tie_break", 0.5)


def view() -> MemoryView:
    nodes = [MemoryNode("v", "coarse", 0, 0, 60, "Frames 0:00-1:00. No on-screen text.", "ocr", "p", id=1),
             MemoryNode("v", "coarse", 0, 60, 120, 'Frames 1:00-2:00. On-screen text: "Strings : D\'Addario Pro Art '
                        'Tenor J71" (1:01-1:04).', "ocr", "p", id=2),
             MemoryNode("v", SPEECH_LEVEL, 3, 30, 33, "The team meeting moved to Thursday.", "asr", "p", id=3)]
    return MemoryView(nodes, "", [Span(0, 60), Span(60, 120)])


def test_a_real_quote_decides_the_option_it_names_and_is_cited_where_it_is():
    claim = LlmClaim("C", 1.0, [Span(0, 60)], "", True, quote="Strings : D'Addario Pro Art Tenor J71")
    verdict = judge(QUESTION, OPTIONS, claim, view(), None, forced=False, settings=TIE_BREAK)
    assert verdict.option == "D" and verdict.grounded and verdict.confidence == 1.0
    assert "names option D, not the C it wrote" in verdict.reason
    assert [e.node_id for e in verdict.evidence_spans] == [2]  # the quoted caption, not the clip the model named
    assert verdict.llm.quote.startswith("Strings")


def test_a_made_up_quote_changes_nothing_and_grounds_nothing():
    claim = LlmClaim("C", 1.0, [Span(0, 60)], "", True, quote="Strings: D'Addario EJ46 Classical")
    verdict = judge(QUESTION, OPTIONS, claim, view(), None, forced=False, settings=TIE_BREAK)
    assert verdict.option == "C" and verdict.decided_by == "llm" and not verdict.grounded
    assert verdict.confidence == 0.5  # the profile's llm_confidence_weight: not enough to stop looking


def test_an_open_answer_is_grounded_by_its_quote_whatever_clip_it_names():
    claim = LlmClaim("Thursday", 0.9, [Span(60, 120)], "", True, quote="The team meeting moved to Thursday.")
    verdict = judge("Which day was the meeting moved to?", [], claim, view(), None, forced=False, settings=TIE_BREAK)
    assert verdict.grounded and verdict.confidence == 0.9
    assert any(e.level == SPEECH_LEVEL for e in verdict.evidence_spans)
