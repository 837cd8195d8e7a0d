"""The deep-memory-backtracking agent: a LangGraph graph over the caption memory."""
