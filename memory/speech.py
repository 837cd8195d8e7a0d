"""Speech memory: transcript segments (ASR or subtitles) stored as nodes of the `speech` lane.

One node per segment: its span, text, speaker (when diarized) and words with timestamps, embedded in
FAISS like captions. A transcription run is keyed by everything that shapes it: the audio's content
(its compressed packets), the backend and model, language, VAD and window settings, the diarizer.
ASR walks the audio in windows of `speech.window_seconds`, committing each window's segments and how
far it got, so an interrupted run resumes at the last committed window. A window ends at the last
segment that finished well before its edge; the next window starts there, so no word is cut in two.

No audio track: nothing happens (not even a warning). A corrupt audio track: one warning, the speech
lane is skipped and the caption index carries on.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from tqdm.auto import tqdm

from vidrecall.core.accounting import CostMeter
from vidrecall.core.types import SPEECH_DEPTH, SPEECH_LEVEL, MemoryNode, Usage, stable_hash
from vidrecall.memory.store import VideoRecord
from vidrecall.tools.speech.audio import SAMPLE_RATE, AudioStream, audio_fingerprint, audio_info
from vidrecall.tools.speech.diarization import label_segments
from vidrecall.tools.speech.types import AudioDecodeError, Segment, SpeechError

log = logging.getLogger(__name__)

EDGE_GUARD_S = 4.0  # a segment ending this close to a window's edge may be cut; the next window redoes it
DONE = "done"


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


def build_speech(memory, video: VideoRecord, *, progress: bool = True,
                 meter: CostMeter | None = None) -> list[SpeechReport]:
    """Index the speech sources `memory.config.speech` asks for; one report per source tried."""
    speech = memory.config.speech
    reports: list[SpeechReport] = []
    if speech.uses_subtitles:
        reports.append(_subtitle_lane(memory, video))
    if speech.uses_asr:
        reports.append(_asr_lane(memory, video, progress, meter))
    return reports


def speech_nodes(memory, video_id: str, window=None) -> list[MemoryNode]:
    return memory.store.nodes(video_id, SPEECH_LEVEL, window)


# --- subtitles --------------------------------------------------------------------------------------
def _subtitle_lane(memory, video: VideoRecord) -> SpeechReport:
    from vidrecall.tools.speech.subtitles import find_subtitles, read_subtitles

    started = time.monotonic()
    speech = memory.config.speech
    source = find_subtitles(video.path, speech.subtitles_file or None, speech.language)
    if source is None:
        return SpeechReport(video.id, "subtitles", "no subtitles")
    run = stable_hash(["subtitles", source.fingerprint()], 16)
    producer = f"subtitles:{source.kind}"
    progress_key = f"speech:{video.id}:{run}"
    if memory.store.meta(progress_key) == DONE:
        return SpeechReport(video.id, "subtitles", "reused", _count(memory, video.id, producer, run))
    segments = read_subtitles(source)
    created = _keep(memory, video, segments, producer, run)
    memory.store.set_meta(progress_key, DONE)
    return SpeechReport(video.id, "subtitles", DONE, _count(memory, video.id, producer, run), created,
                        seconds=round(time.monotonic() - started, 3))


# --- ASR ----------------------------------------------------------------------------------------------
def _asr_lane(memory, video: VideoRecord, progress: bool, meter: CostMeter | None) -> SpeechReport:
    started = time.monotonic()
    info = audio_info(video.path)
    if info is None:
        log.debug("%s has no audio track; no speech to index", video.path)
        return SpeechReport(video.id, "asr", "no audio")
    transcriber, diarizer = memory_speech_models(memory)
    try:
        fingerprint = audio_fingerprint(video.path)
    except AudioDecodeError as exc:
        log.warning("%s; speech is left out of the memory", exc)
        return SpeechReport(video.id, "asr", f"skipped: {exc}")
    speech = memory.config.speech
    run = stable_hash([fingerprint, transcriber.id, transcriber.settings.key(),
                       getattr(diarizer, "id", None), speech.window_seconds], 16)
    progress_key = f"speech:{video.id}:{run}"
    done_to = memory.store.meta(progress_key)
    if done_to == DONE:
        return SpeechReport(video.id, "asr", "reused", _count(memory, video.id, transcriber.id, run))
    t = float(done_to or 0.0)
    total = max(info.duration, video.duration)
    _load_in_background(memory.embedder)
    created = 0
    audio_done = 0.0
    try:
        with AudioStream(video.path, start=t) as stream, tqdm(
                total=round(total), initial=round(t), unit="s", desc="speech", disable=not progress) as bar:
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
                created += _keep(memory, video, kept, transcriber.id, run)
                if meter:
                    meter.record(Usage(model=transcriber.id, kind="asr", latency_s=latency,
                                       audio_seconds=t_next - t, role="speech"))
                audio_done += t_next - t
                memory.store.set_meta(progress_key, DONE if last else f"{t_next:.3f}")
                bar.update(round(t_next) - bar.n)
                if last:
                    break
                t = t_next
    except AudioDecodeError as exc:
        log.warning("%s; speech after %.0f s is left out of the memory", exc, t)
        return SpeechReport(video.id, "asr", f"skipped: {exc}", _count(memory, video.id, transcriber.id, run),
                            created, round(audio_done, 3), round(time.monotonic() - started, 3))
    if memory.store.meta(progress_key) != DONE:  # audio ended exactly on a window edge
        memory.store.set_meta(progress_key, DONE)
    return SpeechReport(video.id, "asr", DONE, _count(memory, video.id, transcriber.id, run), created,
                        round(audio_done, 3), round(time.monotonic() - started, 3))


def _load_in_background(embedder) -> None:
    """Load the embedder on a second thread while Whisper decodes the first window: the two loads and the
    first window otherwise run one after another while a core idles."""
    def load() -> None:
        try:
            embedder.model
        except Exception:  # noqa: BLE001 - the first embed() loads again and reports it in the usual way
            pass

    if not getattr(embedder, "loaded", True):
        threading.Thread(target=load, name="embedder-load", daemon=True).start()


def memory_speech_models(memory):
    """(transcriber, diarizer) built once per VideoMemory and preflighted (SpeechError, one line)."""
    models = getattr(memory, "_speech_models", None)
    if models is None:
        from vidrecall.tools.speech.factory import make_speaker_labeller, make_transcriber

        transcriber = make_transcriber(memory.config.speech)
        transcriber.preflight()
        models = (transcriber, make_speaker_labeller(memory.config.speech))
        memory._speech_models = models
    return models


# --- nodes --------------------------------------------------------------------------------------------
def _keep(memory, video: VideoRecord, segments: list[Segment], producer: str, run: str) -> int:
    nodes = [MemoryNode(video_id=video.id, level=SPEECH_LEVEL, depth=SPEECH_DEPTH, start=float(s.start),
                        end=float(max(s.end, s.start + 0.01)), text=s.text.strip(), captioner=producer,
                        prompt_hash=run, speaker=s.speaker, words=s.words_json())
             for s in segments if s.text.strip()]
    before = memory.store.last_node_id()
    stored = memory.add_nodes(nodes)
    return sum(1 for n in stored if n.id > before)


def _count(memory, video_id: str, producer: str, run: str) -> int:
    return sum(1 for n in memory.store.nodes(video_id, SPEECH_LEVEL)
               if n.captioner == producer and n.prompt_hash == run)


__all__ = ["SpeechReport", "build_speech", "speech_nodes", "SpeechError"]
