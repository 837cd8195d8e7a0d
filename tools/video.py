"""Video access: metadata and frames for any span, at a sampling density, under a pixel cap.

How it works:
- Opening a file scans its video packets with PyAV (demux only, no decoding; ~0.05 s for 15 minutes of
  video). The sorted packet timestamps are the file's real frame timeline, so timestamps, variable frame
  rate, truncation and the frame count come from what is in the file, not from header claims (one shared
  AVI's header says 444 frames where 68 exist).
- Which frames a span needs is decided once on that timeline (`select_frames`), then one backend decodes
  just those: PyAV (a forward cursor that seeks to a keyframe only to skip ahead, and converts only the
  wanted frames to RGB) or decord (`get_batch` on the span's indices, a few at a time). Nothing holds more
  than a few full-size frames at once, so memory does not grow with the video's length.
- "auto" means PyAV: on the shared media it returns the same frames as decord (identical pixels and
  timestamps on every clip) 1.2-3.5x faster at 1 fps (benchmarks/bench_sampling.py), with a third of
  decord's memory, and it skips undecodable packets one by one. decord is used when asked for, unless
  its frame count disagrees with the timeline or the file looks truncated (decord then returns silently
  shifted frames); a decord error mid-file switches that reader to PyAV for good (a decord reader is
  dead after one).
- Frames come back upright (the display-matrix rotation applied) and RGB uint8 (H, W, 3), converted with
  the colour matrix the stream's parameter sets give each frame, so that a frame's pixels do not depend on
  where decoding started (video_colour.py).
"""
from __future__ import annotations

import bisect
import itertools
import logging
import os
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Protocol

import av
from av.video.reformatter import VideoReformatter
import numpy as np
from PIL import Image

from vidrecall.core.types import TIME_EPS, FrameBatch, Span
from vidrecall.tools.video_colour import ColourTrack, swscale_matrix
from vidrecall.core.errors import first_line

log = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")
# Frames decoded by decord per get_batch call: bounds memory to a few full-size frames per call.
DECORD_CHUNK = 8
# Going forward past a keyframe, PyAV reads on to it without decoding the frames before it (they would be
# thrown away: at 1 fps of a 15 fps stream with a keyframe every 2 s, 14 of every 30); past this many
# frames it seeks instead of reading through the file.
SEEK_MIN_SKIP_FRAMES = 300
# Below this many pixels a frame decodes faster than FFmpeg's frame threads hand it over: on 426x240 H.264
# frame threading doubles the CPU spent and is slower too, on 640x360 it costs 1.45x the CPU for the same
# wall time, while on 854x480 and 1280x720 it cuts the wall time by a quarter to a third at the same CPU
# (measured on the shared clips and a built 640x360 haystack). Smaller videos decode on one thread (slices).
FRAME_THREADS_MIN_PIXELS = 854 * 480
# A gap this far off the median gap counts as irregular; this share of irregular gaps makes a file VFR.
VFR_GAP_TOLERANCE = 0.25
VFR_IRREGULAR_SHARE = 0.05
# The header claims more than this much beyond the last frame: the file was cut short.
TRUNCATION_SLACK_S = 1.0


