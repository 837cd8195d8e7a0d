"""The search strategy: a tool-calling LLM drives the memory tools in a ReAct loop, on a real clip.

A scripted tool-calling chat model (agent/testing.py ScriptedToolChatModel) makes the calls in order; the
memory, SQLite, FAISS, decoding, the captioner's cache and the graph are real."""
from __future__ import annotations

import json

import pytest

from tests.conftest import clip
from vidrecall.agent.strategies import get_strategy
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, ScriptedToolChatModel, fast_levels
from vidrecall.api import VideoQA
from vidrecall.tools.llm.errors import BackboneError

FROG = "mdn_frog.mp4"  # 8.3 s: one coarse clip
QUESTION, OPTIONS = "What colour is the frog?", ["A. green", "B. red"]


def caption(span, level, instruction):
    return f"A green frog sits on a wet rock ({level} {span.start:g}-{span.end:g} s)." + (
        f" Looked for: {instruction}" if instruction else "")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("search-store")  # shared: the coarse caption is made once


def make_qa(store, embedder, llm, captioner=None, strategy="search", **overrides):
    return VideoQA("offline-tiny", llm=llm, vlm=captioner or ScriptedCaptioner(caption), embedder=embedder,
                   store_dir=store, levels=fast_levels(), strategy=strategy, speech={"source": "off"}, **overrides)


def test_each_tool_call_is_a_step_and_the_answer_is_judged_like_the_others(store, embedder):
    llm = ScriptedToolChatModel(turns=[
        {"name": "search_memory", "args": {"query": "frog colour"}},
        [{"name": "read_span", "args": {"start": 0, "end": 4}},
         {"name": "look", "args": {"start": 2, "end": 5, "instruction": "what colour is the frog"}}],
        {"name": "look", "args": {"start": 50, "end": 60}},  # outside the video: the model reads the error
        # a small model's call written as text (llama.cpp did not parse it): read back
        '```json\n{"name": "read_span", "arguments": {"start": 2, "end": 5, "level": "fine"}}\n```',
        {"name": "answer", "args": {"answer": "A", "evidence": "A green frog", "spans": [[2, 5]],
                                    "confidence": 0.9}},
    ])
    with make_qa(store, embedder, llm) as qa:
        answer = qa.ask(clip(FROG), QUESTION, OPTIONS)
    nodes = [s.node for s in answer.trajectory]
    assert nodes == ["brief", "agent", "tool", "agent", "tool", "tool", "agent", "tool", "agent", "tool", "agent",
                     "answer", "finish"]
    tools = [s for s in answer.trajectory if s.node == "tool"]
    assert [s.detail["tool"] for s in tools] == ["search_memory", "read_span", "look", "look", "read_span"]
    assert tools[0].message.startswith("search_memory 'frog colour': 1 hits, best 0:00-0:08 coarse")
    look = tools[2]
    assert look.message == "look 0:02-0:05 at fine: 1 new captions, 0 reused" and look.captions_added == 1
    assert look.spans == [(2.0, 5.0)] and look.level == "fine" and look.model_calls[0]["kind"] == "vlm"
    assert tools[3].detail["error"] == "look: bad time range 50-60 s: it lies outside the video (0 to 8.27 s)"
    assert "read back" in answer.trajectory[8].message and tools[4].message.startswith("read_span 0:02-0:05: 1 captions")
    # the model was given the typed tools (video fixed) and read their results with the video's text fenced
    assert llm.tool_names[0] == ["search_memory", "read_span", "look", "answer"]
    last_prompt = llm.calls[-1][1]
    assert "<<<DATA\nA green frog sits on a wet rock (fine 2-5 s). Looked for: what colour is the frog\nDATA>>>" in last_prompt
    assert "error: look: bad time range 50-60 s" in last_prompt
    # the same Answer as the other strategies
    assert (answer.option, answer.strategy, answer.stop, answer.forced) == ("A", "search", "answered", False)
    assert answer.decided_by == "llm+evidence" and answer.confidence >= 0.9
    assert (2.0, 5.0, "fine") in [(e.start, e.end, e.level) for e in answer.evidence]
    assert answer.cost.captions_by_level == {"coarse": 1, "fine": 1} or answer.cost.captions_by_level == {"fine": 1}
    assert answer.cost.llm_calls == 5 and answer.cost.vlm_calls >= 1


