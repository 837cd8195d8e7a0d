"""What the LLM reads: the memory relevant to a question, rendered within the context budget.

The whole memory when its rendering fits `config.context_tokens`; else the coarse level and speech when they
fit (the same listing for every question about the video, whatever earlier questions zoomed into, so a
local server serves it from its KV cache after the first question; this question's own zooms are added to
it); otherwise FAISS top-k over all levels plus each hit's temporal neighbours at the coarse level, so a
six-hour video never overflows the prompt.
"""
from __future__ import annotations

from dataclasses import dataclass

from vidrecall.agent.state import AgentContext
from vidrecall.core.types import Span
from vidrecall.indexing.plans import timeline_grid


@dataclass
class MemoryView:
    nodes: list  # MemoryNode, ordered by start then depth
    text: str
    clips: list[Span]  # the top-level entries in the order the rendering numbers them (1-based)

    def clip_span(self, number: int) -> Span | None:
        return self.clips[number - 1] if 1 <= number <= len(self.clips) else None

    def texts_overlapping(self, spans: list[Span]) -> list[str]:
        return [n.text for n in self.nodes if any(n.span.overlap(s) > 0 for s in spans)]

    def nodes_overlapping(self, span: Span) -> list:
        return [n for n in self.nodes if n.span.overlap(span) > 0]


def render_view(ctx: AgentContext, nodes: list, *, max_depth: int | None = None,
                relevance: dict[int, float] | None = None) -> MemoryView:
    if max_depth is not None:
        nodes = [n for n in nodes if n.depth <= max_depth]
    nodes = sorted(nodes, key=lambda n: (n.start, n.depth, n.end))
    # the memory numbers the clips as it renders them; the agent maps "clip N" back through those spans
    rendered = ctx.memory.render(nodes, ctx.duration, max_tokens=ctx.config.context_tokens, relevance=relevance)
    text = rendered.text
    about = ctx.memory.describe(nodes)  # a library: which file covers which timeline period
    if about:
        text = f"{about}\n{text}"
    return MemoryView(nodes, text, list(rendered.clips))


def load_nodes(ctx: AgentContext, node_ids: list[int]) -> list:
    return ctx.memory.nodes_by_id(node_ids)


def recall_nodes(ctx: AgentContext, query: str, window: list[Span] | None = None) -> tuple[list, str]:
    """(nodes, how): every stored node of the video (inside `window` when given) if they fit, else retrieval."""
    from vidrecall.memory.render import estimate_tokens, render_memory

    video, coarse = ctx.video, ctx.config.levels[0].name
    nodes = ctx.memory.nodes(video.id)
    if window:
        nodes = [n for n in nodes if any(n.span.overlap(w) > 0 for w in window)]
    if estimate_tokens(render_memory(nodes, ctx.duration)) <= ctx.config.context_tokens:
        return nodes, "whole memory"
    base = [n for n in nodes if n.depth == 0 or n.is_speech]
    if estimate_tokens(render_memory(base, ctx.duration)) <= ctx.config.context_tokens:
        return base, "coarse memory and speech"
    clips = timeline_grid(ctx.memory, video.id, coarse)
    keep: set[int] = set()
    for hit, _score in ctx.memory.search(query, video.id, k=ctx.config.retrieval_k):
        for i, clip in enumerate(clips):
            if clip.contains(hit.span.mid):
                keep.update({i - 1, i, i + 1})
    kept_spans = [clips[i] for i in sorted(keep) if 0 <= i < len(clips)]
    if window:
        kept_spans = [s for s in kept_spans if any(s.overlap(w) > 0 for w in window)]
    chosen = [n for n in nodes if any(n.span.overlap(s) > 0 for s in kept_spans)]
    return chosen, f"top-{ctx.config.retrieval_k} retrieval + neighbours"


def question_query(question: str, options: list[str]) -> str:
    return " ".join([question, *options])
