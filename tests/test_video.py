"""tools/video.py on real shared clips (every codec in the media set) and on generated edge cases."""
from __future__ import annotations

import json
import logging
import types

import numpy as np
import pytest

import videogen
from conftest import HAYSTACK, SHARED, clip
from vidrecall.tools.video import (VideoError, VideoReader, probe, resize_to_max_pixels, sample_times,
                                   select_frames)
from vidrecall.core.types import FrameBatch, Span

LOGGER = "vidrecall.tools.video"

# One clip per codec/container in the media set: (file, manifest codec as ffmpeg names the decoder).
CODEC_CLIPS = {
    "mdn_frog.mp4": "h264",
    "deb-gnome_display-dual-monitors.webm": "vp8",
    "deb-opencv_vtest.avi": "msmpeg4",  # msmpeg4v3; ffmpeg's decoder is called msmpeg4
    "deb-opencv_tree.avi": "cinepak",
    "pypi-pyfeat_noface_face.mov": "hevc",
    "intel_asl_gestures/again.mkv": "h264",
}


def manifest_entry(name: str) -> dict:
    entries = json.loads((SHARED / "media" / "manifest.json").read_text())
    key = "clips/" + (name.split("/")[0] + "/" if "/" in name else name)
    return next(e for e in entries if e["path"] == key)


def assert_well_formed(batch, span: Span) -> None:
    assert len(batch.frames) == len(batch.timestamps) > 0
    assert all(span.start - 1e-3 <= t < span.end for t in batch.timestamps)
    assert all(b > a for a, b in zip(batch.timestamps, batch.timestamps[1:]))
    for frame in batch.frames:
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


# --- pure functions ---------------------------------------------------------------------------------
def test_sample_times_at_fps_are_period_centres_inside_the_span():
    assert sample_times(Span(10, 14), fps=1) == pytest.approx([10.5, 11.5, 12.5, 13.5])
    assert sample_times(Span(0, 1), fps=4) == pytest.approx([0.125, 0.375, 0.625, 0.875])


def test_sample_times_with_num_frames_spreads_centres_evenly():
    assert sample_times(Span(0, 10), num_frames=5) == pytest.approx([1, 3, 5, 7, 9])


def test_sample_times_short_span_gets_its_midpoint_and_num_frames_caps_fps():
    assert sample_times(Span(2.0, 2.4), fps=1) == pytest.approx([2.2])
    assert sample_times(Span(0, 60), fps=1, num_frames=4) == pytest.approx([7.5, 22.5, 37.5, 52.5])
    assert len(sample_times(Span(0, 3), fps=1, num_frames=8)) == 3  # the cap only ever lowers the count


@pytest.mark.parametrize("kwargs", [{}, {"fps": 0}, {"fps": -1.0}, {"num_frames": 0}, {"fps": float("nan")}])
def test_sample_times_rejects_missing_or_bad_density(kwargs):
    with pytest.raises(ValueError):
        sample_times(Span(0, 10), **kwargs)


def test_select_frames_takes_the_frame_on_screen_and_stays_inside_the_span():
    times = np.array([0.0, 1.0, 2.0, 5.0])
    assert select_frames(times, [0.5, 1.5, 4.9, 5.2], Span(0, 6)) == [0, 1, 2, 3]
    assert select_frames(times, [2.5, 3.0, 3.5], Span(2, 4)) == [2]  # one frame covers all three instants
    # the frame on screen at 0.9 started before the span; the next one starts inside it
    assert select_frames(times, [0.9], Span(0.8, 1.2)) == [1]


@pytest.mark.parametrize("shape, cap", [((720, 1280, 3), 100_000), ((333, 501, 3), 4_999), ((1, 900, 3), 100)])
def test_resize_to_max_pixels_downscales_under_the_cap_keeping_aspect(shape, cap):
    frame = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    out = resize_to_max_pixels(frame, cap)
    h, w = out.shape[:2]
    assert h * w <= cap and out.dtype == np.uint8 and out.shape[2] == 3
    assert w / h == pytest.approx(shape[1] / shape[0], rel=0.1) or min(h, w) == 1


