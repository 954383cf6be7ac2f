"""A direct reader for plain PCM and float RIFF/WAVE files, the format ACE-Step writes and reads most.

Parsing the header ourselves and converting the samples with numpy, block by block, into the
output tensor is about twice as fast as torchaudio's FFmpeg path and uses no memory beyond
the result. Anything unusual (mu-law, ADPCM, big-endian RIFX, RF64) raises ``NotPlainWav``
and is left to libsndfile. The number of frames comes from the bytes actually present, never
from the header alone, so a truncated file or a header claiming 2^31 frames cannot make us
allocate more than the file holds.
"""

import struct

import numpy as np
import torch

from .contract import AudioInfo
from .target import FrameSink

BLOCK_FRAMES = 1 << 16
EXTENSIBLE = 0xFFFE
PCM, IEEE_FLOAT = 1, 3

# (format code, bits) -> (numpy dtype of one sample, scale to [-1, 1], torch dtype for normalize=False)
LAYOUTS = {
    (PCM, 8): (np.uint8, None, torch.uint8),
    (PCM, 16): (np.dtype("<i2"), 2.0 ** -15, torch.int16),
    (PCM, 24): (None, 2.0 ** -31, torch.int32),
    (PCM, 32): (np.dtype("<i4"), 2.0 ** -31, torch.int32),
    (IEEE_FLOAT, 32): (np.dtype("<f4"), None, torch.float32),
    (IEEE_FLOAT, 64): (np.dtype("<f8"), None, torch.float32),
}
# Unsigned 8-bit samples map through a table: (x - 128) / 128, as FFmpeg and libsndfile compute it.
U8_TO_FLOAT = ((np.arange(256, dtype=np.float32) - 128) / 128).astype(np.float32)


class NotPlainWav(ValueError):
    """The bytes are not a RIFF/WAVE file this reader handles; another decoder should try."""


class WavLayout:
    """Where the samples of a WAV file are and how they are stored."""

    def __init__(self, code, channels, sample_rate, bits, block_align, data_offset, frames):
        self.code = code
        self.channels = channels
        self.sample_rate = sample_rate
        self.bits = bits
        self.block_align = block_align
        self.data_offset = data_offset
        self.frames = frames

    def info(self):
        encoding = {PCM: "PCM_U" if self.bits == 8 else "PCM_S", IEEE_FLOAT: "PCM_F"}[self.code]
        return AudioInfo(self.sample_rate, self.frames, self.channels, self.bits, encoding)


def parse(stream, size):
    """Read the chunks of a RIFF/WAVE stream up to its data chunk; return a ``WavLayout``."""
    riff = stream.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise NotPlainWav("not a little-endian RIFF/WAVE file")
    position, fmt = 12, None
    while True:
        header = stream.read(8)
        if len(header) < 8:
            raise NotPlainWav("no data chunk")
        chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
        position += 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(stream.read(min(chunk_size, 64)))
        elif chunk_id == b"data":
            if fmt is None:
                raise NotPlainWav("data chunk before the fmt chunk")
            code, channels, sample_rate, bits, block_align = fmt
            data_bytes = min(chunk_size, max(size - position, 0))
            return WavLayout(code, channels, sample_rate, bits, block_align, position, data_bytes // block_align)
        position += chunk_size + (chunk_size & 1)
        if position >= size:
            raise NotPlainWav("no data chunk")
        stream.seek(position)


def _parse_fmt(body):
    if len(body) < 16:
        raise NotPlainWav("fmt chunk too short")
    code, channels, sample_rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if code == EXTENSIBLE and len(body) >= 26:
        code = struct.unpack("<H", body[24:26])[0]
    if (code, bits) not in LAYOUTS:
        raise NotPlainWav(f"WAV format code {code} with {bits} bits is not plain PCM or float")
    if channels < 1 or sample_rate < 1 or block_align != channels * bits // 8:
        raise NotPlainWav(f"inconsistent fmt chunk: {channels} channels, {sample_rate} Hz, block {block_align}")
    return code, channels, sample_rate, bits, block_align


def read_info(source):
    with source.open() as stream:
        return parse(stream, source.size()).info()


def decode(source, frame_offset, num_frames, channels_first, normalize):
    """Samples of ``source`` as a float32 tensor (or, with ``normalize=False``, the integer dtype
    torchaudio 2.8 returned: uint8, int16, or int32 with 24-bit samples in the top bits)."""
    with source.open() as stream:
        layout = parse(stream, source.size())
        start = min(max(frame_offset, 0), layout.frames)
        count = layout.frames - start if num_frames < 0 else min(num_frames, layout.frames - start)
        sample_dtype, scale, integer_dtype = LAYOUTS[layout.code, layout.bits]
        keep_integers = not normalize and layout.code == PCM
        sink = FrameSink(layout.channels, count, channels_first, integer_dtype if keep_integers else torch.float32)
        stream.seek(layout.data_offset + start * layout.block_align)
        buffer = bytearray(min(count, BLOCK_FRAMES) * layout.block_align)
        remaining = count
        while remaining > 0:
            frames = min(remaining, BLOCK_FRAMES)
            wanted = frames * layout.block_align
            got = stream.readinto(memoryview(buffer)[:wanted])
            frames = got // layout.block_align
            if frames == 0:
                break
            samples = _samples(buffer, frames, layout, sample_dtype)
            if keep_integers:
                sink.put_interleaved(samples)
            elif layout.bits == 8:
                _put_u8(sink, samples)
            else:
                sink.put_interleaved(samples, scale)
            remaining -= frames
    return sink.result(), layout.sample_rate


def _samples(buffer, frames, layout, sample_dtype):
    """A ``[frames, C]`` view (or, for 24-bit, a small int32 array) of one block of raw bytes."""
    if layout.bits != 24:
        return np.frombuffer(buffer, sample_dtype, frames * layout.channels).reshape(frames, layout.channels)
    raw = np.frombuffer(buffer, np.uint8, frames * layout.block_align).reshape(frames, layout.channels, 3)
    widened = np.zeros((frames, layout.channels, 4), np.uint8)
    widened[..., 1:] = raw
    return widened.view("<i4")[..., 0]


def _put_u8(sink, samples):
    slot = sink.interleaved_slot(samples.shape[0])
    if slot is not None:
        np.take(U8_TO_FLOAT, samples, out=slot)
        sink.commit(samples.shape[0])
    else:
        sink.put_interleaved(U8_TO_FLOAT[samples])
