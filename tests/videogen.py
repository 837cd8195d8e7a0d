"""Small synthetic videos for edge cases, written with PyAV into a test's tmp dir.

Every generated frame is one flat gray level that encodes its index (`level_of(i, n)`), so a test can
tell which source frame a decoder returned by the frame's mean (codec loss is a few levels at most).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def level_of(index: int, count: int) -> int:
    """The gray level of frame `index` of `count`: evenly spread over 16..239 (video-range safe)."""
    return int(round(16 + 223 * index / max(1, count - 1)))


def index_of(frame: np.ndarray, count: int) -> int:
    """Which frame of a `count`-frame generated clip this decoded frame is (nearest gray level)."""
    levels = np.array([level_of(i, count) for i in range(count)])
    return int(np.abs(levels - float(frame.mean())).argmin())


def _frame(level: int, width: int, height: int) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.full((height, width, 3), level, np.uint8), format="rgb24")


def write_clip(path: Path, pts_seconds: list[float], *, width: int = 64, height: int = 48,
               codec: str = "libx264", rate: int = 10, rotation: int = 0, options: dict | None = None,
               keyframe_every: int | None = None) -> Path:
    """A clip whose frame i is shown from pts_seconds[i] (ms precision), gray level level_of(i, n)."""
    n = len(pts_seconds)
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        if keyframe_every:
            stream.codec_context.gop_size = keyframe_every
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i, t in enumerate(pts_seconds):
            frame = _frame(level_of(i, n), width, height)
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def short_clip(directory: Path, name: str = "short.mp4", *, seconds: float = 3.0, fps: int = 10,
               **kw) -> Path:
    """A constant-frame-rate clip: seconds * fps frames."""
    return write_clip(directory / name, [i / fps for i in range(int(round(seconds * fps)))], rate=fps, **kw)


def vfr_clip(directory: Path, name: str = "vfr.mp4") -> Path:
    """Variable frame rate: 20 frames 0.05 s apart, then 10 frames 0.3 s apart (3.95 s in all)."""
    pts = [i * 0.05 for i in range(20)] + [1.0 + i * 0.3 for i in range(10)]
    return write_clip(directory / name, pts, rate=20)


def rotated_clip(directory: Path, name: str = "rotated.mp4", rotation: int = 90) -> Path:
    """A 64x48 coded clip with a display matrix saying: rotate `rotation` degrees counter-clockwise.

    Frame 0 has a white block in its top-left corner (rows 0-9, columns 0-19) to check orientation.
    """
    path = directory / name
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(rotation)
        for _ in range(10):
            pixels = np.zeros((48, 64, 3), np.uint8)
            pixels[:10, :20] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def empty_container(directory: Path, name: str = "empty.avi") -> Path:
    """A valid AVI with a video stream and no frames at all (mp4 and mkv muxers drop such a stream)."""
    path = directory / name
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        container.start_encoding()  # writes the header although no frame follows
    return path


def not_a_video(directory: Path, name: str = "notes.mp4") -> Path:
    """A text file with a video's name."""
    path = directory / name
    path.write_text("these are meeting notes, not a video\n" * 50)
    return path


def truncated_clip(directory: Path, name: str = "truncated.mkv", *, keep: float = 0.5) -> Path:
    """A 6 s Matroska clip cut to `keep` of its bytes, as after an interrupted download.

    Matroska keeps its header first, so the file still opens and the early frames still decode.
    """
    full = short_clip(directory, "full_" + name, seconds=6.0, fps=10, width=160, height=120)
    data = full.read_bytes()
    path = directory / name
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def corrupt_clip(directory: Path, name: str = "corrupt.avi", *, seconds: float = 4.0, fps: int = 10) -> Path:
    """An MJPEG AVI whose middle frames' bytes are overwritten with noise: the container is intact but
    those frames fail to decode."""
    full = short_clip(directory, "intact_" + name, seconds=seconds, fps=fps, width=160, height=120,
                      codec="mjpeg")
    data = bytearray(full.read_bytes())
    start, stop = int(len(data) * 0.4), int(len(data) * 0.6)
    data[start:stop] = np.random.default_rng(7).integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    path = directory / name
    path.write_bytes(bytes(data))
    return path


def text_clip(path: Path, lines: list[str], *, seconds: float = 4.0, fps: int = 5, width: int = 640,
              height: int = 360) -> Path:
    """Black text on white, the same lines on every frame: what OCR should read back verbatim."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 44)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((40, 60 + row * 90), line, fill="black", font=font)
    pixels = np.asarray(image)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(int(round(seconds * fps))):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path