@pytest.mark.parametrize("budget, stop", [
    ({"max_tool_calls": 2}, "budget spent: tool calls 2/2"),
    ({"max_captions": 2}, "budget spent: captions 2/2"),  # the coarse caption, then one look
])
def test_a_spent_budget_falls_into_a_forced_answer(store, embedder, tmp_path, budget, stop):
    llm = ScriptedToolChatModel(
        default_turn={"name": "look", "args": {"start": 0, "end": 8}},  # never answers by itself
        defaults={"final_answer": {"answer": "B", "clips": [1]}})
    fresh = tmp_path / "store" if "max_captions" in budget else store  # captions made here, not reused
    with make_qa(fresh, embedder, llm, budgets=budget) as qa:
        answer = qa.ask(clip(FROG), QUESTION, OPTIONS)
    assert answer.forced and answer.stop.startswith(stop) and answer.option in ("A", "B")
    assert [s.node for s in answer.trajectory][-2:] == ["final", "finish"]
    assert answer.trajectory[-2].message.startswith(f"{stop}")
    assert sum(s.node == "tool" for s in answer.trajectory) == (2 if "max_tool_calls" in budget else 1)
    assert "final_answer" in llm.roles()  # the forced answer is asked without tools


def test_a_model_without_tool_calling_is_refused_in_one_line_before_any_video_work(tmp_path, embedder):
    captioner = ScriptedCaptioner(caption)
    with make_qa(tmp_path / "store", embedder, ScriptedChatModel(), captioner) as qa:
        with pytest.raises(BackboneError) as err:
            qa.ask(clip(FROG), QUESTION, OPTIONS)
        assert qa.memory.count() == 0
    message = str(err.value)
    assert "\n" not in message and message.startswith("the search strategy needs an LLM with native tool calling")
    assert "ScriptedChatModel" in message and captioner.captioned == []


def test_the_strategy_is_registered_and_reachable_from_ask_and_eval(store, embedder, tmp_path, monkeypatch, capsys):
    from vidrecall.cli import main
    from vidrecall.evaluation.items import QAItem
    from vidrecall.evaluation.runner import METHODS, run_eval

    spec = get_strategy("search")
    assert spec.preflight is not None and "search" in METHODS
    answer_turns = [{"name": "search_memory", "args": {"query": "frog"}},
                    {"name": "answer", "args": {"answer": "A", "evidence": "green frog", "confidence": 0.9}}]
    llm = ScriptedToolChatModel(turns=list(answer_turns) * 2)

    # the CLI's own VideoQA, with the scripted models: --strategy reaches it
    monkeypatch.setattr("vidrecall.cli.ask.make_qa", lambda args, **kw: make_qa(store, embedder, llm, **{
        "strategy": "default", **kw}))
    assert main(["ask", str(clip(FROG)), QUESTION, "--option", OPTIONS[0], "--option", OPTIONS[1],
                 "--strategy", "search", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["option"] == "A" and printed["strategy"] == "search"

    item = QAItem(id="q1", video_id="frog", video_path=str(clip(FROG)), question=QUESTION, options=OPTIONS, answer="A")
    with VideoQA("offline-tiny", llm=llm, vlm=ScriptedCaptioner(caption), embedder=embedder, store_dir=store,
                 levels=fast_levels(), speech={"source": "off"}) as qa:  # the default strategy's VideoQA
        summary = run_eval([item], qa, method="search", out_jsonl=tmp_path / "search.jsonl", progress=False)
    row = json.loads((tmp_path / "search.jsonl").read_text().splitlines()[0])
    assert (summary.correct, row["method"], row["correct"]) == (1, "search", True)


def test_the_conversation_sent_to_the_model_keeps_within_its_budget_oldest_results_first():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from vidrecall.agent.strategies.search import SHORTENED, _fitted
    from vidrecall.tools.llm.tool_calling import tool_calls_in_text

    old, new = ToolMessage(content="o" * 5000, tool_call_id="1"), ToolMessage(content="n" * 5000, tool_call_id="2")
    sent = _fitted([HumanMessage(content="q"), AIMessage(content=""), old, AIMessage(content=""), new], 7000)
    assert len(str(sent[2].content)) < SHORTENED + 100 and sent[4].content == "n" * 5000
    # a call written as text, in <tool_call> tags or a fence, is read back only for the tools named
    text = '<tool_call>\n{"name": "look", "arguments": {"start": 1, "end": 2}}\n</tool_call>'
    assert [(c["name"], c["args"]) for c in tool_calls_in_text(text, {"look"})] == [("look", {"start": 1, "end": 2})]
    assert tool_calls_in_text('{"name": "rm_rf", "arguments": {}}', {"look"}) == []
    tagged = '<tools></tools>\n\n<answer>\n{"answer": "A", "evidence": "green", "spans": [], "confidence": 0.8}\n</answer>'
    assert [(c["name"], c["args"]["answer"]) for c in tool_calls_in_text(tagged, {"look", "answer"})] == [("answer", "A")]
