"""The agent as a LangGraph StateGraph; edges read like the algorithm."""
from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from vidrecall.agent import nodes, videolucy
from vidrecall.agent.state import AgentContext, AgentState
from vidrecall.agent.zoom import make_zoom

STRATEGIES = ("default", "videolucy")


def build_graph(strategy: str = "default", checkpointer=None):
    """Compile the graph for `strategy`; pass a checkpointer (SqliteSaver) for resumable chat sessions."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")
    g = StateGraph(AgentState, context_schema=AgentContext)
    g.add_node("recall", nodes.recall)
    g.add_node("finish", nodes.finish)
    g.add_edge(START, "recall")
    g.add_edge("finish", END)
    if strategy == "default":
        g.add_node("answer", nodes.answer)
        g.add_node("localize", nodes.localize)
        g.add_node("zoom", make_zoom(instruct_children=False))
        g.add_node("final", nodes.final)
        g.add_edge("recall", "answer")
        g.add_conditional_edges("answer", nodes.after_answer, ["finish", "localize", "final"])
        g.add_conditional_edges("localize", nodes.after_localize, ["zoom", "final"])
    else:
        g.add_node("answer", videolucy.lucy_answer)
        g.add_node("filter", videolucy.lucy_filter)
        g.add_node("localize", videolucy.lucy_localize)
        g.add_node("zoom", make_zoom(instruct_children=True))
        g.add_node("final", videolucy.lucy_final)
        g.add_edge("recall", "answer")
        g.add_conditional_edges("answer", videolucy.lucy_after_answer, ["finish", "filter", "localize", "final"])
        g.add_edge("filter", "localize")
        g.add_conditional_edges("localize", nodes.after_localize, ["zoom", "final"])
    g.add_edge("zoom", "answer")
    g.add_edge("final", "finish")
    return g.compile(checkpointer=checkpointer)
