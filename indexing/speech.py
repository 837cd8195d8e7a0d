"""Speech memory: transcript segments (ASR or subtitles) stored as nodes of the `speech` lane.

One node per segment: its span, text, speaker (when diarized) and words with timestamps, embedded in
FAISS like captions. A transcription run is keyed by everything that shapes it: the audio's content
(its compressed packets), the backend and model, language, VAD and window settings, the diarizer.
ASR walks the audio in windows of `speech.window_seconds`, committing each window's segments and how
far it got, so an interrupted run resumes at the last committed window. A window ends at the last
segment that finished well before its edge; the next window starts there, so no word is cut in two.

No audio track: nothing happens (not even a warning). Speech is a lane that fails alone: a corrupt
audio track, an unreadable or empty subtitle file, a subtitle stream ffmpeg cannot extract -- one warning
line naming the file and what is skipped, the source's report says `skipped: <why>`, and the caption index
carries on (what was transcribed before a decoding error stays). Only set-up errors that hit every file
alike (SpeechSetupError: no model, an unreachable server, a named subtitle file that is missing) stop the run.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from vidrecall.core.config import Config
from vidrecall.core.errors import first_line
from vidrecall.core.progress import ProgressEvent
from vidrecall.core.run_context import Cancelled, RunContext
from vidrecall.core.types import SPEECH_DEPTH, SPEECH_LEVEL, MemoryNode, Usage, stable_hash
from vidrecall.memory.embedder import Embedder
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.store import MemoryStoreError, VideoRecord
from vidrecall.tools.speech.audio import SAMPLE_RATE, AudioStream, audio_fingerprint, audio_info
from vidrecall.tools.speech.diarization import Diarizer, label_segments
from vidrecall.tools.speech.transcriber import Transcriber
from vidrecall.tools.speech.types import AudioDecodeError, Segment, SpeechError, SpeechSetupError

log = logging.getLogger(__name__)

EDGE_GUARD_S = 4.0  # a segment ending this close to a window's edge may be cut; the next window redoes it
DONE = "done"
# errors that are not the speech lane's own: the run's (cancelled), the store's, set-up errors of every file
NOT_SPEECH_ERRORS: tuple[type[BaseException], ...] = (SpeechSetupError, Cancelled, MemoryStoreError, sqlite3.Error)


@dataclass
class SpeechReport:
    video_id: str
    source: str  # "asr" | "subtitles" | ""
    status: str  # "done" | "reused" | "no audio" | "no subtitles" | "skipped: <why>"
    segments: int = 0  # speech nodes of this run in the memory now
    created: int = 0
    audio_seconds: float = 0.0  # transcribed by this call
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class SpeechModels:
    """The transcriber and diarizer `config.speech` names, built and preflighted once, on first use
    (SpeechError, one line, when unusable)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._models: tuple[Transcriber, Diarizer | None] | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[Transcriber, Diarizer | None]:
        with self._lock:
            if self._models is None:
                from vidrecall.tools.speech.factory import make_speaker_labeller, make_transcriber

                try:
                    transcriber = make_transcriber(self.config.speech)
                    transcriber.preflight()
                    self._models = (transcriber, make_speaker_labeller(self.config.speech))
                except SpeechSetupError:
                    raise
                except SpeechError as exc:  # the same for every file: stop the run, do not skip file by file
                    raise SpeechSetupError(str(exc)) from None
            return self._models


def build_speech(memory: VideoMemory, models: SpeechModels, video: VideoRecord,
                 run: RunContext) -> list[SpeechReport]:
    """Index the speech sources `memory.config.speech` asks for; one report per source tried. A source that
    fails for this file is skipped with one warning (its report says why); SpeechSetupError, the store's
    errors and a cancelled run are raised."""
    speech = memory.config.speech
    reports: list[SpeechReport] = []
    if speech.uses_subtitles:
        reports.append(_guarded("subtitles", video, lambda: _subtitle_lane(memory, video)))
    if speech.uses_asr:
        reports.append(_guarded("asr", video, lambda: _asr_lane(memory, models, video, run)))
    return reports


def _guarded(source: str, video: VideoRecord, lane) -> SpeechReport:
    try:
        return lane()
    except NOT_SPEECH_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - speech is a lane that fails alone: the captions go on
        return skipped(video, source, exc)


def skipped(video: VideoRecord, source: str, exc: BaseException, **counts) -> SpeechReport:
    """The report of a speech source left out for this file, after its one warning line."""
    why = first_line(exc, 240)
    said = why.removeprefix(f"{video.path}: ")  # the warning names the file first already
    what = "subtitles" if source == "subtitles" else "speech (audio)"
    log.warning("%s: %s left out of the memory, captions kept: %s", Path(video.path).name, what, said)
    return SpeechReport(video.id, source, f"skipped: {why}", **counts)