def test_resize_to_max_pixels_never_upscales():
    frame = np.zeros((48, 64, 3), np.uint8)
    assert resize_to_max_pixels(frame, 10**6) is frame
    assert resize_to_max_pixels(frame, None) is frame


# --- real clips ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CODEC_CLIPS))
def test_probe_matches_the_manifest_for_every_codec(name):
    info = probe(clip(name))
    entry = manifest_entry(name)
    assert info.codec == CODEC_CLIPS[name]
    assert (info.width, info.height) == (entry["width"], entry["height"])
    if isinstance(entry["duration_s"], float):
        assert info.duration == pytest.approx(entry["duration_s"], abs=0.1)
    else:
        assert 1.5 < info.duration < 4.0  # the ASL clips: "2-3 each"
    assert info.frame_count > 0 and info.fps > 0 and info.rotation == 0


@pytest.mark.parametrize("name", list(CODEC_CLIPS))
def test_both_backends_sample_the_same_frames_on_every_codec(name):
    path = clip(name)
    span = Span(0.5, min(4.5, probe(path).duration))
    with VideoReader(path, backend="pyav") as pyav_reader, VideoReader(path, backend="decord") as decord_reader:
        assert decord_reader.backend == "decord"
        a = pyav_reader.sample(span, fps=2, max_pixels=320 * 240)
        b = decord_reader.sample(span, fps=2, max_pixels=320 * 240)
    assert_well_formed(a, span)
    assert a.timestamps == b.timestamps
    for x, y in zip(a.frames, b.frames):
        assert x.shape == y.shape and x.shape[0] * x.shape[1] <= 320 * 240
        assert np.abs(x.astype(int) - y.astype(int)).mean() < 2.0


def test_fps_sampling_gives_one_frame_per_period_with_real_timestamps():
    path = clip("askany_yoga.mp4")  # 10 s at 30 fps
    with VideoReader(path) as reader:
        batch = reader.sample(Span(2, 7), fps=2)
    assert len(batch) == 10 and batch.skipped == 0
    assert_well_formed(batch, Span(2, 7))
    # each frame is the one on screen at its sampling instant: within one frame period before it
    for t, target in zip(batch.timestamps, sample_times(Span(2, 7), fps=2)):
        assert target - 1 / 30 - 1e-3 <= t <= target + 1e-3


def test_num_frames_sampling_gives_exactly_that_many_frames():
    with VideoReader(clip("mdn_elf.mp4")) as reader:
        for n in (1, 4, 16):
            batch = reader.sample(Span(1, 7), num_frames=n)
            assert len(batch) == n
            assert_well_formed(batch, Span(1, 7))


def test_pixel_cap_keeps_aspect_on_a_720p_clip():
    path = clip("askany_jesse_dance.mp4")  # 1280x720
    with VideoReader(path) as reader:
        full = reader.sample(Span(1, 2), num_frames=1)
        small = reader.sample(Span(1, 2), num_frames=1, max_pixels=200_000)
    assert full.frames[0].shape == (720, 1280, 3)
    h, w = small.frames[0].shape[:2]
    assert h * w <= 200_000 and w / h == pytest.approx(16 / 9, rel=0.02)


def test_frames_differ_across_a_real_clip():
    """Guards against a reader that returns the same frame for every instant."""
    with VideoReader(clip("moviepy_sintel_trailer_480p.mp4")) as reader:
        batch = reader.sample(Span(0, 50), num_frames=5, max_pixels=100_000)
    means = [float(f.mean()) for f in batch.frames]
    assert len({round(m) for m in means}) >= 3


def test_iter_frames_streams_the_same_frames_as_sample():
    path = clip("mdn_crystal.mp4")
    with VideoReader(path) as reader:
        stream = reader.iter_frames(Span(0, 10), fps=1, max_pixels=50_000)
        assert isinstance(stream, types.GeneratorType)
        first_three = [next(stream) for _ in range(3)]
        stream.close()
        batch = reader.sample(Span(0, 10), fps=1, max_pixels=50_000)
    assert [t for t, _ in first_three] == batch.timestamps[:3]
    assert all(np.array_equal(f, g) for (_, f), g in zip(first_three, batch.frames))


