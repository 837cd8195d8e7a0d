"""Change-aware sampling: of the frames sampled at a level's fps, keep only those that look different
from the last kept one, and at least one every `min_keep_seconds`.

The signature is a 16x16 grey thumbnail (box-averaged, so noise and compression artefacts wash out) plus
the colour histogram visual_facts uses to find cuts. Two frames differ when the mean absolute difference
of their thumbnails exceeds the threshold (0-1) or a share (`relative`) of the pictures'
contrast (a new text card on black, a title fading in on a still), or when their colours differ as much as
at a scene cut (a cut between equally bright shots). A cut, a new slide or a caption appearing over
a still shot changes the thumbnail by 0.1-0.3; a talking head or a parked camera by under 0.02.
Figures on the 15-minute haystack: benchmarks/bench_change_sampling.py.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vidrecall.core.config import Level
from vidrecall.core.types import FrameBatch, Span
from vidrecall.tools.captioners.visual_facts import CUT_THRESHOLD, colour_histogram

SIGNATURE_SIDE = 16
# A change large relative to the pictures' contrast also counts (Level.change_relative): a new text card on
# black barely moves the mean, but it is large next to the little contrast such a picture has. This floor
# keeps a near-black picture's noise from counting; at 0.01 rather than 0.04 it lets "THE BLENDER
# FOUNDATION" fading in on black count, for one more kept frame on the 15-min haystack.
MIN_CONTRAST = 0.01


@dataclass(frozen=True)
class Signature:
    grey: np.ndarray  # (16, 16) float32 in [0, 1]
    colours: np.ndarray  # normalised joint RGB histogram (visual_facts' cut detector)


def signature(frame: np.ndarray) -> Signature:
    grey = Image.fromarray(frame).convert("L").resize((SIGNATURE_SIDE, SIGNATURE_SIDE), Image.Resampling.BOX)
    return Signature(np.asarray(grey, dtype=np.float32) / 255.0, colour_histogram(frame))


def difference(a: Signature, b: Signature) -> float:
    """Mean absolute difference of the grey thumbnails (0 = same picture, 1 = black vs white)."""
    return float(np.abs(a.grey - b.grey).mean())


def changed(a: Signature, b: Signature, threshold: float, relative: float) -> bool:
    """A different picture: the thumbnails differ by more than `threshold`, or by more than `relative` times
    the pictures' contrast (text cards on a plain background), or the colours changed as at a scene cut."""
    diff = difference(a, b)
    contrast = max(MIN_CONTRAST, (float(a.grey.std()) + float(b.grey.std())) / 2)
    return diff > threshold or diff / contrast > relative or is_cut(a, b)


def is_cut(a: Signature, b: Signature) -> bool:
    return 0.5 * float(np.abs(a.colours - b.colours).sum()) > CUT_THRESHOLD


@dataclass
class ChangeSampled:
    """The kept frames (as the FrameBatch a captioner gets) and how many frames were decoded to pick them."""

    batch: FrameBatch
    decoded: int


def keep_changed(frames: Iterable[tuple[float, np.ndarray]], span: Span, *, threshold: float,
                 min_keep_seconds: float, relative: float = Level.change_relative, source: str = "") -> ChangeSampled:
    """Walk (timestamp, frame) pairs in time order; keep the first, every frame whose signature differs
    from the last kept one's by more than `threshold`, and a frame when `min_keep_seconds` passed since
    the last kept one. Only kept frames stay in memory."""
    kept: list[np.ndarray] = []
    stamps: list[float] = []
    last_signature: np.ndarray | None = None
    decoded = 0
    for t, frame in frames:
        decoded += 1
        current = signature(frame)
        if (last_signature is None or changed(current, last_signature, threshold, relative)
                or t - stamps[-1] >= min_keep_seconds - 1e-6):
            kept.append(frame)
            stamps.append(float(t))
            last_signature = current
    return ChangeSampled(FrameBatch(frames=kept, timestamps=stamps, span=span, source=source), decoded)
