"""The OCR captioner's `read_precision` is a setting, not a property of the CPU: the caption id (and so every
caption key) is the same on a CPU with bf16 and on one without, and a store built on one is reused on the
other. The CPU probe only decides what a bf16 setting computes in here (bf16, or f32 where the CPU lacks it).
The probe is forced both ways; the captions are real OCR on a real clip."""
from __future__ import annotations

import pytest

from conftest import clip
from vidrecall.agent.testing import ScriptedChatModel
from vidrecall.api import VideoQA
from vidrecall.core.progress import silent
from vidrecall.tools.captioners.factory import make_captioner
from vidrecall.tools.captioners.ocr import rapidocr_adapter, runtime
from vidrecall.tools.captioners.ocr.captioner import OcrCaptioner, OcrSettings

TYPOGRAPHY = "mejs_echo-hereweare.webm"  # 45 s of kinetic typography: words change every few seconds
# The offline coarse level (change-aware at 1 fps: looks, reads, the gate, words the sampler saw change) in
# 15 s clips, so that the clip gives three captions.
COARSE = [{"name": "coarse", "clip_seconds": 15, "fps": 1.0, "change_aware": True, "change_threshold": 0.1,
           "min_keep_seconds": 20, "max_pixels": 200704, "prompt": "caption_coarse"}]
SPECS = [("ocr", {}), ("ocr", {"read_precision": "f32"}), ("ocr", {"look_side": 0}),
         ("ocr", {"backend": "onnxruntime"}), ("openai:gpt-4o-mini+ocr", {"ocr": {"read_precision": "f32"}})]


def cpu_with_bf16(monkeypatch, has: bool) -> None:
    monkeypatch.setattr(rapidocr_adapter, "cpu_has_bf16", lambda: has)


def ids(monkeypatch, has_bf16: bool) -> list[str]:
    cpu_with_bf16(monkeypatch, has_bf16)
    return [make_captioner(spec, options).id for spec, options in SPECS]


def test_the_caption_id_is_the_same_on_a_cpu_with_bf16_and_on_one_without(monkeypatch):
    with_bf16, without = ids(monkeypatch, True), ids(monkeypatch, False)
    assert with_bf16 == without
    default, exact = with_bf16[:2]
    assert default.endswith(":det-bf16-u8:rec-f32:look-bf16:gate-bf16")  # the settings, wherever they run
    assert exact.endswith(":det-f32-u8:rec-f32:look-bf16:gate-bf16")


def test_the_probe_decides_only_what_a_bf16_setting_computes_in(monkeypatch):
    for has_bf16, computes in ((True, "bf16"), (False, "f32")):
        cpu_with_bf16(monkeypatch, has_bf16)
        assert runtime.run_precision("bf16") == computes and runtime.run_precision("f32") == "f32"
    cpu_with_bf16(monkeypatch, False)  # no network is built for this: the precisions an engine would get
    assert runtime._run_precisions(OcrSettings().engine_spec) == ("f32", "f32")
    assert runtime._run_precisions(OcrSettings(backend="onnxruntime").engine_spec) == ("f32", "f32")


def index(store_dir, embedder, monkeypatch, has_bf16: bool):
    """Index the clip's coarse level as a process on a CPU with (or without) bf16 would: (what indexing
    reported, the stored nodes as (id, key, text), the captioner used)."""
    cpu_with_bf16(monkeypatch, has_bf16)
    captioner = make_captioner("ocr")
    with VideoQA("offline-tiny", llm=ScriptedChatModel(), vlm=captioner, embedder=embedder, store_dir=store_dir,
                 levels=COARSE, speech={"source": "off"}) as qa:
        report = qa.index(clip(TYPOGRAPHY), progress=silent).reports[0]
        nodes = [(n.id, n.key, n.text) for n in qa.memory.nodes(report.video_id)]
    return report, nodes, captioner


def precision_hints(captioner: OcrCaptioner) -> set[str]:
    """What the captioner's engines compute in: the read's detector, the look's, and the gate."""
    engine = captioner._engines()._free.get()
    captioner._engines()._free.put(engine)
    sessions = (engine.reader.text_det.infer, engine.look.infer, engine.gate.session)
    return {session._config["INFERENCE_PRECISION_HINT"] for session in sessions}


def test_a_store_indexed_on_a_cpu_without_bf16_is_reused_on_one_with_it(store_dir, embedder, monkeypatch):
    first, stored, without = index(store_dir, embedder, monkeypatch, has_bf16=False)
    assert runtime.resolve_backend("auto") != "openvino" or precision_hints(without) == {"f32"}
    assert first.created == len(stored) == 3 and first.reused == 0
    assert any("On-screen text:" in text for _, _, text in stored)

    again, stored_again, with_bf16 = index(store_dir, embedder, monkeypatch, has_bf16=True)
    assert with_bf16.id == without.id
    assert (again.created, again.reused) == (0, 3)  # nothing captioned again
    assert stored_again == stored  # the same nodes: ids, keys and texts


def test_a_store_indexed_on_a_cpu_with_bf16_is_reused_on_one_without_it(store_dir, embedder, monkeypatch):
    if not rapidocr_adapter.cpu_has_bf16():
        pytest.skip("this CPU cannot compute bf16, so it cannot index as a CPU with bf16 does")
    first, stored, with_bf16 = index(store_dir, embedder, monkeypatch, has_bf16=True)
    assert runtime.resolve_backend("auto") != "openvino" or precision_hints(with_bf16) == {"bf16"}
    assert first.created == len(stored) == 3

    again, stored_again, without = index(store_dir, embedder, monkeypatch, has_bf16=False)
    assert without.id == with_bf16.id
    assert (again.created, again.reused) == (0, 3) and stored_again == stored