def test_cinepak_clip_uses_the_real_frames_not_the_header_count():
    """deb-opencv_tree.avi's header claims 444 frames at 15 fps; the file holds 68, 0.33-0.73 s apart."""
    info = probe(clip("deb-opencv_tree.avi"))
    assert info.frame_count == 68 and info.variable_frame_rate
    assert info.fps == pytest.approx(67 / 29.533, rel=0.01)
    with VideoReader(clip("deb-opencv_tree.avi")) as reader:
        batch = reader.sample(Span(0, 29.6), fps=10)  # denser than the file: each real frame once
    assert len(batch) == 68
    assert_well_formed(batch, Span(0, 29.6))


def test_two_video_streams_both_backends_pick_the_best_one():
    """torchcodec_nasa_13013.mp4 holds a 320x180 and a 480x270 stream; ffmpeg and decord pick 480x270."""
    path = clip("torchcodec_nasa_13013.mp4")
    assert (probe(path).width, probe(path).height) == (480, 270)
    with VideoReader(path, backend="decord") as reader:
        assert reader.backend == "decord"  # decord's frame count agrees with the chosen stream
        assert reader.sample(Span(0, 2), num_frames=1).frames[0].shape == (270, 480, 3)


def test_variable_frame_rate_webm_is_flagged_and_steady_mp4_is_not():
    assert probe(clip("mejs_echo-hereweare.webm")).variable_frame_rate
    assert not probe(clip("mdn_frog.mp4")).variable_frame_rate


def test_span_past_the_end_is_clipped_with_a_warning(caplog):
    path = clip("mdn_pig.mp4")  # 6.53 s
    with VideoReader(path) as reader, caplog.at_level(logging.WARNING, logger=LOGGER):
        batch = reader.sample(Span(5, 20), fps=2)
    assert batch.span.end == pytest.approx(reader.info.duration)
    assert len(batch) == 3 and all(5 <= t < reader.info.duration for t in batch.timestamps)
    assert "clipped" in caplog.text and "mdn_pig.mp4" in caplog.text


@pytest.mark.parametrize("span", [Span(100, 110), Span(3, 3), Span(-5, -1)])
def test_span_outside_or_empty_is_a_video_error(span):
    path = clip("mdn_pig.mp4")
    with VideoReader(path) as reader, pytest.raises(VideoError, match="mdn_pig.mp4"):
        reader.sample(span, fps=1)


def test_reader_reopens_cheaply_and_closes():
    path = clip("mdn_monster.mp4")
    with VideoReader(path) as first:
        info = first.info
    with VideoReader(path) as second:
        assert second.info == info
        assert len(second.sample(Span(0, 2), fps=1)) == 2


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        VideoReader(clip("mdn_monster.mp4"), backend="opencv")


def test_haystack_minute_at_one_fps():
    path = HAYSTACK / "haystack_15min.mp4"
    if not path.exists():
        pytest.skip(f"shared haystack missing: {path}")
    with VideoReader(path) as reader:
        assert reader.info.duration == pytest.approx(933.2, abs=0.5)
        batch = reader.sample(Span(400, 460), fps=1)
    assert len(batch) == 60
    assert_well_formed(batch, Span(400, 460))


# --- generated edge cases ----------------------------------------------------------------------------
def assert_frames_match_timestamps(batch, times: list[float]) -> None:
    """Generated clips encode each frame's index as its gray level: the pixels belong to the timestamp."""
    for t, frame in zip(batch.timestamps, batch.frames):
        assert videogen.index_of(frame, len(times)) == int(np.argmin(np.abs(np.array(times) - t)))


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_generated_clip_returns_the_right_frame_for_each_instant(tmp_path, backend):
    path = videogen.short_clip(tmp_path, seconds=3, fps=10)
    with VideoReader(path, backend=backend) as reader:
        batch = reader.sample(Span(0.3, 2.3), fps=5)
    assert batch.timestamps == pytest.approx([0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2])
    assert_frames_match_timestamps(batch, [i / 10 for i in range(30)])


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_variable_frame_rate_file_uses_real_timestamps(tmp_path, backend):
    path = videogen.vfr_clip(tmp_path)
    real = [i * 0.05 for i in range(20)] + [1.0 + i * 0.3 for i in range(10)]
    with VideoReader(path, backend=backend) as reader:
        assert reader.info.variable_frame_rate and reader.info.frame_count == 30
        batch = reader.sample(Span(0, 3.7), fps=2)
    # 0.25 s ... 3.25 s: the frames on screen then, from both the dense and the sparse part
    assert batch.timestamps == pytest.approx([0.25, 0.75, 1.0, 1.6, 2.2, 2.5, 3.1], abs=1e-3)
    assert_frames_match_timestamps(batch, real)


