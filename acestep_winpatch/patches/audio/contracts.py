"""The contract a fallback keeps: one object per torchaudio era.

``TORCHCODEC`` is torchaudio >= 2.9's (and ``load_with_torchcodec``/``save_with_torchcodec``'s
in any era); ``DISPATCH`` is 2.5-2.8's, whose load/save/info dispatch to the ffmpeg, sox and
soundfile backends. Each turns a bound call into the codecs' arguments, emits the warnings
native emits (texts, category and position), rejects what native rejects with native's
exception type and words, and says what a failure of its own looks like.
"""

import os
from typing import Any, Callable, NamedTuple

from . import classify
from .attribution import CallSite
from .errors import AudioBackendError, AudioFileNotFoundError, AudioFormatError

FALLBACK_NAME = "soundfile/librosa/PyAV"


class Request(NamedTuple):
    """One call the fallback serves: its operation, bound arguments, why native could not, where
    native's warnings would point, and ``record(decoder)`` for the decoder that served it."""

    operation: Any
    arguments: dict
    reason: str
    site: CallSite
    record: Callable[[str], None]


def missing_path(uri):
    """The local path ``uri`` names if it does not exist (URLs and file-like objects are never missing)."""
    if not isinstance(uri, (str, os.PathLike)):
        return None
    path = os.fsdecode(os.fspath(uri))
    if "://" in path or os.path.exists(path):
        return None
    return path


class TorchCodecContract:
    """torchaudio >= 2.9 (``torchaudio/_torchcodec.py``).

    load: always float32; ``normalize=False``, ``buffer_size``, ``backend`` and ``format`` are
    ignored with native's warnings; a ``frame_offset`` of 0 or less reads from the start and
    a negative ``num_frames`` to the end. save: 1-D input is mono; ``format``, ``encoding``,
    ``bits_per_sample``, ``buffer_size`` and ``backend`` are ignored with native's warnings,
    the extension alone decides the format (no known extension, or a file-like destination,
    fails as natively); float WAV is written as 16-bit PCM and FLAC as 24-bit; ``compression``
    is torchcodec's bit rate: MP3's (``codecs.soundfile_codec.compression_options``), nothing for
    lossless formats, and for Vorbis libsndfile's quality, the one setting it has.
    """

    skips_known_unavailable = True  # a failing native attempt retries five FFmpeg versions (~3 ms)

    LOAD_IGNORED = {
        "normalize": "TorchCodec AudioDecoder always returns normalized float32 samples. "
                     "The 'normalize=False' parameter is ignored.",
        "buffer_size": "The 'buffer_size' parameter is not used by TorchCodec AudioDecoder.",
        "backend": "The 'backend' parameter is not used by TorchCodec AudioDecoder.",
        "format": "The 'format' parameter is not supported by TorchCodec AudioDecoder.",
    }
    SAVE_IGNORED = {
        "format": "The 'format' parameter is not used by TorchCodec AudioEncoder. "
                  "Format is determined by the file extension.",
        "encoding": "The 'encoding' parameter is not fully supported by TorchCodec AudioEncoder.",
        "bits_per_sample": "The 'bits_per_sample' parameter is not directly supported by TorchCodec AudioEncoder.",
        "buffer_size": "The 'buffer_size' parameter is not used by TorchCodec AudioEncoder.",
        "backend": "The 'backend' parameter is not used by TorchCodec AudioEncoder.",
    }
    COMPRESSION_TYPE = "Unsupported compression type {}. TorchCodec AudioEncoder expects int or float for bit_rate."
    # Lossless formats, for which torchcodec's bit rate changes nothing (measured: FLAC identical at 0 and 8).
    IGNORES_BIT_RATE = {"wav", "flac", "aiff", "au", "w64", "caf"}

    def warning_site(self, operation, native, caller):
        """torchaudio's own ``load``/``save`` delegate to the ``*_with_torchcodec`` functions,
        whose warnings name torchaudio's line; called directly, they name the caller's."""
        if operation.delegate is not None:
            import inspect

            site = CallSite.delegation_in(inspect.unwrap(native), operation.delegate)
            if site is not None:
                return site
        return caller

    def rescue(self, operation, arguments, error):
        return None

    def load(self, request):
        from ... import codecs

        call = request.arguments
        _warn_flagged(request.site, self.LOAD_IGNORED, normalize=not call["normalize"],
                      buffer_size=call["buffer_size"] != 4096, backend=call["backend"] is not None,
                      format=call["format"] is not None)
        _raise_if_missing(self, call["uri"])
        try:
            return codecs.decode(call["uri"], frame_offset=max(call["frame_offset"], 0),
                                 num_frames=call["num_frames"] if call["num_frames"] >= 0 else -1,
                                 channels_first=call["channels_first"], record=request.record)
        except (codecs.DecodeError, codecs.UnsupportedFormat, OSError) as error:
            raise self.both_failed(request, error) from error

    def save(self, request):
        import torch

        from ... import codecs

        call = request.arguments
        _warn_flagged(request.site, self.SAVE_IGNORED, format=call["format"] is not None,
                      encoding=call["encoding"] is not None, bits_per_sample=call["bits_per_sample"] is not None,
                      buffer_size=call["buffer_size"] != 4096, backend=call["backend"] is not None)
        src, sample_rate = call["src"], call["sample_rate"]
        if not isinstance(src, torch.Tensor):
            raise ValueError(f"Expected src to be a torch.Tensor, got {type(src)}")
        if src.dtype != torch.float32:
            src = src.float()
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if src.ndim not in (1, 2):
            raise ValueError(f"Expected 1D or 2D tensor, got {src.ndim}D tensor")
        compression = call["compression"]
        if compression is not None and not isinstance(compression, (int, float)):
            request.site.warn(self.COMPRESSION_TYPE.format(type(compression)))
            compression = None
        uri = call["uri"]
        try:
            fmt = _format_by_extension(uri)
            codecs.encode(uri, src, sample_rate, channels_first=call["channels_first"], format=fmt,
                          compression=None if fmt in self.IGNORES_BIT_RATE else compression)
        except (codecs.UnsupportedFormat, ValueError, RuntimeError, OSError) as error:
            raise self.both_failed(request, error) from error

    def info(self, request):
        """``torchaudio.info``, which 2.9 removed, restored on the fallback readers (``format`` is a hint)."""
        from ... import codecs

        uri = request.arguments["uri"]
        path = missing_path(uri)
        if path is not None:
            raise AudioFileNotFoundError.for_path(path, f"No such file or directory: {path!r}")
        try:
            return codecs.read_info(uri, format=request.arguments["format"], record=request.record)
        except OSError as error:  # a directory, no permission: the RuntimeError torchaudio raised
            raise AudioBackendError(f"torchaudio.info could not read {_where(uri)!r}: {error}") from error

    def missing_input(self, uri, path, native_error=None):
        """Native's error for a missing file (its very text where native ran)."""
        message = str(native_error) if native_error is not None else (
            f"Failed to create AudioDecoder for {uri}: Could not open input file: {path} No such file or directory")
        return AudioFileNotFoundError.for_path(path, message)

    def both_failed(self, request, error):
        """Native's words for a failed call (``Failed to create AudioDecoder for <uri>: ...``), then both attempts."""
        uri = request.arguments["uri"]
        head = f"Failed to save audio to {uri}" if request.operation.verb == "save" else \
            f"Failed to create AudioDecoder for {uri}"
        return _both_failed(head, request.reason, error)


