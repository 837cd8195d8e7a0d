"""Faults of the speech lane, the CLI and Ray, each reproduced as a user meets it (docs/faults_33_cli.md):
a damaged audio track or subtitle file, subtitles past the video's end, a non-UTF-8 file name, an
unreachable Ray cluster, Ray's notices on stdout, escape sequences in text and names, exit codes and a
closed pipe. Real clips, real PyAV decoding, a real store; the CLI runs in-process (`main`) except where
the process itself matters (a closed stdout); the LLM is a loopback fake (tests/fakeserver.py)."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import clip
from fakeserver import FakeOpenAIServer, Reply
from vidrecall.agent.testing import ScriptedCaptioner, fast_levels
from vidrecall.cli import main
from vidrecall.core.config import load_config
from vidrecall.core.types import SPEECH_LEVEL
from vidrecall.indexing.indexer import Indexer
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.speech.audio import AudioStream
from vidrecall.tools.speech.subtitles import SubtitleSource, read_subtitles
from vidrecall.tools.speech.types import AudioDecodeError

CAKE = "askany_making_cake.mp4"  # 10 s, no audio track: speech comes from subtitles alone
PIG = "mdn_pig.mp4"  # 6.5 s
ESC = "\x1b[2J"  # clears the screen when a terminal obeys it
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # an OSC-8 hyperlink
REPLY = json.dumps({"answer": "a cake", "confidence": 0.9, "clips": [1], "spans": [[0, 4]], "reason": "seen"})


def profile(tmp: Path, base_url: str = "http://127.0.0.1:9/v1", speech: str = "subtitles") -> str:
    """OCR captions of one frame per clip, the LLM at `base_url`, speech from subtitles (no Whisper)."""
    path = tmp / f"faults-{speech}.yaml"
    path.write_text(f"""
llm: "openai-compatible:m"
llm_options: {{base_url: "{base_url}", max_retries: 0, timeout: 30}}
captioner: ocr
levels:
  - {{name: coarse, clip_seconds: 60, frames_per_clip: 1, max_pixels: 230400, prompt: caption_coarse}}
  - {{name: fine, clip_seconds: 10, frames_per_clip: 1, max_pixels: 230400, prompt: caption_fine}}
budgets: {{max_iterations: 1, max_captions: 4, max_llm_tokens: 60000, max_seconds: 120}}
speech: {{source: {speech}}}
""")
    return str(path)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def warnings_about(caplog, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and name in r.getMessage()]


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    """The Sintel trailer with its MP3 packets sprinkled with noise (ffmpeg's noise bitstream filter;
    deterministic): the frames change their sample rate mid-stream and PyAV's resampler refuses them."""
    out = tmp_path_factory.mktemp("noisy") / "bad.mp4"
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-v", "error", "-y", "-i",
                    str(clip("moviepy_sintel_trailer_480p.mp4")), "-c", "copy", "-bsf:a", "noise=amount=20", str(out)],
                   check=True)
    return out


class SilentTranscriber:
    """Stands in for Whisper: the damaged track fails in decoding, before anything is transcribed."""

    id = "fake-asr"

    class settings:  # noqa: N801 - mirrors Transcriber.settings
        @staticmethod
        def key() -> str:
            return "fake"

    def transcribe(self, samples):
        return []


def indexer_for(store: Path, embedder, source: str) -> Indexer:
    config = load_config("offline", store_dir=str(store), levels=fast_levels())
    config = config.replace(speech={**vars(config.speech), "source": source})
    indexer = Indexer(VideoMemory(config, embedder), ScriptedCaptioner())
    indexer.speech_models._models = (SilentTranscriber(), None)
    return indexer


# --- 1. a damaged audio track or subtitle file: speech is skipped alone, with one warning ---------------------
def test_a_noisy_audio_track_skips_speech_with_one_warning_and_keeps_the_captions(noisy, tmp_path, embedder,
                                                                                  caplog):
    with pytest.raises(AudioDecodeError, match="cannot be decoded"):  # was ValueError from PyAV's resampler
        with AudioStream(noisy) as audio:
            audio.window(0, 60)
    indexer = indexer_for(tmp_path / "store", embedder, "asr")
    with caplog.at_level(logging.WARNING):
        (result,) = indexer.index([noisy], ("coarse",))
    assert result.ok and result.created >= 1, result.error  # the file is indexed: its captions stand
    (report,) = result.speech
    assert report.status.startswith("skipped: ") and "AudioResampler" in report.status
    (line,) = warnings_about(caplog, "bad.mp4")  # one line naming the file and what is left out
    assert "speech (audio) left out" in line and "\n" not in line


