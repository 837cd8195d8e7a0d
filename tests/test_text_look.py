"""Look before reading: the OCR captioner reads only frames where its cheap look finds text, reuses a reading
while the same text stays put, and reads again when the text changes -- on real clips, with real RapidOCR."""
from __future__ import annotations


import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vidrecall.core.types import CaptionRequest, FrameBatch, Span
from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.ocr import rapidocr_adapter, runtime as ocr_runtime
from vidrecall.tools.captioners.ocr.captioner import OcrCaptioner, OcrSettings, ReadCounts, text_key
from vidrecall.tools.captioners.ocr.rapidocr_adapter import OpenVinoSession, model_paths
from vidrecall.tools.captioners.ocr.runtime import resolve_backend
from vidrecall.tools.captioners.ocr.text_look import REUSE_SECONDS, Box, Reading, plan_reads, same_strokes
from vidrecall.tools.change_sampling import keep_changed
from vidrecall.tools.video import VideoReader

from conftest import HAYSTACK, clip, quoted_texts as texts


def frames_of(path, span: Span, n: int) -> FrameBatch:
    with VideoReader(path) as reader:
        return reader.sample(span, num_frames=n, max_pixels=200704)


@pytest.fixture(scope="module")
def ocr() -> OcrCaptioner:
    captioner = OcrCaptioner()
    captioner.preflight()
    return captioner


@pytest.fixture(scope="module")
def reads_all() -> OcrCaptioner:
    captioner = OcrCaptioner(OcrSettings(look_side=0))
    captioner.preflight()
    return captioner


def counted(captioner: OcrCaptioner, batch: FrameBatch) -> tuple[str, ReadCounts]:
    captioner.counts = ReadCounts()
    text = captioner.caption(CaptionRequest(batch, prompt="", level="coarse")).text
    return text, captioner.counts


@pytest.mark.parametrize("name", ["askany_yoga.mp4", "intel_car-detection.mp4", "deb-opencv_tree.avi"])
def test_frames_without_text_are_looked_at_and_not_read(ocr, name):
    text, counts = counted(ocr, frames_of(clip(name), Span(0, 5), 5))
    assert counts == ReadCounts(looked=5, read=0, reused=0) and "No on-screen text" in text
    # (Wood grain is another matter: on the mdn_* toy clips the look sees text in most frames, and the
    # reads find none.)


def test_a_caption_held_over_moving_people_is_read_once_and_reused(ocr, reads_all):
    batch = frames_of(clip("vl2_00003491.mp4"), Span(0, 8), 4)  # "Strings: D'Addario ..." the whole time
    text, counts = counted(ocr, batch)
    assert counts.looked == 4 and counts.read == 1 and counts.reused == 3
    assert "daddario" in text_key(text)
    assert texts(text) == texts(counted(reads_all, batch)[0])


def test_changing_words_are_each_read_and_nothing_is_lost_against_reading_every_frame(ocr, reads_all):
    batch = frames_of(clip("mejs_echo-hereweare.webm"), Span(0, 12), 12)  # kinetic typography: new words
    text, counts = counted(ocr, batch)
    every, _ = counted(reads_all, batch)
    assert counts.read >= 6  # the words change more often than not
    assert texts(every) and texts(text) == texts(every)


@pytest.mark.parametrize("name, span, needle", [("moviepy_sintel_trailer_480p.mp4", Span(40, 50), "sintel"),
                                                ("moviepy_big_buck_bunny_0_30.webm", Span(0, 30), "peach")])
def test_titles_read_with_looks_as_without(ocr, reads_all, name, span, needle):
    batch = frames_of(clip(name), span, 8)
    text, counts = counted(ocr, batch)
    assert needle in text_key(text) and counts.read < counts.looked
    assert texts(text) == texts(counted(reads_all, batch)[0])


# --- plan_reads on frames drawn here: a real shot moving under text that stays or changes ---------------
def with_text(frame: np.ndarray, lines: dict[tuple[int, int], str]) -> np.ndarray:
    picture = Image.fromarray(frame)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=22)
    for (x, y), line in lines.items():
        draw.rectangle((x - 4, y - 4, x + 14 * len(line) + 4, y + 28), fill=(10, 10, 10))
        draw.text((x, y), line, fill=(250, 250, 250), font=font)
    return np.ascontiguousarray(np.asarray(picture)[..., ::-1])  # BGR, as the captioner looks at frames


