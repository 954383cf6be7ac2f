"""Decoding and encoding through libsndfile (the ``soundfile`` package): exact for WAV and FLAC,
and the encoder for every format we write."""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile
import torch

from .contract import AudioInfo, UnsupportedFormat
from .target import FrameSink

BLOCK_FRAMES = 1 << 17
# FLAC seeks sample-exactly and libsndfile releases the GIL while decoding, so a long FLAC file
# is decoded as a few segments in parallel threads (libsndfile alone is barely faster than FFmpeg).
PARALLEL_FORMATS = {"FLAC"}
PARALLEL_MIN_FRAMES = 1 << 20
PARALLEL_WORKERS = min(os.cpu_count() or 1, 4)
# Decoded frames per encoded byte that a real file can reach (low-bitrate Opus is near 64).
# Bounds the up-front allocation when a header claims more frames than the bytes can hold.
MAX_FRAMES_PER_BYTE = 64
MIN_RESERVED_FRAMES = 1 << 22

# soundfile subtype -> (torchaudio encoding, bits_per_sample), as torchaudio's soundfile and FFmpeg backends report.
SUBTYPE_INFO = {
    "PCM_S8": ("PCM_S", 8), "PCM_16": ("PCM_S", 16), "PCM_24": ("PCM_S", 24), "PCM_32": ("PCM_S", 32),
    "PCM_U8": ("PCM_U", 8), "FLOAT": ("PCM_F", 32), "DOUBLE": ("PCM_F", 64),
    "ULAW": ("ULAW", 8), "ALAW": ("ALAW", 8), "VORBIS": ("VORBIS", 0), "OPUS": ("OPUS", 0),
    "MPEG_LAYER_I": ("MP3", 0), "MPEG_LAYER_II": ("MP3", 0), "MPEG_LAYER_III": ("MP3", 0),
}
# Integer subtypes whose samples torchaudio 2.8 returned unconverted with normalize=False (WAV only).
RAW_DTYPES = {"PCM_16": ("int16", torch.int16), "PCM_24": ("int32", torch.int32), "PCM_32": ("int32", torch.int32)}

# Our format name -> libsndfile major format, for writing.
WRITE_FORMATS = {"wav": "WAV", "flac": "FLAC", "mp3": "MP3", "ogg": "OGG", "opus": "OGG",
                 "aiff": "AIFF", "au": "AU", "w64": "W64", "caf": "CAF"}
# libsndfile major format -> our format name, for reading.
READ_FORMATS = {"WAV": "wav", "WAVEX": "wav", "FLAC": "flac", "MP3": "mp3", "OGG": "ogg", "AIFF": "aiff",
                "AU": "au", "W64": "w64", "RF64": "rf64", "CAF": "caf", "NIST": "nist"}
LOSSY = {"mp3", "ogg", "opus"}
LOSSY_SUBTYPES = {"VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III"}


def readable_formats():
    available = soundfile.available_formats()
    names = {name for major, name in READ_FORMATS.items() if major in available}
    if "OGG" in available and "OPUS" in soundfile.available_subtypes("OGG"):
        names.add("opus")
    return names


def writable_formats():
    available = soundfile.available_formats()
    names = {name for name, major in WRITE_FORMATS.items() if major in available}
    if "opus" in names and "OPUS" not in soundfile.available_subtypes("OGG"):
        names.discard("opus")
    return names


def read_info(source):
    info = soundfile.info(source.for_library())
    encoding, bits = SUBTYPE_INFO.get(info.subtype, ("UNKNOWN", 0))
    if info.format == "FLAC":
        encoding = "FLAC"
    return AudioInfo(info.samplerate, info.frames, info.channels, bits, encoding)


