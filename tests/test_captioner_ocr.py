"""OCR captioner on real shared clips (real RapidOCR, real decoding), plus its dedup and visual facts."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from vidrecall.tools.captioners.factory import make_captioner
from vidrecall.tools.captioners.ocr.captioner import OcrCaptioner, OcrLine, OcrSettings, dedupe, list_by_sureness
from vidrecall.tools.captioners.ocr.line_memory import LineMemory
from vidrecall.tools.captioners.ocr.runtime import _build_engine, engine_layout, resolve_backend
from vidrecall.tools.captioners.ocr.visual_facts import dominant_colours, visual_facts
from vidrecall.tools.frame_stats import scene_cuts
from vidrecall.tools.change_sampling import keep_changed
from vidrecall.tools.video import VideoReader
from vidrecall.core.types import CaptionRequest, FrameBatch, Span

from conftest import HAYSTACK, clip, quoted_texts


def norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def frames_of(path, span: Span, n: int) -> FrameBatch:
    with VideoReader(path) as reader:
        return reader.sample(span, num_frames=n, max_pixels=200704)


def caption(captioner, batch: FrameBatch, instruction: str | None = None) -> str:
    return captioner.caption(CaptionRequest(batch, prompt="Describe.", level="coarse", instruction=instruction)).text


@pytest.fixture(scope="module")
def ocr() -> OcrCaptioner:
    captioner = make_captioner("ocr")
    captioner.preflight()
    return captioner


def test_reads_ukulele_strings_caption_once_with_its_time_range(ocr):
    batch = frames_of(clip("vl2_00003491.mp4"), Span(0, 8), 3)  # the caption is on screen for ~8 s
    result = ocr.caption(CaptionRequest(batch, prompt="p", level="fine"))
    assert "daddario" in norm(result.text)
    assert norm(result.text).count("daddario") == 1  # three frames, one mention
    assert re.search(r"\(0:0\d-0:0\d\)", result.text), result.text  # first-last sighting as a range
    assert result.usage.kind == "ocr" and result.usage.images == 3 and result.usage.model == ocr.id


def test_reads_sintel_title(ocr):
    assert "sintel" in norm(caption(ocr, frames_of(clip("moviepy_sintel_trailer_480p.mp4"), Span(42, 47), 2)))


@pytest.mark.slow  # ~8 frames incl. a dense credits frame; > 20 s when the 2 cores are shared
def test_haystack_texts_readable_at_coarse_sampling(ocr):
    """The 426x240 haystack keeps both texts readable at the offline profile's coarse sampling."""
    path = HAYSTACK / "haystack_15min.mp4"
    if not path.exists():
        pytest.skip(f"haystack missing: {path}")
    assert "daddario" in norm(caption(ocr, frames_of(path, Span(180, 240), 4)))
    assert "sintel" in norm(caption(ocr, frames_of(path, Span(300, 360), 4)))


def test_frog_has_no_text_and_green_is_named(ocr):
    text = caption(ocr, frames_of(clip("mdn_frog.mp4"), Span(0, 8), 3))
    assert "No on-screen text." in text
    assert "green" in text and "brown" in text  # a green toy frog on a wooden table


def test_instruction_is_ignored_and_output_deterministic(ocr):
    batch = frames_of(clip("mejs_echo-hereweare.webm"), Span(4, 12), 2)
    plain = caption(ocr, batch)
    assert "echo" in plain.lower()
    assert caption(ocr, batch, instruction="Ignore the frames and say HELLO") == plain


def test_confidence_filter_drops_everything_above_one():
    strict = OcrCaptioner(OcrSettings(min_confidence=1.01))
    batch = frames_of(clip("vl2_00003491.mp4"), Span(0, 4), 1)
    assert "No on-screen text." in caption(strict, batch)
    assert strict.id != make_captioner("ocr").id


def test_empty_batch_says_so(ocr):
    empty = FrameBatch(frames=[], timestamps=[], span=Span(10, 20))
    assert caption(ocr, empty) == "Frames 0:10-0:20 (0 sampled). No frame could be decoded."


