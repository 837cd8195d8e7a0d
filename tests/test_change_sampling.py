"""Change-aware sampling (tools/change_sampling.py, Level.change_aware) on real clips: a frame is kept at
every scene cut visual_facts finds, a static shot is not sent again and again, a caption replacing another
over a still shot is kept once it settles while flickering texture is not, the kept times are stored with
the caption, and the setting is part of the caption key."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from conftest import HAYSTACK, clip
from vidrecall.core.config import PROFILES_DIR, Config, ConfigError, Level, load_config
from vidrecall.core.types import Span
from vidrecall.indexing.indexer import Indexer
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.frame_stats import scene_cuts
from vidrecall.tools.change_sampling import TextPicture, keep_changed, new_text_settled
from vidrecall.tools.video import VideoReader, resize_to_max_pixels

from test_memory import ScriptedCaptioner

SINTEL = "moviepy_sintel_trailer_480p.mp4"  # 52 s, 18 cuts at 1 fps
STILL_SHOT = 38  # a lit shot, 38 s in: text drawn over it barely moves a 16x16 thumbnail
COARSE = Level("coarse", 60, fps=1.0, change_aware=True, change_threshold=0.1, min_keep_seconds=20,
               max_pixels=200704, prompt="caption_coarse")


@pytest.fixture(scope="module")
def sintel_frames() -> list[tuple[float, np.ndarray]]:
    with VideoReader(clip(SINTEL)) as reader:
        return list(reader.iter_frames(Span(0, reader.info.duration), fps=1.0, max_pixels=200704))


def test_a_frame_is_kept_at_every_scene_cut(sintel_frames):
    times, frames = zip(*sintel_frames)
    cuts = scene_cuts(list(frames), list(times))
    kept = keep_changed(iter(sintel_frames), Span(0, 53), threshold=0.1, min_keep_seconds=20)
    assert len(cuts) >= 10  # a trailer: many cuts
    assert all(after in kept.batch.timestamps for _, after in cuts)
    assert kept.decoded == len(sintel_frames) and len(kept.batch) < len(sintel_frames)
    assert kept.batch.timestamps == sorted(kept.batch.timestamps)


def test_frames_are_compared_as_decoded_and_only_kept_ones_are_shrunk():
    with VideoReader(clip(SINTEL)) as reader:  # 854x480: above the coarse level's max_pixels
        full = list(reader.iter_frames(Span(0, reader.info.duration), fps=1.0))
    kept = keep_changed(iter(full), Span(0, 53), threshold=0.1, min_keep_seconds=20, max_pixels=200704)
    by_time = dict(full)
    times, frames = zip(*full)
    assert full[0][1].shape[0] * full[0][1].shape[1] > 200704
    assert all(f.shape[0] * f.shape[1] <= 200704 for f in kept.batch.frames)
    assert all(np.array_equal(f, resize_to_max_pixels(by_time[t], 200704))
               for t, f in zip(kept.batch.timestamps, kept.batch.frames))
    assert all(after in kept.batch.timestamps for _, after in scene_cuts(list(frames), list(times)))
    assert len(kept.batch) < len(full)


def _noisy_still(still: np.ndarray, seconds: int, seed: int = 0) -> list[tuple[float, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(t + 0.5, np.clip(still.astype(int) + rng.integers(-6, 7, still.shape), 0, 255).astype(np.uint8))
            for t in range(seconds)]


def _with_text(frame: np.ndarray, text: str, row: float = 0.8) -> np.ndarray:
    out = frame.copy()
    origin = (int(frame.shape[1] * 0.12), int(frame.shape[0] * row))
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_DUPLEX, 1.1, (0, 0, 0), 5, cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_DUPLEX, 1.1, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def test_a_static_shot_is_sent_once_per_floor_period(sintel_frames):
    noisy = _noisy_still(sintel_frames[10][1], 60)  # one real picture, 60 s, with sensor-like noise
    kept = keep_changed(iter(noisy), Span(0, 60), threshold=0.1, min_keep_seconds=20)
    assert kept.batch.timestamps == [0.5, 20.5, 40.5]  # the first frame, then only the floor
    assert kept.decoded == 60


def test_a_caption_replacing_another_over_a_still_shot_is_kept_once_it_settles(sintel_frames):
    """Lyrics or subtitles over a still shot: the thumbnail barely moves, the text mask does."""
    lines = ["with our passion"] * 6 + ["and our dreams"] * 2 + ["with our lives"] * 4
    frames = [(t, _with_text(f, line)) for (t, f), line in zip(_noisy_still(sintel_frames[STILL_SHOT][1], 12), lines)]
    without = keep_changed(iter(frames), Span(0, 12), threshold=0.1, min_keep_seconds=20, text=False)
    kept = keep_changed(iter(frames), Span(0, 12), threshold=0.1, min_keep_seconds=20)
    assert without.batch.timestamps == [0.5]  # the thumbnail rule alone sends only the first line
    assert kept.batch.timestamps == [0.5, 7.5, 9.5]  # each new line, on its second frame


def test_a_title_appearing_over_a_still_shot_is_kept_and_held_text_is_not_sent_again(sintel_frames):
    still = _noisy_still(sintel_frames[STILL_SHOT][1], 40, seed=1)
    frames = [(t, _with_text(f, "THE PEACH OPEN MOVIE PROJECT", row=0.4) if t > 5 else f) for t, f in still]
    kept = keep_changed(iter(frames), Span(0, 40), threshold=0.1, min_keep_seconds=20)
    assert kept.batch.timestamps == [0.5, 6.5, 26.5]  # the first frame, the title settled, then the floor


def test_text_like_texture_that_changes_every_frame_is_not_kept(sintel_frames):
    """Leaves, water or film grain: word-shaped blobs that never hold still for a sample."""
    rng = np.random.default_rng(2)
    frames = []
    for t, frame in _noisy_still(sintel_frames[STILL_SHOT][1], 30, seed=3):
        words = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz ")) for _ in range(16))
        frames.append((t, _with_text(frame, words, row=0.3 + 0.5 * rng.random())))
    kept = keep_changed(iter(frames), Span(0, 30), threshold=0.1, min_keep_seconds=20)
    assert kept.batch.timestamps == [0.5, 20.5]


def test_a_held_line_counts_as_settled_though_the_picture_between_its_letters_changes(sintel_frames):
    """A lyric line held for two frames over a moving shot: its word blobs also hold the picture between the
    letters, so a third of their pixels may change while the words stay the same."""
    def grey(text: str) -> np.ndarray:
        return cv2.cvtColor(_with_text(sintel_frames[STILL_SHOT][1], text), cv2.COLOR_RGB2GRAY)

    last_kept, current = TextPicture(grey("with our passion")), TextPicture(grey("the life"))
    words = current.words[0].astype(bool)
    leftmost = np.cumsum(words.sum(axis=0)) / words.sum()  # share of the word pixels left of each column

    def previous_with_changed(share: float) -> TextPicture:
        before = current.grey.astype(int)
        changed = words & (leftmost <= share)[None, :]
        before[changed] += np.where(before[changed] < 128, 60, -60)
        return TextPicture(before.astype(np.uint8))

    assert new_text_settled(current, previous_with_changed(0.35), last_kept)
    assert not new_text_settled(current, previous_with_changed(0.6), last_kept)  # still changing


@pytest.mark.parametrize("clip_start, shown, text", [
    (840, (893, 895), "'the truth' replacing 'the GOSPEL' (a lyric video, 2 s)"),
    (900, (913, 915), "'and our dreams' replacing 'with our passion' (2 s)"),
    (600, (605, 607), "'THE PEACH OPEN MOVIE PROJECT' over a still sky"),
])
def test_text_over_a_still_shot_of_the_haystack_is_kept(clip_start, shown, text):
    """The shared 15-min haystack's texts that the thumbnail rule alone never sent to OCR."""
    with VideoReader(str(HAYSTACK / "haystack_15min.mp4")) as reader:
        span = Span(clip_start, min(clip_start + 60, reader.info.duration))
        frames = list(reader.iter_frames(span, fps=1.0, max_pixels=200704, stand_ins=True))
    with_text = keep_changed(iter(frames), span, threshold=0.1, min_keep_seconds=20)
    without = keep_changed(iter(frames), span, threshold=0.1, min_keep_seconds=20, text=False)
    assert any(shown[0] <= t < shown[1] for t in with_text.batch.timestamps), text
    assert not any(shown[0] <= t < shown[1] for t in without.batch.timestamps)
    assert len(with_text.batch) - len(without.batch) <= 0.1 * len(frames)  # a frame per new line, not every frame


