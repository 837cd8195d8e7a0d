"""Where RapidOCR's networks run, and how many frames are read at once.

rapidocr-onnxruntime ships the PP-OCRv4 detector and recogniser as ONNX files and runs them on onnxruntime.
OpenVINO's CPU plugin runs the same files faster at f32 with the same readings (benchmarks/bench_ocr.py),
so with backend "auto" and openvino installed, each engine's sessions are OpenVINO ones; RapidOCR's pre- and
post-processing stay as they are. The recogniser, which spells what is read, is f32 explicitly: on a CPU
with bf16 units OpenVINO would otherwise compute in bf16, faster but spelling small text differently. The
detectors, which only say where text is, run in bf16 where the CPU has it (fast_precision).

An engine also carries a second detector, the "look": the same network at about the video's own size
(`look_side`), 4-5x cheaper than the 2x-upscaled read. The captioner reads a frame only where the look finds
text (tools/captioners/text_look.py).

On OpenVINO both detectors take the resized frame as it is (uint8, height x width x channels) and scale it
to [-1, 1] inside the network: RapidOCR does that in numpy, in float64, which cost 8 ms a read and 2 ms a
look at 240p (a tenth of a look). The readings are the same; the bf16 look's boxes move by a pixel at times.
"""
from __future__ import annotations

import copy
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from importlib import metadata, util
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.ocr_line_memory import LineMemory, RememberingRecogniser

log = logging.getLogger(__name__)

