"""The search strategy: an LLM with native tool calling drives the memory tools (agent/video_tools.py) in a
LangGraph ReAct loop.

    brief → agent ⇄ tool (one tool call a step) … → conclude (the model called `answer`) → finish
                  └→ final (a spent budget: tool calls, captions, seconds or tokens; a forced answer) → finish

`brief` gives the model the question, an overview of the coarsest level and the tools (search_memory,
read_span, look, answer: the same typed functions the MCP server serves, their schemas generated from
their signatures, the video fixed to the question's). Each tool call is one Step of the trajectory; the
tool's result goes back to the model as text with the video's words fenced as data. When the model calls
`answer` its claim is judged against what the tools returned (agent/judge.py), as in the other
strategies; at a spent budget `final` asks for the answer without tools (prompts/final_answer.md) and
the judge forces one. The Answer has the same evidence, trajectory and cost as the other strategies'.

Tool calling must be native (`bind_tools`: ChatOpenAI for OpenAI-compatible servers and llama.cpp,
ChatOllama, ...); a model without it (the transformers backbone, smollm2) is refused in one line before any
video work (`preflight`). A call a small model writes as JSON text instead of a parsed call is read back
(tools/llm/tool_calling.py); a model that answers before looking anything up is asked once to use the tools;
the conversation it is sent stays within twice the memory budget (`context_tokens`), the oldest tool results
shortened first.
"""
from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage, messages_from_dict, messages_to_dict
from langgraph.graph import END, START
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field

from vidrecall.agent.asking import decide
from vidrecall.agent.budget import captions_left, spent_search_budget
from vidrecall.agent.decisions import QUOTE_DESCRIPTION, Confidence, FinalDecision, Spans, Text
from vidrecall.agent.judge import JudgeSettings, LlmClaim, cited_spans, judge
from vidrecall.agent.options import parse_options
from vidrecall.agent.state import AgentContext, AgentState
from vidrecall.agent.steps import StepRecorder, report_progress, short_text
from vidrecall.agent.strategies.base import Strategy
from vidrecall.agent.strategies.common import current_view, finish, prompt_values
from vidrecall.agent.video_tools import LookResult, SearchResult, SpanReading, VideoTools, as_text, tool_schema
from vidrecall.core.config import Config
from vidrecall.core.errors import first_line
from vidrecall.core.types import SPEECH_LEVEL, Span, fmt_time
from vidrecall.prompts import render

MEMORY_TOOLS = ("search_memory", "read_span", "look")  # what the LLM may call (the video is the question's)
ANSWER_TOOL = "answer"
TOOL_NODE = "tool"
SHORTENED = 400  # characters an old tool result keeps when the conversation must shrink


class SearchAnswer(BaseModel):
    """Give your answer to the question, with the time spans that show it and the memory's words that state it.
    Call it when the memory shows the answer, or when no more looking can help."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    answer: Text = Field(default="", description="the option letter, or a short answer for an open question")
    evidence: Text = Field(default="", description=QUOTE_DESCRIPTION)
    spans: Spans = Field(default_factory=list, description="time spans in seconds that show the answer, "
                                                           "e.g. [[12, 18]]")
    confidence: Confidence = Field(default=0.0, description="0 to 1: how directly the memory shows the answer")


def _answer_schema() -> dict[str, Any]:
    from vidrecall.tools.llm.structured import compact_schema

    return {"type": "function", "function": {"name": ANSWER_TOOL, "description": " ".join(
        (SearchAnswer.__doc__ or "").split()), "parameters": compact_schema(SearchAnswer.model_json_schema())}}


def tool_schemas() -> list[dict[str, Any]]:
    """The tools the LLM is given: the memory tools without their `video` argument, and `answer`."""
    return [tool_schema(name, drop=("video",)) for name in MEMORY_TOOLS] + [_answer_schema()]


def preflight(llm: Any) -> None:
    from vidrecall.tools.llm.tool_calling import require_tool_calling

    require_tool_calling(llm, "the search strategy")


def extra_steps(config: Config) -> int:
    return 2 * config.budgets.max_tool_calls + 8


# --- the conversation in the state (plain message dicts) ---------------------------------------------------
def _messages(state: AgentState) -> list:
    return messages_from_dict(state["conversation"])


def _last_ai(state: AgentState) -> AIMessage | None:
    return next((m for m in reversed(_messages(state)) if isinstance(m, AIMessage)), None)


def _pending(state: AgentState) -> list[dict[str, Any]]:
    """The last model message's tool calls that have no result yet, in order."""
    messages = _messages(state)
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], AIMessage):
            answered = {m.tool_call_id for m in messages[i + 1:] if isinstance(m, ToolMessage)}
            return [dict(c) for c in messages[i].tool_calls if c.get("id") not in answered]
    return []


