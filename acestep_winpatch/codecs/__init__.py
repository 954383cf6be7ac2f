"""Fallback audio decoders and encoders that honour torchaudio's load/save/info contract.

Pure mechanism: this package knows nothing about patching. The policy layer
(``acestep_winpatch.patches.audio``) decides when to call it.

API
---
``decode(source, *, frame_offset=0, num_frames=-1, channels_first=True, normalize=True, format=None,
record=None)`` -> ``(tensor, sample_rate)``. float32 in [-1, 1], ``[C, T]`` (``[T, C]`` with
    ``channels_first=False``). ``num_frames=-1`` (any negative) reads to the end; an offset at or
    past the end gives an empty ``[C, 0]``, as torchaudio 2.11 does. ``normalize=False`` on
    integer PCM WAV returns what torchaudio 2.8 returned: uint8 (8-bit), int16 (16-bit), int32
    (32-bit, and 24-bit with the samples in the top 24 bits); every other file is float32.
``read_info(source, *, format=None, record=None)`` -> ``AudioInfo`` (torchaudio's AudioMetaData fields).
Both call ``record(name)``, when given, with the name of the decoder that served (``wav``,
``soundfile``, ``pyav``, ``librosa``): a chain that silently moves on would hide a broken decoder.
``encode(destination, tensor, sample_rate, *, channels_first=True, format=None, encoding=None,
bits_per_sample=None, compression=None)``; ``available_formats()`` -> ``{"read": [...], "write": [...]}``.

``source`` is a str or PathLike path (any characters) or a binary file-like object, read from
its current position. ``format`` is a hint for data that does not announce itself; the file's
own magic bytes take precedence. A missing path raises FileNotFoundError, a directory
IsADirectoryError; data no decoder can read raises ``DecodeError`` naming the file and every
decoder tried, chained from the last failure.

Decoders, in order
------------------
1. Our own RIFF/WAVE reader for plain PCM and float WAV (numpy, block by block, straight into
   the output): exact, about twice as fast as torchaudio's FFmpeg path.
2. libsndfile (``soundfile``): WAV variants, FLAC, MP3, AIFF, ... Decodes in blocks into one
   preallocated tensor: no float64 stage and no full-size transposed copy. Long FLAC files
   are decoded as parallel segments (sample-exact seeks). Lossy streams (MP3, and Vorbis/Opus
   without PyAV) are decoded from the start with no seek at all, in consecutive reads that
   give exactly the samples of one full read (``soundfile_codec.ConsecutiveReads`` says why
   python-soundfile's own block reads do not).
3. PyAV (optional): first for Ogg (Vorbis, Opus), where it is FFmpeg itself, faster than
   torchaudio and sample-for-sample equal to it (decoded frames are copied out in batches
   through FFmpeg's sample FIFO); otherwise for what libsndfile cannot read (m4a, aac,
   webm, ...). Imported only when needed.
4. librosa, only where audioread has a real backend (see ``librosa_codec``).

Where the results differ from torchaudio's FFmpeg path
------------------------------------------------------
- PCM WAV and FLAC: none; samples are bit-identical.
- MP3 through libsndfile (mpg123 instead of FFmpeg's decoder): the same number of frames, both
  honour the LAME gapless header (encoder delay and padding are removed), samples differ by
  at most ``MP3_TOLERANCE`` (float rounding of two decoders).
- Ogg/Vorbis through libsndfile (only when PyAV is missing): the frame count follows the
  stream's final granule position, which FFmpeg does not always do: FFmpeg may return up to
  ``VORBIS_FRAME_SLACK`` frames more or fewer at the end (e.g. 43972 instead of 44100 for a
  libsndfile-written 1 s file; 16128 instead of 16000 for an FFmpeg-written one). The frames
  both return agree within ``VORBIS_TOLERANCE``. Opus differs by up to ``OPUS_TOLERANCE``.

Encoding
--------
Through libsndfile; the format comes from ``format=`` or the destination's extension and is
never changed silently: an unknown or unavailable one raises ``UnsupportedFormat`` listing
what is available. Defaults follow torchaudio 2.11: float samples become 16-bit PCM in WAV
(24-bit in FLAC), integer tensors (int16, int32, uint8) keep their width. See
``soundfile_codec.subtype_for`` and ``compression_options`` for the mappings. 1-D input is
mono. NaN or Inf samples raise ValueError (nothing is written); values beyond [-1, 1] are
clipped to full scale in integer formats. A path is written through ``destination.place``: a
temporary beside the real file, put in place only once finished, so a failure leaves an existing
destination byte-identical (symlinks, mode and owner are kept as native keeps them). A file-like
destination receives the bytes only once encoding succeeded (it needs ``format=``).
"""

import importlib.util
import io
import os

import torch

from . import formats, sources, wav
from .contract import AudioInfo, DecodeError, UnsupportedFormat
from .destination import place

__all__ = ["AudioInfo", "DecodeError", "UnsupportedFormat", "available_formats", "decode", "encode", "read_info"]

MP3_TOLERANCE = 1e-5
VORBIS_TOLERANCE = 1e-5
VORBIS_FRAME_SLACK = 2048
OPUS_TOLERANCE = 1e-3

# Formats PyAV should decode before libsndfile (see the module docstring).
PYAV_FIRST = {"ogg", "opus"}


def _soundfile():
    from . import soundfile_codec

    return soundfile_codec


def _pyav():
    if importlib.util.find_spec("av") is None:
        raise ModuleNotFoundError("PyAV is not installed")
    from . import pyav_codec

    return pyav_codec