class VideoError(ValueError):
    """A video file that cannot be used as asked; the message is one line naming the file."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float
    fps: float  # mean frame rate over the file's frames (its real rate, also for VFR)
    frame_count: int
    width: int  # as displayed, i.e. after rotation
    height: int
    rotation: int  # display-matrix rotation in degrees counter-clockwise (0, 90, 180, 270)
    backend: str
    variable_frame_rate: bool
    codec: str = ""
    truncated: bool = False  # the header promises more than the file holds


# --- sampling plans -------------------------------------------------------------------------------
def sample_times(span: Span, fps: float | None = None, num_frames: int | None = None) -> list[float]:
    """Instants to sample in `span`: at `fps`, start + (i + 0.5) / fps while inside the span; with
    `num_frames`, the centres of `num_frames` equal parts. Both: at `fps`, but at most `num_frames`
    (evenly spread). A span shorter than one sampling period gets its midpoint."""
    if fps is None and num_frames is None:
        raise ValueError("sample_times needs fps or num_frames")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"sampling fps must be a positive number, got {fps!r}")
    if num_frames is not None and num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames!r}")
    if fps is not None:
        count = max(1, math.floor(span.duration * fps + TIME_EPS))
        if num_frames is None or count <= num_frames:
            if count == 1 and span.duration * fps < 1:
                return [span.mid]
            return [span.start + (i + 0.5) / fps for i in range(count)]
    assert num_frames is not None  # fps alone returned above
    step = span.duration / num_frames
    return [span.start + (i + 0.5) * step for i in range(num_frames)]


def select_frames(times: np.ndarray, targets: list[float], span: Span) -> list[int]:
    """Indices (sorted, unique) of the frames on screen at each target instant.

    The frame on screen at t is the last one starting at or before t. When that frame started before the
    span and another starts inside it, the one inside is taken, so timestamps stay within the span.
    """
    on_screen = np.searchsorted(times, np.asarray(targets) + TIME_EPS, side="right") - 1
    chosen = set()
    for i in np.clip(on_screen, 0, len(times) - 1).tolist():
        if times[i] < span.start - TIME_EPS and i + 1 < len(times) and times[i + 1] < span.end - TIME_EPS:
            i += 1
        chosen.add(i)
    return sorted(chosen)


def resize_to_max_pixels(frame: np.ndarray, max_pixels: int | None) -> np.ndarray:
    """The frame shrunk (never enlarged) so width * height <= max_pixels, keeping its aspect ratio."""
    if not max_pixels:
        return frame
    height, width = frame.shape[:2]
    if width * height <= max_pixels:
        return frame
    scale = math.sqrt(max_pixels / (width * height))
    new_w, new_h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while new_w * new_h > max_pixels:  # floor rounding can still leave one row too many
        new_w, new_h = (new_w - 1, new_h) if new_w >= new_h else (new_w, new_h - 1)
    return np.asarray(Image.fromarray(frame).resize((new_w, new_h), Image.Resampling.BILINEAR))


def upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as it should be displayed (rotation = degrees counter-clockwise, as ffmpeg shows it)."""
    return np.ascontiguousarray(np.rot90(frame, rotation // 90)) if rotation else frame


# --- the file's timeline ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Timeline:
    """What one packet scan says about a file's main video stream."""

    info: VideoInfo
    pts: np.ndarray  # int64 presentation timestamps in stream time_base, sorted
    times: np.ndarray  # float64 seconds from the stream start, one per frame
    keyframe_pts: np.ndarray  # sorted
    stream_index: int
    # Where the stream's parameter sets change the colour matrix or range: (keyframe pts, matrix, range), empty
    # when they never do; `colour_initial` holds before the first change (see video_colour.py).
    colour_changes: tuple[tuple[int, int, int], ...] = ()
    colour_initial: tuple[int, int] = (2, 0)

    def colour_at(self, pts: int) -> tuple[int, int] | None:
        """(matrix, range) of the frame at pts as decoding from the start labels it; None where the labels
        never change (the frame's own label is then the same whichever way it was reached)."""
        if not self.colour_changes:
            return None
        at = bisect.bisect_right(self.colour_changes, pts, key=lambda change: change[0])
        return self.colour_changes[at - 1][1:] if at else self.colour_initial


def _open_container(path: str) -> av.container.InputContainer:
    try:
        return av.open(path)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path}: not a readable video file ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    return first_line(exc).split("] ")[-1][:160]


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path}: has no video stream (audio or data only?)")
    best = container.streams.best("video")
    return best if isinstance(best, av.video.stream.VideoStream) else container.streams.video[0]


def _pts(frame: av.VideoFrame) -> int:
    """A decoded frame's pts: PyAVDecoder gives out only frames that have one (see _decoded)."""
    assert frame.pts is not None
    return frame.pts


def _rotation_of(packet: av.Packet) -> int | None:
    """The display rotation of the packet's first decoded frame; None when it yields no frame."""
    try:
        frames = packet.decode()
    except av.error.FFmpegError:
        return None
    return int(round((frames[0].rotation or 0) / 90.0)) * 90 % 360 if frames else None


def _is_vfr(times: np.ndarray) -> bool:
    gaps = np.diff(times)
    if len(gaps) < 2:
        return False
    median = float(np.median(gaps))
    if median <= 0:
        return True
    irregular = np.abs(gaps - median) > VFR_GAP_TOLERANCE * median
    return float(irregular.mean()) > VFR_IRREGULAR_SHARE


def packet_stamp(packet: av.Packet) -> int | None:
    """A packet's place on the timeline: its pts, or its dts where the container gives no pts."""
    return packet.pts if packet.pts is not None else packet.dts