# --- subtitles --------------------------------------------------------------------------------------
def _subtitle_lane(memory: VideoMemory, video: VideoRecord) -> SpeechReport:
    from vidrecall.tools.speech.subtitles import find_subtitles, read_subtitles

    started = time.monotonic()
    speech = memory.config.speech
    source = find_subtitles(video.path, speech.subtitles_file or None, speech.language)
    if source is None:
        return SpeechReport(video.id, "subtitles", "no subtitles")
    run_key = stable_hash(["subtitles", source.fingerprint()], 16)
    producer = f"subtitles:{source.kind}"
    progress_key = f"speech:{video.id}:{run_key}"
    if memory.mark(progress_key) == DONE:
        return SpeechReport(video.id, "subtitles", "reused", _count(memory, video.id, producer, run_key))
    segments = read_subtitles(source, video.duration)
    created = _keep(memory, video, segments, producer, run_key)
    memory.set_mark(progress_key, DONE)
    return SpeechReport(video.id, "subtitles", DONE, _count(memory, video.id, producer, run_key), created,
                        seconds=round(time.monotonic() - started, 3))


# --- ASR ----------------------------------------------------------------------------------------------
def _asr_lane(memory: VideoMemory, models: SpeechModels, video: VideoRecord, run: RunContext) -> SpeechReport:
    started = time.monotonic()
    info = audio_info(video.path)
    if info is None:
        log.debug("%s has no audio track; no speech to index", video.path)
        return SpeechReport(video.id, "asr", "no audio")
    transcriber, diarizer = models.get()
    try:
        fingerprint = audio_fingerprint(video.path)
    except AudioDecodeError as exc:
        return skipped(video, "asr", exc)
    speech = memory.config.speech
    run_key = stable_hash([fingerprint, transcriber.id, transcriber.settings.key(),
                       diarizer.id if diarizer is not None else None, speech.window_seconds], 16)
    progress_key = f"speech:{video.id}:{run_key}"
    done_to = memory.mark(progress_key)
    if done_to == DONE:
        return SpeechReport(video.id, "asr", "reused", _count(memory, video.id, transcriber.id, run_key))
    t = float(done_to or 0.0)
    total = max(info.duration, video.duration)
    _load_in_background(memory.embedder)
    created = 0
    audio_done = 0.0
    try:
        run.report(ProgressEvent("speech", round(t), round(total), "s"))
        with AudioStream(video.path, start=t) as stream:
            while True:
                called = time.perf_counter()  # the window's decode counts as speech cost, beside Whisper
                w0, samples = stream.window(t, t + speech.window_seconds)
                if samples.size == 0:
                    break
                w1 = w0 + samples.size / SAMPLE_RATE
                last = stream.ended and w1 < t + speech.window_seconds - 1e-3
                segments = [s.shifted(w0) for s in transcriber.transcribe(samples)]
                if diarizer is not None:
                    label_segments(segments, [type(x)(x.start + w0, x.end + w0, x.speaker)
                                              for x in diarizer.turns(samples)])
                latency = time.perf_counter() - called
                if last:
                    kept, t_next = segments, w1
                else:
                    kept = [s for s in segments if s.end <= w1 - EDGE_GUARD_S]
                    t_next = max(kept[-1].end if kept else w1 - EDGE_GUARD_S, t + 1.0)
                created += _keep(memory, video, kept, transcriber.id, run_key)
                run.meter.record(Usage(model=transcriber.id, kind="asr", latency_s=latency,
                                       audio_seconds=t_next - t, role="speech"))
                audio_done += t_next - t
                memory.set_mark(progress_key, DONE if last else f"{t_next:.3f}")
                run.report(ProgressEvent("speech", round(total) if last else round(t_next), round(total), "s"))
                if last:
                    break
                t = t_next
    except AudioDecodeError as exc:  # what was transcribed before the damage stays (and resumes from there)
        return skipped(video, "asr", exc, segments=_count(memory, video.id, transcriber.id, run_key),
                       created=created, audio_seconds=round(audio_done, 3),
                       seconds=round(time.monotonic() - started, 3))
    if memory.mark(progress_key) != DONE:  # audio ended exactly on a window edge
        memory.set_mark(progress_key, DONE)
    return SpeechReport(video.id, "asr", DONE, _count(memory, video.id, transcriber.id, run_key), created,
                        round(audio_done, 3), round(time.monotonic() - started, 3))


def _load_in_background(embedder: Embedder) -> None:
    """Load the embedder on a second thread while Whisper decodes the first window: the two loads and the
    first window otherwise run one after another while a core idles."""
    def load() -> None:
        try:
            embedder.model
        except Exception:  # noqa: BLE001 - the first embed() loads again and reports it in the usual way
            pass

    if not embedder.loaded:
        threading.Thread(target=load, name="embedder-load", daemon=True).start()


# --- nodes --------------------------------------------------------------------------------------------
def _keep(memory: VideoMemory, video: VideoRecord, segments: list[Segment], producer: str, run_key: str) -> int:
    nodes = [MemoryNode(video_id=video.id, level=SPEECH_LEVEL, depth=SPEECH_DEPTH, start=float(s.start),
                        end=float(max(s.end, s.start + 0.01)), text=s.text.strip(), captioner=producer,
                        prompt_hash=run_key, speaker=s.speaker, words=s.words_json())
             for s in segments if s.text.strip()]
    new = sum(1 for n in nodes if memory.find(n.key) is None)  # a resumed window re-adds some it kept before
    memory.add(nodes)
    memory.flush()
    return new


def _count(memory: VideoMemory, video_id: str, producer: str, run_key: str) -> int:
    return sum(1 for n in memory.nodes(video_id, SPEECH_LEVEL)
               if n.captioner == producer and n.prompt_hash == run_key)


__all__ = ["SpeechModels", "SpeechReport", "build_speech", "skipped", "SpeechError", "SpeechSetupError"]
