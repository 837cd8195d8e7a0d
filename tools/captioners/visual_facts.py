"""Cheap visual facts from sampled frames (numpy only): dominant colours by name, brightness, motion,
scene cuts. They give the offline (OCR) profile something to say about frames without text."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidrecall.core.types import fmt_time

# Frames are shrunk to about this many pixels before any statistics: facts about colour need no detail.
THUMB_PIXELS = 96 * 54

COLOUR_NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey")


def thumbnail(frame: np.ndarray, pixels: int = THUMB_PIXELS) -> np.ndarray:
    """A strided view of an (H, W, 3) frame with roughly `pixels` pixels (no interpolation needed)."""
    h, w = frame.shape[:2]
    step = max(1, int(np.sqrt(h * w / pixels)))
    return frame[::step, ::step]


def hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees [0, 360), saturation and value in [0, 1], for an RGB uint8 array."""
    x = rgb.astype(np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    c = v - x.min(axis=-1)
    s = np.where(v > 0, c / np.maximum(v, 1e-6), 0.0)
    safe_c = np.maximum(c, 1e-6)
    h = np.where(v == r, ((g - b) / safe_c) % 6, np.where(v == g, (b - r) / safe_c + 2, (r - g) / safe_c + 4))
    return (h * 60.0) % 360.0, s, v


def colour_labels(rgb: np.ndarray) -> np.ndarray:
    """Index into COLOUR_NAMES for every pixel, by hue/saturation/value rules people would agree with."""
    h, s, v = hsv(rgb)
    names = {n: i for i, n in enumerate(COLOUR_NAMES)}
    hue_band = np.select(
        [(h < 15) | (h >= 345), h < 40, h < 65, h < 170, h < 260, h < 290],
        [names["red"], names["orange"], names["yellow"], names["green"], names["blue"], names["purple"]],
        default=names["pink"],
    )
    # Wood, skin in shadow, soil: warm hues that are not bright are what people call brown.
    warm = (h < 45) | (h >= 345)
    label = hue_band
    label = np.where(warm & (v < 0.78) & (s > 0.25), names["brown"], label)
    label = np.where(((h < 15) | (h >= 330)) & (s < 0.5) & (v > 0.7), names["pink"], label)
    label = np.where(s < 0.18, np.where(v > 0.8, names["white"], names["grey"]), label)
    label = np.where(v < 0.18, names["black"], label)
    return label


def dominant_colours(frames: list[np.ndarray], top: int = 3, min_share: float = 0.05) -> list[tuple[str, float]]:
    """The `top` most common named colours over all frames, as (name, share of pixels), share >= min_share."""
    if not frames:
        return []
    counts = np.zeros(len(COLOUR_NAMES), dtype=np.int64)
    for frame in frames:
        counts += np.bincount(colour_labels(thumbnail(frame)).ravel(), minlength=len(COLOUR_NAMES))
    shares = counts / max(1, counts.sum())
    order = np.argsort(-shares, kind="stable")[:top]
    return [(COLOUR_NAMES[i], float(shares[i])) for i in order if shares[i] >= min_share]


def accent_colours(frames: list[np.ndarray], exclude: set[str], min_share: float = 0.005,
                   max_share: float = 0.05, top: int = 2) -> list[str]:
    """Small but vivid colours (a green toy on a brown table): saturated, not black/white/grey/brown,
    covering between min_share and max_share of the pixels, most common first."""
    if not frames:
        return []
    counts = np.zeros(len(COLOUR_NAMES), dtype=np.int64)
    total = 0
    for frame in frames:
        thumb = thumbnail(frame)
        _h, s, v = hsv(thumb)
        labels = colour_labels(thumb)[(s > 0.35) & (v > 0.3)]
        counts += np.bincount(labels.ravel(), minlength=len(COLOUR_NAMES))
        total += s.size
    shares = counts / max(1, total)
    dull = {"black", "white", "grey", "brown"} | exclude
    order = np.argsort(-shares, kind="stable")
    return [COLOUR_NAMES[i] for i in order
            if COLOUR_NAMES[i] not in dull and min_share <= shares[i] < max_share][:top]


def brightness(frames: list[np.ndarray]) -> float:
    """Mean luma of the frames in [0, 1]."""
    if not frames:
        return 0.0
    return float(np.mean([_grey(f).mean() for f in frames]))


def brightness_word(value: float) -> str:
    return "dark" if value < 0.2 else "dim" if value < 0.4 else "bright" if value > 0.7 else "medium brightness"


def _grey(frame: np.ndarray) -> np.ndarray:
    return thumbnail(frame).astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0


# Total-variation distance between colour histograms above which consecutive frames are a scene cut.
CUT_THRESHOLD = 0.5


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """The normalised joint RGB histogram scene_cuts compares (for change-aware sampling)."""
    return _histogram(frame)


def _histogram(frame: np.ndarray, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram, normalised; robust to small motion, sensitive to a change of scene."""
    q = (thumbnail(frame) // (256 // bins)).astype(np.int64).reshape(-1, 3)
    hist = np.bincount(q[:, 0] * bins * bins + q[:, 1] * bins + q[:, 2], minlength=bins ** 3).astype(np.float64)
    return hist / max(1.0, hist.sum())


def scene_cuts(frames: list[np.ndarray], timestamps: list[float],
               threshold: float = CUT_THRESHOLD) -> list[tuple[float, float]]:
    """Pairs (t_before, t_after) of consecutive sampled frames whose colour histograms differ by more
    than `threshold` in total-variation distance (0 = identical, 1 = disjoint)."""
    cuts = []
    hists = [_histogram(f) for f in frames]
    for i in range(1, len(frames)):
        if 0.5 * np.abs(hists[i] - hists[i - 1]).sum() > threshold:
            cuts.append((timestamps[i - 1], timestamps[i]))
    return cuts


def motion(frames: list[np.ndarray], timestamps: list[float], max_gap: float = 2.0) -> float | None:
    """Mean absolute grey-level change between consecutive frames at most `max_gap` s apart, in [0, 1];
    None when no such pair exists (frames far apart say nothing about movement)."""
    diffs = []
    for i in range(1, len(frames)):
        if timestamps[i] - timestamps[i - 1] <= max_gap and frames[i].shape == frames[i - 1].shape:
            diffs.append(np.abs(_grey(frames[i]) - _grey(frames[i - 1])).mean())
    return float(np.mean(diffs)) if diffs else None


def motion_word(value: float) -> str:
    return "still" if value < 0.02 else "some movement" if value < 0.08 else "much movement"


@dataclass(frozen=True)
class VisualFacts:
    colours: list[tuple[str, float]]
    accents: list[str]
    brightness: float
    motion: float | None
    cuts: list[tuple[float, float]]

    def text(self) -> str:
        """e.g. 'Colours: green 40%, brown 25%. Bright. Scene cut near 0:20.'"""
        parts = []
        if self.colours:
            accents = f"; small {' and '.join(self.accents)} areas" if self.accents else ""
            parts.append("Colours: " + ", ".join(f"{name} {share:.0%}" for name, share in self.colours)
                         + accents + ".")
        parts.append(brightness_word(self.brightness).capitalize() + ".")
        if self.motion is not None:
            parts.append(motion_word(self.motion).capitalize() + ".")
        for before, after in self.cuts:
            if after - before <= 2.0:
                parts.append(f"Scene cut near {fmt_time((before + after) / 2)}.")
            else:
                parts.append(f"Scene change between {fmt_time(before)} and {fmt_time(after)}.")
        return " ".join(parts)


def visual_facts(frames: list[np.ndarray], timestamps: list[float]) -> VisualFacts:
    colours = dominant_colours(frames)
    accents = accent_colours(frames, exclude={name for name, _ in colours})
    return VisualFacts(colours, accents, brightness(frames), motion(frames, timestamps), scene_cuts(frames, timestamps))