def test_an_empty_or_latin1_subtitle_file_never_fails_the_video(tmp_path, embedder, caplog):
    video = tmp_path / "v.mp4"
    shutil.copy(clip(CAKE), video)
    (tmp_path / "v.srt").write_bytes(b"")
    indexer = indexer_for(tmp_path / "store", embedder, "subtitles")
    with caplog.at_level(logging.WARNING):
        (result,) = indexer.index([video], ("coarse",))
    assert result.ok and result.created == 1
    assert [r.status for r in result.speech] == ["skipped: v.srt: the subtitle file is empty"]
    assert len(warnings_about(caplog, "v.srt")) == 1

    (tmp_path / "v.srt").write_bytes("1\n00:00:01,000 --> 00:00:03,000\nLa crème brûlée est prête.\n".encode("latin-1"))
    (result,) = indexer.index([video], ("coarse",))
    assert [r.status for r in result.speech] == ["done"]
    (node,) = indexer.memory.nodes(result.video_id, SPEECH_LEVEL)
    assert node.text == "La crème brûlée est prête."  # decoded (cp1252/latin-1), not refused


def test_ask_answers_with_an_empty_subtitle_file_beside_the_video(tmp_path, store_dir, capsys, caplog):
    video = tmp_path / "v.mp4"
    shutil.copy(clip(CAKE), video)
    (tmp_path / "v.srt").write_text("")
    with FakeOpenAIServer(default=Reply(content=REPLY)) as server, caplog.at_level(logging.WARNING):
        code, out, err = cli(capsys, "ask", str(video), "what?", "--profile", profile(tmp_path, server.base_url),
                             "--store", str(store_dir))
    assert code == 0, err  # was: "v.srt: not a readable subtitle file (No suitable formats)", exit 2
    assert "Answer:" in out and "not a readable" not in err
    assert len(warnings_about(caplog, "v.srt")) == 1


# --- 2. subtitle cues past the end; a broken cue ------------------------------------------------------------
def test_cues_past_the_video_are_dropped_or_cut_and_a_broken_cue_is_skipped_alone(tmp_path):
    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello.\n\n"
                   "2\n00:00:03,000 --> 00:00:0x,000\nA broken cue.\n\n"
                   "3\n00:00:05,000 --> 00:00:06,000\nWorld.\n"
                   "4\n00:00:09,000 --> 00:00:14,000\nRuns past the end.\n\n"
                   "5\n00:00:12,000 --> 00:00:13,000\nAfter the end.\n")
    segments = read_subtitles(SubtitleSource("file", str(srt)), duration=10.0)
    assert [(s.start, s.end, s.text) for s in segments] == [
        (1.0, 2.0, "Hello."), (5.0, 6.0, "World."), (9.0, 10.0, "Runs past the end.")]
    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT\n\nNOTE a note\n\ncue-1\n00:01.500 --> 00:03.000 align:start\n<v Bob>Fish &amp; chips</v>\n")
    (seg,) = read_subtitles(SubtitleSource("file", str(vtt)), duration=10.0)
    assert (seg.start, seg.end, seg.text) == (1.5, 3.0, "Fish & chips")


# --- 3, 6, 7. a folder with bad names and bad speech; escapes; exit 4 -----------------------------------------
@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lib")
    shutil.copy(clip(PIG), folder / "a.mp4")
    (folder / "a.srt").write_bytes(b"")  # an empty subtitle file
    shutil.copy(clip(PIG), os.fsdecode(os.fsencode(str(folder)) + b"/b\xff\xfename.mp4"))  # not UTF-8
    shutil.copy(clip(CAKE), folder / "c.mp4")
    (folder / "c.srt").write_bytes(f"1\n00:00:01,000 --> 00:00:04,000\nCafé {ESC}{LINK}\n".encode("latin-1"))
    (folder / f"d{ESC}.mp4").write_text("not a video")
    return folder


