"""The caption step, in one place: sample a plan's frames, ask the captioner, and describe the result.

Every engine (serial, pipelined, Ray workers) and the agent's zoom run clips through `sample_clip` and
`caption_clips`; the indexer alone turns a `CaptionedClip` into a stored node. Nothing here touches the
store, so a Ray worker runs exactly this code and ships only `CaptionedClip`s back.
"""
from __future__ import annotations

from dataclasses import dataclass

from vidrecall.core.types import CaptionRequest, Usage
from vidrecall.indexing.plans import CaptionPlan
from vidrecall.tools.captioners.base import Captioner, CaptionerError
from vidrecall.tools.change_sampling import ChangeSampled, keep_changed
from vidrecall.tools.video import VideoReader


@dataclass(frozen=True)
class SampledClip:
    plan: CaptionPlan
    sampled: ChangeSampled


@dataclass(frozen=True)
class CaptionedClip:
    """A finished caption and what it took; small and picklable (it crosses from Ray workers)."""

    plan: CaptionPlan
    text: str
    usage: Usage
    frames_decoded: int  # decoded to choose the frames sent (more than sent on change-aware levels)
    frames_sent: int
    frames_skipped: int  # frames the decoder could not produce
    frame_times: list[float] | None  # the frames sent, kept with the node on change-aware levels


def sample_clip(reader: VideoReader, plan: CaptionPlan) -> SampledClip:
    """The frames a plan's caption is made from (the same in every process that decodes the video), and how
    many were decoded to choose them (more on change-aware levels)."""
    lv = plan.level
    if lv.change_aware:
        # keep_changed shrinks only the frames it keeps (why: its docstring)
        frames = reader.iter_frames(plan.span, fps=lv.fps, stand_ins=True)
        return SampledClip(plan, keep_changed(frames, plan.span, threshold=lv.change_threshold,
                                              relative=lv.change_relative, text=lv.change_text,
                                              min_keep_seconds=lv.min_keep_seconds, max_pixels=lv.max_pixels,
                                              source=reader.path))
    if lv.fps is not None:
        batch = reader.sample(plan.span, fps=lv.fps, max_pixels=lv.max_pixels)
    else:
        batch = reader.sample(plan.span, num_frames=plan.frames, max_pixels=lv.max_pixels)
    return SampledClip(plan, ChangeSampled(batch, len(batch) + batch.skipped))


def caption_clips(captioner: Captioner, clips: list[SampledClip]) -> list[CaptionedClip]:
    """Caption sampled clips in one captioner call (a batch when there are several), in order."""
    if not clips:
        return []
    requests = [CaptionRequest(frames=c.sampled.batch, prompt=c.plan.prompt, level=c.plan.level.name,
                               instruction=c.plan.instruction) for c in clips]
    results = captioner.caption_batch(requests) if len(requests) > 1 else [captioner.caption(requests[0])]
    if len(results) != len(requests):
        raise CaptionerError(f"captioner {captioner.id!r} returned {len(results)} captions for "
                             f"{len(requests)} clips; fix its caption_batch")
    return [CaptionedClip(c.plan, (r.text or "").strip(), r.usage, c.sampled.decoded, len(c.sampled.batch),
                          c.sampled.batch.skipped,
                          [round(t, 3) for t in c.sampled.batch.timestamps] if c.plan.level.change_aware else None)
            for c, r in zip(clips, results)]
