"""The lines the recogniser has recognised, remembered by their input row.

Text that stays on screen (a dialog, a slide, a channel name) is read again whenever something else in the
frame changes or the last reading grows old, and the detector then cuts it out of the frame into the same
pixels. In the coarse passes of the built 20- and 60-min haystacks 23-37 % of the recognised lines were
byte-for-byte a line recognised before. The recogniser's answer for a line depends only on its input row
(the line resized to 48 rows and padded to its batch's width; rows of a batch do not affect each other), so
a row seen before gets the answer it got then, and only new rows go through the network. The recogniser
that asks this memory first is RapidOCR's, wrapped in rapidocr_adapter.RememberingRecogniser.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

LINES_REMEMBERED = 1024  # (row digest -> text, score): ~100 KB; a long video's recurring lines fit


class LineMemory:
    """Answers per input row, shared by the engines of one pool (thread-safe, least recently used out)."""

    def __init__(self, size: int = LINES_REMEMBERED) -> None:
        self.size = size
        self._answers: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(row: np.ndarray) -> bytes:
        # Rows are 3 x 48 x width: the byte count alone tells the widths apart.
        return hashlib.blake2b(row.tobytes(), digest_size=16).digest()

    def get(self, key: bytes) -> tuple[str, float] | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is None:
                self.misses += 1
            else:
                self.hits += 1
                self._answers.move_to_end(key)
            return answer

    def forget(self) -> None:
        with self._lock:
            self._answers.clear()

    def put(self, key: bytes, answer: tuple[str, float]) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