def _librosa():
    if importlib.util.find_spec("librosa") is None:
        raise ModuleNotFoundError("librosa is not installed")
    from . import librosa_codec

    return librosa_codec


def _decoders(format, for_samples):
    """``(name, loader)`` pairs in the order to try them for ``format``.

    Metadata always asks libsndfile before PyAV: it reads Ogg frame counts from the granule
    positions exactly and cheaply, where PyAV only estimates them from the duration.
    """
    order = [("wav", lambda: wav)] if format == "wav" else []
    libraries = [("soundfile", _soundfile), ("pyav", _pyav)]
    if for_samples and format in PYAV_FIRST:
        libraries.reverse()
    return order + libraries + [("librosa", _librosa)]


def _run_chain(source, decoders, operation, record):
    """Call ``operation(name, module)`` with each decoder in turn; the first result wins."""
    attempts, last = [], None
    for name, load in decoders:
        try:
            module = load()
        except ImportError as error:
            attempts.append((name, str(error)))
            continue
        try:
            result = operation(name, module)
        except MemoryError:
            raise
        except Exception as error:
            attempts.append((name, f"{type(error).__name__}: {error}"))
            last = error
            continue
        if record is not None:
            record(name)
        return result
    raise DecodeError(source.name, attempts) from last


def decode(source, *, frame_offset=0, num_frames=-1, channels_first=True, normalize=True, format=None, record=None):
    """Decode ``source`` into ``(tensor, sample_rate)``; see the module docstring for the contract."""
    _check_frames(frame_offset, num_frames)
    resolved = sources.resolve(source)
    kind = formats.resolve(resolved.head, format, resolved.path)
    hint = formats.normalise(format)

    def attempt(name, module):
        arguments = (resolved, frame_offset, num_frames, channels_first, normalize)
        tensor, sample_rate = module.decode(*arguments, hint=hint) if name == "pyav" else module.decode(*arguments)
        _check_audio(tensor.shape[0 if channels_first else 1], sample_rate)
        return tensor, sample_rate

    return _run_chain(resolved, _decoders(kind, for_samples=True), attempt, record)


def read_info(source, *, format=None, record=None):
    """``AudioInfo`` of ``source``: sample rate, frames, channels, bits per sample, encoding."""
    resolved = sources.resolve(source)
    kind = formats.resolve(resolved.head, format, resolved.path)
    hint = formats.normalise(format)

    def attempt(name, module):
        info = module.read_info(resolved, hint=hint) if name == "pyav" else module.read_info(resolved)
        _check_audio(info.num_channels, info.sample_rate)
        return info

    return _run_chain(resolved, _decoders(kind, for_samples=False), attempt, record)


def _check_audio(channels, sample_rate):
    """Reject what a lenient demuxer makes of garbage: a "stream" with no channels or no rate."""
    if channels < 1 or sample_rate < 1:
        raise ValueError(f"found no audio ({channels} channels at {sample_rate} Hz)")


def _check_frames(frame_offset, num_frames):
    if frame_offset < 0:
        raise ValueError(f"frame_offset must be 0 or more, got {frame_offset}")
    if num_frames < -1:
        raise ValueError(f"num_frames must be -1 (to the end) or 0 or more, got {num_frames}")


def encode(destination, tensor, sample_rate, *, channels_first=True, format=None, encoding=None,
           bits_per_sample=None, compression=None):
    """Encode ``tensor`` to ``destination`` (a path, written atomically, or a binary file-like object)."""
    codec = _soundfile()
    is_stream = hasattr(destination, "write")
    chosen = formats.normalise(format) or (None if is_stream else formats.from_extension(destination))
    if chosen is None:
        raise UnsupportedFormat(
            "(none given)" if is_stream else os.fspath(destination), "write", codec.writable_formats()
        )
    samples = _as_channels_first(tensor, channels_first, sample_rate)
    subtype = codec.subtype_for(chosen, tensor.dtype, encoding, bits_per_sample)
    codec.check_writable(chosen, subtype)
    options = codec.compression_options(chosen, compression)
    array = codec.samples_for_soundfile(samples)
    if is_stream:
        encoded = io.BytesIO()
        codec.write(encoded, array, int(sample_rate), chosen, subtype, options)
        destination.write(encoded.getvalue())
    else:
        place(destination, lambda path: codec.write(path, array, int(sample_rate), chosen, subtype, options))


def _as_channels_first(tensor, channels_first, sample_rate):
    """``tensor`` as a ``[C, T]`` view; 1-D is mono. Rejects what no file can hold (no channels);
    zero frames are written as a file with a header and no samples, as torchaudio 2.11 writes them."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    if int(sample_rate) <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(0)
    elif tensor.ndim == 2:
        tensor = tensor if channels_first else tensor.t()
    else:
        raise ValueError(f"expected a 1-D or 2-D tensor, got {tensor.ndim}-D with shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0:
        raise ValueError(f"cannot encode audio with 0 channels ({tensor.shape[1]} frames)")
    return tensor


def available_formats():
    """``{"read": [...], "write": [...]}``: the format names this installation can decode and encode."""
    read = {"wav"}
    try:
        codec = _soundfile()
        read |= codec.readable_formats()
        write = codec.writable_formats()
    except ImportError:
        write = set()
    try:
        read |= _pyav().READ_FORMATS
    except ImportError:
        pass
    return {"read": sorted(read), "write": sorted(write)}