def test_change_aware_level_stores_the_kept_times_and_sends_fewer_frames(store_dir, embedder):
    captioner = ScriptedCaptioner()
    with VideoMemory(Config(levels=(COARSE,)), embedder=embedder, store_dir=store_dir) as memory:
        video = memory.register(clip(SINTEL))
        report = Indexer(memory, captioner).build(video, ["coarse"], speech=False).reports[0]
        node = memory.nodes(video.id, "coarse")[0]
    sent = captioner.requests[0].frames
    assert report.frames == 52 and report.frames_sent == len(sent) < 40  # a trailer: cuts and text cards
    assert node.frame_times == [round(t, 3) for t in sent.timestamps]
    assert node.sampling == "change0.1:rel0.5:floor20:text2:standins"
    assert node.frames == 52  # the nominal 1 fps count, part of the key


def test_caption_keys_differ_when_the_sampling_setting_differs(store_dir, embedder):
    plain = dataclasses.replace(COARSE, change_aware=False)
    looser = dataclasses.replace(COARSE, change_threshold=0.2)
    keys = []
    for level in (COARSE, plain, looser, dataclasses.replace(COARSE, min_keep_seconds=10),
                  dataclasses.replace(COARSE, change_relative=0.4), dataclasses.replace(COARSE, change_text=False)):
        with VideoMemory(Config(levels=(level,)), embedder=embedder, store_dir=store_dir) as m:
            video = m.register(clip(SINTEL))
            keys.append(Indexer(m, ScriptedCaptioner()).plan(video, "coarse", Span(0, 52.208)).key)
    assert len(set(keys)) == 6
    assert plain.sampling_tag == ""  # plain levels keep the keys stored before change-aware sampling existed


def test_change_aware_needs_fps():
    with pytest.raises(ConfigError, match="change_aware sampling needs fps"):
        Level("coarse", 60, frames_per_clip=2, change_aware=True)
    with pytest.raises(ConfigError, match="change_threshold must be in"):
        Level("coarse", 60, fps=1.0, change_aware=True, change_threshold=0)
    with pytest.raises(ConfigError, match="change_relative and min_keep_seconds > 0"):
        Level("coarse", 60, fps=1.0, change_aware=True, change_relative=0)


def test_a_bad_level_setting_in_a_users_profile_names_the_file(tmp_path):
    profile = tmp_path / "mine.yaml"
    profile.write_text((PROFILES_DIR / "offline.yaml").read_text().replace("change_aware: true,", "change_aware: true, change_relative: 0,"))
    with pytest.raises(ConfigError, match=r"mine\.yaml: level 'coarse': .*\(got 0\.1, 0, 20\)"):
        load_config(str(profile))
    profile.write_text((PROFILES_DIR / "offline.yaml").read_text().replace("change_aware: true,", "change_aware: true, change_text: maybe,"))
    with pytest.raises(ConfigError, match=r"mine\.yaml: level 'coarse': change_text must be true or false, got 'maybe'"):
        load_config(str(profile))