BACKENDS = ("auto", "openvino", "onnxruntime")
PRECISIONS = ("auto", "f32", "bf16")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def resolve_backend(backend: str) -> str:
    """"auto" becomes "openvino" when it is installed, else "onnxruntime"; a named backend stays."""
    if backend not in BACKENDS:
        raise CaptionerError(f"OCR backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "openvino" if util.find_spec("openvino") is not None else "onnxruntime"
    return backend


@cache
def fast_precision() -> str:
    """The precision of the networks that find text (the read's and the look's detector) and of the gate:
    bf16 where the CPU computes it natively, else f32. A detector then costs 0.6-0.75x. On the 15-min haystack
    the look finds text in the same frames as at f32 but for 15 of 933 (faint or tiny text at the detector's
    threshold); the read's boxes move by a pixel at times, which changes the spelling of 5-14 of 39-59 read
    frames, all but two of those lines blurred screen text below 0.8 confidence (benchmarks/RESULTS.md).
    The recogniser of reads stays f32 everywhere."""
    import openvino as ov

    return "bf16" if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f32"


def check_read_precision(precision: str) -> str:
    """The setting as given, refused by name when it is none of PRECISIONS (before any network loads)."""
    if precision not in PRECISIONS:
        raise CaptionerError(f"OCR read_precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


def resolve_read_precision(precision: str) -> str:
    """The read's detector precision: "auto" is fast_precision(); "f32" gives the readings of before it was
    bf16 (benchmarks take their reference of what was on screen so)."""
    return fast_precision() if check_read_precision(precision) == "auto" else precision


def backend_tag(backend: str, *, looks: bool, read_precision: str = "auto") -> str:
    """What the caption id says about the runtime: onnxruntime keeps the ids stored before the choice existed.
    Each network's precision is in it (the detectors' move boxes by a pixel at times, the look's and the
    gate's decide which frames are read), and "u8" since the detectors scale their frames in the network."""
    check_read_precision(read_precision)
    if resolve_backend(backend) == "onnxruntime":
        return ""
    fast = fast_precision()
    return (f":openvino-{package_version('openvino')}:det-{resolve_read_precision(read_precision)}-u8:rec-f32"
            + (f":look-{fast}:gate-{fast}" if looks else ""))


# pyopenvino sets up its numpy bindings on first use, and two threads doing that at once can deadlock (a C++
# static guard against the GIL; seen once in a coarse pass): compiles, and that set-up, happen under this lock.
_OPENVINO_SETUP = threading.Lock()
_openvino_ready = False


def _set_up_bindings() -> None:
    """Touch a tensor's numpy view once, so that pyopenvino's numpy bindings exist before threads race to them."""
    import openvino as ov

    ov.Tensor(np.zeros(1, np.float32)).data.copy()


class OpenVinoSession:
    """An OpenVINO request with onnxruntime's calling convention in RapidOCR: session(x) -> [output].

    With `static_shapes`, the network is compiled once per input shape it meets: OpenVINO's CPU kernels for
    a fixed shape run the detector 15-25 % faster than its dynamic-shape ones, and a video's frames all
    have one shape (about 0.2 s to compile). The recogniser's input width follows each line's length, so it
    stays dynamic."""

    MAX_SHAPES = 8  # compiled shapes kept per session (a library of videos at many sizes)

    def __init__(self, model_path: Path, threads: int, *, static_shapes: bool = False,
                 precision: str = "f32", image_input: bool = False) -> None:
        import openvino as ov

        self._core = ov.Core()
        self._path = str(model_path)
        self._config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_PRECISION_HINT": precision, "ENABLE_CPU_PINNING": False}
        self._static = static_shapes
        self._image_input = image_input
        self._requests: dict[tuple[int, ...], Any] = {}
        self._dynamic = None if static_shapes else self._compile(None)

    def _compile(self, shape: tuple[int, ...] | None):
        global _openvino_ready
        with _OPENVINO_SETUP:
            model = self._core.read_model(self._path)
            if shape is not None:
                if self._image_input:  # the session is given (N, H, W, C); the network takes (N, C, H, W)
                    n, h, w, c = shape
                    shape = (n, c, h, w)
                model.reshape({model.inputs[0].any_name: list(shape)})
            if self._image_input:
                model = _with_image_input(model)
            request = self._core.compile_model(model, "CPU", self._config).create_infer_request()
            if not _openvino_ready:
                _set_up_bindings()
                _openvino_ready = True
        return request

    def _request(self, shape: tuple[int, ...]):
        if not self._static:
            return self._dynamic
        request = self._requests.pop(shape, None) or self._compile(shape)
        self._requests[shape] = request  # most recently used last
        while len(self._requests) > self.MAX_SHAPES:
            del self._requests[next(iter(self._requests))]
        return request

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        request = self._request(tuple(x.shape))
        request.infer({0: x})
        return [request.get_output_tensor(0).data.copy()]


def _with_image_input(model):
    """The detector taking uint8 images (N, H, W, C) and scaling them as RapidOCR does, (x / 255 - 0.5) / 0.5."""
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(ov.Type.f32).mean(127.5).scale(127.5)
    return ppp.build()


def _unscaled_batch(resize: Callable[[np.ndarray], np.ndarray | None], image: np.ndarray) -> np.ndarray | None:
    """RapidOCR's detector pre-processing without the scaling: the frame resized to multiples of 32, as a
    batch of one uint8 image, for a session with `image_input`."""
    resized = resize(image)
    return None if resized is None else np.ascontiguousarray(resized)[np.newaxis]


def _run_on_openvino(detector, det_path: Path, threads: int, precision: str) -> None:
    """Point one RapidOCR TextDetector at an OpenVINO session that takes its frames unscaled."""
    scaling = detector.get_preprocess  # RapidOCR's: resize to its side limit, then scale

    detector.infer = OpenVinoSession(det_path, threads, static_shapes=True, precision=precision, image_input=True)
    detector.get_preprocess = lambda max_side: partial(_unscaled_batch, scaling(max_side).resize)


def _model_paths() -> tuple[Path, Path]:
    """The detector and recogniser files rapidocr-onnxruntime ships (paths from its own config)."""
    import yaml
    import rapidocr_onnxruntime

    root = Path(rapidocr_onnxruntime.__file__).parent
    config = yaml.safe_load((root / "config.yaml").read_text())
    return root / config["Det"]["model_path"], root / config["Rec"]["model_path"]


@dataclass(frozen=True)
class EngineSpec:
    """What an OCR engine's networks are built from; hashable, so that a process keeps one pool per spec."""

    det_side: int  # short side of the read's detection (RapidOCR's det_limit_side_len)
    look_side: int  # short side of the look; 0: no look
    min_confidence: float
    backend: str  # one of BACKENDS
    read_precision: str  # one of PRECISIONS: the read's detector on OpenVINO


@dataclass
class Engine:
    """One RapidOCR reader (detect at det_side, recognise), its look (detect only, at look_side) and its
    gate: the recogniser the look's boxes are compared with, at the look's precision (both boxes go through
    it, so bf16 only has to tell two texts apart, not spell them: 1.7x cheaper than f32)."""

    reader: Any
    look: Any | None
    gate: Any


def _build_engine(spec: EngineSpec, threads: int, lines: LineMemory | None = None) -> Engine:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise CaptionerError(f"OCR needs rapidocr-onnxruntime ({e}): pip install rapidocr-onnxruntime") from e
    reader = RapidOCR(det_limit_side_len=spec.det_side, text_score=spec.min_confidence, use_cls=False,
                      intra_op_num_threads=threads)
    look = None
    if spec.look_side:
        look = copy.copy(reader.text_det)  # the same network, its own input size
        look.limit_side_len = spec.look_side
    gate = reader.text_rec
    if resolve_backend(spec.backend) == "openvino":
        det_path, rec_path = _model_paths()
        _run_on_openvino(reader.text_det, det_path, threads, resolve_read_precision(spec.read_precision))
        reader.text_rec.session = OpenVinoSession(rec_path, threads)  # its character list was read at init
        if look is not None:
            _run_on_openvino(look, det_path, threads, fast_precision())
            gate = copy.copy(reader.text_rec)
            gate.session = OpenVinoSession(rec_path, threads, precision=fast_precision())
    if lines is not None:
        reader.text_rec = RememberingRecogniser(reader.text_rec, lines)
    return Engine(reader, look, gate)


class EnginePool:
    """Engines shared by every OCR captioner of the process, one frame per engine at a time.

    On a CPU, a runtime spreads one small network over its threads poorly: two single-threaded engines
    reading two frames at once do 1.1-1.25x the frames of one OpenVINO engine using both cores (1.3-1.4x
    with onnxruntime; benchmarks/bench_ocr.py). So frames are read `size` at a time, each engine on its
    share of the cores. The engines share one LineMemory: a line cut out of the same pixels as one recognised
    before gets that answer without the network (tools/captioners/ocr_line_memory.py)."""

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


@cache
def engine_pool(spec: EngineSpec, engines: int = 0) -> EnginePool:
    """One pool per process and spec: loading the networks costs about a second an engine."""
    resolved = resolve_backend(spec.backend)
    if resolved == "openvino" and util.find_spec("openvino") is None:
        raise CaptionerError("OCR backend 'openvino' needs the openvino package: pip install openvino")
    return EnginePool(spec, *engine_layout(engines))