def scan(path: str | Path, backend: str = "pyav") -> Timeline:
    """Read the headers and demux every video packet (no decoding). VideoError for unusable files."""
    path = str(path)
    if Path(path).is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such video file")
    if Path(path).stat().st_size == 0:
        raise VideoError(f"{path}: file is empty (0 bytes)")
    container = _open_container(path)
    try:
        stream = _video_stream(container, path)
        time_base = stream.time_base or Fraction(1, 1000)
        pts, keys, rotation = [], [], None
        context = stream.codec_context
        colour = (ColourTrack(context.extradata, int(context.colorspace), int(context.color_range))
                  if context.name == "h264" else None)
        try:
            for packet in container.demux(stream):
                if rotation is None:  # decoding the first frame proves the stream decodes at all
                    rotation = _rotation_of(packet)
                stamp = packet_stamp(packet)
                if packet.size and stamp is not None:
                    pts.append(stamp)
                    if packet.is_keyframe:
                        keys.append(stamp)
                        if colour is not None:
                            colour.feed(stamp, bytes(packet))
        except av.error.FFmpegError as exc:  # a damaged tail: keep the packets read so far
            log.warning("%s: stopped reading packets early (%s)", path, _reason(exc))
        if not pts:
            raise VideoError(f"{path}: video stream has zero frames")
        if rotation is None:
            raise VideoError(f"{path}: no frame of the video stream could be decoded")
        codec = stream.codec_context.name
        start = stream.start_time if stream.start_time is not None else min(pts)
        header_s = (float(stream.duration * time_base) if stream.duration
                    else container.duration / 1e6 if container.duration else 0.0)
        width, height = stream.codec_context.width, stream.codec_context.height
        average_rate = float(stream.average_rate or 0)
        stream_index = stream.index
    finally:
        container.close()
    pts_arr = np.unique(np.asarray(pts, dtype=np.int64))
    times = (pts_arr - start).astype(np.float64) * float(time_base)
    times = times - min(0.0, float(times[0]))  # never negative (edit lists can start before 0)
    gaps = np.diff(times)
    last_gap = float(np.median(gaps)) if len(gaps) else 1.0 / (average_rate or 25.0)
    end_of_frames = float(times[-1]) + last_gap
    truncated = header_s > end_of_frames + max(TRUNCATION_SLACK_S, 0.05 * end_of_frames)
    # The header's duration when it is consistent with the frames (it knows the last frame's length).
    duration = header_s if times[-1] < header_s and not truncated else end_of_frames
    if truncated:
        log.warning("%s: looks truncated: header says %.1f s, frames stop at %.1f s", path, header_s,
                    end_of_frames)
    fps = (len(times) - 1) / float(times[-1] - times[0]) if times[-1] > times[0] else 1.0 / last_gap
    if rotation in (90, 270):
        width, height = height, width
    info = VideoInfo(path=path, duration=round(duration, 6), fps=fps, frame_count=len(times), width=width,
                     height=height, rotation=rotation, backend=backend, variable_frame_rate=_is_vfr(times),
                     codec=codec, truncated=truncated)
    return Timeline(info=info, pts=pts_arr, times=times, keyframe_pts=np.unique(np.asarray(keys, np.int64)),
                    stream_index=stream_index, colour_changes=tuple(colour.changes) if colour else (),
                    colour_initial=colour.initial if colour else (2, 0))


def probe(path: str | Path) -> VideoInfo:
    """Metadata of a video file (one packet scan, one decoded frame). VideoError: missing, not a video,
    zero frames, undecodable."""
    return scan(path).info


# --- decoders ------------------------------------------------------------------------------------------
class _Decoder(Protocol):
    name: str

    def decode(self, indices: list[int], *, stand_ins_until: int | None = None) -> Iterator[tuple[int, np.ndarray | None]]:
        """(index, RGB frame) for each wanted index in order; None where that frame failed to decode.

        With `stand_ins_until` (a pts), a backend may skip decoding frames no other frame refers to (B-frames)
        and yield, for a wanted frame it skipped, the next frame it decoded (its own index) if that comes
        before the next wanted frame, or before `stand_ins_until` for the last one."""

    def close(self) -> None: ...


class DecodeFailure(RuntimeError):
    """A backend cannot open the file or gave up part-way (the frames it yielded before are good)."""