def decode(source, frame_offset, num_frames, channels_first, normalize):
    with soundfile.SoundFile(source.for_library()) as audio:
        start = min(max(frame_offset, 0), audio.frames)
        count = audio.frames - start if num_frames < 0 else min(num_frames, audio.frames - start)
        read_dtype, tensor_dtype = "float32", torch.float32
        if not normalize and audio.format in ("WAV", "WAVEX") and audio.subtype in RAW_DTYPES:
            read_dtype, tensor_dtype = RAW_DTYPES[audio.subtype]
        reserved = min(count, max(source.size() * MAX_FRAMES_PER_BYTE, MIN_RESERVED_FRAMES))
        if audio.format in PARALLEL_FORMATS and PARALLEL_WORKERS > 1 and PARALLEL_MIN_FRAMES <= count == reserved:
            tensor = _decode_segments(source, audio.channels, start, count, channels_first)
            if tensor is not None:
                return tensor, audio.samplerate
        read = ConsecutiveReads.of(audio)
        if audio.subtype in LOSSY_SUBTYPES:
            if read is None:
                return _read_lossy_at_once(audio, start, count, channels_first), audio.samplerate
            _skip(read, audio.channels, start)
        elif start:
            audio.seek(start)
        sink = FrameSink(audio.channels, reserved, channels_first, tensor_dtype)
        _read_into(read or ConsecutiveReads.through_soundfile(audio), sink, count, read_dtype)
        return sink.result(), audio.samplerate


class ConsecutiveReads:
    """Reads of consecutive frames through libsndfile itself, with no seek between them.

    python-soundfile's ``SoundFile.read`` ends every read with ``seek(position + frames)``
    ("update read & write position"), and libsndfile passes every seek to the codec. For
    MP3 that is ``mpg123_seek``, which restarts decoding near the position with too little
    history for layer III's bit reservoir: the frames after each block boundary come out
    wrong (errors up to 0.6) or shifted. Consecutive ``sf_readf_*`` calls without that seek
    give exactly the samples of one full read, whatever the block sizes. FLAC is spared a
    decoder re-seek per block too. The calls release the GIL (cffi), so segments decode in
    parallel threads.
    """

    CTYPES = {"float32": "float", "int16": "short", "int32": "int", "float64": "double"}

    def __init__(self, audio, raw):
        self.audio = audio
        self.raw = raw

    @classmethod
    def of(cls, audio):
        """Reads straight through libsndfile's C API, or ``None`` where this soundfile hides it."""
        handle = getattr(audio, "_file", None)
        library, ffi = getattr(soundfile, "_snd", None), getattr(soundfile, "_ffi", None)
        if handle is None or library is None or ffi is None or not hasattr(library, "sf_readf_float"):
            return None
        return cls(audio, (library, ffi, handle))

    @classmethod
    def through_soundfile(cls, audio):
        """Reads through ``SoundFile.read`` (exact for every format but the lossy ones)."""
        return cls(audio, None)

    def __call__(self, out):
        """Fill the C-contiguous ``[n, C]`` array ``out`` with the next frames; return how many were read."""
        if self.raw is None:
            return len(self.audio.read(len(out), out.dtype.name, out=out))
        library, ffi, handle = self.raw
        if not out.flags.c_contiguous:
            raise ValueError("libsndfile reads into C-contiguous [frames, channels] arrays only")
        ctype = self.CTYPES[out.dtype.name]
        got = getattr(library, f"sf_readf_{ctype}")(handle, ffi.cast(f"{ctype} *", out.ctypes.data), len(out))
        error = library.sf_error(handle)
        if error:
            raise soundfile.LibsndfileError(error, prefix="Error reading: ")
        return got


def _skip(read, channels, frames):
    """Decode and drop ``frames`` frames: lossy streams reach an offset only by decoding up to it."""
    scratch = np.empty((min(frames, BLOCK_FRAMES), channels), np.float32)
    while frames > 0:
        got = read(scratch[:min(frames, BLOCK_FRAMES)])
        if got == 0:
            return
        frames -= got