@pytest.fixture(scope="module")
def shots() -> list[np.ndarray]:
    return frames_of(clip("moviepy_test_video.mp4"), Span(0, 3), 3).frames  # galloping horses: all moves


def plan(ocr, frames, times=None) -> list[Reading]:
    """What the captioner plans: looks, strokes, and the recogniser's word on boxes that look the same."""
    return plan_reads(frames, times or [float(i) for i in range(len(frames))], [ocr.look(f) for f in frames],
                      ocr.recognise)


def test_the_same_banner_over_a_moving_shot_reuses_the_first_reading(ocr, shots):
    frames = [with_text(s, {(30, 20): "BREAKING NEWS TONIGHT"}) for s in shots]
    assert plan(ocr, frames) == [Reading(0), Reading(0), Reading(0)]


def test_a_box_of_one_frame_is_recognised_once_however_often_it_is_compared(ocr, shots):
    banner = with_text(shots[0], {(30, 20): "BREAKING NEWS TONIGHT"})
    frames = [banner, banner.copy(), banner.copy(), banner.copy()]  # the same box in every frame
    calls = []

    def counting(frame, box):
        calls.append((id(frame), box))
        return ocr.recognise(frame, box)

    looks = [ocr.look(f) for f in frames]
    assert [r.source for r in plan_reads(frames, [0.0, 1.0, 2.0, 3.0], looks, counting)] == [0, 0, 0, 0]
    assert len(calls) == len(set(calls)) == 4  # the read frame's box once, then each later frame's once


def test_one_changed_word_in_a_long_line_is_read_again(ocr, shots):
    frames = [with_text(shots[0], {(30, 20): "WITH OUR LIVES AND HANDS"}),
              with_text(shots[1], {(30, 20): "WITH OUR PASSION AND HANDS"})]
    assert [r.source for r in plan(ocr, frames)] == [0, 1]


def test_a_reading_is_reused_at_most_reuse_seconds(ocr, shots):
    frames = [with_text(s, {(30, 20): "BREAKING NEWS TONIGHT"}) for s in shots[:2]]
    assert [r.source for r in plan(ocr, frames, [0.0, REUSE_SECONDS + 1])] == [0, 1]


def test_text_that_left_is_dropped_from_the_reused_reading(ocr, shots):
    frames = [with_text(shots[0], {(30, 20): "BREAKING NEWS TONIGHT", (30, 150): "LIVE FROM THE HARBOUR"}),
              with_text(shots[1], {(30, 20): "BREAKING NEWS TONIGHT"})]
    first, second = plan(ocr, frames)
    assert first == Reading(0) and second.source == 0 and len(second.gone) == 1
    batch = FrameBatch(frames=[f[..., ::-1].copy() for f in frames], timestamps=[0.0, 1.0], span=Span(0, 2))
    lines = ocr.read_frames(batch)
    assert {text_key(x.text) for x in lines[0]} >= {"breakingnewstonight", "livefromtheharbour"}
    assert {text_key(x.text) for x in lines[1]} == {"breakingnewstonight"}


def test_a_frame_kept_for_new_words_is_read_though_its_look_sees_no_text(ocr, shots):
    blank = np.zeros_like(shots[0])
    looks = [ocr.look(f) for f in (blank, blank)]
    assert looks == [[], []]
    assert plan_reads([blank, blank], [0.0, 1.0], looks, ocr.recognise, must_read=frozenset({1})) == [
        Reading(None), Reading(1)]


def test_a_screen_readout_the_look_misses_is_read_because_the_sampler_kept_it_for_its_words():
    """The shared haystack's screen recording: "1024 x 758 (4:3)" in small grey type appears at 407 s over
    an unchanged settings window. The thumbnail rule does not keep it, the text rule does, and the look at
    256 finds no text in that frame."""
    with VideoReader(str(HAYSTACK / "haystack_15min.mp4")) as reader:
        span = Span(360, 420)
        frames = list(reader.iter_frames(span, fps=1.0, stand_ins=True))
    batch = keep_changed(iter(frames), span, threshold=0.1, min_keep_seconds=20, max_pixels=200704).batch
    assert any(407 <= batch.timestamps[i] < 409 for i in batch.new_words)
    request = CaptionRequest(batch, prompt="", level="coarse")
    reading = OcrCaptioner().caption(request).text
    looking_only = OcrCaptioner(OcrSettings(read_new_words=False)).caption(request).text
    assert any("1024" in t and "758" in t for t in texts(reading)), reading
    assert not any("1024" in t for t in texts(looking_only)), looking_only