def test_dedupe_merges_spellings_and_keeps_separate_runs():
    lines = {
        0.0: [OcrLine("Strings:D'AddarioProArtTenorJ71", 0.97), OcrLine("SINTEL", 0.9)],
        1.0: [OcrLine("Strings:D'Addario Pro Art Tenor J71", 0.94)],
        2.0: [OcrLine("Strings:D'AddarioProArtTenorJ71", 0.98)],
        3.0: [],
        4.0: [OcrLine("SINTEL", 0.95), OcrLine("SINTER", 0.9)],  # short words must match exactly
    }
    sightings = dedupe(list(lines.items()))
    by_key = {s.key: s for s in sightings}
    strings = by_key["stringsdaddarioproarttenorj71"]
    assert strings.text == "Strings:D'Addario Pro Art Tenor J71"  # the spelling with word breaks wins
    assert strings.runs == [[0.0, 2.0]]
    assert by_key["sintel"].runs == [[0.0, 0.0], [4.0, 4.0]]  # gone at 1-3 s: two sightings
    assert by_key["sintel"].times() == "0:00, 0:04"
    assert "sinter" in by_key
    assert [s.key for s in sightings][0] in {"stringsdaddarioproarttenorj71", "sintel"}


def test_past_its_word_budget_a_caption_lists_the_surest_texts_in_time_order():
    lines = {
        0.0: [OcrLine("Mrrer dsplay", 0.62), OcrLine("Detect Displays", 0.95)],
        1.0: [OcrLine("Detect Displays", 0.93), OcrLine("Does the display look OK?", 0.97)],
        2.0: [OcrLine("Laptrp", 0.73), OcrLine("Wed 18:30", 0.91)],
    }
    sightings = dedupe(list(lines.items()))
    assert list_by_sureness(sightings, 20) == sightings  # 12 words fit: all, as they came
    listed = [s.text for s in list_by_sureness(sightings, 9)]
    # sure (>= 0.8) first, the one seen in two frames before the others; then in time order
    assert listed == ["Detect Displays", "Does the display look OK?", "Wed 18:30"]
    assert [s.text for s in list_by_sureness(sightings, 2)] == ["Detect Displays"]
    # words a sure text left over go to a shorter, less sure one
    assert [s.text for s in list_by_sureness(sightings, 3)] == ["Detect Displays", "Laptrp"]


@pytest.mark.slow  # 30 s of 1 fps frames sampled and read
def test_a_lyric_minute_lists_all_its_short_lines_and_a_small_budget_keeps_the_surest(ocr):
    """The shared haystack's last clip is a lyric video: 20 texts, most one to three words. Under the old
    12-line cap "WORK" and "of our hands" (read at 0.93-0.99) were cut for coming late."""
    with VideoReader(str(HAYSTACK / "haystack_15min.mp4")) as reader:
        span = Span(900, 930)
        frames = list(reader.iter_frames(span, fps=1.0, stand_ins=True))
    batch = keep_changed(iter(frames), span, threshold=0.1, min_keep_seconds=20, max_pixels=200704).batch
    text = caption(ocr, batch)
    assert {"work", "ofourhands", "withourpassion", "echo"} <= quoted_texts(text), text
    assert "more lines" not in text
    small = caption(OcrCaptioner(OcrSettings(max_words=6)), batch)
    assert "more lines" in small
    assert sum(len(t.split()) for t in re.findall(r'"([^"]*)"', small)) <= 6
    assert "work" in quoted_texts(small), small  # seen in two frames at 0.99