def _read_into(read, sink, count, read_dtype):
    """Read up to ``count`` frames from the current position into ``sink``; return the frames read."""
    buffer = None
    remaining = count
    while remaining > 0:
        wanted = min(remaining, BLOCK_FRAMES)
        slot = sink.interleaved_slot(wanted)
        if slot is not None:
            got = read(slot)
            sink.commit(got)
        else:
            if buffer is None:
                buffer = np.empty((min(count, BLOCK_FRAMES), sink.channels), read_dtype)
            got = read(buffer[:wanted])
            sink.put_interleaved(buffer[:got])
        remaining -= got
        if got < wanted:
            break
    return count - remaining


def _read_lossy_at_once(audio, start, count, channels_first):
    """Decode frames ``start:start+count`` of an MP3/Vorbis/Opus stream in ONE read from the start.

    Only where ``ConsecutiveReads`` cannot reach libsndfile: block reads through
    ``SoundFile.read`` would seek between blocks. Costs a full-size interleaved buffer.
    """
    samples = audio.read(start + count, "float32", always_2d=True)[start:]
    return torch.from_numpy(np.ascontiguousarray(samples.T) if channels_first else samples)


def _decode_segments(source, channels, start, count, channels_first):
    """Decode ``count`` frames as parallel segments into one tensor; ``None`` if any came up short
    (a header that claims more frames than the file holds), for the sequential path to redo."""
    output = FrameSink(channels, count, channels_first)
    bounds = [start + count * part // PARALLEL_WORKERS for part in range(PARALLEL_WORKERS + 1)]

    def segment(first, stop):
        part = FrameSink.window(output, first - start, stop - first)
        with soundfile.SoundFile(source.for_library()) as audio:
            audio.seek(first)
            read = ConsecutiveReads.of(audio) or ConsecutiveReads.through_soundfile(audio)
            return _read_into(read, part, stop - first, "float32") == stop - first

    with ThreadPoolExecutor(PARALLEL_WORKERS) as pool:
        complete = list(pool.map(segment, bounds[:-1], bounds[1:]))
    return output.tensor if all(complete) else None


def subtype_for(format, dtype, encoding, bits_per_sample):
    """The libsndfile subtype for torchaudio's ``encoding``/``bits_per_sample`` arguments.

    With neither given, matches torchaudio 2.11: float samples become 16-bit PCM (24-bit in
    FLAC, which stores no floats); integer tensors keep their width.
    """
    encoding = encoding.upper() if isinstance(encoding, str) else encoding
    if format in LOSSY:
        if bits_per_sample:
            raise ValueError(f"{format} does not take bits_per_sample (got {bits_per_sample})")
        lossy = {"mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OPUS", "OPUS"), "ogg": ("VORBIS", "VORBIS")}
        name, subtype = lossy[format]
        if format == "ogg" and encoding == "OPUS":
            return "OPUS"
        if encoding not in (None, name):
            raise ValueError(f"{format} cannot be written with encoding {encoding!r}; it takes {name!r}")
        return subtype
    if encoding is None:
        if bits_per_sample is None:
            width = {torch.int16: 16, torch.int32: 32, torch.uint8: 8}.get(dtype, 24 if format == "flac" else 16)
            if format == "flac":
                width = min(width, 24)
            return _pcm(format, width, unsigned=(dtype == torch.uint8 and format == "wav"))
        return _pcm(format, bits_per_sample, unsigned=(bits_per_sample == 8 and format == "wav"))
    if encoding == "PCM_S":
        return _pcm(format, bits_per_sample or 32, unsigned=False)
    if encoding == "PCM_U" and bits_per_sample in (None, 8):
        return "PCM_U8"
    if encoding == "PCM_F" and bits_per_sample in (None, 32, 64):
        return "DOUBLE" if bits_per_sample == 64 else "FLOAT"
    if encoding in ("ULAW", "ALAW") and bits_per_sample in (None, 8):
        return encoding
    raise ValueError(
        f"{format} cannot be written with encoding={encoding!r} and bits_per_sample={bits_per_sample!r}; "
        "encodings are PCM_S (8/16/24/32 bits), PCM_U (8), PCM_F (32/64), ULAW (8), ALAW (8)"
    )