class PyAVDecoder:
    """A forward cursor over the decoded stream, also from one sample() call to the next: it decodes on to
    a wanted frame when no keyframe lies before it, reads on without decoding to the keyframe before it when
    one does, and seeks only to go back or far ahead. Only wanted frames are converted to RGB; undecodable
    packets are skipped."""

    name = "pyav"

    def __init__(self, timeline: Timeline):
        self.timeline = timeline
        self.path = timeline.info.path
        self.container, self.stream = self._open()
        self._frames: Iterator[av.VideoFrame] | None = None  # None: position unknown, seek first
        self._packets: Iterator[av.Packet] | None = None  # the demuxer _frames decodes from
        self._last_key_read = -1  # pts of the last keyframe packet read from it (decoded or not)
        self._held: av.VideoFrame | None = None  # decoded but not yet consumed
        self._position = -1  # pts of the last frame taken from the decoder
        # One converter for every frame: frame.to_ndarray() sets up a new one each call, 5x the cost of
        # the conversion itself on small video.
        self._rgb = VideoReformatter()

    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        container = _open_container(self.path)
        stream = next(s for s in container.streams.video if s.index == self.timeline.stream_index)
        context = stream.codec_context
        stream.thread_type = "AUTO" if (context.width or 0) * (context.height or 0) >= FRAME_THREADS_MIN_PIXELS else "SLICE"
        return container, stream

    def _keyframe_before(self, pts: int) -> int:
        keys = self.timeline.keyframe_pts
        i = int(np.searchsorted(keys, pts, side="right")) - 1
        return int(keys[i]) if i >= 0 else int(self.timeline.pts[0])

    def _frame_number(self, pts: int) -> int:
        return int(np.searchsorted(self.timeline.pts, pts))

    def _go_forward_to(self, pts: int) -> bool:
        """Make the next decoded frames lead to `pts` without a seek: decode on when no keyframe lies between
        here and pts, else read on to the keyframe before pts without decoding. False when neither applies
        (pts is behind, or a long way ahead: seek)."""
        if self._frames is None:
            return False
        here = _pts(self._held) if self._held is not None else self._position
        if here > pts or (here == pts and self._held is None):
            return False
        key = self._keyframe_before(pts)
        skippable = self._frame_number(key) - self._frame_number(here)
        if skippable <= 0 or self._last_key_read >= key:  # the decoder already has that keyframe (B-frames
            return True  # make it read ahead of the frames it gives out)
        return skippable <= SEEK_MIN_SKIP_FRAMES and self._skip_to_keyframe(key)

    def _skip_to_keyframe(self, key: int) -> bool:
        """Read packets without decoding up to the keyframe at `key`, and decode from it; the frames between
        are never needed, and decoding from a keyframe gives the frames a seek to it would."""
        self._held = None
        assert self._packets is not None  # _seek() sets it with _frames
        for packet in self._packets:
            if packet.is_keyframe and self._last_key_read >= key:
                if self._last_key_read > key:  # not the keyframe the scan found: start over from a seek
                    break
                self.stream.codec_context.flush_buffers()
                self._frames = self._decoded(first=packet)
                return True
        self._frames = None
        return False

    def _seek(self, pts: int) -> None:
        self._held = None
        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
            self.stream.codec_context.flush_buffers()
        except av.error.FFmpegError:  # unseekable (no index): start over from the top
            self.container.close()
            self.container, self.stream = self._open()
        self._packets = self._demuxed()
        self._frames = self._decoded()

    def _demuxed(self) -> Iterator[av.Packet]:
        self._last_key_read = -1
        try:
            for packet in self.container.demux(self.stream):
                if packet.is_keyframe:
                    stamp = packet_stamp(packet)  # as scan() recorded it in keyframe_pts
                    self._last_key_read = -1 if stamp is None else stamp
                yield packet
        except av.error.FFmpegError as exc:  # the container itself is damaged from here on
            log.warning("%s: cannot read on (%s)", self.path, _reason(exc))

    def _decoded(self, first: av.Packet | None = None) -> Iterator[av.VideoFrame]:
        """The frames decoded from _packets (from `first`, then _packets); only frames with a pts."""
        assert self._packets is not None  # _seek() sets it before decoding starts
        packets = self._packets if first is None else itertools.chain([first], self._packets)
        for packet in packets:
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue  # an undecodable packet: its frame is reported missing by decode()
            yield from (f for f in frames if f.pts is not None)

    def _next_frame(self) -> av.VideoFrame | None:
        if self._held is not None:
            held, self._held = self._held, None
            return held
        assert self._frames is not None  # positioned by _go_forward_to() or _seek() first
        frame = next(self._frames, None)
        if frame is None:
            self._frames = None  # end of stream: the next request seeks
        else:
            self._position = _pts(frame)
        return frame

    def decode(self, indices: list[int], *, stand_ins_until: int | None = None) -> Iterator[tuple[int, np.ndarray | None]]:
        # Skipping non-reference frames decodes about half the frames of a stream with B-frames; only
        # requests that accept a neighbouring frame (change-aware sampling) ask for it.
        self.stream.codec_context.skip_frame = "NONREF" if stand_ins_until is not None else "DEFAULT"
        for n, index in enumerate(indices):
            wanted = int(self.timeline.pts[index])
            if not self._go_forward_to(wanted):
                self._seek(self._keyframe_before(wanted))
            frame = self._next_frame()
            while frame is not None and _pts(frame) < wanted:
                frame = self._next_frame()
            if frame is not None and _pts(frame) > wanted:  # the wanted frame never came out
                limit = int(self.timeline.pts[indices[n + 1]]) if n + 1 < len(indices) else stand_ins_until
                if limit is not None and _pts(frame) < limit:
                    index = self._frame_number(_pts(frame))  # the next decoded frame stands in for it
                else:
                    self._held, frame = frame, None
            yield index, None if frame is None else self._to_rgb(frame)

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        colour = self.timeline.colour_at(_pts(frame))
        if colour is None:
            return self._rgb.reformat(frame, format="rgb24").to_ndarray()
        # The stream's own colour for this frame, not FFmpeg's label, which in a file whose parameter sets
        # change it depends on where decoding started (video_colour.py). PyAV takes swscale's codes, and for
        # anything left out or that it has no code for (H.264's 6, SMPTE 170M) it keeps the frame's label.
        matrix, colour_range = colour
        space = swscale_matrix(matrix)
        return self._rgb.reformat(frame, format="rgb24", src_colorspace=space, dst_colorspace=space,
                                  src_color_range=colour_range or 1).to_ndarray()

    def close(self) -> None:
        self.container.close()


