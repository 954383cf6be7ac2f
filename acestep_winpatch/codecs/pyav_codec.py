"""Decoding through PyAV, which bundles its own FFmpeg: for containers libsndfile cannot read
(m4a, aac, webm, ...) and for Ogg, where it matches torchaudio's FFmpeg path sample for sample
(libsndfile's frame counts differ) and, decoding long Vorbis streams in parallel segments, beats
it. Imported only when a file needs it (``import av`` costs ~170 ms)."""

import itertools
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

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
# Codecs whose packets a fresh decoder reproduces exactly after a few earlier ones (see
# ``_decode_segments``). Not Opus: its SILK layer carries prediction state across packets.
PARALLEL_CODECS = {"vorbis"}
PARALLEL_SEGMENTS = min(os.cpu_count() or 1, 4)
PARALLEL_MIN_FRAMES = 1 << 20
# Where segments begin, as fractions of the file's bytes, and how much earlier (as a fraction
# of the stream's duration) a segment seeks to, so that it lands before its first page.
SPLIT_POINTS = [part / PARALLEL_SEGMENTS for part in range(1, PARALLEL_SEGMENTS)]
SEEK_MARGIN = 0.05
WARMUP_PACKETS = 2
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
        if skip == 0 and wanted == math.inf and _splittable(stream, capacity):
            container.close()
            tensor = _decode_segments(source, hint, channels, capacity, channels_first)
            if tensor is not None:
                return tensor, sample_rate
            container = _open(source, hint)
            stream = _audio_stream(container)
        with container:
            sink = FrameSink(channels, min(max(estimate - skip, 0), wanted, capacity), channels_first)
            batches = Batches(sink, channels, skip, wanted)
            for frame in container.decode(stream):
                if batches.add(frame):
                    break
            batches.flush()
            return sink.result(), sample_rate


def _splittable(stream, capacity):
    """Whether a whole-stream decode is worth splitting into parallel segments (see ``_decode_segments``)."""
    return (PARALLEL_SEGMENTS > 1 and capacity >= PARALLEL_MIN_FRAMES and stream.codec_context.name in PARALLEL_CODECS
            and stream.time_base == Fraction(1, stream.sample_rate))


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


def _decode_segments(source, hint, channels, capacity, channels_first, split_points=None):
    """Decode a whole Vorbis stream as segments in parallel threads, into one tensor.

    Segment ``i > 0`` covers the packets from the first one that begins an Ogg page at or past
    ``split_points[i - 1]`` (``SPLIT_POINTS``; fractions of the file's bytes, ascending) up to
    the next segment's first packet. Such a packet's timestamp is the previous page's granule
    position, so it says exactly where the segment's samples go: ``pts - origin``, ``origin``
    being the first decoded frame's timestamp.
    A Vorbis packet depends on nothing but the block before it (the overlap), so a fresh
    decoder fed ``WARMUP_PACKETS`` earlier packets first gives exactly the samples of one
    sequential decode. Every segment must end where the next begins; ``None`` if any does not
    (or anything fails), for the sequential path to redo.
    """
    size = source.size()
    sink = FrameSink(channels, capacity, channels_first)
    try:
        origin = _first_timestamp(source, hint)
        fractions = split_points or SPLIT_POINTS
        bounds = [None] + [math.ceil(size * fraction) for fraction in fractions] + [None]
        # Where to seek before demuxing: well before the segment's first byte (the bit rate varies).
        seeks = [None] + [max(int(capacity * (fraction - SEEK_MARGIN)), 0) + origin for fraction in fractions]

        def segment(part):
            return _decode_segment(source, hint, sink, channels, origin, bounds[part], bounds[part + 1], seeks[part])

        with ThreadPoolExecutor(len(bounds) - 2) as pool:  # this thread decodes the first segment itself
            later = pool.map(segment, range(1, len(bounds) - 1))
            results = [segment(0), *later]
    except (av.FFmpegError, ValueError, OSError):
        return None
    for (offset, filled, _), (next_offset, _, _) in zip(results, results[1:]):
        if next_offset is None or offset + filled != next_offset:
            return None
    offset, filled, reached_end = results[-1]
    if not reached_end or offset is None:
        return None
    sink.filled = offset + filled
    return sink.result()


def _first_timestamp(source, hint):
    """The timestamp of the first decoded frame: where sample 0 of the result sits on the stream's clock."""
    with _open(source, hint) as container:
        for frame in container.decode(_audio_stream(container)):
            if frame.pts is None:
                raise ValueError("the first decoded frame has no timestamp")
            return frame.pts
    raise ValueError("the stream decodes to no frames")


def _decode_segment(source, hint, sink, channels, origin, begin, end, seek):
    """Decode the packets from the page start at or past byte ``begin`` (``None``: the stream's
    start) to the one at or past byte ``end`` (``None``: its end) into ``sink``, demuxing from
    timestamp ``seek`` on (``None``: from the start).

    Returns ``(offset, frames written, reached the stream's end)``; ``offset`` is ``None`` when
    no packet begins a page past ``begin``, or when the seek went past it (FFmpeg's Ogg seek
    lands on a page start, and from there demuxes the same packets as from the file's start).
    """
    with _open(source, hint) as container:
        stream = _audio_stream(container)
        context = stream.codec_context
        packets = container.demux(stream)
        if seek is not None:
            container.seek(seek, stream=stream, backward=True)
            packets = container.demux(stream)
            landed = next(packets, None)
            if landed is None or landed.pos is None or landed.pos >= begin:  # too far: demux from the start
                container.close()
                return _decode_segment(source, hint, sink, channels, origin, begin, end, None)
            packets = itertools.chain([landed], packets)
        previous_position, warmup, window, batches, offset = None, deque(maxlen=WARMUP_PACKETS), None, None, None
        first_timestamp = None
        for packet in packets:
            position = packet.pos
            page_start = position is not None and position != previous_position and packet.pts is not None
            if position is not None:
                previous_position = position
            if window is None:
                if begin is not None and not (page_start and position >= begin):
                    warmup.append(packet)
                    continue
                offset = 0 if begin is None else packet.pts - origin
                if not 0 <= offset <= sink.capacity or len(warmup) < warmup.maxlen and begin is not None:
                    return None, 0, False
                for early in warmup:
                    context.decode(early)
                window = FrameSink.window(sink, offset, sink.capacity - offset)
                batches = Batches(window, channels)
                first_timestamp = origin + offset
            if end is not None and page_start and position >= end:
                batches.flush()
                return offset, window.filled, False
            for frame in context.decode(packet):
                if first_timestamp is not None:  # the segment's first samples are those its offset promised
                    if frame.pts != first_timestamp:
                        return None, 0, False
                    first_timestamp = None
                batches.add(frame)
        if batches is None:
            return None, 0, False
        batches.flush()
        return offset, window.filled, True


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
