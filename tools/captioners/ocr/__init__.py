"""The OCR captioner (spec "ocr"; the offline profiles' eyes, and the "+ocr" half of a VLM captioner):
on-screen text read with RapidOCR, plus cheap visual facts.

- captioner.py: OcrCaptioner and OcrSettings; deduplicating lines across frames; the caption's wording.
- text_look.py: look before reading: which frames to read, which reuse an earlier frame's reading.
- runtime.py: backends, precisions (the `read_precision` setting), engines and the process's engine pools.
- rapidocr_adapter.py: the one module that reaches into RapidOCR's internals (and puts OpenVINO sessions
  into it), with the package versions it was written for.
- line_memory.py: recognised lines remembered by their input row.
- visual_facts.py: colours, brightness, motion and scene cuts in words (statistics in tools/frame_stats.py).
"""
from vidrecall.tools.captioners.ocr.captioner import OcrCaptioner, OcrSettings

__all__ = ["OcrCaptioner", "OcrSettings"]