class DispatchContract:
    """torchaudio 2.5-2.8 with no backend for the call, following its soundfile backend.

    load: ``normalize=False`` on integer WAV returns int16 / int32 / uint8, ``format`` is a
    hint. save: 2-D input only (``Expected 2D Tensor, got 1D.``), ``format=`` overrides the
    extension, WAV follows the tensor's dtype (float32 -> 32-bit float), FLAC defaults to
    16-bit, ``encoding``/``bits_per_sample`` are honoured. info returns torchaudio's own
    ``AudioMetaData``. Native is attempted on every call (it fails in microseconds, and its
    own "In 2.9, ..." warning is emitted as without the plugin).
    """

    skips_known_unavailable = False

    def warning_site(self, operation, native, caller):
        return caller

    def rescue(self, operation, arguments, error):
        """A per-call way out of native's error: retry with torchaudio's own choice of backend
        when the requested one is missing, or the fallback when the call ended in the soundfile
        backend only because the FFmpeg backend is unavailable and the format is beyond
        libsndfile's torchaudio backend (reading m4a, writing opus)."""
        requested = arguments.get("backend")
        if classify.backend_missing(error, requested):
            return Rescue(True, f"torchaudio backend {requested!r} is not available here; torchaudio chose another")
        if requested is None and classify.soundfile_cannot_handle(error, operation.verb) and not _ffmpeg_backend():
            first = classify.first_line(str(error))
            return Rescue(False, f"no torchaudio backend for this format ({first}; the FFmpeg backend is unavailable)")
        return None

    def load(self, request):
        from ... import codecs

        call = request.arguments
        _raise_if_missing(self, call["uri"])
        try:
            return codecs.decode(call["uri"], frame_offset=call["frame_offset"], num_frames=call["num_frames"],
                                 channels_first=call["channels_first"], normalize=call["normalize"],
                                 format=call["format"], record=request.record)
        except (codecs.DecodeError, codecs.UnsupportedFormat, OSError) as error:
            raise self.both_failed(request, error) from error

    def save(self, request):
        from ... import codecs
        from ...codecs import formats

        call = request.arguments
        src = call["src"]
        if src.ndim != 2:
            raise ValueError(f"Expected 2D Tensor, got {src.ndim}D.")
        uri = call["uri"]
        fmt = formats.normalise(call["format"]) or (formats.from_extension(uri) if _is_path(uri) else None)
        encoding, bits = _soundfile_backend_subtype(call, fmt, src.dtype)
        try:
            codecs.encode(uri, src, call["sample_rate"], channels_first=call["channels_first"], format=fmt,
                          encoding=encoding, bits_per_sample=bits, compression=call["compression"])
        except (codecs.UnsupportedFormat, RuntimeError, OSError) as error:
            raise self.both_failed(request, error) from error
        except ValueError as error:  # the samples themselves (no channels, NaN): the caller's to fix
            raise ValueError(f"{request.operation.target} could not save {_where(uri)!r}: {error}") from error

    def info(self, request):
        from ... import codecs

        call = request.arguments
        _raise_if_missing(self, call["uri"])
        try:
            found = codecs.read_info(call["uri"], format=call["format"], record=request.record)
        except (codecs.DecodeError, codecs.UnsupportedFormat, OSError) as error:
            raise self.both_failed(request, error) from error
        from torchaudio._backend.common import AudioMetaData

        return AudioMetaData(found.sample_rate, found.num_frames, found.num_channels,
                             found.bits_per_sample, found.encoding)

    def missing_input(self, uri, path, native_error=None):
        """Native's error for a missing file: its text where a backend ran, else libsndfile's words."""
        message = str(native_error) if native_error is not None else f"Error opening {path!r}: System error."
        return AudioFileNotFoundError.for_path(path, message)

    def both_failed(self, request, error):
        operation = request.operation
        head = f"{operation.target} could not {operation.verb} {_where(request.arguments['uri'])!r}"
        return _both_failed(head, request.reason, error)