def _pcm(format, bits, unsigned):
    if bits not in (8, 16, 24, 32):
        raise ValueError(f"{format} cannot be written with {bits} bits per sample; use 8, 16, 24 or 32")
    if bits == 8:
        return "PCM_U8" if unsigned else "PCM_S8"
    return f"PCM_{bits}"


def compression_options(format, compression):
    """soundfile keyword arguments for torchaudio's ``compression``; ``{}`` where it means nothing.

    FLAC: level 0-8 -> compression_level level/8. Vorbis: quality -1..10 -> compression_level
    1 - quality/10 (libsndfile's Vorbis quality is 1 - level). MP3: a constant bitrate in kbit/s
    (values of 1000 and more are taken as bit/s, as torchaudio 2.9+ passes them), mapped linearly
    from 320 kbit/s (level 0) to 32 kbit/s (level 1); libsndfile picks the nearest MP3 bitrate.
    Ignored for PCM formats and Opus.
    """
    if compression is None:
        return {}
    value = float(compression)
    if format == "flac":
        return {"compression_level": min(max(value / 8.0, 0.0), 1.0)}
    if format == "ogg":
        return {"compression_level": min(max(1.0 - value / 10.0, 0.0), 1.0)}
    if format == "mp3":
        kbps = value / 1000.0 if value >= 1000 else value
        # libsndfile 1.2 rejects exactly 1.0 for MP3; 0.999 already selects 32 kbit/s.
        return {"compression_level": min(max((320.0 - kbps) / 288.0, 0.0), 0.999), "bitrate_mode": "CONSTANT"}
    return {}


def samples_for_soundfile(tensor):
    """A numpy view (or, for the few dtypes libsndfile lacks, a converted array) of ``tensor``."""
    if tensor.dtype in (torch.float32, torch.float64, torch.int16, torch.int32):
        return tensor.detach().cpu().numpy()
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return tensor.detach().cpu().to(torch.float32).numpy()
    if tensor.dtype == torch.uint8:
        return ((tensor.detach().cpu().to(torch.int16) - 128) * 256).numpy()
    raise ValueError(f"cannot encode a tensor of dtype {tensor.dtype}; use a float dtype, int16, int32 or uint8")


# Integer subtypes we quantise ourselves, the way FFmpeg's swresample does (round to nearest,
# scale 2^(n-1), clip): libsndfile would scale by 2^(n-1)-1 and differ from torchaudio by 1 LSB.
# subtype -> (integer dtype handed to libsndfile, scale). libsndfile turns int32 into 24 bits by >> 8.
QUANTISE = {"PCM_16": (np.int16, 2.0 ** 15), "PCM_24": (np.int32, 2.0 ** 31), "PCM_32": (np.int32, 2.0 ** 31)}
# Frames per encoded block: large enough that handing blocks to the helper thread costs
# little, small enough that the quantiser's passes over one stay in the CPU's cache.
WRITE_BLOCK_FRAMES = 1 << 16


class Quantiser:
    """Float samples to the integers of ``QUANTISE[subtype]``, computed in the samples' own precision.

    Scaling by a power of two is exact, and so is rounding an exact value, so float32 input
    needs no float64 stage: the same integers come out of float32 arithmetic, at a fraction
    of the cost. The one value float32 cannot hold is int32's maximum: there the top of the
    range is 2^31 - 128, which libsndfile's >> 8 for 24-bit output maps to the same sample.
    32-bit output from float32 is therefore computed in float64.
    """

    def __init__(self, subtype, float_dtype):
        self.integer, self.scale = QUANTISE[subtype]
        exact = float_dtype == np.float64 or self.integer == np.int16 or subtype == "PCM_24"
        self.work = np.dtype(float_dtype if exact else np.float64)
        limits = np.iinfo(self.integer)
        self.low = self.work.type(limits.min)
        self.high = self.work.type(limits.max)
        if int(self.high) > limits.max:
            self.high = np.nextafter(self.high, self.work.type(0))

    def scale_into(self, block, source):
        """``block[...] = source * scale`` in the working precision (transposing on the way, if asked)."""
        np.multiply(source, self.work.type(self.scale), out=block, casting="same_kind")

    def integers(self, block, out):
        """Round and clip ``block`` in place, then return its integers in ``out``."""
        np.rint(block, out=block)
        np.clip(block, self.low, self.high, out=block)
        np.copyto(out, block, casting="unsafe")
        return out


