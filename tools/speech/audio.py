"""A video's audio track, decoded once to 16 kHz mono float32 and read as a rolling window.

PyAV decodes and resamples packet by packet; only the current window (minutes, not the whole video) is
held in memory, so an hour-long video costs the same RAM as a ten-minute one.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from vidrecall.tools.speech.types import AudioDecodeError, SpeechError

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    duration: float
    channels: int
    sample_rate: int


def _open(path: str | os.PathLike):
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise SpeechError(f"{path}: cannot open the file for its audio ({exc})") from None


def audio_info(path: str | os.PathLike) -> AudioInfo | None:
    """The first audio stream's facts, or None when the file has no audio track."""
    with _open(path) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            return None
        ctx = stream.codec_context
        duration = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / 1e6 if container.duration else 0.0)
        return AudioInfo(ctx.name if ctx else "unknown", duration, ctx.channels if ctx else 0,
                         ctx.sample_rate if ctx else 0)


def audio_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the audio stream's compressed packets (demuxed, not decoded): the same sound in another
    container or beside other pictures has the same fingerprint. AudioDecodeError when unreadable."""
    import av

    digest = hashlib.sha256()
    with _open(path) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise SpeechError(f"{path}: has no audio track")
        try:
            for packet in container.demux(stream):
                if packet.size:
                    digest.update(bytes(packet))
        except av.error.FFmpegError as exc:
            raise AudioDecodeError(f"{path}: the audio track cannot be read ({_why(exc)})") from None
    return digest.hexdigest()[:32]


def _why(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


class AudioStream:
    """16 kHz mono samples of one file from `start` on: `window(t0, t1)` returns samples of [t0, t1),
    decoding forward as needed and forgetting everything before t0. Times must not go backwards."""

    def __init__(self, path: str | os.PathLike, start: float = 0.0):
        import av

        self.path = str(path)
        self._container = _open(path)
        stream = next((s for s in self._container.streams if s.type == "audio"), None)
        if stream is None:
            self._container.close()
            raise SpeechError(f"{path}: has no audio track")
        self._stream = stream
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        if start > 0:
            try:
                self._container.seek(int(start * 1_000_000), any_frame=False)  # av.time_base units
            except (av.error.FFmpegError, ValueError) as exc:
                self._container.close()
                raise AudioDecodeError(f"{path}: the audio track cannot be read from {start:.0f} s "
                                       f"({_why(exc)})") from None
        self._frames = self._container.decode(stream)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._pending: list[np.ndarray] = []  # decoded since the last window(); joined once, not per frame
        self._pending_size = 0
        self._buffer_start: float | None = None  # time of the buffer's first sample, set by the first decoded frame
        self._first_start = start
        self.ended = False
        self.decoded_seconds = 0.0

    def _pull(self) -> bool:
        """Decode one more frame into the buffer; False at the end of the stream."""
        import av

        try:
            frame = next(self._frames)
        except StopIteration:
            pcm = self._flush()
            self.ended = True
            if pcm.size:
                self._append(pcm, None)
            return False
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(f"{self.path}: the audio track cannot be decoded ({_why(exc)})") from None
        time = float(frame.pts * frame.time_base) if frame.pts is not None else None
        try:
            # a damaged track can change its sample rate or channels mid-stream: PyAV's resampler then
            # refuses the frame with ValueError("Frame does not match AudioResampler setup.")
            pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)] or
                                 [np.zeros(0, np.float32)])
        except (av.error.FFmpegError, ValueError) as exc:
            at = f" at {time:.1f} s" if time is not None else ""
            raise AudioDecodeError(f"{self.path}: the audio track cannot be decoded{at} ({_why(exc)})") from None
        self._append(pcm.astype(np.float32, copy=False), time)
        return True

    def _flush(self) -> np.ndarray:
        import av

        try:
            parts = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(f"{self.path}: the audio track cannot be decoded ({_why(exc)})") from None
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)

    def _append(self, pcm: np.ndarray, time: float | None) -> None:
        if self._buffer_start is None:
            self._buffer_start = time if time is not None else self._first_start
            skip = int(round((self._first_start - self._buffer_start) * SAMPLE_RATE))
            if skip > 0:  # the seek landed before the asked start
                pcm = pcm[skip:]
                self._buffer_start += skip / SAMPLE_RATE
        self._pending.append(pcm)
        self._pending_size += pcm.size
        self.decoded_seconds += pcm.size / SAMPLE_RATE

    @property
    def _buffer_end(self) -> float:
        return (self._buffer_start or 0.0) + (self._buffer.size + self._pending_size) / SAMPLE_RATE

    def _join_pending(self) -> None:
        if self._pending:
            self._buffer = np.concatenate([self._buffer, *self._pending])
            self._pending, self._pending_size = [], 0

    def window(self, t0: float, t1: float) -> tuple[float, np.ndarray]:
        """(actual start time, samples) for [t0, t1); shorter at the end of the audio."""
        while not self.ended and (self._buffer_start is None or self._buffer_end < t1):
            self._pull()
        self._join_pending()
        if self._buffer_start is None:
            return t0, np.zeros(0, np.float32)
        drop = max(0, int((t0 - self._buffer_start) * SAMPLE_RATE))
        if drop:
            self._buffer = self._buffer[drop:].copy()
            self._buffer_start += drop / SAMPLE_RATE
        n = max(0, int(round((t1 - self._buffer_start) * SAMPLE_RATE)))
        return self._buffer_start, self._buffer[:n]

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "AudioStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wav_bytes(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV of float samples in [-1, 1] (what transcription APIs accept)."""
    import io
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()
