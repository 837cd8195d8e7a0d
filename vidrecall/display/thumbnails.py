"""Small JPEG thumbnails of the frames behind a span, as base64 data URIs ready for HTML.

Frames come from `vidrecall.tools.video.VideoReader`, the same reader the captioners use, so a thumbnail
shows what the memory saw. A video is opened once for many spans (`thumbnails_for_spans`).
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vidrecall.core.types import Span, fmt_time

# A span shorter than this (an instant named as evidence) is widened so that it has frames to show.
MIN_SPAN_S = 0.5


@dataclass(frozen=True)
class Thumbnail:
    time: float
    data_uri: str  # data:image/jpeg;base64,...
    width: int
    height: int

    def img_html(self, title: str = "") -> str:
        label = html.escape(f"{fmt_time(self.time)} ({self.time:.1f} s){' · ' + title if title else ''}", quote=True)
        return (f'<img src="{self.data_uri}" width="{self.width}" height="{self.height}" title="{label}" alt="{label}" '
                f'style="margin:1px;border-radius:3px;vertical-align:middle">')


def encode_jpeg(frame: np.ndarray, max_side: int = 160, quality: int = 75) -> tuple[str, int, int]:
    """An RGB uint8 frame shrunk to fit `max_side`, as (data URI, width, height)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(frame)).convert("RGB")
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), image.width, image.height


def as_span(span: Span | Sequence[float]) -> Span:
    return span if isinstance(span, Span) else Span(float(span[0]), float(span[1]))


def thumbnails_for_spans(video_path: str | Path, spans: Iterable[Span | Sequence[float]], per_span: int = 2, *,
                         max_side: int = 160, skip_bad_spans: bool = False) -> list[list[Thumbnail]]:
    """`per_span` thumbnails spread over each span, opening the video once.

    Raises VideoError for a bad file, and for a span outside the video unless `skip_bad_spans` (then that span
    gets no thumbnails: a model may cite a time the video does not have)."""
    from vidrecall.tools.video import VideoError, VideoReader

    if per_span < 1:
        raise ValueError(f"per_span must be at least 1, got {per_span}")
    out: list[list[Thumbnail]] = []
    with VideoReader(str(video_path)) as reader:
        duration = reader.info.duration
        for raw in spans:
            try:
                batch = reader.sample(_widened(as_span(raw), duration), num_frames=per_span,
                                      max_pixels=(2 * max_side) ** 2)
            except (VideoError, ValueError):
                if not skip_bad_spans:
                    raise
                out.append([])
                continue
            out.append([Thumbnail(float(t), *encode_jpeg(frame, max_side))
                        for t, frame in zip(batch.timestamps, batch.frames)])
    return out


def span_thumbnails(video_path: str | Path, span: Span | Sequence[float], n: int = 3, *,
                    max_side: int = 160) -> list[Thumbnail]:
    """`n` thumbnails spread over one span of a video."""
    return thumbnails_for_spans(video_path, [span], n, max_side=max_side)[0]


def thumbnails_html(thumbs: Sequence[Thumbnail], title: str = "") -> str:
    return "".join(t.img_html(title) for t in thumbs)


def _widened(span: Span, duration: float) -> Span:
    if span.duration >= MIN_SPAN_S:
        return span
    start = min(max(0.0, span.mid - MIN_SPAN_S / 2), max(0.0, duration - MIN_SPAN_S))
    return Span(start, start + MIN_SPAN_S)
