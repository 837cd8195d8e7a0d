"""Everything that reaches into RapidOCR's internals, and the OpenVINO sessions put into it.

rapidocr-onnxruntime ships the PP-OCRv4 detector and recogniser as ONNX files and runs them on onnxruntime
behind its own classes (RapidOCR, TextDetector, TextRecognizer). The OCR captioner changes four things inside
them, all here and nowhere else:
- `TextDetector.infer`: an OpenVINO session instead of onnxruntime's (same files, faster at f32, same
  readings; benchmarks/bench_ocr.py), compiled once per input shape;
- `TextDetector.get_preprocess`: RapidOCR's resize without its numpy scaling, which the OpenVINO network
  does itself (RapidOCR scales in float64: 8 ms a read and 2 ms a look at 240p);
- `TextRecognizer.session`: an OpenVINO session, f32 for reads (bf16 spells small text differently), at
  the look's precision for the gate, which only tells two texts apart;
- `RapidOCR.text_rec`: wrapped by RememberingRecogniser, which repeats TextRecognizer's batching
  (`resize_norm_img`, `rec_batch_num`, `rec_image_shape`, `postprocess_op`) so that a row recognised
  before is answered from a LineMemory.
A look is a copy of the read's TextDetector with its own `limit_side_len`.

These are private attributes of a 1.x release, so the versions this module was written for are pinned in
WRITTEN_FOR: another version installed logs one warning line per package (the caption id names the
versions, so its captions are new ones), and an attribute gone from RapidOCR is refused by name.
"""
from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.ocr.line_memory import LineMemory

log = logging.getLogger(__name__)

# The releases the patches below were written for and tested with (tests/test_text_look.py,
# tests/test_captioner_ocr.py). onnxruntime runs RapidOCR unpatched, so only its own backend checks it.
RAPIDOCR = "rapidocr-onnxruntime"
WRITTEN_FOR = {RAPIDOCR: "1.4.4", "onnxruntime": "1.32.0", "openvino": "2026.4.1"}


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


@cache
def check_versions(openvino: bool) -> tuple[str, ...]:
    """One warning line per package installed at another version than WRITTEN_FOR (once a process): RapidOCR,
    and the runtime the engines use. Returns the lines."""
    names = (RAPIDOCR, "openvino" if openvino else "onnxruntime")
    lines = tuple(f"OCR: {name} {package_version(name)} is installed, but {__name__} was written for "
                  f"{WRITTEN_FOR[name]}; if OCR misreads, install {name}=={WRITTEN_FOR[name]}"
                  for name in names if package_version(name) != WRITTEN_FOR[name])
    for line in lines:
        log.warning(line)
    return lines


def _require(obj: Any, *names: str) -> None:
    """Refuse, by name, a RapidOCR whose internals moved (a release other than the one written for)."""
    missing = [name for name in names if not hasattr(obj, name)]
    if missing:
        raise CaptionerError(f"{RAPIDOCR} {package_version(RAPIDOCR)}: {type(obj).__name__} has no "
                             f"{', '.join(missing)}; the OCR captioner was written for {WRITTEN_FOR[RAPIDOCR]} "
                             f"(pip install {RAPIDOCR}=={WRITTEN_FOR[RAPIDOCR]})")


@cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (OpenVINO's CPU plugin says so). It decides how a bf16
    setting runs here, never what a caption id says."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


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
    stays dynamic. `precision` is what OpenVINO computes in ("bf16" only on a CPU that has it)."""

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
    _require(detector, "infer", "get_preprocess")
    scaling = detector.get_preprocess  # RapidOCR's: resize to its side limit, then scale

    detector.infer = OpenVinoSession(det_path, threads, static_shapes=True, precision=precision, image_input=True)
    detector.get_preprocess = lambda max_side: partial(_unscaled_batch, scaling(max_side).resize)


def model_paths() -> tuple[Path, Path]:
    """The detector and recogniser files rapidocr-onnxruntime ships (paths from its own config)."""
    import yaml
    import rapidocr_onnxruntime

    root = Path(rapidocr_onnxruntime.__file__).parent
    config = yaml.safe_load((root / "config.yaml").read_text())
    return root / config["Det"]["model_path"], root / config["Rec"]["model_path"]


class RememberingRecogniser:
    """Called as RapidOCR calls its TextRecognizer (img_list, return_word_box) -> ([(text, score)], seconds),
    with the same batches (sorted by aspect ratio, rec_batch_num at a time, padded to the batch's widest);
    only the rows not seen before go through the network."""

    def __init__(self, recogniser: Any, memory: LineMemory) -> None:
        _require(recogniser, "session", "resize_norm_img", "postprocess_op", "rec_image_shape", "rec_batch_num")
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
                    read = (answer[0], answer[1])
                    answers[n] = read
                    self.memory.put(keys[n], read)
            for i, remembered in zip(batch, answers):
                assert remembered is not None  # remembered, or recognised just now (one answer per row)
                results[i] = remembered
        return results, 0.0


@dataclass
class Engine:
    """One RapidOCR reader (detect at det_side, recognise), its look (detect only, at look_side) and its
    gate: the recogniser the look's boxes are compared with, at the look's precision (both boxes go through
    it, so bf16 only has to tell two texts apart, not spell them: 1.7x cheaper than f32). The methods speak
    in plain values; the attributes are RapidOCR's objects."""

    reader: Any
    look: Any | None
    gate: Any

    def read(self, bgr: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
        """(four-point box, text, score) of every line read in a BGR frame."""
        result, _ = self.reader(bgr)
        return [(np.asarray(quad), str(text), float(score)) for quad, text, score in (result or [])]

    def find_text(self, bgr: np.ndarray) -> list[np.ndarray]:
        """The look's four-point boxes of text in a BGR frame."""
        assert self.look is not None, "an engine built without a look (look_side 0) cannot find text"
        quads, _ = self.look(bgr)
        return [] if quads is None else [np.asarray(q) for q in quads]

    def spell(self, crop: np.ndarray) -> str:
        """The gate's reading of one cut-out line."""
        result, _ = self.gate([crop])
        return str(result[0][0]) if result else ""


def build_engine(det_side: int, look_side: int, min_confidence: float, threads: int, *, openvino: bool,
                 read_precision: str = "f32", look_precision: str = "f32", lines: LineMemory | None = None) -> Engine:
    """A RapidOCR engine; on OpenVINO its detectors at the given precisions (what this CPU runs: "bf16" only
    where it has it), its reads' recogniser at f32."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise CaptionerError(f"OCR needs {RAPIDOCR} ({e}): pip install {RAPIDOCR}") from e
    check_versions(openvino)
    reader = RapidOCR(det_limit_side_len=det_side, text_score=min_confidence, use_cls=False,
                      intra_op_num_threads=threads)
    _require(reader, "text_det", "text_rec")
    look = None
    if look_side:
        _require(reader.text_det, "limit_side_len")
        look = copy.copy(reader.text_det)  # the same network, its own input size
        look.limit_side_len = look_side
    gate = reader.text_rec
    if openvino:
        _require(reader.text_rec, "session")
        det_path, rec_path = model_paths()
        _run_on_openvino(reader.text_det, det_path, threads, read_precision)
        reader.text_rec.session = OpenVinoSession(rec_path, threads)  # its character list was read at init
        if look is not None:
            _run_on_openvino(look, det_path, threads, look_precision)
            gate = copy.copy(reader.text_rec)
            gate.session = OpenVinoSession(rec_path, threads, precision=look_precision)
    if lines is not None:
        reader.text_rec = RememberingRecogniser(reader.text_rec, lines)
    return Engine(reader, look, gate)
