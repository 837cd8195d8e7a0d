"""A VLM caption with the OCR text appended, so on-screen text (names, titles, numbers) is never lost
to a VLM that paraphrases or skips it. Spec: "<vlm spec>+ocr"."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from vidrecall.tools.captioners.base import Capacity, Captioner
from vidrecall.tools.captioners.ocr import OcrCaptioner
from vidrecall.core.types import CaptionRequest, CaptionResult

OCR_HEADING = "On-screen text (OCR):"


class CompositeCaptioner:
    """Runs the VLM and OCR on the same frames (OCR in a worker thread meanwhile) and joins the texts."""

    def __init__(self, vlm: Captioner, ocr: OcrCaptioner):
        self.vlm = vlm
        self.ocr = ocr
        self.id = f"{vlm.id}+{ocr.id}"

    def __repr__(self) -> str:
        return f"CompositeCaptioner({self.id!r})"

    @property
    def capacity(self) -> Capacity:
        """The VLM's: it is the slow side (OCR runs meanwhile)."""
        return self.vlm.capacity

    def preflight(self) -> None:
        self.vlm.preflight()
        self.ocr.preflight()

    def caption(self, request: CaptionRequest) -> CaptionResult:
        return self.caption_batch([request])[0]

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr") as pool:
            ocr_texts = pool.submit(lambda: [self.ocr.listing(self.ocr.read_batch(r.frames)) for r in requests])
            vlm_results = self.vlm.caption_batch(requests)
            listings = ocr_texts.result()
        elapsed = time.perf_counter() - started
        return [
            CaptionResult(text=f"{result.text.strip()}\n{OCR_HEADING} {listing}",
                          usage=replace(result.usage, latency_s=max(result.usage.latency_s, elapsed)))
            for result, listing in zip(vlm_results, listings)
        ]