NUDGE = ("Do not answer yet: call search_memory, read_span or look first to check the memory, then call answer "
         "with the option letter and the time spans that show it.")


def _nudged(state: AgentState) -> bool:
    return any(isinstance(m, HumanMessage) and m.content == NUDGE for m in _messages(state))


def _chars(ctx: AgentContext) -> int:
    """The conversation the model is sent, in characters (about four a token): twice the memory budget."""
    return max(6000, 8 * ctx.config.context_tokens)


def _fitted(messages: list, budget: int) -> list:
    """The conversation within `budget` characters: the oldest tool results are shortened first (the model
    can call the tool again), the newest stay whole."""
    total = sum(len(str(m.content)) for m in messages)
    out = list(messages)
    for i, m in enumerate(out):
        if total <= budget:
            break
        if isinstance(m, ToolMessage) and len(str(m.content)) > SHORTENED and i < len(out) - 1:
            short = str(m.content)[:SHORTENED] + "… (shortened to fit; call the tool again to read it whole)"
            total -= len(str(m.content)) - len(short)
            out[i] = m.model_copy(update={"content": short})
    return out


def _tool_calls(state: AgentState) -> int:
    return sum(1 for step in state["trajectory"] if step.node == TOOL_NODE)


def _spent(ctx: AgentContext, state: AgentState) -> str | None:
    return spent_search_budget(ctx.config.budgets, ctx.meter, _tool_calls(state))


