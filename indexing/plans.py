"""What a caption will be, decided before anything is decoded: the level's clip grid, the span, how it is
sampled, the rendered prompt, and so its cache key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vidrecall import prompts
from vidrecall.core.config import Config, Level
from vidrecall.core.types import TIME_EPS, MemoryNode, Span, stable_hash
from vidrecall.memory.store import VideoRecord
from vidrecall.tools.video import VideoError

if TYPE_CHECKING:
    from vidrecall.memory.protocol import Memory

# A last grid clip shorter than this fraction of a clip joins the clip before it instead of standing alone.
TAIL_FRACTION = 0.1


@dataclass(frozen=True)
class CaptionPlan:
    level: Level
    depth: int
    span: Span
    prompt: str
    prompt_hash: str
    frames: int
    instruction: str | None
    key: str


def level_grid(config: Config, duration: float, level: str, within: Span | None = None) -> list[Span]:
    """The level's clip grid over a video of `duration` seconds (consecutive clips of clip_seconds), optionally
    only the clips overlapping `within`. Grid-aligned, so the same region always maps to the same clips."""
    lv = config.level(level)
    spans = Span(0.0, duration).split(lv.clip_seconds)
    if len(spans) > 1 and spans[-1].duration < lv.clip_seconds * TAIL_FRACTION:
        spans[-2:] = [Span(spans[-2].start, spans[-1].end)]
    if within is not None:
        spans = [s for s in spans if s.overlap(within) > TIME_EPS]
    return spans


def plan_caption(config: Config, captioner_id: str, video: VideoRecord, level: str, span: Span,
                 instruction: str | None = None) -> CaptionPlan:
    """The cache key and prompt of a caption, without decoding anything."""
    lv = config.level(level)
    try:  # floats: caption_key would hash an int start 2 differently from 2.0
        span = Span(float(span.start), float(span.end)).clip_to(float(video.duration))
    except ValueError:
        raise VideoError(f"{video.path}: span {span.start:.2f}-{span.end:.2f} s lies outside the video "
                         f"(0 to {video.duration:.2f} s)") from None
    instruction = (instruction or "").strip() or None
    prompt = prompts.render(lv.prompt, seconds=f"{round(span.duration, 1):g}", instruction=instruction)
    prompt_hash = stable_hash(prompt)
    frames = lv.frames_for(span.duration)
    node = MemoryNode(video_id=video.id, level=lv.name, depth=config.depth(lv.name), start=span.start,
                      end=span.end, text="", captioner=captioner_id, prompt_hash=prompt_hash, fps=lv.fps,
                      frames=frames, max_pixels=lv.max_pixels, instruction=instruction, sampling=lv.sampling_tag)
    return CaptionPlan(lv, node.depth, span, prompt, prompt_hash, frames, instruction, node.key)


def timeline_grid(view: "Memory", video_id: str, level: str, within: Span | None = None) -> list[Span]:
    """The level's clips on a memory's timeline: each file's own grid, shifted by the file's offset (a clip
    never straddles two files of a library), optionally only those overlapping `within`."""
    spans = []
    for record, offset in view.files(video_id):
        for s in level_grid(view.config, record.duration, level):
            shifted = Span(round(s.start + offset, 3), round(s.end + offset, 3)) if offset else s
            if within is None or shifted.overlap(within) > TIME_EPS:
                spans.append(shifted)
    return spans
