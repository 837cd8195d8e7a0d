"""Every decision the offline brain takes parses: the packaged Qwen2.5-Coder-1.5B on a loopback llama.cpp
server, asked each agent role's real prompt (answer, localize, final answer, locate) over a real rendered
memory, replies with schema-constrained JSON on the first attempt."""
from __future__ import annotations

import pytest

from vidrecall.agent.decisions import (AnswerDecision, EventPlaces, FinalDecision, LocalizeDecision, TwoEventPlaces,
                                       option_places_schema)
from vidrecall.core.types import SPEECH_LEVEL, MemoryNode
from vidrecall.memory.render import render_memory
from vidrecall.prompts import render

MEMORY_NODES = [
    MemoryNode("v", "coarse", 0, 0, 60, 'Frames 0:00-1:00. On-screen text: "HARBOUR TOURS" (0:12-0:15).', "ocr", "p"),
    MemoryNode("v", "coarse", 0, 60, 120, "Frames 1:00-2:00. No on-screen text. Colours: blue 40%.", "ocr", "p"),
    MemoryNode("v", "coarse", 0, 120, 180, 'Frames 2:00-3:00. On-screen text: "EXIT 4" (2:30-2:33).', "ocr", "p"),
    MemoryNode("v", SPEECH_LEVEL, 3, 70, 74, "The ferry leaves at half past two from pier 6.", "asr", "p"),
]
OPTIONS = ["A. Pier 6", "B. Pier 9", "C. Pier 2", "D. Pier 4"]


@pytest.fixture(scope="module")
def qwen():
    from vidrecall.tools.llm.factory import make_chat_model

    return make_chat_model("llamacpp:qwen2.5-coder-1.5b")


def prompt(template: str, question: str, options: list[str], **extra) -> str:
    memory = render_memory(MEMORY_NODES, 180.0)
    return render(template, question=question, options=options, memory=memory, duration=180,
                  duration_label="3:00", history=[], clip_count=3, **extra)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_role_of_the_real_model_parses_on_the_first_attempt(qwen):
    from vidrecall.core.accounting import CostMeter
    from vidrecall.tools.llm.structured import structured_call

    cases = [
        ("answer", AnswerDecision, "Which pier does the ferry leave from?", OPTIONS, {}),
        ("localize", LocalizeDecision, "What colour is the boat?", [], {"k": 2, "explored": []}),
        ("final_answer", FinalDecision, "Which pier does the ferry leave from?", OPTIONS, {}),
        ("locate", option_places_schema(["A", "B"]), "Which text is shown first?",
         ["A. EXIT 4", "B. HARBOUR TOURS"], {"target": "options"}),
        ("locate", EventPlaces, "When is the ferry mentioned?", ["A. 0:00-1:00", "B. 1:00-2:00", "C. 2:00-3:00"],
         {"target": "event"}),
        ("locate", TwoEventPlaces, "How long after the HARBOUR TOURS sign is the EXIT 4 sign shown?",
         ["A. about 30 seconds", "B. about 2 minutes"], {"target": "two_events"}),
    ]
    meter = CostMeter()
    replies = {}
    for template, schema, question, options, extra in cases:
        got = structured_call(qwen, prompt(template, question, options, **extra), schema, fallback=schema(),
                              meter=meter, role=template)
        assert got.ok and got.attempts == 1, (template, got.raw, got.error)
        replies[(template, schema.__name__)] = got.value
    assert meter.malformed_outputs == 0 and meter.llm_calls == len(cases)
    assert replies[("answer", "AnswerDecision")].answer.strip().upper().startswith("A")  # pier 6, said in speech
    assert meter.tokens_in_cached > 0  # the memory listing comes first: later calls reuse its KV prefix
