"""The registry of agent strategies: config, graph, CLI and evaluation read strategy names from here.

Each strategy is one module declaring its nodes and edges (`STRATEGY`); shared nodes live in common.py.
"""
from __future__ import annotations

from vidrecall.agent.strategies.base import Strategy
from vidrecall.agent.strategies import default, search, videolucy
from vidrecall.core.config import ConfigError

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (default.STRATEGY, videolucy.STRATEGY, search.STRATEGY)}


def strategy_names() -> list[str]:
    return list(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}") from None


__all__ = ["STRATEGIES", "Strategy", "get_strategy", "strategy_names"]
