"""When the agent must stop looking and answer with what it has."""
from __future__ import annotations

from vidrecall.core.config import Budgets
from vidrecall.core.accounting import CostMeter


def spent_budget(budgets: Budgets, meter: CostMeter, iteration: int) -> str | None:
    """The first budget that is used up, as a short phrase for the trajectory; None while all remain."""
    return _first_spent(budgets, meter, iteration >= budgets.max_iterations,
                        f"iterations {iteration}/{budgets.max_iterations}")


def captions_left(budgets: Budgets, meter: CostMeter) -> int:
    return max(0, budgets.max_captions - sum(meter.captions_by_level.values()))


def spent_search_budget(budgets: Budgets, meter: CostMeter, tool_calls: int) -> str | None:
    """The search strategy's first used-up budget (tool calls, captions, LLM tokens, seconds), as a short phrase
    for the trajectory; None while all remain."""
    return _first_spent(budgets, meter, tool_calls >= budgets.max_tool_calls,
                        f"tool calls {tool_calls}/{budgets.max_tool_calls}")


def _first_spent(budgets: Budgets, meter: CostMeter, steps_spent: bool, steps: str) -> str | None:
    """The strategy's own step budget (loop iterations, tool calls) first, then captions, LLM tokens, seconds."""
    captions = sum(meter.captions_by_level.values())
    checks = [
        (steps_spent, steps),
        (captions >= budgets.max_captions, f"captions {captions}/{budgets.max_captions}"),
        (meter.llm_tokens >= budgets.max_llm_tokens, f"LLM tokens {meter.llm_tokens}/{budgets.max_llm_tokens}"),
        (meter.seconds >= budgets.max_seconds, f"seconds {meter.seconds:.0f}/{budgets.max_seconds:.0f}"),
    ]
    return next((f"budget spent: {what}" for hit, what in checks if hit), None)
