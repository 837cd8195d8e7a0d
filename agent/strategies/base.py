"""What a strategy is: the nodes of its graph and the edges between them, declared as data."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Strategy:
    """A named agent loop. `edges` are fixed transitions (langgraph START/END allowed); `branches` maps a
    node to (router, the nodes the router may return)."""

    name: str
    summary: str
    nodes: Mapping[str, Callable]
    edges: tuple[tuple[str, str], ...]
    branches: Mapping[str, tuple[Callable, tuple[str, ...]]] = field(default_factory=dict)
