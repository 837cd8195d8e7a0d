"""One structured LLM call from a prompt template: render, call, parse, account."""
from __future__ import annotations

from typing import TypeVar

from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from vidrecall.agent.state import AgentContext
from vidrecall.prompts import render
from vidrecall.core.accounting import CostMeter

T = TypeVar("T", bound=BaseModel)


def decide(ctx: AgentContext, template: str, schema: type[T], *, meter: CostMeter, **values):
    """`Decision[T]` from prompts/<template>.md; bad output never raises (ok=False, fallback value)."""
    from vidrecall.tools.llm.structured import structured_call

    prompt = render(template, **values)
    return structured_call(ctx.llm, [HumanMessage(content=prompt)], schema, fallback=schema(), role=template,
                           meter=meter)