def write(stream_or_path, samples, sample_rate, format, subtype, options):
    """Encode ``samples`` (a ``[C, T]`` numpy array) block by block: no full-size transposed copy.

    The encoder is the slow part (FLAC above all), and libsndfile releases the GIL while it
    encodes, so a helper thread prepares the next block meanwhile. Float samples must be
    finite: NaN or Inf raise ValueError (and the caller discards the partial output). Values
    beyond [-1, 1] are clipped to full scale for integer subtypes.
    """
    channels, frames = samples.shape
    blocks = EncoderBlocks(samples, subtype)
    starts = range(0, frames, WRITE_BLOCK_FRAMES)
    with soundfile.SoundFile(stream_or_path, "w", sample_rate, channels, subtype, format=WRITE_FORMATS[format],
                             **options) as out:
        if len(starts) == 1:
            out.write(blocks.prepare(0, 0))
            return
        with ThreadPoolExecutor(1) as helper:
            pending = helper.submit(blocks.prepare, 0, 0)
            for index, start in enumerate(starts):
                block = pending.result()
                if index + 1 < len(starts):
                    pending = helper.submit(blocks.prepare, starts[index + 1], (index + 1) % 2)
                out.write(block)


class EncoderBlocks:
    """``[n, C]`` blocks of ``samples`` as libsndfile takes them: interleaved, and quantised the
    way FFmpeg does where the subtype is an integer one. Two buffers, so one block can be
    prepared while the other is being encoded."""

    def __init__(self, samples, subtype):
        self.samples = samples
        self.is_float = samples.dtype.kind == "f"
        self.quantiser = Quantiser(subtype, samples.dtype) if self.is_float and subtype in QUANTISE else None
        shape = (min(samples.shape[1], WRITE_BLOCK_FRAMES), samples.shape[0])
        work = self.quantiser.work if self.quantiser else samples.dtype
        self.buffers = [np.empty(shape, work) for _ in range(2)]
        self.integers = [np.empty(shape, self.quantiser.integer) for _ in range(2)] if self.quantiser else None

    def prepare(self, start, slot):
        """The block of frames from ``start``, in buffer ``slot`` (0 or 1)."""
        source = self.samples[:, start:start + WRITE_BLOCK_FRAMES].T
        block = self.buffers[slot][:source.shape[0]]
        # Huge finite samples may overflow to Inf once scaled, or in the block's sum; both are
        # handled (clipped, or checked again on the source) and must not warn.
        with np.errstate(over="ignore", invalid="ignore"):
            if self.quantiser:
                self.quantiser.scale_into(block, source)
            else:
                np.copyto(block, source)
            if self.is_float and not np.isfinite(np.add.reduce(block, axis=None)) and not np.isfinite(source).all():
                raise ValueError(f"cannot encode NaN or Inf samples (first block with one starts at frame {start})")
            if self.quantiser:
                return self.quantiser.integers(block, self.integers[slot][:block.shape[0]])
        return block


def check_writable(format, subtype):
    major = WRITE_FORMATS.get(format)
    if major is None or format not in writable_formats():
        raise UnsupportedFormat(format, "write", writable_formats())
    if not soundfile.check_format(major, subtype):
        valid = sorted(soundfile.available_subtypes(major))
        raise ValueError(f"{format} cannot store {subtype} samples here; this libsndfile writes it as {', '.join(valid)}")
