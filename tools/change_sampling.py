"""Change-aware sampling: of the frames sampled at a level's fps, keep only those that look different
from the last kept one, and at least one every `min_keep_seconds`.

The signature is a 16x16 grey thumbnail (box-averaged, so noise and compression artefacts wash out) plus
the colour histogram scene cuts are found with (tools/frame_stats.py, as the OCR captioner's visual facts
find them). Two frames differ when the mean absolute difference of their thumbnails exceeds the threshold
(0-1) or a share (`relative`) of the pictures' contrast (a new text card on black, a title fading in on a
still), or when their colours differ as much as at a scene cut (a cut between equally bright shots). A
cut, a new slide or a caption appearing over a still shot changes the thumbnail by 0.1-0.3; a talking head
or a parked camera by under 0.02.

A line of text replacing another over a still shot (lyrics, subtitles, a dialog's readout) or a title
over a still sky barely moves a 16x16 thumbnail, so with `text` a frame is also kept when its words
changed: word-shaped blobs of high-contrast strokes came, went or moved since the last kept frame, or the
pixels under them changed (other words in the same place). It is kept once the words have settled (the
same as in the frame just before), so text shown for two samples is kept while texture that moves every
frame (leaves, water, grain) is not. Text over busy texture merges with the texture's edges into blobs
that are not word-shaped and is not seen this way; the thumbnail rule and the floor still apply there.
Frames kept for their words alone are named in the batch (FrameBatch.new_words): the OCR captioner reads
them even where its look sees no text.
Figures on the 15-minute haystack: benchmarks/bench_change_sampling.py.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from vidrecall.core.config import Level
from vidrecall.core.types import FrameBatch, Span
from vidrecall.tools import frame_stats
from vidrecall.tools.video import resize_to_max_pixels

SIGNATURE_SIDE = 16
# A change large relative to the pictures' contrast also counts (Level.change_relative): a new text card on
# black barely moves the mean, but it is large next to the little contrast such a picture has. This floor
# keeps a near-black picture's noise from counting; at 0.01 rather than 0.04 it lets "THE BLENDER
# FOUNDATION" fading in on black count, for one more kept frame on the 15-min haystack.
MIN_CONTRAST = 0.01

# The text mask is made at most this many rows tall, so its cost and its size limits do not depend on the
# level's pixels. Word blobs are 5-50 rows tall there and at least 1.5 times as wide as tall.
TEXT_ROWS = 240
TEXT_EDGE = 48  # grey levels of local contrast (3x3 morphological gradient) a stroke edge needs
# Text changed between two pictures when its layout did (word pixels of either picture not next to a word
# pixel of the other cover at least TEXT_MIN_AREA of the picture and TEXT_LAYOUT_CHANGE of the word pixels in
# either: words came, went or moved) or its letters did (the current words cover at least TEXT_MIN_AREA and
# TEXT_LETTER_CHANGE of their pixels differ by more than TEXT_PIXEL_CHANGE grey levels: other words in the
# same place). New text is kept once it has settled against the frame before: its layout share stays under
# TEXT_LAYOUT_CHANGE and its letters share under TEXT_SETTLED_LETTERS. That is laxer than TEXT_LETTER_CHANGE
# because the blobs hold the picture between the letters too: a lyric line held for two frames over a moving
# shot changed 0.31 of its word pixels between them and, with one threshold for both, was never kept.
TEXT_MIN_AREA = 0.005
TEXT_LAYOUT_CHANGE = 0.2
TEXT_LETTER_CHANGE = 0.3
TEXT_SETTLED_LETTERS = 0.4
TEXT_PIXEL_CHANGE = 50
_NEAR = np.ones((3, 3), np.uint8)
_ROUND = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_JOIN_LETTERS = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1))


class TextPicture:
    """A frame's grey picture, scaled to at most TEXT_ROWS tall, and its word mask, found on first use
    (frames kept one after another, as in a moving shot, never need it)."""

    def __init__(self, grey: np.ndarray) -> None:
        if grey.shape[0] > TEXT_ROWS:
            grey = cv2.resize(grey, (round(grey.shape[1] * TEXT_ROWS / grey.shape[0]), TEXT_ROWS),
                              interpolation=cv2.INTER_AREA)
        self.grey = grey
        self._words: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def words(self) -> tuple[np.ndarray, np.ndarray]:
        """Word pixels (uint8 0/1) and the same grown by a pixel (compression moves edges by one)."""
        if self._words is None:
            found = find_words(self.grey).astype(np.uint8)
            self._words = found, cv2.dilate(found, _NEAR)
        return self._words


@dataclass(frozen=True)
class Signature:
    grey: np.ndarray  # (16, 16) float32 in [0, 1]
    colours: np.ndarray  # normalised joint RGB histogram (frame_stats' cut detector)
    text: TextPicture | None = None


def signature(frame: np.ndarray, *, text: bool = False) -> Signature:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)  # once, for the thumbnail and the text picture
    thumb = Image.fromarray(grey).resize((SIGNATURE_SIDE, SIGNATURE_SIDE), Image.Resampling.BOX)
    return Signature(np.asarray(thumb, dtype=np.float32) / 255.0, frame_stats.colour_histogram(frame),
                     TextPicture(grey) if text else None)


def find_words(grey: np.ndarray) -> np.ndarray:
    """Pixels of word-shaped blobs (bool): strokes of high local contrast, letters joined along the line."""
    edges = (cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, _ROUND) >= TEXT_EDGE).astype(np.uint8)
    blobs = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, _JOIN_LETTERS)
    # BBDT rather than OpenCV's default (Spaghetti): 0.24 against 0.64 ms a frame at 240 rows, one thread
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(blobs, 8, cv2.CV_32S, cv2.CCL_BBDT)
    width, height, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    wordlike = ((height >= 5) & (height <= 50) & (width >= 1.5 * height) & (area >= 0.25 * width * height)
                & (width < 0.9 * grey.shape[1]))
    wordlike[0] = False  # the background
    return wordlike[labels]


def layout_change(a: TextPicture, b: TextPicture) -> tuple[float, float]:
    """Word pixels of either picture not next to one of the other's: as a share of the picture, and of the
    word pixels in either."""
    (words_a, near_a), (words_b, near_b) = a.words, b.words
    differing = int(np.count_nonzero(words_a > near_b)) + int(np.count_nonzero(words_b > near_a))
    return differing / words_a.size, differing / max(1, int(np.count_nonzero(words_a | words_b)))


def letter_change(current: TextPicture, other: TextPicture) -> tuple[float, float]:
    """The share of the picture the current words cover, and the share of their pixels whose grey level
    differs from the other picture's by more than TEXT_PIXEL_CHANGE."""
    found = current.words[0].view(bool)
    count = int(np.count_nonzero(found))
    differing = int(np.count_nonzero(cv2.absdiff(current.grey, other.grey)[found] > TEXT_PIXEL_CHANGE))
    return count / found.size, differing / max(1, count)


