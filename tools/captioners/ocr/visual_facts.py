"""Cheap visual facts from sampled frames (numpy only): dominant colours by name, brightness, motion,
scene cuts. They give the offline (OCR) captioner something to say about frames without text. The thumbnail,
colour histogram and cut test are shared with change-aware sampling (tools/frame_stats.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidrecall.core.types import fmt_time
from vidrecall.tools.frame_stats import cuts_between, histogram_of, thumbnail

COLOUR_NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey")


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


def _labels(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Index into COLOUR_NAMES for every pixel, by hue/saturation/value rules people would agree with."""
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


@dataclass(frozen=True)
class _Thumb:
    """What the facts need of one frame, from one thumbnail: colour labels, which pixels are vivid
    (saturated and not dark), grey levels and the colour histogram."""

    labels: np.ndarray
    vivid: np.ndarray
    grey: np.ndarray
    histogram: np.ndarray

    @classmethod
    def of(cls, frame: np.ndarray) -> _Thumb:
        thumb = thumbnail(frame)
        h, s, v = hsv(thumb)
        return cls(_labels(h, s, v), (s > 0.35) & (v > 0.3), _grey_of(thumb), histogram_of(thumb))


def _dominant(thumbs: list[_Thumb], top: int = 3, min_share: float = 0.05) -> list[tuple[str, float]]:
    if not thumbs:
        return []
    counts: np.ndarray = np.sum([np.bincount(t.labels.ravel(), minlength=len(COLOUR_NAMES)) for t in thumbs], axis=0)
    shares = counts / max(1, int(np.sum(counts)))
    order = np.argsort(-shares, kind="stable")[:top]
    return [(COLOUR_NAMES[i], float(shares[i])) for i in order if shares[i] >= min_share]


def dominant_colours(frames: list[np.ndarray], top: int = 3, min_share: float = 0.05) -> list[tuple[str, float]]:
    """The `top` most common named colours over all frames, as (name, share of pixels), share >= min_share."""
    return _dominant([_Thumb.of(f) for f in frames], top, min_share)


def _accents(thumbs: list[_Thumb], exclude: set[str], min_share: float = 0.005, max_share: float = 0.05,
             top: int = 2) -> list[str]:
    """Small but vivid colours (a green toy on a brown table): saturated, not black/white/grey/brown,
    covering between min_share and max_share of the pixels, most common first."""
    if not thumbs:
        return []
    counts: np.ndarray = np.sum([np.bincount(t.labels[t.vivid].ravel(), minlength=len(COLOUR_NAMES))
                                 for t in thumbs], axis=0)
    shares = counts / max(1, sum(t.vivid.size for t in thumbs))
    dull = {"black", "white", "grey", "brown"} | exclude
    order = np.argsort(-shares, kind="stable")
    return [COLOUR_NAMES[i] for i in order
            if COLOUR_NAMES[i] not in dull and min_share <= shares[i] < max_share][:top]


def brightness_word(value: float) -> str:
    return "dark" if value < 0.2 else "dim" if value < 0.4 else "bright" if value > 0.7 else "medium brightness"


def _grey_of(thumb: np.ndarray) -> np.ndarray:
    return thumb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0


def _motion(greys: list[np.ndarray], timestamps: list[float], max_gap: float = 2.0) -> float | None:
    """Mean absolute grey-level change between consecutive frames at most `max_gap` s apart, in [0, 1];
    None when no such pair exists (frames far apart say nothing about movement)."""
    diffs = [np.abs(greys[i] - greys[i - 1]).mean() for i in range(1, len(greys))
             if timestamps[i] - timestamps[i - 1] <= max_gap and greys[i].shape == greys[i - 1].shape]
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
    thumbs = [_Thumb.of(f) for f in frames]  # one thumbnail and one colour conversion a frame
    colours = _dominant(thumbs)
    greys = [t.grey for t in thumbs]
    return VisualFacts(colours, _accents(thumbs, exclude={name for name, _ in colours}),
                       float(np.mean([g.mean() for g in greys])) if greys else 0.0,
                       _motion(greys, timestamps), cuts_between([t.histogram for t in thumbs], timestamps))