def test_same_strokes_holds_over_a_moved_shot_and_fails_when_the_words_change(ocr, shots):
    a = with_text(shots[0], {(30, 20): "SUMMIT LEDGER"})
    moved = with_text(shots[1], {(30, 20): "SUMMIT LEDGER"})  # the horses galloped on behind the plate
    region = ocr.look(a)[0].union(ocr.look(moved)[0])
    assert same_strokes(a, moved, region)
    assert not same_strokes(a, with_text(shots[1], {(30, 20): "WE ARE HERE"}), region)


def test_one_changed_digit_is_read_again_though_its_strokes_mostly_agree(ocr, shots):
    # Most of the edges of "1024" and "1025" coincide within the pixel of tolerance compression needs;
    # the recogniser tells them apart.
    frames = [with_text(shots[0], {(30, 20): "PRICE 1024"}), with_text(shots[1], {(30, 20): "PRICE 1025"})]
    looks = [ocr.look(f) for f in frames]
    assert same_strokes(frames[0], frames[1], looks[0][0].union(looks[1][0]))
    assert [r.source for r in plan_reads(frames, [0.0, 1.0], looks)] == [0, 0]  # strokes alone: reused
    assert [r.source for r in plan(ocr, frames)] == [0, 1]


# --- runtimes ----------------------------------------------------------------------------------------------
def test_openvino_and_onnxruntime_read_the_same_text():
    batch = frames_of(clip("vl2_00003491.mp4"), Span(0, 8), 2)
    ov = OcrCaptioner(OcrSettings(backend="openvino", look_side=0, read_precision="f32"))
    ort = OcrCaptioner(OcrSettings(backend="onnxruntime", look_side=0))
    assert ov.id != ort.id and "openvino" in ov.id and "openvino" not in ort.id
    request = CaptionRequest(batch, prompt="", level="coarse")
    assert ov.caption(request).text == ort.caption(request).text


def test_the_reads_detector_runs_at_its_precision_setting_and_the_id_names_the_setting_not_the_cpu():
    batch = frames_of(clip("vl2_00003491.mp4"), Span(0, 8), 2)
    fast = OcrCaptioner(OcrSettings(look_side=0, backend="openvino"))
    exact = OcrCaptioner(OcrSettings(look_side=0, backend="openvino", read_precision="f32"))
    assert OcrSettings().read_precision == "bf16"
    assert ":det-bf16-u8:rec-f32" in fast.id and ":det-f32-u8:rec-f32" in exact.id  # on any CPU
    # bf16 is computed in bf16 where this CPU has it, in f32 elsewhere; f32 is f32 everywhere
    here = "bf16" if rapidocr_adapter.cpu_has_bf16() else "f32"
    assert ocr_runtime.run_precision("bf16") == here and ocr_runtime.run_precision("f32") == "f32"
    for captioner, runs_in in ((fast, here), (exact, "f32")):
        engine = captioner._engines()._free.get()
        captioner._engines()._free.put(engine)
        assert engine.reader.text_det.infer._config["INFERENCE_PRECISION_HINT"] == runs_in
    # A caption shown clearly reads the same either way (a pixel's move of a box matters for blurred text)
    request = CaptionRequest(batch, prompt="", level="coarse")
    text = exact.caption(request).text
    assert "On-screen text:" in text and fast.caption(request).text == text