def test_index_dir_goes_on_past_bad_speech_a_non_utf8_name_and_escapes_what_it_prints(library, tmp_path, store_dir,
                                                                                     capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one table row per node, unwrapped
    code, out, err = cli(capsys, "index", str(library), "--quiet", "--profile", profile(tmp_path),
                         "--store", str(store_dir))
    assert code == 4, err  # some inputs were skipped (3 means "the model never answered")
    assert "2/4 videos indexed" in out, out
    assert "\x1b" not in out + err  # no escape sequence reaches the terminal...
    assert "d\\x1b[2J.mp4" in out  # ...it prints as text
    assert "b\\xff\\xfename.mp4: the file name is not valid UTF-8" in out, out  # named, escaped, skipped
    assert "a.mp4: coarse 1 new + 0 stored, subtitles skipped" in out, out
    assert "Traceback" not in err and "surrogates not allowed" not in out + err

    code, out, err = cli(capsys, "memory", str(library / "c.mp4"), "--level", "speech", "--full", "--profile",
                         profile(tmp_path), "--store", str(store_dir))
    assert code == 0, err
    assert "Café" in out and "\\x1b[2J" in out and "\\x1b]8;;http://evil.example/" in out
    assert "\x1b" not in out


def test_control_characters_never_reach_the_terminal(capsys, monkeypatch, caplog):
    from vidrecall.cli.common import console, install_safe_logging, print_answer, print_step
    from vidrecall.core.progress import ProgressEvent, TqdmBars
    from vidrecall.core.result import Answer, Evidence, Step

    nasty = f"a{ESC}b{LINK}\x07\x9b\x7f"
    out = console()
    print_step(out, Step(index=0, node="answer", message=nasty))
    print_answer(out, Answer(question="q", answer=nasty, reason=nasty, decided_by="llm",
                             evidence=[Evidence(start=0, end=1, level="coarse", text=nasty)]))
    out.print(nasty)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x9b" not in printed and "\x07" not in printed and "\x7f" not in printed
    assert printed.count("a\\x1b[2Jb") == 5, printed

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    bars = TqdmBars()
    bars(ProgressEvent(f"hashing x{ESC}.mp4", 0, 10))
    bars(ProgressEvent(f"hashing x{ESC}.mp4", 10, 10))
    assert "hashing x\\x1b[2J.mp4" in capsys.readouterr().err

    install_safe_logging()
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "%s: subtitles skipped", (f"v{ESC}.mp4",), None)
    for flt in logging.lastResort.filters:
        flt.filter(record)
    assert record.getMessage() == "v\\x1b[2J.mp4: subtitles skipped"


# --- 4, 5. Ray -------------------------------------------------------------------------------------------------
def test_an_unreachable_ray_address_is_one_line_in_seconds(library, tmp_path, store_dir, capsys):
    pytest.importorskip("ray")
    started = time.monotonic()
    code, out, err = cli(capsys, "index", str(library / "a.mp4"), "--engine", "ray", "--address", "127.0.0.1:1",
                         "--quiet", "--profile", profile(tmp_path), "--store", str(store_dir))
    assert time.monotonic() - started < 15  # was 823 s of C++ warnings, deaf to Ctrl-C
    assert code == 2
    (line,) = [ln for ln in err.splitlines() if ln.strip()]
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in line and "ray start --head" in line, err


@pytest.mark.slow  # a local Ray and a worker restart: 15-30 s on 2 shared cores
def test_ray_index_json_stays_json_when_a_worker_dies_and_reports_skipped_speech(library, tmp_path, store_dir,
                                                                                 capsys, monkeypatch):
    pytest.importorskip("ray")
    from vidrecall.indexing.ray_engine import CRASH_ENV

    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ENV, str(marker))  # the first task a worker starts kills the worker
    code, out, err = cli(capsys, "index", str(library / "a.mp4"), str(library / "c.mp4"), "--engine", "ray",
                         "--workers", "1", "--num-cpus", "1", "--json", "--profile", profile(tmp_path),
                         "--store", str(store_dir))
    assert marker.exists()  # a worker really died (and Ray retried its task)
    assert code == 0, err
    data = json.loads(out)  # stdout is the JSON alone: no "(raylet) A worker died ..." lines
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert all(f["error"] is None and f["levels"][0]["created"] == 1 for f in files.values())
    assert files["a.mp4"]["speech"][0]["status"] == "skipped: a.srt: the subtitle file is empty"
    assert files["c.mp4"]["speech"][0]["status"] == "done"


# --- 7. a closed pipe -------------------------------------------------------------------------------------------
class ClosedPipe:
    """stdout whose reader has gone away (`vidrecall ask --json | true`)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_ask_json_into_a_closed_pipe_exits_quietly(tmp_path, store_dir, capsys, monkeypatch):
    video = tmp_path / "v.mp4"
    shutil.copy(clip(CAKE), video)
    with FakeOpenAIServer(default=Reply(content=REPLY)) as server:
        flags = ["--profile", profile(tmp_path, server.base_url), "--store", str(store_dir)]
        monkeypatch.setattr(sys, "stdout", ClosedPipe())
        code = main(["ask", str(video), "what?", "--json", *flags])
        monkeypatch.undo()
    assert code == 141, capsys.readouterr().err  # was: "vidrecall: error: [Errno 32] Broken pipe", exit 2
    assert "Broken pipe" not in capsys.readouterr().err

    # the process as a whole: nothing at exit either ("Exception ignored ... BrokenPipeError", exit 120)
    proc = subprocess.Popen([sys.executable, "-m", "vidrecall.cli", "profiles"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == "", err