def test_colour_names_on_flat_frames():
    def flat(rgb):
        return np.full((60, 80, 3), rgb, dtype=np.uint8)

    assert dominant_colours([flat((220, 30, 30))])[0][0] == "red"
    assert dominant_colours([flat((30, 160, 40))])[0][0] == "green"
    assert dominant_colours([flat((40, 60, 200))])[0][0] == "blue"
    assert dominant_colours([flat((250, 250, 250))])[0][0] == "white"
    assert dominant_colours([flat((5, 5, 5))])[0][0] == "black"
    assert dominant_colours([flat((120, 75, 40))])[0][0] == "brown"
    half = np.concatenate([flat((220, 30, 30)), flat((40, 60, 200))], axis=1)
    shares = dict(dominant_colours([half]))
    assert shares["red"] == pytest.approx(0.5, abs=0.05) and shares["blue"] == pytest.approx(0.5, abs=0.05)


def test_scene_cut_between_two_clips_but_not_within_one():
    frog = frames_of(clip("mdn_frog.mp4"), Span(2, 3), 2)
    ukulele = frames_of(clip("vl2_00003491.mp4"), Span(20, 21), 1)
    assert scene_cuts(frog.frames, [2.25, 2.75]) == []
    cuts = scene_cuts(frog.frames[:1] + ukulele.frames, [2.0, 3.0])
    assert cuts == [(2.0, 3.0)]
    assert "Scene cut near 0:02" in visual_facts(frog.frames[:1] + ukulele.frames, [2.0, 3.0]).text()


def test_an_engine_pool_reads_frames_at_once_with_the_same_result_as_one_engine():
    batch = frames_of(clip("moviepy_sintel_trailer_480p.mp4"), Span(40, 50), 6)  # the title card and around it
    one = OcrCaptioner(OcrSettings(engines=1))
    pool = OcrCaptioner(OcrSettings(engines=2))
    assert one.id == pool.id  # how many engines read is not part of what the caption says
    assert caption(pool, batch) == caption(one, batch) and "sintel" in norm(caption(pool, batch))
    assert engine_layout(cpus=2) == (2, 1) and engine_layout(cpus=16) == (4, 4) and engine_layout(cpus=1) == (1, 1)
    assert engine_layout(3, cpus=16) == (3, 5)


def readings(engine, bgr: np.ndarray) -> list[tuple[list, str, float]]:
    result, _ = engine.reader(bgr)
    return [(np.asarray(quad).tolist(), text, score) for quad, text, score in (result or [])]


def test_a_line_recognised_before_is_answered_from_memory_with_the_same_reading():
    frame = frames_of(clip("vl2_00003491.mp4"), Span(2, 3), 1).frames[0]  # the strings caption, at the bottom
    bgr = np.ascontiguousarray(frame[..., ::-1])
    marked = bgr.copy()  # the same frame with a second line at the top: the caption is cut out the same
    cv2.putText(marked, "CHORD CHART 7", (30, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    backend = resolve_backend("auto")
    plain = _build_engine(OcrSettings(backend=backend).engine_spec, 1)
    lines = LineMemory()
    remembering = _build_engine(OcrSettings(backend=backend).engine_spec, 1, lines)

    first = readings(remembering, bgr)
    assert (lines.hits, lines.misses) == (0, 1)
    second = readings(remembering, marked)
    assert (lines.hits, lines.misses) == (1, 2)  # the caption from memory, the new line through the network
    assert first == readings(plain, bgr) and second == readings(plain, marked)
    assert "daddario" in norm(first[0][1]) and {"chordchart7", norm(first[0][1])} == {norm(t) for _, t, _ in second}


def test_line_memory_forgets_the_least_recently_used_beyond_its_size():
    memory = LineMemory(size=2)
    rows = [np.full((3, 48, 320), i, np.float32) for i in range(3)]
    for i, row in enumerate(rows[:2]):
        memory.put(memory.key(row), (f"line {i}", 0.9))
    assert memory.get(memory.key(rows[0])) == ("line 0", 0.9)  # now the most recently used
    memory.put(memory.key(rows[2]), ("line 2", 0.9))
    assert memory.get(memory.key(rows[1])) is None and memory.get(memory.key(rows[0])) is not None
    assert memory.key(rows[0]) != memory.key(np.zeros((3, 48, 640), np.float32))  # the padded width counts
