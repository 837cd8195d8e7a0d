"""RapidOCR's recogniser, remembering the lines it has recognised.

Text that stays on screen (a dialog, a slide, a channel name) is read again whenever something else in the
frame changes or the last reading grows old, and the detector then cuts it out of the frame into the same
pixels. In the coarse passes of the built 20- and 60-min haystacks 23-37 % of the recognised lines were
byte-for-byte a line recognised before. The recogniser's answer for a line depends only on its input row
(the line resized to 48 rows and padded to its batch's width; rows of a batch do not affect each other), so
a row seen before gets the answer it got then, and only new rows go through the network.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

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


class RememberingRecogniser:
    """Called as RapidOCR calls its TextRecognizer (img_list, return_word_box) -> ([(text, score)], seconds),
    with the same batches (sorted by aspect ratio, rec_batch_num at a time, padded to the batch's widest);
    only the rows not seen before go through the network."""

    def __init__(self, recogniser: Any, memory: LineMemory) -> None:
        self.recogniser = recogniser
        self.memory = memory

    def __call__(self, img_list, return_word_box: bool = False):
        if return_word_box:  # word boxes depend on more than the row: not remembered
            return self.recogniser(img_list, return_word_box)
        rec = self.recogniser
        if isinstance(img_list, np.ndarray):
            img_list = [img_list]
        order = np.argsort(np.array([img.shape[1] / float(img.shape[0]) for img in img_list]))
        results: list[tuple[str, float]] = [("", 0.0)] * len(img_list)
        _, height, width = rec.rec_image_shape[:3]
        for begin in range(0, len(img_list), rec.rec_batch_num):
            batch = order[begin:begin + rec.rec_batch_num]
            widest = max([width / height] + [img_list[i].shape[1] / img_list[i].shape[0] for i in batch])
            rows = [rec.resize_norm_img(img_list[i], widest) for i in batch]
            keys = [self.memory.key(row) for row in rows]
            answers = [self.memory.get(key) for key in keys]
            new = [n for n, answer in enumerate(answers) if answer is None]
            if new:
                preds = rec.session(np.stack([rows[n] for n in new]).astype(np.float32))[0]
                for n, answer in zip(new, rec.postprocess_op(preds, False)):
                    answers[n] = (answer[0], answer[1])
                    self.memory.put(keys[n], answers[n])
            for i, answer in zip(batch, answers):
                results[i] = answer
        return results, 0.0
