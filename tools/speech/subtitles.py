"""Subtitles as speech: an explicit file, sidecar files next to the video (`talk.srt`, `talk.en.vtt`), or
text subtitle streams inside the container (mov_text, subrip, webvtt, ass).

SRT and WebVTT (and embedded streams, which ffmpeg hands over as SRT) are read cue by cue here, so one
malformed cue is skipped alone instead of swallowing the next cue's text; ASS/SSA/MicroDVD go to pysubs2.
A file's text may be UTF-8 (with or without BOM), UTF-16 with a BOM, or a legacy 8-bit encoding
(cp1252, else latin-1). Cues starting after the video's end are dropped and cues running past it are cut
there: on a library timeline they would otherwise land inside the next file."""
from __future__ import annotations

import codecs
import hashlib
import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vidrecall.tools.speech.types import Segment, SpeechError, SpeechSetupError

SIDECAR_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa", ".sub")
TEXT_SUBTITLE_CODECS = {"mov_text", "subrip", "srt", "webvtt", "ass", "ssa", "text"}
_TAGS = re.compile(r"\{[^}]*\}|<[^>]+>")
CUE_FORMATS = (".srt", ".vtt")  # read cue by cue here; the other formats by pysubs2
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.:](\d{1,3}))?"
_TIMING = re.compile(rf"^{_TIME}\s*-{{1,2}}>\s*{_TIME}(?:\s.*)?$")  # "00:01,000 --> 00:02,500 [settings]"
_ARROW = re.compile(r"-{1,2}>")  # a line meant as a timing line, well-formed or not


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
            raise SpeechSetupError(f"no subtitle file {str(path)!r}: fix --subtitles / speech.subtitles_file")
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


def read_subtitles(source: SubtitleSource, duration: float | None = None) -> list[Segment]:
    """Subtitle cues as segments (text without styling tags; empty and duplicate lines dropped), cut to
    `duration` when given. SpeechError (one line naming the file) when nothing in it can be read."""
    if source.kind == "file":
        try:
            data = Path(source.path).read_bytes()
        except OSError as exc:
            raise SpeechError(f"{source.label()}: cannot read the subtitle file ({exc.strerror or exc})") from None
        if not data.strip():
            raise SpeechError(f"{source.label()}: the subtitle file is empty")
        text = decode_text(data)
        suffix = Path(source.path).suffix.lower()
    else:
        text, suffix = _embedded_text(source), ".srt"
    if suffix in CUE_FORMATS and not text.lstrip().startswith("[Script Info]"):
        cues = parse_cues(text)
        if not cues and text.strip() and not _has_timing(text):
            raise SpeechError(f"{source.label()}: not a readable subtitle file (no cue timings in it)")
    else:
        cues = _pysubs2_cues(text, source)
    out: list[Segment] = []
    for start, end, raw in sorted(cues, key=lambda c: c[0]):
        said = " ".join(html.unescape(_TAGS.sub("", raw)).split())
        if not said:
            continue
        end = max(end, start)
        if duration is not None and duration > 0:
            if start >= duration:  # after the video's end: on a library timeline, inside the next file
                continue
            end = min(end, duration)
        if out and out[-1].text == said and abs(out[-1].end - start) < 0.05:  # a line split across events
            out[-1].end = round(end, 3)
            continue
        out.append(Segment(round(start, 3), round(end, 3), said))
    return out


def decode_text(data: bytes) -> str:
    """Subtitle bytes as text: a BOM's encoding, else UTF-8, else cp1252 (Windows' Western European, where
    most legacy subtitles come from), else latin-1 (which decodes any byte)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_cues(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every well-formed SRT / WebVTT cue. A cue is a timing line and the lines under
    it up to a blank line (or the next timing line); a cue whose timing line is broken is skipped up to the
    next blank line, alone. Cue numbers, the WEBVTT header, NOTE / STYLE / REGION blocks are not text."""
    cues: list[tuple[float, float, str]] = []
    current: list | None = None  # [start, end, lines]

    def close() -> None:
        if current is not None and current[2]:
            cues.append((current[0], current[1], "\n".join(current[2])))

    for line in text.splitlines():
        stripped = line.strip().lstrip("\ufeff")
        timing = _TIMING.match(stripped)
        if timing:
            if current is not None and current[2] and current[2][-1].isdigit():
                current[2].pop()  # the next cue's number, with no blank line before it
            close()
            g = timing.groups()
            current = [_seconds(*g[:4]), _seconds(*g[4:]), []]
        elif _ARROW.search(stripped) and re.match(r"^\d", stripped):  # a broken timing line: skip this cue
            close()
            current = None
        elif not stripped:
            close()
            current = None
        elif current is not None:
            current[2].append(stripped)
    close()
    return cues


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> float:
    frac = int(fraction) / 10 ** len(fraction) if fraction else 0.0
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + frac


def _has_timing(text: str) -> bool:
    return any(_ARROW.search(line) for line in text.splitlines())


def _pysubs2_cues(text: str, source: SubtitleSource) -> list[tuple[float, float, str]]:
    import pysubs2

    try:
        subs = pysubs2.SSAFile.from_string(text)
    except (pysubs2.exceptions.Pysubs2Error, UnicodeDecodeError, ValueError, KeyError, IndexError) as exc:
        raise SpeechError(f"{source.label()}: not a readable subtitle file ({_first(exc)})") from None
    return [(e.start / 1000, e.end / 1000, e.plaintext) for e in subs if not e.is_comment]


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
