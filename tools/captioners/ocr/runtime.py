"""Where the OCR networks run, at what precision, and how many frames are read at once.

With backend "auto" and openvino installed, each engine's networks run on OpenVINO (the same files as
onnxruntime's, faster at f32 with the same readings: benchmarks/bench_ocr.py); how is rapidocr_adapter's
business. The recogniser that spells what a read finds is f32 everywhere. The detectors, which only say
where text is, run at `read_precision` (the read's) and LOOK_PRECISION (the look's, and the gate's).

An engine also carries a second detector, the "look": the same network at about the video's own size
(`look_side`), 4-5x cheaper than the 2x-upscaled read. The captioner reads a frame only where the look finds
text (text_look.py).

Precision is a setting, never a property of the machine: "bf16" asks for bf16, which runs in bf16 where the
CPU computes it natively and in f32 elsewhere (run_precision). The caption id names the setting, so a store
built on one CPU is reused on another, and Ray workers on mixed CPUs build the same id. The readings of a
bf16 detector and an f32 one differ only where a box moves by a pixel (blurred text spelled otherwise).
"""
from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import util
from typing import Any

import cv2

from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.ocr import rapidocr_adapter
from vidrecall.tools.captioners.ocr.line_memory import LineMemory
from vidrecall.tools.captioners.ocr.rapidocr_adapter import Engine, package_version

BACKENDS = ("auto", "openvino", "onnxruntime")
# The read's detector: "bf16" (0.75x the read's CPU where the CPU has bf16; a few blurred lines spelled
# otherwise) or "f32" (the readings of before bf16; benchmarks take their reference of what was on screen so).
READ_PRECISIONS = ("bf16", "f32")
# The look's detector and the gate. On the 15-min haystack the bf16 look finds text in the same frames as
# at f32 but for 15 of 933 (faint or tiny text at the detector's threshold); a detector costs 0.6-0.75x.
LOOK_PRECISION = "bf16"


def resolve_backend(backend: str) -> str:
    """"auto" becomes "openvino" when it is installed, else "onnxruntime"; a named backend stays."""
    if backend not in BACKENDS:
        raise CaptionerError(f"OCR backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "openvino" if util.find_spec("openvino") is not None else "onnxruntime"
    return backend


def check_read_precision(precision: str) -> str:
    """The setting as given, refused by name when it is none of READ_PRECISIONS (before any network loads)."""
    if precision not in READ_PRECISIONS:
        hint = " ('auto' is now 'bf16': the caption id names the setting, not the CPU)" if precision == "auto" else ""
        raise CaptionerError(f"OCR read_precision {precision!r} is not one of {', '.join(READ_PRECISIONS)}{hint}")
    return precision


def run_precision(precision: str) -> str:
    """What a precision setting computes in on this CPU: "bf16" where the CPU has it, else "f32"."""
    return "bf16" if precision == "bf16" and rapidocr_adapter.cpu_has_bf16() else "f32"


def backend_tag(backend: str, *, looks: bool, read_precision: str = "bf16") -> str:
    """What the caption id says about the runtime: onnxruntime keeps the ids stored before the choice existed.
    Each network's precision setting is in it (the detectors' move boxes by a pixel at times, the look's and
    the gate's decide which frames are read), and "u8" since the detectors scale their frames in the network.
    The settings, not what this CPU runs them in: the id is the same on every machine."""
    check_read_precision(read_precision)
    if resolve_backend(backend) == "onnxruntime":
        return ""
    return (f":openvino-{package_version('openvino')}:det-{read_precision}-u8:rec-f32"
            + (f":look-{LOOK_PRECISION}:gate-{LOOK_PRECISION}" if looks else ""))


@dataclass(frozen=True)
class EngineSpec:
    """What an OCR engine's networks are built from; hashable, so that a process keeps one pool per spec."""

    det_side: int  # short side of the read's detection (RapidOCR's det_limit_side_len)
    look_side: int  # short side of the look; 0: no look
    min_confidence: float
    backend: str  # one of BACKENDS
    read_precision: str  # one of READ_PRECISIONS: the read's detector on OpenVINO


def _run_precisions(spec: EngineSpec) -> tuple[str, str]:
    """(read's detector, look's detector and gate): what they compute in on this CPU."""
    if resolve_backend(spec.backend) != "openvino":
        return "f32", "f32"
    return run_precision(check_read_precision(spec.read_precision)), run_precision(LOOK_PRECISION)


def _build_engine(spec: EngineSpec, threads: int, lines: LineMemory | None = None) -> Engine:
    read, look = _run_precisions(spec)
    return rapidocr_adapter.build_engine(spec.det_side, spec.look_side, spec.min_confidence, threads,
                                         openvino=resolve_backend(spec.backend) == "openvino",
                                         read_precision=read, look_precision=look, lines=lines)


class EnginePool:
    """Engines shared by every OCR captioner of the process, one frame per engine at a time.

    On a CPU, a runtime spreads one small network over its threads poorly: two single-threaded engines
    reading two frames at once do 1.1-1.25x the frames of one OpenVINO engine using both cores (1.3-1.4x
    with onnxruntime; benchmarks/bench_ocr.py). So frames are read `size` at a time, each engine on its
    share of the cores. The engines share one LineMemory: a line cut out of the same pixels as one recognised
    before gets that answer without the network (line_memory.py)."""

    def __init__(self, spec: EngineSpec, size: int, threads_each: int) -> None:
        # The engines and the pipeline's decoder fill the cores; OpenCV's own pool on top of them (RapidOCR's
        # resizes and crops, the change test's word finder) cost more CPU than it saved: 4 % of a coarse pass.
        cv2.setNumThreads(1)
        self.size = size
        self.backend = resolve_backend(spec.backend)
        self._free: queue.SimpleQueue[Engine] = queue.SimpleQueue()
        self.lines = LineMemory()
        for _ in range(size):
            self._free.put(_build_engine(spec, threads_each, self.lines))
        self._workers = ThreadPoolExecutor(size, thread_name_prefix="ocr") if size > 1 else None

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = self._free.get()  # blocks while every engine is busy: never two frames on one engine
        try:
            yield engine
        finally:
            self._free.put(engine)

    def map(self, fn: Callable[[Any], Any], items: list) -> list:
        """fn over items, `size` at a time, results in order."""
        if self._workers is None or len(items) < 2:
            return [fn(x) for x in items]
        return list(self._workers.map(fn, items))


def engine_layout(engines: int = 0, cpus: int | None = None) -> tuple[int, int]:
    """(engines, threads each) that keep every core busy; by default one engine per core, at most 4 (beyond
    that a frame's detection is better sped up by more threads than by more frames in flight)."""
    cpus = max(1, cpus or os.cpu_count() or 1)
    engines = engines or min(4, cpus)
    return engines, max(1, cpus // engines)


def engine_pool(spec: EngineSpec, engines: int = 0) -> EnginePool:
    """One pool per process, spec and what its precisions run in here: loading the networks costs about a
    second an engine."""
    resolved = resolve_backend(spec.backend)
    if resolved == "openvino" and util.find_spec("openvino") is None:
        raise CaptionerError("OCR backend 'openvino' needs the openvino package: pip install openvino")
    return _engine_pool(spec, engines, _run_precisions(spec))


@cache
def _engine_pool(spec: EngineSpec, engines: int, run: tuple[str, str]) -> EnginePool:
    return EnginePool(spec, *engine_layout(engines))
