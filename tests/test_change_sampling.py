"""Change-aware sampling (tools/change_sampling.py, Level.change_aware) on real clips: a frame is kept at
every scene cut visual_facts finds, a static shot is not sent again and again, the kept times are stored
with the caption, and the setting is part of the caption key."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import clip
from vidrecall.core.config import PROFILES_DIR, Config, ConfigError, Level, load_config
from vidrecall.core.types import Span
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.captioners.visual_facts import scene_cuts
from vidrecall.tools.change_sampling import keep_changed
from vidrecall.tools.video import VideoReader

from test_memory import ScriptedCaptioner

SINTEL = "moviepy_sintel_trailer_480p.mp4"  # 52 s, 18 cuts at 1 fps
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


def test_a_static_shot_is_sent_once_per_floor_period(sintel_frames):
    t0, still = sintel_frames[10]
    rng = np.random.default_rng(0)
    noisy = [(float(t), np.clip(still.astype(int) + rng.integers(-6, 7, still.shape), 0, 255).astype(np.uint8))
             for t in np.arange(0.5, 60, 1.0)]  # one real picture, 60 s, with sensor-like noise
    kept = keep_changed(iter(noisy), Span(0, 60), threshold=0.1, min_keep_seconds=20)
    assert kept.batch.timestamps == [0.5, 20.5, 40.5]  # the first frame, then only the floor
    assert kept.decoded == 60


def test_change_aware_level_stores_the_kept_times_and_sends_fewer_frames(store_dir, embedder):
    captioner = ScriptedCaptioner()
    with VideoMemory(Config(levels=(COARSE,)), captioner, embedder=embedder, store_dir=store_dir) as memory:
        video = memory.register(clip(SINTEL))
        report = memory.build_level(video, "coarse", progress=False)
        node = memory.nodes(video.id, "coarse")[0]
    sent = captioner.requests[0].frames
    assert report.frames == 52 and report.frames_sent == len(sent) < 40  # a trailer: cuts and text cards
    assert node.frame_times == [round(t, 3) for t in sent.timestamps] and node.sampling == "change0.1:rel0.5:floor20:standins"
    assert node.frames == 52  # the nominal 1 fps count, part of the key


def test_caption_keys_differ_when_the_sampling_setting_differs(store_dir, embedder):
    plain = dataclasses.replace(COARSE, change_aware=False)
    looser = dataclasses.replace(COARSE, change_threshold=0.2)
    keys = []
    for level in (COARSE, plain, looser, dataclasses.replace(COARSE, min_keep_seconds=10),
                  dataclasses.replace(COARSE, change_relative=0.4)):
        with VideoMemory(Config(levels=(level,)), ScriptedCaptioner(), embedder=embedder, store_dir=store_dir) as m:
            video = m.register(clip(SINTEL))
            keys.append(m.plan(video, "coarse", Span(0, 52.208)).key)
    assert len(set(keys)) == 5
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
