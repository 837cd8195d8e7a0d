"""Structured output: JSON extraction and repair on replies as real models write them, bounded re-asking,
and the promise that a model which never complies yields ok=False + the fallback instead of an exception.

A scripted chat model drives the retry branches deterministically; the OpenAI-compatible path over a
real loopback server is in test_llm_openai_compat.py and the real SmolLM2 run in test_llm_local.py.
"""
from __future__ import annotations

from typing import Any, Literal

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, Field

from vidrecall.core.accounting import CostMeter
from vidrecall.tools.llm.json_repair import JSONExtractionError, extract_json, repair_json
from vidrecall.tools.llm.structured import (
    LLMCallError,
    chat_text,
    parse_reply,
    schema_instruction,
    structured_call,
)


class Span(BaseModel):
    start: float
    end: float


class Decision(BaseModel):
    answer: str = Field(description="the answer text")
    confidence: float = Field(ge=0, le=1)


class Zoom(BaseModel):
    action: Literal["answer", "zoom"]
    spans: list[Span] = []


FALLBACK = Decision(answer="", confidence=0.0)

# Replies SmolLM2-135M-Instruct (the packaged GGUF, greedy) really gave to decision prompts.
SMOLLM2_SCHEMA_COPY = ('{"properties":{"answer":{"type": "string"}, "confidence":{"maximum": 1,"minimum": 0,'
                       '"type": "number"},"required":{"type": "object"},"type":{"type": "string"},"type":'
                       '{"type": "number"}}')
SMOLLM2_JSON_THEN_PROSE = ('{"answer": "A man walks into a bar.", "confidence": 0.0}\n\nThis is a JSON object with a '
                           'JSON string that contains a JSON object with a JSON string.')
SMOLLM2_NO_JSON = "The dog runs.\nThe dog runs.\nThe dog runs.\nThe dog runs.\nThe dog runs.\nThe dog runs."
SMOLLM2_RUNAWAY = ('{\n  "action": "answer",\n  "spans": [{"start": 0.0, "end": 0.0}, "zoom": {\n    "action": '
                   '"answer",\n    "spans": [{"start": 0.0, "end": 0.0}, "zoom')
SMOLLM2_KEY_IN_LIST = '{"action": "answer", "spans": [{"start": 0.0, "end": 0.0}, "zoom": "1.0"}]}'
SMOLLM2_ECHOES_PROMPT = ('{\n  "answer": "A man walks into a park.",\n  "confidence": 0.0\n}\n\nQuestion: What animal '
                         'appears? Say how confident you are (0 to 1).\n\nReply with only one JSON object, no prose '
                         'and no code fences, of this form:\n{"')


@pytest.mark.parametrize("reply, expected", [
    ('```json\n{"answer": "B", "confidence": 0.8}\n```', {"answer": "B", "confidence": 0.8}),
    ('Sure! Here is my answer:\n{"answer": "B", "confidence": 0.8}\nHope that helps.',
     {"answer": "B", "confidence": 0.8}),
    ("{'answer': 'B', 'sure': True, 'note': None}", {"answer": "B", "sure": True, "note": None}),
    ('{"answer": "B", "spans": [[1, 2], [3, 4],], }', {"answer": "B", "spans": [[1, 2], [3, 4]]}),
    ('{answer: "B", confidence: .9}', {"answer": "B", "confidence": 0.9}),
    ('{"answer": "B", "reason": "the man en', {"answer": "B", "reason": "the man en"}),
    ('{"answer": "B", "confid', {"answer": "B"}),
    ('<think>maybe {x} or {y}? The clip at 1:00 shows it.</think>\n{"answer": "C", "confidence": 1}',
     {"answer": "C", "confidence": 1}),
    ("The [best] guess is {\"answer\": \"D\"}", {"answer": "D"}),
    ('{"quote": "it\'s \\"here\\"", "unicode": "caf\\u00e9"}', {"quote": 'it\'s "here"', "unicode": "café"}),
    (SMOLLM2_JSON_THEN_PROSE, {"answer": "A man walks into a bar.", "confidence": 0.0}),
    (SMOLLM2_ECHOES_PROMPT, {"answer": "A man walks into a park.", "confidence": 0.0}),
])
def test_extract_json_repairs_what_models_write(reply: str, expected: dict) -> None:
    assert extract_json(reply) == expected


@pytest.mark.parametrize("reply", [SMOLLM2_NO_JSON, "", "<think>{\"answer\": \"hidden\"}", "no braces at all"])
def test_extract_json_reports_replies_without_json(reply: str) -> None:
    with pytest.raises(JSONExtractionError, match="no JSON object"):
        extract_json(reply)


@pytest.mark.parametrize("reply", [SMOLLM2_RUNAWAY, SMOLLM2_KEY_IN_LIST])
def test_repair_keeps_complete_members_of_a_runaway_reply(reply: str) -> None:
    value = parse_reply(reply, Zoom)
    assert value.action == "answer"
    assert value.spans == [Span(start=0.0, end=0.0)]

def test_repair_gives_up_cleanly() -> None:
    assert repair_json("not json") is None
    # a mismatched closer is mended by json-repair (the list closes, the object goes on)
    assert extract_json('{"a": {"b": 1, "c": [1,2}, "d": 3}') == {"a": {"b": 1, "c": [1, 2], "d": 3}}


