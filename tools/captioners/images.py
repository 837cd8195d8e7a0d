"""Frame helpers for captioners: RGB arrays to PIL images, JPEG bytes and base64 data URLs, and the
caption for a clip none of whose frames could be decoded."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from vidrecall.core.types import CaptionRequest, CaptionResult, Usage


def to_pil(frame: np.ndarray, max_side: int | None = None) -> Image.Image:
    """An RGB uint8 (H, W, 3) frame as a PIL image, shrunk (aspect kept) so its longer side <= max_side."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
    image = Image.fromarray(frame, "RGB")
    if max_side and max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BICUBIC)
    return image


def shrink(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """The frame with its longer side at most `max_side` (unchanged when already small enough)."""
    if not max_side or max(frame.shape[:2]) <= max_side:
        return frame
    return np.asarray(to_pil(frame, max_side))


def jpeg_bytes(frame: np.ndarray, quality: int = 85, max_side: int | None = None) -> bytes:
    buffer = io.BytesIO()
    to_pil(frame, max_side).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def jpeg_data_url(frame: np.ndarray, quality: int = 85, max_side: int | None = None) -> str:
    """A `data:image/jpeg;base64,...` URL, the form OpenAI-compatible vision APIs accept in image_url."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(frame, quality, max_side)).decode("ascii")


def decode_data_url(url: str) -> Image.Image:
    """The image inside a base64 data URL (used by tests and by servers that echo images)."""
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise ValueError(f"not a base64 image data URL: {url[:40]}...")
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def no_frames_result(request: CaptionRequest, model: str, kind: str) -> CaptionResult:
    """What every captioner says about a clip with no decodable frame (no model call is made)."""
    batch = request.frames
    return CaptionResult(text=f"Frames {batch.span.label()} (0 sampled). No frame could be decoded.",
                         usage=Usage(model=model, kind=kind, ok=False, role="caption"))