def test_a_bad_read_precision_is_refused_by_name_before_any_network_loads(monkeypatch):
    monkeypatch.setattr(ocr_runtime, "_build_engine", lambda *a, **k: pytest.fail("a network loaded"))
    for backend in ("openvino", "onnxruntime"):
        with pytest.raises(CaptionerError, match="read_precision 'fp16' is not one of bf16, f32"):
            OcrCaptioner(OcrSettings(backend=backend, read_precision="fp16"))
        # "auto" was bf16-where-the-CPU-has-it, in the id too; the id now names the setting
        with pytest.raises(CaptionerError, match="'auto' is now 'bf16'"):
            OcrCaptioner(OcrSettings(backend=backend, read_precision="auto"))


def test_static_shape_sessions_match_the_dynamic_one_and_keep_a_bounded_number_of_shapes(monkeypatch):
    det, _ = model_paths()
    static, dynamic = OpenVinoSession(det, 1, static_shapes=True), OpenVinoSession(det, 1)
    monkeypatch.setattr(OpenVinoSession, "MAX_SHAPES", 2)
    rng = np.random.default_rng(0)
    for h, w in ((64, 96), (96, 64), (64, 128), (64, 96)):
        x = rng.random((1, 3, h, w), dtype=np.float32)
        np.testing.assert_allclose(static(x)[0], dynamic(x)[0], atol=1e-4)
    assert list(static._requests) == [(1, 3, 64, 128), (1, 3, 64, 96)]  # least recently used went first
    # The first inference ran while compiling, under a lock: two engines' first reads racing to set up
    # pyopenvino's numpy bindings deadlocked a coarse pass once.
    assert rapidocr_adapter._openvino_ready


def test_a_detector_given_uint8_frames_scales_them_in_the_network_as_rapidocr_does_in_numpy():
    det, _ = model_paths()
    bgr = np.ascontiguousarray(frames_of(clip("vl2_00003491.mp4"), Span(0, 8), 1).frames[0][..., ::-1])
    image = cv2.resize(bgr, (256, 160))  # the detector wants multiples of 32
    scaled = ((image.astype(np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis]
    in_numpy = OpenVinoSession(det, 1, static_shapes=True)(np.ascontiguousarray(scaled))[0]
    in_network = OpenVinoSession(det, 1, static_shapes=True, image_input=True)(image[np.newaxis])[0]
    assert in_network.shape == in_numpy.shape and in_numpy.max() > 0.5  # the clip's caption is there
    np.testing.assert_allclose(in_network, in_numpy, atol=1e-4)


def test_an_ocr_engine_pool_leaves_the_cores_to_its_engines_not_to_opencvs_own_pool():
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        ocr_runtime.EnginePool(OcrSettings(backend="onnxruntime").engine_spec, 1, 1)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)


def test_what_the_caption_id_says_about_looks_and_runtime():
    ids = {OcrCaptioner(OcrSettings(look_side=side, backend=backend, engines=engines)).id
           for side in (0, 256) for backend in ("openvino", "onnxruntime") for engines in (1, 2)}
    assert len(ids) == 4  # look on/off x runtime; how many engines read is not in it
    assert OcrCaptioner(OcrSettings(look_side=0, backend="onnxruntime")).id.endswith(":det480:max1280:words48")
    assert OcrCaptioner(OcrSettings(read_new_words=False)).id != OcrCaptioner().id
    assert OcrCaptioner(OcrSettings(max_words=24)).id != OcrCaptioner().id  # the same reads listed otherwise
    with pytest.raises(CaptionerError, match="'tesseract'"):
        resolve_backend("tesseract")


def test_other_package_versions_than_the_adapter_was_written_for_are_named_and_moved_internals_refused(
        monkeypatch, caplog):
    written = rapidocr_adapter.WRITTEN_FOR
    monkeypatch.setattr(rapidocr_adapter, "package_version",
                        lambda name: "9.9" if name == "openvino" else written[name])
    with caplog.at_level("WARNING", logger=rapidocr_adapter.__name__):
        lines = rapidocr_adapter.check_versions.__wrapped__(True)  # not the process's cached answer
    assert len(lines) == 1 and "openvino 9.9 is installed" in lines[0] and written["openvino"] in lines[0]
    assert [r.getMessage() for r in caplog.records] == list(lines)
    assert rapidocr_adapter.check_versions.__wrapped__(False) == ()  # onnxruntime engines do not use openvino
    with pytest.raises(CaptionerError, match="has no session, resize_norm_img"):
        rapidocr_adapter.RememberingRecogniser(object(), None)
