"""Sampled frames as one small H.264 MP4 (a base64 data URL), for servers that take a clip as a video.

Each sampled frame becomes one frame of the MP4, played at the rate it was sampled at, so a server that
decodes every frame (vLLM with `--media-io-kwargs '{"video": {"num_frames": -1}}'`) sees exactly the
frames we chose, and the fps we send (mm_processor_kwargs) gives Qwen-VL their real time positions.
"""
from __future__ import annotations

import base64
import io
from fractions import Fraction

import av
import numpy as np

from vidrecall.tools.captioners.images import shrink


def sampled_fps(timestamps: list[float]) -> float | None:
    """The rate frames were sampled at when evenly spaced (within 10 %); None for irregular or single frames."""
    if len(timestamps) < 2:
        return None
    gaps = np.diff(np.asarray(timestamps, dtype=np.float64))
    median = float(np.median(gaps))
    if median <= 0 or np.max(np.abs(gaps - median)) > 0.1 * median:
        return None
    return 1.0 / median


def mp4_bytes(frames: list[np.ndarray], fps: float, *, max_side: int | None = None, crf: int = 23) -> bytes:
    """H.264 (yuv420p) MP4 of RGB uint8 frames; sizes are cropped to even numbers, as yuv420p needs."""
    if not frames:
        raise ValueError("an MP4 needs at least one frame")
    first = shrink(frames[0], max_side)
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            picture = np.ascontiguousarray(shrink(frame, max_side)[:height, :width])
            if picture.shape[:2] != (height, width):  # frames of another size: pad to the first one's
                padded = np.zeros((height, width, 3), dtype=np.uint8)
                padded[:picture.shape[0], :picture.shape[1]] = picture
                picture = padded
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def mp4_data_url(frames: list[np.ndarray], fps: float, *, max_side: int | None = None) -> str:
    """`data:video/mp4;base64,...`, the form vLLM accepts in a `video_url` content part."""
    return "data:video/mp4;base64," + base64.b64encode(mp4_bytes(frames, fps, max_side=max_side)).decode("ascii")
