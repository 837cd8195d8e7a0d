"""One strategy registry read by graph, API, CLI and evaluation; the evidence role as a profile setting."""
from __future__ import annotations

import pytest
from langgraph.graph import END, START

from tests.conftest import clip
from vidrecall.agent.graph import build_graph
from vidrecall.agent.strategies import STRATEGIES, get_strategy, strategy_names
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA
from vidrecall.core.config import ConfigError, load_config

PEOPLE = "intel_one-by-one-person-detection.mp4"  # 139.4 s: three coarse clips


def test_registry_names_the_strategies_and_rejects_others_in_one_line():
    assert strategy_names() == ["default", "videolucy", "search"] == list(STRATEGIES)
    with pytest.raises(ConfigError) as err:
        get_strategy("lucy")
    assert str(err.value) == "unknown strategy 'lucy'; choose one of: default, videolucy, search"


@pytest.mark.parametrize("name", strategy_names())
def test_each_strategy_declares_a_closed_graph_that_compiles(name):
    spec = get_strategy(name)
    declared = set(spec.nodes) | {START, END}
    for source, target in spec.edges:
        assert source in declared and target in declared
    for source, (_router, targets) in spec.branches.items():
        assert source in spec.nodes and set(targets) <= set(spec.nodes)
    graph = build_graph(name).get_graph()
    assert set(graph.nodes) - {START, END} == set(spec.nodes)


def test_cli_and_evaluation_offer_exactly_the_registry():
    from vidrecall.cli import build_parser
    from vidrecall.evaluation.runner import AGENT_METHODS, BASELINE_METHODS, METHODS

    assert AGENT_METHODS == tuple(strategy_names()) and METHODS == AGENT_METHODS + BASELINE_METHODS
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    choices = {c: next(a.choices for a in sub.choices[c]._actions if a.dest == d)
               for c, d in (("ask", "strategy"), ("eval", "method"))}
    assert list(choices["ask"]) == strategy_names() and list(choices["eval"]) == list(METHODS)


def test_an_unknown_strategy_fails_before_any_model_loads(tmp_path):
    with pytest.raises(ConfigError, match="unknown strategy 'fast'; choose one of: default, videolucy, search"):
        VideoQA("offline", strategy="fast", store_dir=tmp_path)


def test_profiles_set_the_evidence_role():
    roles = {p: (load_config(p).evidence_role, load_config(p).llm_confidence_weight)
             for p in ("offline-tiny", "offline", "local", "openai", "vllm", "videolucy")}
    assert roles == {"offline-tiny": ("decide", 0.0), "offline": ("tie_break", 0.5), "local": ("tie_break", 0.75), "openai": ("tie_break", 0.75),
                     "vllm": ("tie_break", 0.75), "videolucy": ("off", 1.0)}
    with pytest.raises(ConfigError, match="evidence_role 'vote'"):
        load_config("offline", evidence_role="vote")
    with pytest.raises(ConfigError, match="llm_confidence_weight must be a number from 0 to 1, got 2"):
        load_config("offline", llm_confidence_weight=2)


# --- a negation question both ways: the vote favours the option the captions mention --------------------
NEGATION = "Which colour is NOT shown on the table?"


@pytest.mark.parametrize("role, weight, option, decided_by", [
    ("decide", 0.0, "A", "evidence"),  # the lexical vote overrules the LLM with the colour the captions name
    ("tie_break", 0.75, "B", "llm"),  # a confident capable LLM's right answer stands
])
def test_negation_question_with_each_evidence_role(store_dir, embedder, role, weight, option, decided_by):
    captioner = ScriptedCaptioner(lambda span, level, instr: "A small green toy frog sits on the table.")
    llm = ScriptedChatModel(defaults={"answer": {"answer": "B", "confidence": 0.95, "clips": [1]},
                                      "localize": {"clips": [1]}, "final_answer": {"answer": "B"}})
    with VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store_dir, levels=fast_levels(),
                 evidence_role=role, llm_confidence_weight=weight, budgets={"max_iterations": 1}) as qa:
        answer = qa.ask(clip(PEOPLE), NEGATION, ["A. Green", "B. Red"])
    assert answer.option == option and answer.decided_by == decided_by and not answer.forced
    assert [s.node for s in answer.trajectory] == ["recall", "answer", "finish"]
    if role == "tie_break":  # "Red" is, rightly, in no caption: the LLM's word counts 0.95 x 0.75
        assert answer.confidence == pytest.approx(0.712, abs=1e-3)


def _view(*texts: str):
    from types import SimpleNamespace

    from vidrecall.agent.memory_view import MemoryView
    from vidrecall.core.types import Span

    nodes = [SimpleNamespace(id=i, text=t, span=Span(60 * i, 60 * i + 60), start=60.0 * i, end=60.0 * i + 60,
                             level="coarse", depth=0) for i, t in enumerate(texts)]
    return MemoryView(nodes, "\n".join(texts), [n.span for n in nodes])


@pytest.mark.parametrize("role, llm_answer, option, decided_by", [
    ("tie_break", "nothing usable", "A", "evidence"),  # the LLM named no option: the vote breaks the tie
    ("tie_break", "A", "A", "llm+evidence"),  # agreeing, the vote adds its confidence
    ("off", "nothing usable", None, "fallback"),  # no vote at all
])
def test_judge_roles_without_a_video(embedder, role, llm_answer, option, decided_by):
    from vidrecall.agent.judge import JudgeSettings, LlmClaim, judge

    view = _view("Frames 0:00-1:00 (2 sampled). On-screen text: \"SINTEL\" (0:41).", "A grey street at dusk.")
    claim = LlmClaim(llm_answer, 0.2, [view.clips[0]], "", True)
    verdict = judge("What does the title card say?", ["A. SINTEL", "B. TEARS OF STEEL"], claim, view, embedder,
                    forced=False, settings=JudgeSettings(role, 0.0))
    assert (verdict.option, verdict.decided_by) == (option, decided_by)
    assert (verdict.confidence >= 0.7) == (option is not None)