class DecordDecoder:
    """decord's get_batch on the wanted indices, a few at a time."""

    name = "decord"

    def __init__(self, timeline: Timeline):
        try:
            import decord  # an optional extra: no wheels for macOS arm64 or Linux aarch64
        except ImportError:
            raise DecodeFailure("decord is not installed (pip install 'vidrecall[decord]')") from None

        self.path = timeline.info.path
        try:
            self.reader = decord.VideoReader(self.path, num_threads=0)
        except Exception as exc:  # decord raises its own DECORDError or RuntimeError
            raise DecodeFailure(f"decord cannot open it ({_reason(exc)})") from None
        if len(self.reader) != timeline.info.frame_count:
            raise DecodeFailure(f"decord counts {len(self.reader)} frames, the file has "
                                   f"{timeline.info.frame_count}")

    def decode(self, indices: list[int], *, stand_ins_until: int | None = None) -> Iterator[tuple[int, np.ndarray | None]]:
        for at in range(0, len(indices), DECORD_CHUNK):  # decord decodes every frame asked for
            chunk = indices[at:at + DECORD_CHUNK]
            try:
                frames = self.reader.get_batch(chunk).asnumpy()
            except Exception as exc:
                raise DecodeFailure(f"decord failed ({_reason(exc)})") from None
            yield from zip(chunk, frames)

    def close(self) -> None:
        self.reader = None


BACKEND_ENV = "VIDRECALL_VIDEO_BACKEND"


