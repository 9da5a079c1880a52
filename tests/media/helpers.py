"""Damaged and hostile media for the probe's tests (good media comes from tests.mediakit)."""
from __future__ import annotations

import struct
import wave
import zlib
from pathlib import Path

import av


def truncate(src: Path, dst: Path, keep: float) -> Path:
    """Copy the first `keep` fraction of `src`, as an interrupted upload would."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def remux_faststart(src: Path, dst: Path) -> Path:
    """The same streams with the MP4 index (moov) first, as streaming sites serve them."""
    with av.open(str(src)) as source, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:  # the demuxer's flush packets carry no data
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims `width` x `height` but holds one row: a decompression-bomb shape
    without needing the memory to build a real one."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * width)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def silent_wav(path: Path) -> Path:
    """A valid WAV header with no samples at all."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(b"")
    return path