# --- nodes ------------------------------------------------------------------------------------------------
def brief(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "brief")
    coarse = ctx.config.levels[0].name
    overview = ctx.memory.nodes(ctx.video.id, level=coarse)
    rendered = ctx.memory.render(overview, ctx.duration, max_tokens=max(200, ctx.config.context_tokens // 2))
    about = ctx.memory.describe(overview)
    heard = bool(ctx.memory.nodes(ctx.video.id, level=SPEECH_LEVEL)[:1])
    system = render("search", memory=f"{about}\n{rendered.text}" if about else rendered.text,
                    overview=f"the {coarse} level" if overview else "nothing is stored yet",
                    duration=round(ctx.duration, 1), duration_label=fmt_time(ctx.duration),
                    levels=", ".join(lv.name for lv in ctx.config.levels), speech=heard,
                    max_tool_calls=ctx.config.budgets.max_tool_calls)
    question = render("search_question", question=state["question"], history=state["history"],
                      options=[o.label for o in parse_options(state["options"])])
    conversation = messages_to_dict([SystemMessage(content=system), HumanMessage(content=question)])
    message = (f"gave the LLM {len(MEMORY_TOOLS)} memory tools and an overview of {len(overview)} {coarse} captions"
               f" (at most {ctx.config.budgets.max_tool_calls} tool calls)")
    return {"conversation": conversation, "focus_ids": [n.stored_id for n in overview],
            **rec.done(message, level=coarse, tools=list(MEMORY_TOOLS) + [ANSWER_TOOL])}


def agent(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    """One model turn: it calls tools (or `answer`)."""
    from vidrecall.tools.llm.structured import chat_message
    from vidrecall.tools.llm.tool_calling import tool_calls_in_text

    ctx = runtime.context
    rec = StepRecorder(ctx, state, "agent")
    report_progress("asking the LLM what to look up…")
    model = ctx.llm.bind_tools(tool_schemas())
    reply = chat_message(model, _fitted(_messages(state), _chars(ctx)), role="search", meter=rec.meter,
                         deadline=ctx.deadline)
    if reply is None:
        stop = f"budget spent: seconds {ctx.meter.seconds:.0f}/{ctx.config.budgets.max_seconds:.0f}"
        return {"stop": stop, **rec.done("the time budget ran out before the model replied")}
    calls: list[dict[str, Any]] = [dict(c) for c in reply.tool_calls]
    read_back = False
    if not calls:
        calls = tool_calls_in_text(str(reply.text), set(MEMORY_TOOLS) | {ANSWER_TOOL})
        read_back = bool(calls)
        if calls:
            reply = AIMessage(content=reply.content, tool_calls=calls, usage_metadata=reply.usage_metadata,
                              response_metadata=reply.response_metadata)
    if not calls and _tool_calls(state) == 0 and not _nudged(state):
        # a small model often answers at once from the overview: asked once to look it up first
        added = messages_to_dict([reply, HumanMessage(content=NUDGE)])
        return {"conversation": state["conversation"] + added,
                **rec.done("replied without a tool call before looking anything up: asked once to use the tools",
                           calls=[], text=str(reply.text)[:2000], nudged=True)}
    if calls:
        message = "calls " + ", ".join(_call_label(c) for c in calls)
    else:
        # what the agent does with the reply, not its words (they stay in the step's detail, `text`)
        message = ("replied without a tool call: its reply is read as the answer" if str(reply.text).strip()
                   else "replied with nothing and no tool call")
    if read_back:
        message += " (written as text, read back)"
    return {"conversation": state["conversation"] + messages_to_dict([reply]),
            **rec.done(message, calls=[{"name": c["name"], "args": c["args"]} for c in calls],
                       text=str(reply.text)[:2000], read_back=read_back)}


def tool(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    """Run the model's next pending tool call on the question's video; its result goes back to the model."""
    ctx = runtime.context
    rec = StepRecorder(ctx, state, TOOL_NODE)
    call = _pending(state)[0]
    name, args = call["name"], call.get("args") or {}

    def progress(message: str, done: float | None, total: float | None) -> None:
        rec.progress(message, None if done is None else round(done), None if total is None else round(total))

    tools = VideoTools(ctx.indexer.memory, ctx.indexer, meter=rec.meter, on_progress=progress,
                       caption_budget=lambda: captions_left(ctx.config.budgets, ctx.meter))
    video = tools.pin(ctx.memory, ctx.video)
    focus, explored = list(state["focus_ids"]), list(state["explored"])
    spans: list[tuple[float, float]] = []
    level: str | None = None
    error = None
    try:
        if name not in MEMORY_TOOLS:
            raise ValueError(f"no tool {name!r} here; call one of: {', '.join(MEMORY_TOOLS + (ANSWER_TOOL,))}")
        result = tools.call(name, args, video=video)
    except ValueError as exc:  # bad input (a time outside the video, an unknown level): the model reads why
        error = first_line(exc)
        content, line = f"error: {error}", f"{_call_label(call)}: error: {error}"
    else:
        content, line = as_text(result), _result_line(name, result)
        if len(content) > _chars(ctx) // 3:  # one result never crowds out the rest of the conversation
            content = content[: _chars(ctx) // 3] + "… (cut: ask for a shorter range or fewer hits)"
        entries = _entries(result)
        focus += [e.node_id for e in entries if e.node_id is not None]
        spans = [(e.start, e.end) for e in entries][:12]
        if isinstance(result, LookResult):
            level = result.level
            explored.append([result.start, result.end])
            spans = [(result.start, result.end)]
    reply = ToolMessage(content=content, tool_call_id=call.get("id") or "", name=name)
    return {"conversation": state["conversation"] + messages_to_dict([reply]),
            "focus_ids": list(dict.fromkeys(focus)), "explored": explored,
            **rec.done(line, spans=spans, level=level, tool=name, args=args, error=error,
                       result_chars=len(content))}


def conclude(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    """The model's answer (its `answer` call, else its plain reply), judged against what the tools returned."""
    from vidrecall.tools.llm.structured import parse_reply

    ctx = runtime.context
    rec = StepRecorder(ctx, state, "answer")
    last = _last_ai(state)
    call = next((c for c in (last.tool_calls if last else []) if c["name"] == ANSWER_TOOL), None)
    if call is not None:
        said, ok = SearchAnswer.model_validate(call.get("args") or {}), True
    else:
        text = str(last.text) if last else ""
        try:
            said, ok = parse_reply(text, SearchAnswer), True
        except ValueError:
            said, ok = SearchAnswer(answer=text.strip()[:300]), bool(text.strip())
    view = current_view(ctx, state)
    claim = LlmClaim(said.answer, said.confidence, cited_spans(view, [], list(said.spans), ctx.duration), "", ok,
                     quote=said.evidence)
    settings = JudgeSettings.of(ctx.config)
    verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=False, settings=settings)
    lead = "answer"
    if state["options"] and verdict.option is None:  # no option named: the evidence (or the first) is forced
        verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=True, settings=settings)
        lead = "no option named; forced answer"
    message = f"{lead} {short_text(verdict.answer) or '—'} at confidence {verdict.confidence:.2f} (by {verdict.decided_by})"
    return {"decision": verdict, "stop": "answered",
            **rec.done(message, spans=[(e.start, e.end) for e in verdict.evidence_spans], decision=verdict,
                       parsed=ok, llm_answer=said.answer, llm_confidence=said.confidence)}


def final(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    """A spent budget: the model answers without tools from everything the tools returned; the judge forces one."""
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "final")
    reason = state["stop"] or _spent(ctx, state) or "no more looking"
    view = current_view(ctx, state)
    got = decide(ctx, "final_answer", FinalDecision, meter=rec.meter, **prompt_values(ctx, state, view))
    d: FinalDecision = got.value
    claim = LlmClaim(d.answer, 0.0, cited_spans(view, d.clips, d.spans, ctx.duration), d.reason, got.ok,
                     quote=d.evidence)
    verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=True,
                    settings=JudgeSettings.of(ctx.config))
    message = f"{reason}: forced answer {short_text(verdict.answer) or '—'} (by {verdict.decided_by})"
    return {"decision": verdict, "stop": reason, **rec.done(message, decision=verdict, parsed=got.ok)}


# --- routers -------------------------------------------------------------------------------------------------
def after_agent(state: AgentState, runtime: Runtime[AgentContext]) -> str:
    if state["stop"]:
        return "final"
    if isinstance(_messages(state)[-1], HumanMessage):  # asked to use the tools: its turn again
        return "agent"
    pending = _pending(state)
    if not pending or any(c["name"] == ANSWER_TOOL for c in pending):
        return "conclude"
    return "final" if _spent(runtime.context, state) else TOOL_NODE


def after_tool(state: AgentState, runtime: Runtime[AgentContext]) -> str:
    if _spent(runtime.context, state):
        return "final"
    return TOOL_NODE if _pending(state) else "agent"


# --- one-line messages -----------------------------------------------------------------------------------------
def _call_label(call: dict[str, Any]) -> str:
    args = call.get("args") or {}
    name = call.get("name", "?")
    if name == "search_memory":
        return f"search_memory({short_text(str(args.get('query', '')), 60)!r})"
    if name in ("read_span", "look") and isinstance(args.get("start"), (int, float)) and isinstance(args.get("end"), (int, float)):
        what = f"{name}({fmt_time(float(args['start']))}-{fmt_time(float(args['end']))}"
        instruction = str(args.get("instruction") or "")
        return what + (f", {short_text(instruction, 50)!r})" if instruction else ")")
    if name == ANSWER_TOOL:
        return f"answer({short_text(str(args.get('answer', '')), 40)!r})"
    return f"{name}({short_text(str(args), 60)})"


def _entries(result: Any) -> list:
    if isinstance(result, SearchResult):
        return list(result.hits)
    if isinstance(result, SpanReading):
        return list(result.captions) + list(result.speech)
    if isinstance(result, LookResult):
        return list(result.captions)
    return []


def _result_line(name: str, result: Any) -> str:
    if isinstance(result, SearchResult):
        best = result.hits[0] if result.hits else None
        top = f", best {Span(best.start, best.end).label()} {best.level} ({best.score:.2f})" if best else ""
        return f"search_memory {short_text(result.query, 60)!r}: {len(result.hits)} hits{top}"
    if isinstance(result, SpanReading):
        return (f"read_span {Span(result.start, result.end).label()}: {len(result.captions)} captions, "
                f"{len(result.speech)} speech segments")
    if isinstance(result, LookResult):
        note = f"; {result.note}" if result.note else ""
        return (f"look {Span(result.start, result.end).label()} at {result.level}: {result.created} new captions, "
                f"{result.reused} reused{note}")
    return name


STRATEGY = Strategy(
    name="search",
    summary="an LLM with native tool calling drives the memory tools (search, read, look) in a ReAct loop",
    nodes={"brief": brief, "agent": agent, TOOL_NODE: tool, "conclude": conclude, "final": final, "finish": finish},
    edges=((START, "brief"), ("brief", "agent"), ("conclude", "finish"), ("final", "finish"), ("finish", END)),
    branches={"agent": (after_agent, ("conclude", TOOL_NODE, "final", "agent")),
              TOOL_NODE: (after_tool, (TOOL_NODE, "agent", "final"))},
    preflight=preflight,
    extra_steps=extra_steps,
)
