"""Subtitles as speech: an explicit file, sidecar files next to the video (`talk.srt`, `talk.en.vtt`), or
text subtitle streams inside the container (mov_text, subrip, webvtt, ass), parsed with pysubs2."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vidrecall.tools.speech.types import Segment, SpeechError

SIDECAR_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa", ".sub")
TEXT_SUBTITLE_CODECS = {"mov_text", "subrip", "srt", "webvtt", "ass", "ssa", "text"}
_TAGS = re.compile(r"\{[^}]*\}|<[^>]+>")


@dataclass(frozen=True)
class SubtitleSource:
    """Where a transcript came from: a file path, or a stream index inside the video."""

    kind: str  # "file" | "embedded"
    path: str
    stream: int | None = None
    codec: str = ""

    def fingerprint(self) -> str:
        if self.kind == "file":
            return hashlib.sha256(Path(self.path).read_bytes()).hexdigest()[:32]
        return f"embedded:{self.stream}:{self.codec}"

    def label(self) -> str:
        return Path(self.path).name if self.kind == "file" else f"{Path(self.path).name} stream {self.stream} ({self.codec})"


def sidecar_files(video: str | os.PathLike, language: str | None = None) -> list[Path]:
    """Subtitle files beside the video sharing its stem (`talk.srt`, `talk.en.vtt`); the language asked
    for first, then those without a language tag, then the rest."""
    video = Path(video)
    found = [p for p in video.parent.glob(f"{glob_escape(video.stem)}*")
             if p.suffix.lower() in SIDECAR_SUFFIXES and p.is_file()
             and (p.stem == video.stem or p.stem.startswith(video.stem + "."))]

    def rank(p: Path) -> tuple[int, str]:
        tag = p.stem[len(video.stem) + 1:].lower()
        if language and tag.split(".")[0] in (language.lower(), _three_letter(language)):
            return 0, p.name
        return (1 if not tag else 2), p.name
    return sorted(found, key=rank)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _three_letter(code: str) -> str:
    return {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "ja": "jpn", "zh": "zho"}.get(
        code.lower(), code.lower())


def embedded_streams(video: str | os.PathLike) -> list[SubtitleSource]:
    """Text subtitle streams in the container (bitmap ones, like PGS, cannot be read as text)."""
    import av

    try:
        with av.open(str(video)) as container:
            return [SubtitleSource("embedded", str(video), s.index, s.codec_context.name)
                    for s in container.streams if s.type == "subtitle"
                    and s.codec_context is not None and s.codec_context.name in TEXT_SUBTITLE_CODECS]
    except (av.error.FFmpegError, OSError):
        return []


def find_subtitles(video: str | os.PathLike, explicit: str | None = None,
                   language: str | None = None) -> SubtitleSource | None:
    """The explicit file when given (SpeechError if missing), else the best sidecar, else the first
    embedded text stream; None when the video has no subtitles."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SpeechError(f"no subtitle file {str(path)!r}: fix --subtitles / speech.subtitles_file")
        return SubtitleSource("file", str(path))
    sidecars = sidecar_files(video, language)
    if sidecars:
        return SubtitleSource("file", str(sidecars[0]))
    streams = embedded_streams(video)
    return streams[0] if streams else None


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _embedded_text(source: SubtitleSource) -> str:
    """The stream converted to SRT by ffmpeg (one pass over the container, no decoding of pictures)."""
    cmd = [_ffmpeg(), "-v", "error", "-nostdin", "-i", source.path, "-map", f"0:{source.stream}", "-f", "srt", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=600)
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["unknown error"])[0]
        raise SpeechError(f"{source.label()}: cannot extract the subtitles ({first[:160]})")
    return done.stdout.decode("utf-8", errors="replace")


def read_subtitles(source: SubtitleSource) -> list[Segment]:
    """Subtitle events as segments (text without styling tags; empty and duplicate lines dropped)."""
    import pysubs2

    try:
        if source.kind == "file":
            subs = pysubs2.load(source.path, encoding="utf-8")
        else:
            subs = pysubs2.SSAFile.from_string(_embedded_text(source), format_="srt")
    except (pysubs2.exceptions.Pysubs2Error, UnicodeDecodeError, ValueError, OSError) as exc:
        raise SpeechError(f"{source.label()}: not a readable subtitle file ({_first(exc)})") from None
    out: list[Segment] = []
    for event in subs:
        if event.is_comment:
            continue
        text = " ".join(_TAGS.sub("", event.plaintext).split())
        if not text:
            continue
        start, end = event.start / 1000, max(event.end, event.start) / 1000
        if out and out[-1].text == text and abs(out[-1].end - start) < 0.05:  # a line split across events
            out[-1].end = end
            continue
        out.append(Segment(round(start, 3), round(end, 3), text))
    out.sort(key=lambda s: s.start)
    return out


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
