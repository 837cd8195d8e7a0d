"""Non-agentic baselines over the same memory, backbones and answer judge as the agent.

- `uniform`: caption N uniformly spaced clips of one level (default the second level, "fine"), one LLM call.
- `dense`: caption every clip of that level over the whole video (the finest level would cost hours of
  CPU on a long video, so "fine" is the default; say `level=` to change it), one LLM call; when the
  captions do not fit the context budget, retrieval (VideoMemory.search) picks the ones most like the
  question and its options.

Both ask the LLM once with the agent's own `answer` prompt and AnswerDecision schema (through
`structured_call`), decide through the agent's `judge` (LLM claim + evidence vote), and return the same
`Answer` type, so the comparison with the agent is fair.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from vidrecall.agent.abstention import supported
from vidrecall.agent.asking import decide
from vidrecall.agent.decisions import AnswerDecision
from vidrecall.agent.judge import JudgeSettings, LlmClaim, cited_spans, judge
from vidrecall.agent.memory_view import question_query, render_view
from vidrecall.agent.options import parse_options
from vidrecall.agent.provenance import answer_provenance, read_node_ids
from vidrecall.core.result import Answer, Cost, Step
from vidrecall.agent.state import AgentContext
from vidrecall.evaluation.items import QAItem
from vidrecall.memory.render import estimate_tokens, render_memory
from vidrecall.core.progress import ProgressSink, silent
from vidrecall.core.run_context import RunContext
from vidrecall.core.types import SPEECH_LEVEL, Span, fmt_time
from vidrecall.indexing.plans import level_grid
from vidrecall.memory.store import VideoRecord

def default_level(config: Any) -> str:
    return config.levels[1].name if len(config.levels) > 1 else config.levels[0].name


def uniform_spans(grid: list[Span], n: int) -> list[Span]:
    """n clips of the grid spread evenly (the middle of each n-th of the video); all when n >= len(grid)."""
    if n >= len(grid):
        return list(grid)
    return [grid[min(len(grid) - 1, int((i + 0.5) * len(grid) / n))] for i in range(n)]


def fit_by_relevance(ranked: list[Any], max_tokens: int) -> list[Any]:
    """The best-ranked nodes whose captions together fit `max_tokens` (a rough per-entry overhead included)."""
    chosen: list[Any] = []
    used = 0
    for node in ranked:
        cost = estimate_tokens(node.text) + 16
        if chosen and used + cost > max_tokens:
            break
        chosen.append(node)
        used += cost
    return chosen


@dataclass
class _Baseline:
    qa: Any  # vidrecall.api.VideoQA: its memory, indexer, backbones and config are used
    level: str | None = None
    progress: ProgressSink = silent
    name: str = ""

    def gather(self, video: VideoRecord, level: str, item: QAItem, run: RunContext) -> tuple[list, Step]:
        raise NotImplementedError

    def answer(self, item: QAItem) -> Answer:
        run = RunContext(self.progress)
        meter = run.meter
        memory, indexer, config, llm = self.qa.memory, self.qa.indexer, self.qa.config, self.qa.backbones.llm
        video = memory.register(item.video_path)
        level = self.level or default_level(config)
        nodes, gather_step = self.gather(video, level, item, run)
        if config.speech.source != "off":  # what was said, beside the captions the baseline gathered
            indexer.build_speech(video, run)
            nodes = nodes + memory.nodes(video.id, SPEECH_LEVEL)
        ctx = AgentContext(config, memory, indexer, llm, video, run, deadline=meter.started + config.budgets.max_seconds)
        view = render_view(ctx, nodes)
        started = time.monotonic()
        decision = decide(ctx, "answer", AnswerDecision, meter=meter, question=item.question,
                          options=[o.label for o in parse_options(item.options)], memory=view.text,
                          duration=round(ctx.duration, 1), duration_label=fmt_time(ctx.duration), history=[],
                          clip_count=len(view.clips))
        value = decision.value
        claim = LlmClaim(value.answer, value.confidence, cited_spans(view, value.clips, value.spans, video.duration),
                         value.reason, decision.ok)
        verdict = judge(item.question, item.options, claim, view, memory.embedder, forced=True,
                        settings=JudgeSettings.of(config))
        answer_step = Step(index=1, node="answer", message=f"{self.name}: one LLM call over {len(nodes)} captions "
                           f"-> {verdict.answer or 'no answer'}", spans=[(c.start, c.end) for c in claim.cited],
                           detail={"llm_ok": decision.ok, "attempts": decision.attempts,
                                   "decided_by": verdict.decided_by}, elapsed_s=round(time.monotonic() - started, 3))
        return Answer(question=item.question, options=list(item.options), answer=verdict.answer,
                      option=verdict.option, confidence=verdict.confidence, forced=False,
                      # uncalibrated: a profile's calibration is fitted on its agent's answers, not a baseline's
                      raw_confidence=verdict.confidence, calibrated=False, grounded=supported(verdict),
                      decided_by=verdict.decided_by, reason=verdict.reason, evidence=verdict.evidence_spans,
                      trajectory=[gather_step, answer_step], cost=Cost(**meter.summary()), video=str(item.video_path),
                      video_id=video.id, strategy=self.name,
                      provenance=answer_provenance(config, llm=llm, captioner=self.qa.backbones.captioner,
                                                   embedder_id=memory.embedder.id, memory=memory,
                                                   node_ids=read_node_ids([], verdict.evidence_spans,
                                                                          [n.id for n in nodes if n.id is not None])))


@dataclass
class UniformBaseline(_Baseline):
    clips: int = 16
    name: str = "uniform"

    def gather(self, video: VideoRecord, level: str, item: QAItem, run: RunContext) -> tuple[list, Step]:
        memory, indexer = self.qa.memory, self.qa.indexer
        started = time.monotonic()
        spans = uniform_spans(level_grid(memory.config, video.duration, level), self.clips)
        made = [indexer.caption(memory, video.id, level, span, run=run) for span in spans]
        step = Step(index=0, node="caption", level=level, spans=[(s.start, s.end) for s in spans],
                    message=f"uniform: {len(spans)} evenly spaced {level} clips",
                    frames_sampled=run.meter.frames_decoded, captions_added=sum(c for _, c in made),
                    captions_reused=sum(not c for _, c in made), elapsed_s=round(time.monotonic() - started, 3))
        return [node for node, _ in made], step


@dataclass
class DenseBaseline(_Baseline):
    name: str = "dense"

    def gather(self, video: VideoRecord, level: str, item: QAItem, run: RunContext) -> tuple[list, Step]:
        memory, config = self.qa.memory, self.qa.config
        started = time.monotonic()
        (report,) = self.qa.indexer.build(video, [level], speech=False, run=run).reports
        nodes = memory.nodes(video.id, level)
        how = "every caption"
        if estimate_tokens(render_memory(nodes, video.duration)) > config.context_tokens:
            ranked = [n for n, _ in memory.search(question_query(item.question, item.options), video.id,
                                                  levels=[level], k=len(nodes))]
            nodes = fit_by_relevance(ranked, config.context_tokens)
            how = f"the {len(nodes)} captions most like the question (retrieval)"
        step = Step(index=0, node="caption", level=level, spans=[(n.start, n.end) for n in nodes],
                    message=f"dense: all {report.clips} {level} clips captioned; the LLM reads {how}",
                    frames_sampled=report.frames, captions_added=report.created, captions_reused=report.reused,
                    elapsed_s=round(time.monotonic() - started, 3))
        return nodes, step