def new_text_settled(current: TextPicture, previous: TextPicture, last_kept: TextPicture) -> bool:
    """Words came, went, moved or changed since the last kept frame, and hold still since the frame before."""
    layout_area, layout = layout_change(current, last_kept)
    words_area, letters = letter_change(current, last_kept)
    new = ((layout_area >= TEXT_MIN_AREA and layout >= TEXT_LAYOUT_CHANGE)
           or (words_area >= TEXT_MIN_AREA and letters >= TEXT_LETTER_CHANGE))
    return (new and layout_change(current, previous)[1] < TEXT_LAYOUT_CHANGE
            and letter_change(current, previous)[1] < TEXT_SETTLED_LETTERS)


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
    return frame_stats.is_cut(a.colours, b.colours)


@dataclass
class ChangeSampled:
    """The kept frames (as the FrameBatch a captioner gets) and how many frames were decoded to pick them."""

    batch: FrameBatch
    decoded: int


def keep_changed(frames: Iterable[tuple[float, np.ndarray]], span: Span, *, threshold: float,
                 min_keep_seconds: float, relative: float = Level.change_relative, text: bool = Level.change_text,
                 max_pixels: int | None = None, source: str = "") -> ChangeSampled:
    """Walk (timestamp, frame) pairs in time order; keep the first, every frame whose signature differs
    from the last kept one's by more than `threshold`, a frame whose text changed and settled (`text`),
    and a frame when `min_keep_seconds` passed since the last kept one. Only kept frames stay in memory,
    shrunk to `max_pixels`: frames are compared as decoded, since shrinking every one cost more than comparing
    them at full size (1 fps of 640x360 video: 2.6 ms a frame against 1.3 for the signature)."""
    kept: list[np.ndarray] = []
    stamps: list[float] = []
    last_signature: Signature | None = None
    previous: Signature | None = None
    decoded = 0
    new_words: set[int] = set()
    for t, frame in frames:
        decoded += 1
        current = signature(frame, text=text)
        keep = (last_signature is None or changed(current, last_signature, threshold, relative)
                or t - stamps[-1] >= min_keep_seconds - 1e-6)
        if not keep and text:
            # the first frame, the only one without a previous and a last kept signature, is always kept;
            # with `text`, every signature has its text picture
            assert previous is not None and last_signature is not None
            assert current.text is not None and previous.text is not None and last_signature.text is not None
            if new_text_settled(current.text, previous.text, last_signature.text):
                keep = True
                new_words.add(len(kept))
        if keep:
            kept.append(resize_to_max_pixels(frame, max_pixels))
            stamps.append(float(t))
            last_signature = current
        previous = current
    return ChangeSampled(FrameBatch(frames=kept, timestamps=stamps, span=span, source=source,
                                    new_words=frozenset(new_words)), decoded)