def test_parse_reply_skips_objects_that_do_not_fit_the_schema() -> None:
    reply = 'Example: {"foo": 1}. My decision: {"answer": "7", "confidence": 0.6}'
    assert parse_reply(reply, Decision) == Decision(answer="7", confidence=0.6)
    with pytest.raises(ValueError, match="answer: Field required"):
        parse_reply(SMOLLM2_SCHEMA_COPY, Decision)
    with pytest.raises(ValueError, match="confidence"):
        parse_reply('{"answer": "x", "confidence": 7}', Decision)


def test_schema_instruction_shows_an_example_object_and_field_hints() -> None:
    text = schema_instruction(Zoom)
    assert '{"action": "answer", "spans": [{"start": 0.0, "end": 0.0}]}' in text
    assert 'one of "answer", "zoom"' in text
    assert "$ref" not in text and "title" not in text


class ScriptedChat(BaseChatModel):
    """Answers with the scripted replies in order (an Exception entry is raised); records what it was sent."""

    replies: list[Any]
    received: list[list[BaseMessage]] = []
    kwargs_seen: list[dict] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        self.received.append(list(messages))
        self.kwargs_seen.append(dict(kwargs))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        message = AIMessage(content=reply, usage_metadata={"input_tokens": 10, "output_tokens": len(reply.split()),
                                                           "total_tokens": 10 + len(reply.split())})
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_malformed_reply_is_re_asked_with_the_error_then_accepted() -> None:
    model = ScriptedChat(replies=[SMOLLM2_SCHEMA_COPY, '{"answer": "room 42", "confidence": 0.9}'])
    meter = CostMeter()
    decision = structured_call(model, [("system", "Be brief."), ("human", "Where is the meeting?")], Decision,
                               fallback=FALLBACK, role="answer", meter=meter)
    assert decision.ok and decision.attempts == 2
    assert decision.value == Decision(answer="room 42", confidence=0.9)
    assert decision.raw == [SMOLLM2_SCHEMA_COPY, '{"answer": "room 42", "confidence": 0.9}']
    retry_prompt = model.received[1]
    assert retry_prompt[-2].content == SMOLLM2_SCHEMA_COPY
    assert "answer: Field required" in retry_prompt[-1].content
    assert "Where is the meeting?" in model.received[0][-1].content
    assert '{"answer": "...", "confidence": 0.0}' in model.received[0][-1].content
    assert meter.malformed_outputs == 1
    assert [(u.role, u.kind, u.tokens_in, u.cached) for u in meter.calls] == [("answer", "llm", 10, False)] * 2


def test_model_that_never_complies_gives_the_fallback_not_an_exception() -> None:
    model = ScriptedChat(replies=[SMOLLM2_NO_JSON, SMOLLM2_SCHEMA_COPY, "I cannot answer."])
    meter = CostMeter()
    decision = structured_call(model, "Where?", Decision, fallback=FALLBACK, retries=2, role="answer", meter=meter)
    assert not decision.ok and decision.value is FALLBACK
    assert decision.attempts == 3 and len(decision.raw) == 3
    assert "no JSON object" in decision.error
    assert meter.malformed_outputs == 3 and meter.llm_calls == 3


def test_call_errors_are_retried_then_reported_as_not_ok() -> None:
    model = ScriptedChat(replies=[ConnectionError("server went away"), '{"answer": "x", "confidence": 0.5}'])
    meter = CostMeter()
    decision = structured_call(model, "Q?", Decision, fallback=FALLBACK, meter=meter)
    assert decision.ok and decision.attempts == 2
    assert [u.ok for u in meter.calls] == [False, True]

    failing = ScriptedChat(replies=[ConnectionError("refused")] * 2)
    decision = structured_call(failing, "Q?", Decision, fallback=FALLBACK, retries=1)
    assert not decision.ok and decision.raw == []
    assert decision.error == "ConnectionError: refused"


def test_local_and_api_models_ask_natively_scripted_ones_through_the_prompt() -> None:
    model = ScriptedChat(replies=['{"answer": "x", "confidence": 0.5}'])
    structured_call(model, "Q?", Decision, fallback=FALLBACK)
    assert "response_format" not in model.kwargs_seen[0]
    native = ScriptedChat(replies=['{"answer": "x", "confidence": 0.5}'], metadata={"vidrecall_structured": "native"})
    structured_call(native, "Q?", Decision, fallback=FALLBACK)
    assert native.kwargs_seen[0]["response_format"]["json_schema"]["schema"]["required"] == ["answer", "confidence"]


def test_instruct_false_leaves_the_prompt_alone() -> None:
    model = ScriptedChat(replies=['{"answer": "x", "confidence": 0.5}'])
    structured_call(model, [HumanMessage(content="Q?")], Decision, fallback=FALLBACK, instruct=False)
    assert model.received[0][-1].content == "Q?"


def test_chat_text_strips_reasoning_and_accounts_the_call() -> None:
    meter = CostMeter()
    model = ScriptedChat(replies=["<think>the sign says 42</think>\nRoom 42."])
    assert chat_text(model, "Which room?", role="answer", meter=meter) == "Room 42."
    assert meter.calls[0].role == "answer" and meter.calls[0].tokens_out == 6  # reasoning tokens count too
    broken = ScriptedChat(replies=[TimeoutError("read timed out")])
    with pytest.raises(LLMCallError, match="TimeoutError: read timed out"):
        chat_text(broken, "Which room?", meter=meter)
    assert meter.calls[-1].ok is False
