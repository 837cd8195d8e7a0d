"""Which colour matrix and range each stretch of an H.264 stream says it uses, read from its parameter sets.

Why: FFmpeg labels a frame with the colour matrix of the last sequence parameter set (SPS) that named one,
and keeps that label through later SPSs that name none. In a file spliced from sources with their own SPSs
(as the built haystacks are), a stretch whose SPS names no matrix therefore gets BT.709 when the decoder
reaches it from a BT.709 stretch, but BT.601 when it starts there after a seek, and the RGB conversion
differs by up to 15 of 255 levels. Reading the SPSs once, in the packet scan, gives every frame the label a
decoder going through the file from the start gives it, whichever way the decoder got there.

Only H.264 is read (the SPS's VUI is a few dozen fields in); other codecs keep FFmpeg's own labels.
"""
from __future__ import annotations

from typing import Iterator

# profile_idc values whose SPS carries chroma format, bit depths and scaling matrices (H.264 7.3.2.1.1)
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
_NAL_SPS = 7
_NAL_SLICES = {1, 5}  # coded slices: the parameter sets come before them in an access unit
_EXTENDED_SAR = 255


class _Bits:
    """Big-endian bit reader over an RBSP (emulation-prevention bytes removed)."""

    def __init__(self, data: bytes):
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise ValueError("SPS ends early")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def sps_colour(nal: bytes) -> tuple[int | None, int | None]:
    """(matrix_coefficients, colour range) an SPS NAL unit (header byte included) names; None for what it
    does not name (or when it cannot be read). The range is FFmpeg's: 1 limited ("MPEG"), 2 full ("JPEG")."""
    matrix = colour_range = None
    try:
        bits = _Bits(_rbsp(nal[1:]))
        profile = bits.u(8)
        bits.u(16)  # constraint flags, level
        bits.ue()  # seq_parameter_set_id
        if profile in _HIGH_PROFILES:
            chroma_format = bits.ue()
            if chroma_format == 3:
                bits.u(1)
            bits.ue(), bits.ue(), bits.u(1)  # bit depths, transform bypass
            if bits.u(1):  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma_format != 3 else 12):
                    if bits.u(1):
                        _skip_scaling_list(bits, 16 if i < 6 else 64)
        bits.ue()  # log2_max_frame_num_minus4
        poc_type = bits.ue()
        if poc_type == 0:
            bits.ue()
        elif poc_type == 1:
            bits.u(1), bits.se(), bits.se()
            for _ in range(bits.ue()):
                bits.se()
        bits.ue(), bits.u(1)  # max_num_ref_frames, gaps allowed
        bits.ue(), bits.ue()  # picture size in macroblocks
        if not bits.u(1):  # frame_mbs_only_flag
            bits.u(1)
        bits.u(1)  # direct_8x8_inference_flag
        if bits.u(1):  # frame_cropping_flag
            bits.ue(), bits.ue(), bits.ue(), bits.ue()
        if not bits.u(1):  # vui_parameters_present_flag
            return None, None
        if bits.u(1) and bits.u(8) == _EXTENDED_SAR:  # aspect ratio
            bits.u(32)
        if bits.u(1):  # overscan_info_present_flag
            bits.u(1)
        if not bits.u(1):  # video_signal_type_present_flag
            return None, None
        bits.u(3)  # video_format
        colour_range = 2 if bits.u(1) else 1
        if bits.u(1):  # colour_description_present_flag
            bits.u(16)  # colour_primaries, transfer_characteristics
            matrix = bits.u(8)
    except ValueError:
        pass
    return matrix, colour_range


def nal_units(packet: bytes, length_size: int | None) -> Iterator[bytes]:
    """The NAL units of one packet: length-prefixed (MP4/MKV, `length_size` bytes) or, with None, Annex B
    (start codes, as in MPEG-TS and raw .h264)."""
    if length_size:
        at = 0
        while at + length_size <= len(packet):
            size = int.from_bytes(packet[at:at + length_size], "big")
            at += length_size
            if size <= 0 or at + size > len(packet):
                return
            yield packet[at:at + size]
            at += size
        return
    for chunk in packet.split(b"\x00\x00\x01"):
        chunk = chunk.rstrip(b"\x00")
        if chunk:
            yield chunk


def nal_length_size(extradata: bytes | None) -> int | None:
    """Bytes of each NAL unit's length prefix, from an avcC record; None for Annex B streams."""
    if extradata and len(extradata) > 4 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


def packet_sps_colour(packet: bytes, length_size: int | None) -> tuple[int | None, int | None] | None:
    """What the packet's last SPS names (see sps_colour); None when it carries no SPS. Only NAL units before
    the first slice are looked at."""
    found = None
    for nal in nal_units(packet, length_size):
        kind = nal[0] & 0x1F
        if kind in _NAL_SLICES:
            break
        if kind == _NAL_SPS:
            found = sps_colour(nal)
    return found


def swscale_matrix(matrix: int) -> int:
    """The swscale colour space (SWS_CS_*) for an H.264/FFmpeg matrix_coefficients value: BT.601 for every
    BT.601 variant and for "unspecified", as swscale itself defaults."""
    return {1: 1, 4: 4, 7: 7, 9: 9, 10: 9}.get(matrix, 5)


class ColourTrack:
    """Feed a stream's keyframe packets in order; `changes` then holds where the (matrix, range) that FFmpeg
    labels frames with, decoding the file from the start, changes: [(keyframe pts, matrix, range)]. Each
    SPS sets what it names and leaves the rest as it was. Empty when nothing changes (FFmpeg's own labels
    are then the same whichever way a frame is reached)."""

    def __init__(self, extradata: bytes | None, matrix: int, colour_range: int):
        self.length_size = nal_length_size(extradata)
        self.initial = self.current = (matrix, colour_range)
        self.changes: list[tuple[int, int, int]] = []

    def feed(self, pts: int, packet: bytes) -> None:
        named = packet_sps_colour(packet, self.length_size)
        if named is None:
            return
        matrix, colour_range = named
        now = (self.current[0] if matrix is None else matrix, self.current[1] if colour_range is None else colour_range)
        if now != self.current:
            self.current = now
            self.changes.append((pts, *now))
