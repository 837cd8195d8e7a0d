"""Look before reading: which frames of a batch the OCR reader must read, and which repeat a read one.

Reading a frame (text detection on the frame upscaled to det_side, then recognition) costs 5-10x a look
(the same detector at about the frame's own size). So every frame gets a look, and a frame is read only when
the look finds text and that text is not what an earlier frame of the batch already showed:
- no text boxes, or one squarish box alone -> nothing to read (the reading would find nothing the look
  can see, or a texture the detector mistook for text);
- every box in the same place, with the same strokes inside, as a box of the last frame read -> that
  frame's reading is reused (an overlay held over a moving shot, a title over a slow zoom), less the lines
  in boxes this frame no longer shows;
- otherwise -> read. A read covers the whole frame, so small text the look cannot see is still read when
  other text in the frame made the read happen;
- a frame change-aware sampling kept because its words changed (`must_read`) is read even when the look
  sees nothing there: the sampler's word finder works at the frame's own pixels and sees small text the
  look misses.

"Same strokes" compares edge maps (Canny) of the boxes' pixels in windows two text heights wide: text held
still keeps its edges (lowest window F-measure 0.73-0.99 on the 15-min haystack's news banner over moving
trees, its watermarks and titles) while a changed word does not (0.0-0.61: "with our lives" -> "with our
passion" is 0.78 over the whole box but 0.0 in the window of the changed word). A changed letter or digit
("PRICE 1024" -> "PRICE 1025") keeps 0.8-0.96 of its edges within the one-pixel tolerance that compression
jitter needs, so a pair that passes is also recognised, box by box (the recogniser alone, at the look's
precision, about a twentieth of a read), and reused only when both boxes say the same.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

SAME_EDGES = 0.68  # lowest edge F-measure, window by window, of two boxes holding the same text
MIN_OVERLAP = 0.6  # boxes pair when they share this much of the smaller one's area ...
MAX_AREA_RATIO = 2.5  # ... and are of like size (the look's boxes on small text jitter by several pixels)
REUSE_SECONDS = 10.0  # a reading stands in for later frames this long at most: the look misses small text
# A lone box about as wide as it is high is the detector seeing text in a texture (wood grain, foliage, a
# face): on the 15-min haystack 64 of 70 frames with such a box alone held no text, and of the 175 frames
# with text 2 had one ("20", "TO"). Lines of text are wide, and a frame's words come in several boxes.
LONE_BOX_MIN_ASPECT = 1.4


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def around(cls, quad: np.ndarray) -> "Box":
        """The upright rectangle around one of RapidOCR's four-point boxes."""
        lo, hi = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
        return cls(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def matches(self, other: "Box") -> bool:
        """Much the same place and size."""
        shared = Box(max(self.x0, other.x0), max(self.y0, other.y0), min(self.x1, other.x1), min(self.y1, other.y1))
        smaller, larger = sorted((self.area, other.area))
        return (shared.width > 0 and shared.height > 0 and shared.area >= MIN_OVERLAP * smaller
                and larger <= MAX_AREA_RATIO * smaller)

    def union(self, other: "Box") -> "Box":
        return Box(min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1), max(self.y1, other.y1))


def boxes_of(quads) -> list[Box]:
    return [] if quads is None else [Box.around(np.asarray(q)) for q in quads]


def _edges(frame: np.ndarray, box: Box) -> np.ndarray:
    h, w = frame.shape[:2]
    crop = frame[max(0, box.y0):min(h, box.y1 + 1), max(0, box.x0):min(w, box.x1 + 1)]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.Canny(grey, 50, 150) > 0


