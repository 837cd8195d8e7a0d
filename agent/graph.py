"""The agent as a LangGraph StateGraph, built from a strategy's declared nodes and edges."""
from __future__ import annotations

from langgraph.graph import StateGraph

from vidrecall.agent.state import AgentContext, AgentState
from vidrecall.agent.strategies import get_strategy


def build_graph(strategy: str = "default", checkpointer=None):
    """Compile the graph for `strategy` (a name in agent.strategies.STRATEGIES; ConfigError otherwise);
    pass a checkpointer (SqliteSaver) for resumable chat sessions."""
    spec = get_strategy(strategy)
    g = StateGraph(AgentState, context_schema=AgentContext)
    for name, node in spec.nodes.items():
        g.add_node(name, node)
    for source, target in spec.edges:
        g.add_edge(source, target)
    for source, (router, targets) in spec.branches.items():
        g.add_conditional_edges(source, router, list(targets))
    return g.compile(checkpointer=checkpointer)
