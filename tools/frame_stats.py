"""Statistics of decoded frames that more than one tool uses (numpy only): a cheap thumbnail, its joint
colour histogram, and the scene cuts those histograms show.

Change-aware sampling (tools/change_sampling.py) keeps a frame at a cut; the OCR captioner's visual facts
(tools/captioners/ocr/visual_facts.py) say where the cuts are. Both measure a cut here, so that a frame kept
for a cut is one the caption names as a cut.
"""
from __future__ import annotations

import numpy as np

# Frames are shrunk to about this many pixels before any statistics: facts about colour need no detail.
THUMB_PIXELS = 96 * 54
# Total-variation distance between colour histograms above which consecutive frames are a scene cut.
CUT_THRESHOLD = 0.5


def thumbnail(frame: np.ndarray, pixels: int = THUMB_PIXELS) -> np.ndarray:
    """A strided view of an (H, W, 3) frame with roughly `pixels` pixels (no interpolation needed)."""
    h, w = frame.shape[:2]
    step = max(1, int(np.sqrt(h * w / pixels)))
    return frame[::step, ::step]


def histogram_of(thumb: np.ndarray, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram of a thumbnail, normalised; robust to small motion, sensitive to a change of scene."""
    q = (thumb // (256 // bins)).astype(np.int64).reshape(-1, 3)
    hist = np.bincount(q[:, 0] * bins * bins + q[:, 1] * bins + q[:, 2], minlength=bins ** 3).astype(np.float64)
    return hist / max(1.0, hist.sum())


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """The normalised joint RGB histogram of a frame's thumbnail, as scene cuts compare them."""
    return histogram_of(thumbnail(frame))


def colour_change(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two colour histograms: 0 = the same colours, 1 = disjoint ones."""
    return 0.5 * float(np.abs(a - b).sum())


def is_cut(a: np.ndarray, b: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """Two colour histograms differ as at a scene cut."""
    return colour_change(a, b) > threshold


def cuts_between(hists: list[np.ndarray], timestamps: list[float],
                 threshold: float = CUT_THRESHOLD) -> list[tuple[float, float]]:
    """Pairs (t_before, t_after) of consecutive histograms that differ as at a scene cut."""
    return [(timestamps[i - 1], timestamps[i]) for i in range(1, len(hists))
            if is_cut(hists[i - 1], hists[i], threshold)]


def scene_cuts(frames: list[np.ndarray], timestamps: list[float],
               threshold: float = CUT_THRESHOLD) -> list[tuple[float, float]]:
    """Pairs (t_before, t_after) of consecutive sampled frames whose colour histograms differ by more
    than `threshold` in total-variation distance (0 = identical, 1 = disjoint)."""
    return cuts_between([colour_histogram(f) for f in frames], timestamps, threshold)