def same_strokes(frame_a: np.ndarray, frame_b: np.ndarray, region: Box) -> bool:
    """The edges in `region` agree in every window two text heights wide: a changed word fails its window
    even in a long line whose other words agree."""
    a, b = _edges(frame_a, region), _edges(frame_b, region)
    side = max(8, region.height)
    starts = range(0, max(1, a.shape[1] - 2 * side + 1), max(1, side // 2))
    return all(edge_agreement(a[:, x:x + 2 * side], b[:, x:x + 2 * side]) >= SAME_EDGES for x in starts)


def edge_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """F-measure of two edge maps, an edge counting as found within one pixel; 1.0 when both are empty."""
    if not a.any() and not b.any():
        return 1.0
    kernel = np.ones((3, 3), np.uint8)
    near_a = cv2.dilate(a.astype(np.uint8), kernel) > 0
    near_b = cv2.dilate(b.astype(np.uint8), kernel) > 0
    precision = (a & near_b).sum() / max(1, a.sum())
    recall = (b & near_a).sum() / max(1, b.sum())
    return float(2 * precision * recall / max(1e-9, precision + recall))


Recognise = Callable[[np.ndarray, Box], str]  # the text in one box of one frame, by the recogniser alone


def matched_boxes(frame_a: np.ndarray, boxes_a: list[Box], frame_b: np.ndarray, boxes_b: list[Box],
                  recognise: Recognise | None = None) -> list[tuple[Box, Box]] | None:
    """Pair every box of frame b with a box of frame a in the same place holding the same strokes (and,
    with `recognise`, recognised as the same text); None when one of b's boxes has no such partner (new or
    changed text). Boxes of a left unpaired are text that b no longer shows, or that the look missed in b
    (small text comes and goes between looks)."""
    if not boxes_b:
        return None
    unmatched, pairs = list(boxes_a), []
    for box in boxes_b:
        match = next((a for a in unmatched if box.matches(a)), None)
        if match is None:
            return None
        region = box.union(match)
        if not same_strokes(frame_a, frame_b, region):
            return None
        if recognise is not None and recognise(frame_a, region) != recognise(frame_b, region):
            return None
        unmatched.remove(match)
        pairs.append((match, box))
    return pairs


@dataclass(frozen=True)
class Reading:
    """Where a frame's text comes from: `source` is the frame read for it (itself when read, None when the
    look saw no text); `gone` are boxes of the source's look this frame no longer shows."""

    source: int | None
    gone: tuple[Box, ...] = ()


def worth_reading(boxes: list[Box]) -> bool:
    """The look found something like text: several boxes, or one wider than LONE_BOX_MIN_ASPECT times its height."""
    return len(boxes) > 1 or (len(boxes) == 1 and boxes[0].width >= LONE_BOX_MIN_ASPECT * max(1, boxes[0].height))


def plan_reads(frames: list[np.ndarray], times: list[float], looks: list[list[Box]],
               recognise: Recognise | None = None, must_read: frozenset[int] = frozenset()) -> list[Reading]:
    """For each frame, in time order, whether to read it or reuse the last read frame's reading: reused
    when every box the look finds matches one of that frame's boxes, with the same strokes inside (and
    the same text recognised there, given `recognise`), and the reading is at most REUSE_SECONDS old. Frames in
    `must_read` whose look finds no box are read all the same."""
    if recognise is not None:
        recognise = _remembered(recognise)
    plan: list[Reading] = []
    last_read: int | None = None
    for i, boxes in enumerate(looks):
        if not boxes and i in must_read:
            plan.append(Reading(i))
            last_read = i
            continue
        if not worth_reading(boxes):
            plan.append(Reading(None))
            continue
        pairs: list[tuple[Box, Box]] | None = None
        if last_read is not None and times[i] - times[last_read] <= REUSE_SECONDS:  # a fresh reading
            pairs = matched_boxes(frames[last_read], looks[last_read], frames[i], boxes, recognise)
        if last_read is None or pairs is None:
            plan.append(Reading(i))
            last_read = i
        else:
            kept = {a for a, _ in pairs}
            plan.append(Reading(last_read, tuple(b for b in looks[last_read] if b not in kept)))
    return plan


def _remembered(recognise: Recognise) -> Recognise:
    """recognise, once per frame and box: the last read frame's boxes are compared with frame after frame."""
    seen: dict[tuple[int, Box], str] = {}

    def remembered(frame: np.ndarray, box: Box) -> str:
        key = (id(frame), box)  # the frames live in plan_reads' caller until planning ends
        if key not in seen:
            seen[key] = recognise(frame, box)
        return seen[key]

    return remembered


def overlaps(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1
