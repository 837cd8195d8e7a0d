"""What a strategy is: the nodes of its graph and the edges between them, declared as data."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Strategy:
    """A named agent loop. `edges` are fixed transitions (langgraph START/END allowed); `branches` maps a
    node to (router, the nodes the router may return)."""

    name: str
    summary: str
    nodes: Mapping[str, Callable]
    edges: tuple[tuple[str, str], ...]
    branches: Mapping[str, tuple[Callable, tuple[str, ...]]] = field(default_factory=dict)
    # what the strategy needs of the LLM, checked before any video work (one-line error): e.g. tool calling
    preflight: Callable[[Any], None] | None = None
    # graph steps a question may take beyond the common allowance, from its config (LangGraph recursion limit)
    extra_steps: Callable[[Any], int] | None = None