class Rescue(NamedTuple):
    """``retry``: call native again with ``backend=None``; otherwise the fallback serves the call."""

    retry: bool
    reason: str


def _raise_if_missing(contract, uri):
    path = missing_path(uri)
    if path is not None:
        raise contract.missing_input(uri, path)


def _format_by_extension(uri):
    """The format a destination's extension names; without one (or for a file-like object)
    torchcodec cannot choose an encoder, and neither does the fallback."""
    from ... import codecs
    from ...codecs import formats

    named = formats.from_extension(uri) if _is_path(uri) else None
    if named is None:
        raise codecs.UnsupportedFormat(f"{_where(uri)} (no file extension)", "write",
                                       codecs.available_formats()["write"])
    return named


def _warn_flagged(site, texts, **flags):
    for argument, flagged in flags.items():
        if flagged:
            site.warn(texts[argument])


def _both_failed(head, reason, error):
    from ... import codecs

    cls = AudioFormatError if isinstance(error, codecs.UnsupportedFormat) else AudioBackendError
    return cls(f"{head}: Native torchaudio: unavailable ({reason}). "
               f"Fallback ({FALLBACK_NAME}): {type(error).__name__}: {error}")


def _is_path(uri):
    return isinstance(uri, (str, os.PathLike))


def _where(uri):
    """The path an error message names, or the kind of file-like object."""
    return os.fsdecode(os.fspath(uri)) if _is_path(uri) else f"<{type(uri).__name__}>"


def _ffmpeg_backend():
    from torchaudio._backend.utils import get_available_backends

    return "ffmpeg" in get_available_backends()


def _soundfile_backend_subtype(call, fmt, dtype):
    """torchaudio 2.5-2.8's soundfile backend: WAV follows the tensor's dtype, FLAC defaults to 16-bit."""
    import torch

    if call["encoding"] is not None or call["bits_per_sample"] is not None:
        return call["encoding"], call["bits_per_sample"]
    if fmt == "wav":
        by_dtype = {torch.uint8: ("PCM_U", 8), torch.int16: ("PCM_S", 16), torch.int32: ("PCM_S", 32),
                    torch.float32: ("PCM_F", 32), torch.float64: ("PCM_F", 64)}
        return by_dtype.get(dtype, (None, None))
    if fmt == "flac":
        return "PCM_S", 16
    return None, None


TORCHCODEC = TorchCodecContract()
DISPATCH = DispatchContract()
