"""What a coded video stream says about itself, read from its bytes, for the join's checks.

Pieces join only if every one declares the same stream: for H.264 the same SPS and PPS
(in the mp4's avcC record, or in-band), for VP9 the same key-frame header (profile, bit
depth, colour, subsampling, size). And each must start with a picture that decodes alone:
an IDR (H.264) or a key frame (VP9).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional, Union

NAL_IDR, NAL_SPS, NAL_PPS = 5, 7, 8
VP9_SYNC_CODE = 0x498342
VP9_RGB = 7


@dataclass(frozen=True)
class PacketInfo:
    starts_alone: bool  # an IDR / key frame: nothing before it is needed to decode it
    headers: dict[str, tuple]  # the stream headers it carries in-band, by name


def _records(data: bytes, i: int, count: int) -> tuple[list[bytes], int]:
    """`count` records of a 16-bit length and the bytes, from offset i; and the next offset."""
    found = []
    for _ in range(count):
        length = int.from_bytes(data[i:i + 2], "big")
        found.append(bytes(data[i + 2:i + 2 + length]))
        i += 2 + length
    return found, i


def avcc_parameter_sets(extradata: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...], int]:
    """(SPS, PPS, NAL length size) of an avcC record, an mp4's H.264 extradata: version 1,
    profile, compatibility, level, 6 bits + (length size - 1), 3 bits + SPS count, the SPS,
    a PPS count, the PPS (ISO/IEC 14496-15, 5.3.3.1)."""
    if len(extradata) < 7 or extradata[0] != 1:
        raise ValueError("not an avcC record")
    sps, i = _records(extradata, 6, extradata[5] & 0x1F)
    pps, _ = _records(extradata, i + 1, extradata[i])
    return tuple(sps), tuple(pps), (extradata[4] & 3) + 1


def annexb_parameter_sets(data: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(SPS, PPS) of H.264 in Annex B form (each unit after a 00 00 01 start code), as an
    encoder opened on its own writes its extradata."""
    units = [unit.rstrip(b"\x00") for unit in data.split(b"\x00\x00\x01")[1:]]
    return (tuple(u for u in units if u and u[0] & 0x1F == NAL_SPS),
            tuple(u for u in units if u and u[0] & 0x1F == NAL_PPS))


def nal_units(sample: bytes, length_size: int) -> Iterator[tuple[int, bytes]]:
    """(NAL unit type, the unit) of each unit of a length-prefixed mp4 sample; only SPS and
    PPS units are copied out (b"" for the others)."""
    i = 0
    while i + length_size < len(sample):
        length = int.from_bytes(sample[i:i + length_size], "big")
        kind = sample[i + length_size] & 0x1F
        start = i + length_size
        yield kind, bytes(sample[start:start + length]) if kind in (NAL_SPS, NAL_PPS) else b""
        i = start + length


def annexb_sample(sample: bytes, length_size: int) -> bytes:
    """A length-prefixed mp4 sample as an encoder hands its packets over: each unit after a
    00 00 00 01 start code (the mp4 muxer turns them back into the same sample)."""
    out, i = [], 0
    while i + length_size <= len(sample):
        length = int.from_bytes(sample[i:i + length_size], "big")
        out += [b"\x00\x00\x00\x01", sample[i + length_size:i + length_size + length]]
        i += length_size + length
    if i != len(sample):
        raise ValueError("a sample's NAL unit lengths do not add up to its size")
    return b"".join(out)


class H264Stream:
    key_frame = "an IDR frame"

    def __init__(self, extradata: bytes):
        sps, pps, self.length_size = avcc_parameter_sets(extradata)
        self.headers = {"SPS": sps, "PPS": pps}

    def packet(self, data: bytes) -> PacketInfo:
        units = list(nal_units(data, self.length_size))
        sps = tuple(u for kind, u in units if kind == NAL_SPS)
        pps = tuple(u for kind, u in units if kind == NAL_PPS)
        headers = {**({"SPS": sps} if sps else {}), **({"PPS": pps} if pps else {})}
        return PacketInfo(any(kind == NAL_IDR for kind, _ in units), headers)


class _Bits:
    """Reads a byte string bit by bit, most significant bit first."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def read(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self.data[self.position >> 3]
            value = value << 1 | (byte >> (7 - (self.position & 7)) & 1)
            self.position += 1
        return value


def vp9_key_frame_header(frame: bytes) -> Optional[tuple[int, ...]]:
    """(profile, bit depth, colour space, colour range, subsampling x, y, width, height) of
    a VP9 key frame (the first frame of a superframe); None for any other frame.
    VP9 bitstream specification 6.2: uncompressed_header, color_config, frame_size."""
    bits = _Bits(frame)
    if bits.read(2) != 2:
        raise ValueError("not a VP9 frame (its frame marker is wrong)")
    low, high = bits.read(1), bits.read(1)
    profile = high << 1 | low
    if profile == 3:
        bits.read(1)
    if bits.read(1) or bits.read(1):  # show_existing_frame, or frame_type not KEY_FRAME
        return None
    bits.read(2)  # show_frame, error_resilient_mode
    if bits.read(24) != VP9_SYNC_CODE:
        raise ValueError("a VP9 key frame without its sync code")
    depth = (12 if bits.read(1) else 10) if profile >= 2 else 8
    space = bits.read(3)
    full_range, sub_x, sub_y = 1, 0, 0
    if space != VP9_RGB:
        full_range = bits.read(1)
        sub_x, sub_y = (bits.read(1), bits.read(1)) if profile in (1, 3) else (1, 1)
    if profile in (1, 3):
        bits.read(1)  # reserved_zero
    width, height = bits.read(16) + 1, bits.read(16) + 1
    return profile, depth, space, full_range, sub_x, sub_y, width, height


class VP9Stream:
    key_frame = "a key frame"

    def __init__(self, first_packet: bytes):
        header = vp9_key_frame_header(first_packet)
        self.headers = {"VP9 key frame header": (header,)} if header else {}

    def packet(self, data: bytes) -> PacketInfo:
        header = vp9_key_frame_header(data)
        return PacketInfo(header is not None,
                          {"VP9 key frame header": (header,)} if header else {})


CodedStream = Union[H264Stream, VP9Stream]


def coded_stream(codec: str, extradata: bytes, first_packet: bytes) -> CodedStream:
    """The reader of a stream of `codec` (a decoder name: h264, vp9); ValueError if there
    is none, or its headers cannot be read."""
    if codec == "h264":
        return H264Stream(extradata)
    if codec == "vp9":
        return VP9Stream(first_packet)
    raise ValueError(f"{codec} pieces cannot be joined (H.264 and VP9 can)")
