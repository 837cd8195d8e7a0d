"""One structured LLM call from a prompt template: render, call, parse, account."""
from __future__ import annotations

from typing import TypeVar

from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from vidrecall.agent.state import AgentContext
from vidrecall.agent.steps import report_progress
from vidrecall.prompts import render
from vidrecall.core.accounting import CostMeter

T = TypeVar("T", bound=BaseModel)


def decide(ctx: AgentContext, template: str, schema: type[T], *, meter: CostMeter, **values):
    """`Decision[T]` from prompts/<template>.md; bad output never raises (ok=False, fallback value).

    An LLM that answered none of the attempts at all (every call failed) raises LLMCallError with the
    cause: a fallback decision would only hide a dead model behind "malformed output".
    """
    from vidrecall.tools.llm.structured import LLMCallError, structured_call
    from vidrecall.tools.llm.usage import model_id

    prompt = render(template, **values)
    report_progress(f"asking the LLM ({template.replace('_', ' ')})…")
    got = structured_call(ctx.llm, [HumanMessage(content=prompt)], schema, fallback=schema(), role=template,
                          meter=meter, deadline=ctx.deadline)
    if got.call_error:  # not when the time budget stopped it: then the agent answers with what it has
        raise LLMCallError(f"the LLM {model_id(ctx.llm)} failed on every call ({got.call_error})")
    return got
