"""The output file: H.264 + AAC in mp4/mov, VP9 + Opus in webm; x264, NVENC or libvpx."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Optional

import av

if TYPE_CHECKING:
    import numpy as np

from .errors import GpuUnavailableError, OutputNotWritableError

AUDIO_CODECS = {"mp4": "aac", "mov": "aac", "webm": "libopus"}
# Encoders of one fixed frame size; the mixer hands them exactly that.
AUDIO_FRAME_SIZES = {"aac": 1024, "libopus": 960}
AUDIO_BIT_RATE = 128_000
KEYFRAME_SECONDS = 2
# Every libx264 encode, whole or piece: closed GOPs, and `stitchable` keeps the PPS free of
# the rate control's starting QP, so pieces of one render share byte-identical SPS/PPS
# (threads do not change them either) and their streams can be joined as they are.
X264_PARAMS = "stitchable=1:open-gop=0"
DEFAULT_PRESET = "veryfast"
# A preview's: the fastest preset that keeps CABAC and the deblocking filter. Measured at
# 960x540 on one core (bench/preview_stages.py): 5.3-5.5 ms a frame, 31.4 dB PSNR-Y, 19 kB a
# frame; ultrafast drops both and its pictures turn blocky: 4.3 ms, 29.8 dB, 94 kB a frame
# (five times the bytes to store, join and send, to save a fifth of the encode: about 6 %
# of a preview piece, whose decode is 60 %).
PREVIEW_PRESET = "superfast"
DEFAULT_CRF = {"libx264": 23, "h264_nvenc": 23, "libvpx-vp9": 32}
# x264 preset names mapped to NVENC's p1 (fastest) .. p7 (best).
NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3",
                 "fast": "p4", "medium": "p5", "slow": "p6", "slower": "p7",
                 "veryslow": "p7", "placebo": "p7"}
# x264 preset names mapped to libvpx's (deadline, cpu-used).
VP9_SPEEDS = {"ultrafast": ("realtime", 8), "superfast": ("realtime", 8),
              "veryfast": ("good", 5), "faster": ("good", 4), "fast": ("good", 3),
              "medium": ("good", 2), "slow": ("good", 1), "slower": ("good", 0),
              "veryslow": ("good", 0), "placebo": ("best", 0)}


@functools.cache
def gpu_available() -> bool:
    """Whether h264_nvenc opens here (a driver and a free NVENC session), tried once."""
    try:
        ctx = av.CodecContext.create("h264_nvenc", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
        ctx.time_base = Fraction(1, 30)
        ctx.open()
        return True
    except (av.error.FFmpegError, av.codec.codec.UnknownCodecError, ValueError):
        return False


def choose_video_codec(fmt: str, encoder: str) -> tuple[str, list[str]]:
    """The video encoder for a format and an `auto|cpu|gpu` choice, and any warnings."""
    if fmt == "webm":
        note = ["no GPU encoder for webm (VP9); encoded on the CPU"] if encoder == "gpu" else []
        return "libvpx-vp9", note
    if encoder == "gpu":
        if not gpu_available():
            raise GpuUnavailableError("the GPU encoder (h264_nvenc) is not available here")
        return "h264_nvenc", []
    if encoder == "auto" and gpu_available():
        return "h264_nvenc", []
    return "libx264", []


def video_options(codec: str, preset: Optional[str], crf: Optional[float]) -> dict[str, str]:
    """Encoder options for a preset (x264 names; NVENC's p1-p7 also taken) and a CRF."""
    preset = preset or DEFAULT_PRESET
    quality = str(int(round(crf if crf is not None else DEFAULT_CRF[codec])))
    if codec == "libx264":
        return {"preset": preset if preset in NVENC_PRESETS else DEFAULT_PRESET, "crf": quality,
                "x264-params": X264_PARAMS}
    if codec == "h264_nvenc":
        nvenc = preset if preset in {f"p{i}" for i in range(1, 8)} else NVENC_PRESETS.get(preset, "p2")
        return {"preset": nvenc, "rc": "vbr", "cq": quality, "b": "0"}
    deadline, speed = VP9_SPEEDS.get(preset, VP9_SPEEDS[DEFAULT_PRESET])
    return {"crf": quality, "b": "0", "deadline": deadline, "cpu-used": str(speed),
            "row-mt": "1"}


def gop_frames(fps: Fraction) -> int:
    """Frames from one scheduled keyframe to the next (x264 may add more at scene cuts)."""
    return math.ceil(KEYFRAME_SECONDS * fps)


@dataclass(frozen=True)
class VideoSettings:
    """What decides the video encoder's output: the same settings, the same stream headers.

    `threads` 0 lets the encoder choose (by the machine's cores); pieces pin it, since
    x264's output depends on its thread count. `preview` asks for PREVIEW_PRESET.
    """

    codec: str
    size: tuple[int, int]
    fps: Fraction
    preset: Optional[str] = None
    crf: Optional[float] = None
    threads: int = 0
    preview: bool = False


def encoder_setup(settings: VideoSettings) -> dict:
    """Everything the video encoder is opened with, as JSON-ready data: the one place the
    encoder is configured from (OutputWriter), and what a piece's key hashes."""
    preset = PREVIEW_PRESET if settings.preview else settings.preset
    return {"codec": settings.codec, "size": list(settings.size), "fps": str(settings.fps),
            "pix_fmt": "yuv420p", "gop": gop_frames(settings.fps), "thread_type": "FRAME",
            "threads": settings.threads, "preview": settings.preview,
            "options": video_options(settings.codec, preset, settings.crf)}


def open_video_encoder(settings: VideoSettings) -> av.VideoCodecContext:
    """An encoder on its own (no file), set up as OutputWriter sets up its stream's, with
    its stream headers out of band (extradata), as in an mp4."""
    setup = encoder_setup(settings)
    ctx = av.CodecContext.create(setup["codec"], "w")
    ctx.width, ctx.height = settings.size
    ctx.pix_fmt = setup["pix_fmt"]
    ctx.time_base = 1 / settings.fps
    ctx.framerate = settings.fps
    ctx.gop_size = setup["gop"]
    ctx.thread_type = setup["thread_type"]
    ctx.thread_count = setup["threads"]
    ctx.flags |= av.codec.context.Flags.global_header
    ctx.options = setup["options"]
    ctx.open()
    return ctx


class OutputWriter:
    """Open → add_video/add_audio in time order → close. pts are set here, not by callers.

    `video` None writes sound only, `audio` False pictures only (a render's pieces and its
    sound are written apart and joined); `faststart` puts the index first (mp4/mov).
    """

    def __init__(self, path: str, fmt: str, video: Optional[VideoSettings], *,
                 audio: bool = True, faststart: bool = True):
        options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}
        try:
            self.container = av.open(path, "w", format=fmt, options=options)
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputNotWritableError(f"cannot write {path}: {exc}") from exc
        self.video = self._add_video(video) if video is not None else None
        self.audio = None
        if audio:
            audio_codec = AUDIO_CODECS[fmt]
            self.audio = self.container.add_stream(audio_codec, rate=48000)
            self.audio.layout = "stereo"
            self.audio.bit_rate = AUDIO_BIT_RATE
            self.audio_frame_size = AUDIO_FRAME_SIZES[audio_codec]
        self.frames = 0
        self.samples = 0
        # Opens the encoders and writes the header now, before another thread encodes.
        self.container.start_encoding()

    def _add_video(self, settings: VideoSettings):
        setup = encoder_setup(settings)
        fps = settings.fps
        stream = self.container.add_stream(setup["codec"], rate=fps)
        stream.width, stream.height = settings.size
        stream.pix_fmt = setup["pix_fmt"]
        stream.codec_context.time_base = 1 / fps
        stream.codec_context.gop_size = setup["gop"]
        # Frame threads, as ffmpeg uses: PyAV's default (slices) makes x264 a third slower.
        stream.codec_context.thread_type = setup["thread_type"]
        stream.codec_context.thread_count = setup["threads"]
        stream.options = setup["options"]
        return stream

    def add_video(self, frame: av.VideoFrame) -> None:
        frame.pts = self.frames
        frame.time_base = self.video.codec_context.time_base
        frame.pict_type = av.video.frame.PictureType.NONE  # the encoder decides keyframes
        self.container.mux(self.video.encode(frame))
        self.frames += 1

    def encode_audio(self, samples: np.ndarray) -> list[av.Packet]:
        """Planar float32 (2, n), n = audio_frame_size but for the very last block.

        Touches only the audio encoder, so the thread that mixes can run it while this
        one waits on the video encoder; the packets go to `mux` here.
        """
        import numpy as np  # imported by the audio thread, off the start-up path

        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32),
                                           format="fltp", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = self.samples
        frame.time_base = Fraction(1, 48000)
        self.samples += samples.shape[1]
        return self.audio.encode(frame)

    def flush_audio(self) -> list[av.Packet]:
        """What the audio encoder still holds, once the last block has gone in."""
        return self.audio.encode(None)

    def mux(self, packets: list[av.Packet]) -> None:
        self.container.mux(packets)

    def close(self) -> None:
        """Flush the video encoder (it holds frames back) and finish the file."""
        if self.video is not None:
            self.container.mux(self.video.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # a broken half-file is deleted by the caller anyway
            pass