def test_rotated_file_comes_back_upright(tmp_path):
    path = videogen.rotated_clip(tmp_path, rotation=90)
    info = probe(path)
    assert info.rotation == 90 and (info.width, info.height) == (48, 64)
    with VideoReader(path) as reader:
        frame = reader.sample(Span(0, 1), num_frames=1).frames[0]
    assert frame.shape == (64, 48, 3)
    white = np.argwhere(frame.mean(axis=2) > 128)
    # ffmpeg's autorotate puts the coded top-left block at rows 44-63, columns 0-9
    assert white[:, 0].min() >= 42 and white[:, 1].max() <= 11


def test_missing_file_is_a_one_line_video_error(tmp_path):
    with pytest.raises(VideoError, match="no such video file") as err:
        probe(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(err.value) and "\n" not in str(err.value)


def test_zero_byte_file_is_a_video_error(tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="zero.mp4.*empty"):
        VideoReader(tmp_path / "zero.mp4")


def test_text_file_named_mp4_is_a_video_error(tmp_path):
    path = videogen.not_a_video(tmp_path)
    with pytest.raises(VideoError, match="notes.mp4: not a readable video") as err:
        probe(path)
    assert "\n" not in str(err.value)


def test_container_with_zero_frames_is_a_video_error(tmp_path):
    with pytest.raises(VideoError, match="empty.avi.*zero frames"):
        probe(videogen.empty_container(tmp_path))


@pytest.mark.parametrize("backend", ["auto", "decord"])
def test_truncated_file_keeps_the_frames_it_has(tmp_path, backend, caplog):
    path = videogen.truncated_clip(tmp_path, keep=0.5)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with VideoReader(path, backend=backend) as reader:
            assert reader.info.truncated and reader.info.duration < 3.0
            assert reader.backend == "pyav"  # decord would hand back shifted frames here
            batch = reader.sample(Span(0, 6), fps=5)
    assert "truncated" in caplog.text
    assert len(batch) >= 8 and batch.timestamps[-1] < 3.0
    assert_frames_match_timestamps(batch, [i / 10 for i in range(60)])


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_corrupt_frames_are_skipped_counted_and_warned(tmp_path, backend, caplog):
    path = videogen.corrupt_clip(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with VideoReader(path, backend=backend) as reader:
            batch = reader.sample(Span(0, reader.info.duration), fps=10)
            streamed = list(reader.iter_frames(Span(0, reader.info.duration), fps=10))
    assert batch.skipped > 0 and len(batch) >= 20
    assert "undecodable" in caplog.text and "corrupt.avi" in caplog.text
    assert [t for t, _ in streamed] == batch.timestamps
    # the frames that did decode are the right ones (frames 0..n of the 40-frame source)
    assert_frames_match_timestamps(batch, [i / 10 for i in range(40)])


# --- stand-ins (change-aware sampling) ---------------------------------------------------------------------
def record_decoded(monkeypatch) -> list[int]:
    """The pts of every frame PyAV hands over, as they come out of the decoder."""
    from vidrecall.tools import video

    decoded: list[int] = []
    original = video.PyAVDecoder._decoded

    def recording(self, first=None):
        for frame in original(self, first):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(video.PyAVDecoder, "_decoded", recording)
    return decoded


def test_stand_ins_decode_fewer_frames_and_each_shows_its_own_instant(tmp_path, monkeypatch):
    path = videogen.short_clip(tmp_path, seconds=6, fps=10)  # libx264: B-frames nothing refers to
    times = [i / 10 for i in range(60)]
    decoded = record_decoded(monkeypatch)
    with VideoReader(path, backend="pyav") as reader:
        exact = list(reader.iter_frames(Span(0.5, 5.5), fps=2))
        exact_decoded = len(decoded)
        decoded.clear()
        stand_ins = list(reader.iter_frames(Span(0.5, 5.5), fps=2, stand_ins=True))
    assert len(decoded) < 0.8 * exact_decoded
    stamps = [t for t, _ in stand_ins]
    assert len(stand_ins) == len(exact) == 10 and stamps == sorted(set(stamps))
    instants = [t for t, _ in exact]
    for k, t in enumerate(stamps):  # the wanted frame or a later one, never past the next instant or the span
        assert instants[k] - 1e-6 <= t < (instants[k + 1] if k + 1 < len(instants) else 5.5)
    batch = FrameBatch(frames=[f for _, f in stand_ins], timestamps=stamps, span=Span(0.5, 5.5))
    assert_frames_match_timestamps(batch, times)  # a stand-in's pixels are its own frame's


def test_frames_between_a_wanted_frame_and_the_next_keyframe_are_never_decoded(tmp_path, monkeypatch):
    # 1 fps of a 5 fps stream with a keyframe every 2 s: after the frame at t+1 s the decoder reads on to the
    # keyframe at t+2 s without decoding the 4 frames between (they would be thrown away)
    path = videogen.short_clip(tmp_path, seconds=12, fps=5, keyframe_every=10)
    decoded = record_decoded(monkeypatch)
    with VideoReader(path, backend="pyav") as reader:
        keys = [int(k) for k in reader.timeline.keyframe_pts]
        frames = list(reader.iter_frames(Span(0.0, 12.0), fps=1, stand_ins=True))
    assert len(keys) >= 6 and len(frames) == 12
    stamps = [t for t, _ in frames]
    assert_frames_match_timestamps(FrameBatch(frames=[f for _, f in frames], timestamps=stamps,
                                              span=Span(0.0, 12.0)), [i / 5 for i in range(60)])
    wanted = [round(t * 1000) for t in stamps]  # the clip's time base is 1 ms
    for here, after in zip(wanted, wanted[1:]):
        key = max(k for k in keys if k <= after)
        if key > here:
            assert not [pts for pts in decoded if here < pts < key], (here, key)
    assert len(decoded) < 0.7 * 60


def test_reading_on_to_a_keyframe_the_decoder_already_read_gives_every_frame(monkeypatch):
    # With B-frames the decoder reads packets ahead of the frames it gives out: at 147.7 s of the shared
    # haystack (a clip boundary) the next keyframe is read before the frame at 147.5 s comes out. Reading on
    # to it "again" once passed the keyframe by, and the frames of the next 2 s came out missing.
    from vidrecall.tools import video

    def frames_of(reader):
        return list(reader.iter_frames(Span(140.0, 160.0), fps=1, stand_ins=True))

    with VideoReader(HAYSTACK / "haystack_15min.mp4", backend="pyav") as reader:
        read_on = frames_of(reader)
    monkeypatch.setattr(video.PyAVDecoder, "_skip_to_keyframe", lambda self, key: False)  # seek instead
    with VideoReader(HAYSTACK / "haystack_15min.mp4", backend="pyav") as reader:
        sought = frames_of(reader)
    assert len(read_on) == len(sought) == 20
    assert [t for t, _ in read_on] == [t for t, _ in sought]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(read_on, sought))


def test_small_video_decodes_with_slice_threads_and_large_with_frame_threads(tmp_path):
    from vidrecall.tools.video import PyAVDecoder, FRAME_THREADS_MIN_PIXELS

    small = videogen.short_clip(tmp_path, "small.mp4", seconds=1)  # frame threads doubled the CPU at 240p
    with VideoReader(small, backend="pyav") as reader:
        assert isinstance(reader._decoder, PyAVDecoder)
        assert reader.info.width * reader.info.height < FRAME_THREADS_MIN_PIXELS
        assert reader._decoder.stream.thread_type.name == "SLICE"
    with VideoReader(clip("moviepy_sintel_trailer_480p.mp4"), backend="pyav") as reader:
        assert reader._decoder.stream.thread_type.name == "AUTO"