# --- the reader ------------------------------------------------------------------------------------------
class VideoReader:
    """Frames of one video file for any span. Context manager; cheap to reopen; not thread-safe."""

    def __init__(self, path: str | Path, backend: str | None = None, *, timeline: Timeline | None = None):
        # "auto" is PyAV: measured faster than decord for span sampling and exact on broken files
        # (benchmarks/bench_sampling.py); decord stays one setting away for users who prefer it.
        backend = backend or os.environ.get(BACKEND_ENV, "auto")
        if backend not in BACKENDS:
            raise ValueError(f"video backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.path = str(path)
        self.timeline = timeline or scan(self.path)
        self._decoder: _Decoder = self._open_decoder(backend)
        self.info = self._info()

    def twin(self) -> "VideoReader":
        """Another reader of the same file, for another thread: its own decoder, this one's timeline (a scan
        reads every packet of the file)."""
        return VideoReader(self.path, self.backend, timeline=self.timeline)

    def _open_decoder(self, backend: str) -> _Decoder:
        if backend != "decord":
            return PyAVDecoder(self.timeline)
        if self.timeline.info.truncated:
            log.warning("%s: decord misplaces frames in truncated files; using PyAV", self.path)
            return PyAVDecoder(self.timeline)
        try:
            return DecordDecoder(self.timeline)
        except DecodeFailure as exc:
            log.warning("%s: %s; using PyAV", self.path, exc)
            return PyAVDecoder(self.timeline)

    def _info(self) -> VideoInfo:
        return VideoInfo(**{**self.timeline.info.__dict__, "backend": self._decoder.name})

    @property
    def backend(self) -> str:
        return self._decoder.name

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._decoder.close()

    # --- spans ------------------------------------------------------------------------------------------
    def _clip(self, span: Span) -> Span:
        if span.duration <= TIME_EPS:
            raise VideoError(f"{self.path}: span {span.label()} has zero length")
        try:
            clipped = span.clip_to(self.info.duration)
        except ValueError:
            raise VideoError(f"{self.path}: span {span.start:.2f}-{span.end:.2f} s lies outside the video "
                             f"(0 to {self.info.duration:.2f} s)") from None
        if clipped.end < span.end - TIME_EPS or clipped.start > span.start + TIME_EPS:
            log.warning("%s: span %.2f-%.2f s clipped to the video, %.2f-%.2f s", self.path, span.start,
                        span.end, clipped.start, clipped.end)
        return clipped

    def _frames(self, clipped: Span, fps, num_frames, max_pixels,
                stand_ins: bool = False) -> Iterator[tuple[float, np.ndarray | None]]:
        times = self.timeline.times
        indices = select_frames(times, sample_times(clipped, fps, num_frames), clipped)
        until = self._first_pts_from(clipped.end) if stand_ins else None  # stand-ins start inside the span
        done = 0
        while done < len(indices):
            try:
                for index, frame in self._decoder.decode(indices[done:], stand_ins_until=until):
                    done += 1
                    t = float(times[index])
                    if frame is None:
                        yield t, None
                    else:
                        yield t, upright(resize_to_max_pixels(frame, max_pixels), self.info.rotation)
            except DecodeFailure as exc:
                log.warning("%s: %s at %.2f s; switching to PyAV for this file", self.path, exc,
                            float(times[indices[done]]))
                self._decoder.close()
                self._decoder = PyAVDecoder(self.timeline)
                self.info = self._info()

    def _first_pts_from(self, t: float) -> int:
        """pts of the first frame starting at or after t (past the last frame: beyond every pts)."""
        i = int(np.searchsorted(self.timeline.times, t - TIME_EPS))
        return int(self.timeline.pts[i]) if i < len(self.timeline.pts) else int(np.iinfo(np.int64).max)

    def iter_frames(self, span: Span, *, fps: float | None = None, num_frames: int | None = None,
                    max_pixels: int | None = None, stand_ins: bool = False) -> Iterator[tuple[float, np.ndarray]]:
        """(timestamp, frame) one at a time, as decoded; undecodable frames are left out with a warning.

        `stand_ins=True` lets the decoder skip frames nothing refers to (B-frames, about half of a typical
        stream) and give the next decoded frame instead, with its own timestamp, when it starts before the
        next sampling instant: for change-aware sampling, where a frame a few hundredths of a second later
        shows the same thing."""
        for t, frame in self._frames(self._clip(span), fps, num_frames, max_pixels, stand_ins):
            if frame is None:
                log.warning("%s: skipped an undecodable frame at %.2f s", self.path, t)
                continue
            yield t, frame

    def sample(self, span: Span, *, fps: float | None = None, num_frames: int | None = None,
               max_pixels: int | None = None) -> FrameBatch:
        """The frames of `span` at `fps` or `num_frames` (see sample_times), capped at max_pixels each.

        Timestamps are the decoded frames' own (strictly increasing; a frame never repeats). A span past
        the end is clipped with a warning; a span outside the video or of zero length is a VideoError.
        """
        clipped = self._clip(span)
        frames, stamps, skipped = [], [], 0
        for t, frame in self._frames(clipped, fps, num_frames, max_pixels):
            if frame is None:
                skipped += 1
                continue
            frames.append(frame)
            stamps.append(t)
        if skipped:
            log.warning("%s: skipped %d undecodable frame(s) in %.2f-%.2f s", self.path, skipped,
                        clipped.start, clipped.end)
        return FrameBatch(frames=frames, timestamps=stamps, span=clipped, source=self.path, skipped=skipped)
