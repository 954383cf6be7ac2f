"""Decoding through PyAV, which bundles its own FFmpeg: for containers libsndfile cannot read
(m4a, aac, webm, ...) and for Ogg, where it matches torchaudio's FFmpeg path sample for sample
(libsndfile's frame counts differ) and, copying decoded frames out in batches, beats it.
Imported only when a file needs it (``import av`` costs ~170 ms)."""

import math

import av
import numpy as np

from .contract import AudioInfo
from .target import FrameSink
from .wav import U8_TO_FLOAT

# FFmpeg sample format (planar variants end in "p") -> (numpy dtype, scale to [-1, 1]; None: already float).
SAMPLE_FORMATS = {"flt": (np.float32, None), "dbl": (np.float64, None), "s16": (np.int16, 2.0 ** -15),
                  "s32": (np.int32, 2.0 ** -31), "s64": (np.int64, 2.0 ** -63), "u8": (np.uint8, None)}
# Our format names -> FFmpeg demuxer names, for file-like objects that come with a format hint.
DEMUXERS = {"m4a": "mov", "webm": "matroska", "mka": "matroska", "opus": "ogg", "aiff": "aiff", "wma": "asf"}
READ_FORMATS = {"aac", "m4a", "webm", "mka", "wma", "ac3", "opus", "ogg", "mp3", "flac", "wav", "aiff"}
ENCODINGS = {"flac": "FLAC", "mp3": "MP3", "mp3float": "MP3", "vorbis": "VORBIS", "opus": "OPUS", "libopus": "OPUS",
             "pcm_s16le": "PCM_S", "pcm_s24le": "PCM_S", "pcm_s32le": "PCM_S", "pcm_u8": "PCM_U",
             "pcm_f32le": "PCM_F", "pcm_f64le": "PCM_F", "pcm_mulaw": "ULAW", "pcm_alaw": "ALAW"}
# Frames gathered before a copy into the output (see ``Batches``).
BATCH_FRAMES = 1 << 14


def _open(source, hint):
    format = DEMUXERS.get(hint, hint) if source.path is None and hint else None
    return av.open(source.for_library(), format=format)


def _audio_stream(container):
    if not container.streams.audio:
        raise ValueError("the file has no audio stream")
    return container.streams.audio[0]


def _channels(stream):
    return stream.codec_context.layout.nb_channels


def _estimated_frames(stream, container):
    """Frames the container announces, or 0 when it announces none (a hint, never trusted for sizes)."""
    if stream.duration and stream.time_base:
        return math.ceil(stream.duration * stream.time_base * stream.sample_rate)
    if container.duration:
        return math.ceil(container.duration / av.time_base * stream.sample_rate)
    return 0


def read_info(source, hint=None):
    with _open(source, hint) as container:
        stream = _audio_stream(container)
        codec = stream.codec_context.name
        encoding = ENCODINGS.get(codec, "UNKNOWN")
        bits = stream.codec_context.format.bits if encoding.startswith("PCM") else 0
        if encoding == "FLAC":
            bits = stream.codec_context.bits_per_raw_sample or 0
        return AudioInfo(stream.sample_rate, _estimated_frames(stream, container), _channels(stream), bits, encoding)


def decode(source, frame_offset, num_frames, channels_first, normalize, hint=None):
    """Float32 samples; ``normalize`` has no effect (only integer WAV had raw samples in torchaudio 2.8)."""
    skip = max(frame_offset, 0)
    wanted = math.inf if num_frames < 0 else num_frames
    with _open(source, hint) as container:
        stream = _audio_stream(container)
        channels, sample_rate = _channels(stream), stream.sample_rate
        estimate = _estimated_frames(stream, container)
        capacity = min(estimate, source.size() * 64 + (1 << 22))
        sink = FrameSink(channels, min(max(estimate - skip, 0), wanted, capacity), channels_first)
        batches = Batches(sink, channels, skip, wanted)
        for frame in container.decode(stream):
            if batches.add(frame):
                break
        batches.flush()
        return sink.result(), sample_rate


class Batches:
    """Decoded frames gathered in FFmpeg's own sample FIFO and copied out in large batches.

    Vorbis delivers some 46 frames a second of audio; copying each through numpy costs more
    Python than decoding it costs C. Into the FIFO it is one call. Only the frames
    ``skip:skip+wanted`` of the stream reach the sink.
    """

    def __init__(self, sink, channels, skip=0, wanted=math.inf):
        self.sink = sink
        self.channels = channels
        self.skip = skip
        self.end = skip + wanted
        self.position = 0  # stream frames before the FIFO's first one
        self.fifo = av.AudioFifo()
        self.layout = None

    def add(self, frame):
        """Take one decoded frame; True once every wanted frame has been taken."""
        if self.fifo.samples == 0 and self.position + frame.samples <= self.skip:
            self.position += frame.samples
            return False
        frame.pts = None  # the FIFO would insist on gapless timestamps; decoders may leave gaps
        try:
            self.fifo.write(frame)
        except ValueError:  # the sample format or rate changed mid-stream: start a new FIFO
            self.flush()
            self.fifo = av.AudioFifo()
            self.fifo.write(frame)
        if self.fifo.samples >= BATCH_FRAMES:
            self.flush()
        return self.position + self.fifo.samples >= self.end

    def flush(self):
        """Copy what the FIFO holds into the sink."""
        batch = self.fifo.read()
        if batch is None:
            return
        if self.layout is None or batch.format.name != self.layout[0]:
            self.layout = _layout(batch.format)
        start = max(self.skip - self.position, 0)
        stop = int(min(batch.samples, self.end - self.position))
        if stop > start:
            _put(self.sink, batch, self.channels, self.layout, start, stop)
        self.position += batch.samples


def _layout(sample_format):
    """``(name, numpy dtype, scale, planar)`` of an FFmpeg sample format."""
    name = sample_format.name
    if name.rstrip("p") not in SAMPLE_FORMATS:
        raise ValueError(f"unexpected FFmpeg sample format {name!r}")
    return (name, *SAMPLE_FORMATS[name.rstrip("p")], sample_format.is_planar)


def _put(sink, frame, channels, layout, start, stop):
    """Copy frames ``start:stop`` of a decoded frame's (or a batch's) sample planes into ``sink``."""
    name, dtype, scale, planar = layout
    if planar:
        planes = [np.frombuffer(plane, dtype, stop)[start:] for plane in frame.planes]
    else:
        interleaved = np.frombuffer(frame.planes[0], dtype, stop * channels).reshape(-1, channels)
        planes = list(interleaved[start:].T)
    if name.startswith("u8"):
        planes = [U8_TO_FLOAT[plane] for plane in planes]
    sink.put_planes(planes, scale)
