"""torchaudio's load, save and info: native first, the fallback codecs only when the backend is unavailable.

This is policy: it decides *when* to leave torchaudio. ``acestep_winpatch.codecs`` knows *how* to
read and write without it, and knows nothing about patching.

When the fallback is taken
    Only when native torchaudio says its backend cannot run (the messages in ``UNAVAILABLE``,
    searched along the exception's ``__cause__``/``__context__`` chain): torchcodec missing, or
    its FFmpeg libraries, a DLL or a shared object that will not load (torchaudio >= 2.9), or
    torchaudio 2.5-2.8 finding no backend for the file. Such a failure is remembered for the
    rest of the process, per function, and later calls go straight to the fallback (a failing
    native attempt costs about 3 ms) - except through another library's wrapper beneath ours,
    which still runs on every call. Until native has answered once, native attempts take turns:
    threads importing torchcodec at once get Python's import ``_DeadlockError`` instead of its
    real answer. A ``backend=`` that names a torchaudio backend this installation lacks
    (2.5-2.8: ``ValueError: Unsupported backend 'sox' specified``) is
    retried once through torchaudio's own dispatch, remembered per backend, so the result is
    still torchaudio's own.

When native works but fails on one file
    The native error propagates unchanged: a working FFmpeg that rejects a file is a statement
    about the file, and a second decoder that "succeeds" on it would hide a real problem (or
    read something else than FFmpeg would). The one exception is the 2.5-2.8 dispatcher with
    no FFmpeg backend: it hands every file to soundfile, and libsndfile's "Format not
    recognised" there means exactly "no available backend for this format" (the same
    situation as "Couldn't find appropriate backend"), so that call, and only that call,
    falls back.

Genuine errors
    A missing input path raises ``AudioFileNotFoundError`` in every environment: a
    ``FileNotFoundError`` that is also the ``RuntimeError`` native torchaudio raises for it, so
    code written for either keeps working. A corrupt file raises. Argument errors raise what
    torchaudio raises (``ValueError: Expected 2D Tensor, got 1D.`` on 2.5-2.8). When native was
    unavailable and the fallback fails too, one ``AudioBackendError`` (a ``RuntimeError``;
    ``AudioFormatError`` is also a ``ValueError``) names both attempts, chained from the
    fallback's error.

Eras (the contract the fallback keeps)
    torchaudio >= 2.9, and ``load_with_torchcodec``/``save_with_torchcodec`` in any era: load
    always returns float32 (``normalize=False`` is ignored with torchaudio's own warning);
    save accepts 1-D input as mono, the extension decides the format (``format=`` is used only
    when the path has no extension the writers know), float input is written as 16-bit WAV or
    24-bit FLAC unless ``encoding``/``bits_per_sample`` ask otherwise (native 2.9+ ignores
    those two; the fallback honours them). torchaudio 2.5-2.8: ``normalize=False`` on integer
    WAV returns integer tensors, save rejects 1-D input, ``format=`` overrides the extension,
    and the default subtypes are those of 2.8's soundfile backend (WAV by dtype, FLAC 16-bit).
    ``torchaudio.info``, gone in 2.9, is restored on top of the fallback readers and returns
    ``codecs.AudioInfo`` (torchaudio's ``AudioMetaData`` fields); on 2.5-2.8 it is wrapped like
    load and returns torchaudio's own ``AudioMetaData``.
"""

import functools
import os
import sys
import threading
import types

from .. import events, forksafe
from ..registry import Patch

# Messages by which native torchaudio says its backend cannot run at all, wherever they appear
# in the exception chain. Measured here: torchaudio 2.11 without FFmpeg raises
# "RuntimeError: Could not load libtorchcodec..." (its text embeds torch's "Could not load this
# library" and dlopen's "cannot open shared object file"); torchaudio wraps lazy torchcodec
# failures as "Failed to create AudioDecoder for <uri>: ..." / "Failed to create AudioEncoder:
# ...", which these still match. Windows says "DLL load failed" (import) and "The specified
# module could not be found" (LoadLibrary). 2.8 without torchcodec: "TorchCodec is required for
# load_with_torchcodec". 2.5-2.8 with no backend at all: "Couldn't find appropriate backend".
UNAVAILABLE = (
    "Could not load libtorchcodec",
    "TorchCodec is required for",
    "Could not load this library",
    "cannot open shared object file",
    "DLL load failed",
    "The specified module could not be found",
    "Couldn't find appropriate backend",
)
# torchaudio 2.5-2.8 (_backend/utils.py get_backend) for a backend= it does not have.
BACKEND_MISSING = "Unsupported backend '"
BACKEND_NAMES = ("ffmpeg", "sox", "soundfile")
# libsndfile (2.5-2.8's soundfile backend) for a container it cannot read at all.
FORMAT_UNKNOWN_TO_SOUNDFILE = "Format not recognised"

# torchaudio >= 2.9's warnings (torchaudio/_torchcodec.py) for arguments the fallback ignores too.
IGNORED_BY_TORCHCODEC = {
    "load": {
        "normalize": "TorchCodec AudioDecoder always returns normalized float32 samples. "
                     "The 'normalize=False' parameter is ignored.",
        "buffer_size": "The 'buffer_size' parameter is not used by TorchCodec AudioDecoder.",
        "backend": "The 'backend' parameter is not used by TorchCodec AudioDecoder.",
    },
    "save": {
        "format": "The 'format' parameter is not used by TorchCodec AudioEncoder. "
                  "Format is determined by the file extension.",
        "buffer_size": "The 'buffer_size' parameter is not used by TorchCodec AudioEncoder.",
        "backend": "The 'backend' parameter is not used by TorchCodec AudioEncoder.",
    },
}


class AudioFileNotFoundError(FileNotFoundError, RuntimeError):
    """A missing input file: a ``FileNotFoundError``, and the ``RuntimeError`` torchaudio raises for one."""


class AudioBackendError(RuntimeError):
    """Native torchaudio was unavailable and the fallback failed too; the message names both."""


class AudioFormatError(AudioBackendError, ValueError):
    """As ``AudioBackendError``, for a format no fallback writer handles (the message lists those that do)."""


def _load_call(uri, frame_offset=0, num_frames=-1, normalize=True, channels_first=True, format=None,
               buffer_size=4096, backend=None):
    return locals()


def _save_call(uri, src, sample_rate, channels_first=True, format=None, encoding=None, bits_per_sample=None,
               buffer_size=4096, backend=None, compression=None):
    return locals()


def _info_call(uri, format=None, buffer_size=4096, backend=None):
    return locals()


class Operation:
    """One patched torchaudio function: how its arguments bind and what replaces it when unavailable."""

    def __init__(self, name, verb, bind, fallback, torchcodec_contract):
        self.name = name
        self.verb = verb
        self.bind = bind
        self.fallback = fallback
        self.torchcodec_contract = torchcodec_contract

    @property
    def target(self):
        return "torchaudio." + self.name.split(".", 1)[1]


_unavailable = {}  # operation name, or (operation name, backend), -> why native cannot serve it
_native_works = set()  # operation names whose native call has succeeded once in this process
# Until native has answered once, native calls take turns: the first attempts import torchcodec,
# and threads importing it at once get Python's "_DeadlockError: deadlock detected by
# _ModuleLock('torchcodec.decoders')" instead of its real answer. Later threads then also
# find the verdict already remembered and never pay for a failing attempt.
_learning = forksafe.Lock()
_local = threading.local()


class _AlreadyKnownUnavailable(Exception):
    """Raised inside ``_call_native`` when another thread learned the verdict while this one waited."""


def native_first(name, native, args, kwargs):
    """Call ``native`` (torchaudio's function) and fall back only if its backend is unavailable.

    Nested calls (2.9's ``load`` calling the patched ``load_with_torchcodec``) pass straight
    through, so only the outermost patched function decides and counts.
    """
    if getattr(_local, "busy", False):
        return native(*args, **kwargs)
    operation = OPERATIONS[name]
    _local.busy = True
    try:
        return _decide(operation, native, args, kwargs)
    finally:
        _local.busy = False


def _decide(operation, native, args, kwargs):
    try:
        call = operation.bind(*args, **kwargs)
    except TypeError:
        return native(*args, **kwargs)  # a wrong call gets torchaudio's own TypeError
    may_skip = _is_torchaudios_own(native)
    if may_skip and operation.name in _unavailable:
        return _fall_back(operation, call, _unavailable[operation.name])
    requested = call.get("backend")
    if requested is not None and (operation.name, requested) in _unavailable:
        call["backend"] = None
        args, kwargs = (), call
    while True:
        try:
            return _call_native(operation, native, args, kwargs, may_skip)
        except _AlreadyKnownUnavailable:
            return _fall_back(operation, call, _unavailable[operation.name])
        except Exception as error:
            backend_reason = _backend_missing(error, call)
            if backend_reason is not None:
                _remember((operation.name, call["backend"]), backend_reason, operation)
                events.fallback(operation.name, backend_reason)
                call["backend"] = None
                args, kwargs = (), call
                continue
            reason = _unavailable_reason(error)
            if reason is not None:
                _remember(operation.name, reason, operation)
                return _fall_back(operation, call, reason)
            reason = _format_needs_missing_ffmpeg(error, call)
            if reason is not None:
                return _fall_back(operation, call, reason)
            _raise_if_missing_input(operation, call, error)
            raise


def _call_native(operation, native, args, kwargs, may_skip):
    if operation.name in _native_works:
        return native(*args, **kwargs)
    with _learning:
        if may_skip and operation.name in _unavailable:
            raise _AlreadyKnownUnavailable
        try:
            result = native(*args, **kwargs)
        except Exception as error:
            reason = _unavailable_reason(error)
            if reason is not None:  # remembered before the next thread may try
                _remember(operation.name, reason, operation)
            raise
    _native_works.add(operation.name)
    return result


def _is_torchaudios_own(function):
    """Whether ``function`` is torchaudio's own code, which the remembered verdict may skip.

    Another library's wrapper beneath ours (wrapt or ``functools.wraps``) is never skipped:
    it runs on every call, and the fallback follows when the native call beneath it fails.
    """
    code = getattr(function, "__code__", None)
    return type(function) is types.FunctionType and code.co_filename.startswith(_torchaudio_folder())


@functools.cache
def _torchaudio_folder():
    import torchaudio

    return os.path.dirname(torchaudio.__file__)


def _remember(key, reason, operation):
    _unavailable[key] = reason
    where = operation.target if isinstance(key, str) else f"{operation.target}(backend={key[1]!r})"
    events.note(operation.name, f"{where}: native unavailable ({reason}); using the fallback for this process")


def _unavailable_reason(error):
    """A one-line account of the error that says the native backend cannot run, or None."""
    for link in _chain(error):
        text = str(link)
        if any(message in text for message in UNAVAILABLE) or _is_torchcodec_import_error(link):
            return f"{type(link).__name__}: {_summary(text)}"
    return None


def _summary(text):
    """The gist of a long loader message: its first sentence, without the file it was about
    (the reason is reused for later calls), plus the loader's own first line where it embeds one
    (``libavutil.so.60: cannot open shared object file``)."""
    head = _first_line(text).split(" Likely causes")[0].split(" to handle uri ")[0]
    loader = [line.strip() for line in text.splitlines()[1:]
              if "OSError" in line and any(message in line for message in UNAVAILABLE)]
    return f"{head} ({loader[0]})" if loader else head


def _is_torchcodec_import_error(error):
    return isinstance(error, ImportError) and (error.name or "").split(".")[0] == "torchcodec"


def _backend_missing(error, call):
    """Why a requested ``backend=`` cannot be used, or None (an unknown name stays the caller's error)."""
    requested = call.get("backend")
    if requested not in BACKEND_NAMES or not isinstance(error, ValueError) or BACKEND_MISSING not in str(error):
        return None
    return f"torchaudio backend {requested!r} is not available here; torchaudio chose another"


def _format_needs_missing_ffmpeg(error, call):
    """On 2.5-2.8 without an FFmpeg backend: libsndfile cannot read this container at all."""
    if call.get("backend") is not None or FORMAT_UNKNOWN_TO_SOUNDFILE not in str(error) or not _dispatch_era():
        return None
    from torchaudio._backend.utils import get_available_backends

    if "ffmpeg" in get_available_backends():
        return None
    return f"no torchaudio backend for this format ({_first_line(str(error))}; the FFmpeg backend is unavailable)"


def _chain(error):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _first_line(text):
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _missing_path(uri):
    """The local path ``uri`` names if it does not exist (URLs and file-like objects are never missing)."""
    if not isinstance(uri, (str, os.PathLike)):
        return None
    path = os.fsdecode(os.fspath(uri))
    if "://" in path or os.path.exists(path):
        return None
    return path


def _raise_if_missing_input(operation, call, cause):
    if operation.verb == "save":
        return
    path = _missing_path(call["uri"])
    if path is not None:
        error = AudioFileNotFoundError(2, "No such file or directory", path)
        raise error from cause


def _fall_back(operation, call, reason):
    events.fallback(operation.name, reason)
    _raise_if_missing_input(operation, call, None)
    return operation.fallback(operation, call, reason)


def _both_failed(operation, call, reason, error):
    """One error naming both attempts; the caller raises it from the fallback's own error."""
    from .. import codecs

    cls = AudioFormatError if isinstance(error, codecs.UnsupportedFormat) else AudioBackendError
    message = (f"{operation.target} could not {operation.verb} {_where(call['uri'])!r}. "
               f"Native torchaudio: unavailable ({reason}). "
               f"Fallback (soundfile/librosa/PyAV): {type(error).__name__}: {error}")
    return cls(message)


def _where(uri):
    """The path an error message names, or the kind of file-like object."""
    return os.fsdecode(os.fspath(uri)) if isinstance(uri, (str, os.PathLike)) else f"<{type(uri).__name__}>"


@functools.cache
def _dispatch_era():
    """True on torchaudio 2.5-2.8, whose load/save dispatch to ffmpeg/sox/soundfile backends."""
    import torchaudio

    major, minor = (int(part) for part in torchaudio.__version__.split("+")[0].split(".")[:2])
    return (major, minor) < (2, 9)


def _warn(text):
    import warnings

    warnings.warn(text, UserWarning, stacklevel=_caller_stacklevel())


def _caller_stacklevel():
    """The ``stacklevel`` that points a warning at the first frame outside this package and wrapt."""
    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(2), 2
    while frame is not None and (frame.f_code.co_filename.startswith(ours) or "wrapt" in frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return level


def _load_fallback(operation, call, reason):
    from .. import codecs

    torchcodec = operation.torchcodec_contract()
    if torchcodec:
        _warn_ignored("load", call, normalize=not call["normalize"])
    try:
        return codecs.decode(
            call["uri"], frame_offset=call["frame_offset"], num_frames=call["num_frames"],
            channels_first=call["channels_first"], normalize=True if torchcodec else call["normalize"],
            format=call["format"],
        )
    except (codecs.DecodeError, codecs.UnsupportedFormat, OSError) as error:
        raise _both_failed(operation, call, reason, error) from error


def _warn_ignored(verb, call, **ignored):
    texts = IGNORED_BY_TORCHCODEC[verb]
    flags = {"buffer_size": call["buffer_size"] != 4096, "backend": call["backend"] is not None, **ignored}
    for argument, flagged in flags.items():
        if flagged:
            _warn(texts[argument])


def _save_fallback(operation, call, reason):
    from .. import codecs

    src = _checked_source(call, torchcodec=operation.torchcodec_contract())
    if operation.torchcodec_contract():
        fmt, by_extension = _torchcodec_save_format(call)
        _warn_ignored("save", call, format=call["format"] is not None and by_extension)
        encoding, bits = _torchcodec_subtype(call, fmt)
    else:
        fmt = _format_name(call["format"]) or _extension_format(call["uri"])
        encoding, bits = _soundfile_backend_subtype(call, fmt, src.dtype)
    try:
        codecs.encode(
            call["uri"], src, call["sample_rate"], channels_first=call["channels_first"], format=fmt,
            encoding=encoding, bits_per_sample=bits, compression=call["compression"],
        )
    except (codecs.UnsupportedFormat, RuntimeError, OSError) as error:
        raise _both_failed(operation, call, reason, error) from error
    except ValueError as error:  # the samples themselves (no channels, NaN): the caller's to fix
        raise ValueError(f"{operation.target} could not save {_where(call['uri'])!r}: {error}") from error


def _checked_source(call, torchcodec):
    """The tensor to write, rejected exactly where torchaudio of this contract rejects it."""
    import torch

    src = call["src"]
    if torchcodec:
        if not isinstance(src, torch.Tensor):
            raise ValueError(f"Expected src to be a torch.Tensor, got {type(src)}")
        if call["sample_rate"] <= 0:
            raise ValueError(f"sample_rate must be positive, got {call['sample_rate']}")
        if src.ndim not in (1, 2):
            raise ValueError(f"Expected 1D or 2D tensor, got {src.ndim}D tensor")
        return src if src.dtype == torch.float32 else src.float()
    if src.ndim != 2:
        raise ValueError(f"Expected 2D Tensor, got {src.ndim}D.")
    return src


def _format_name(name):
    from ..codecs.formats import normalise

    return normalise(name)


def _extension_format(uri):
    from ..codecs.formats import from_extension

    return from_extension(uri) if isinstance(uri, (str, os.PathLike)) else None


def _torchcodec_save_format(call):
    """``(format, decided_by_extension)``: the extension decides, as in torchaudio >= 2.9, and
    ``format=`` only fills in where the path has no extension the writers know."""
    extension = _extension_format(call["uri"])
    if extension in _writable_formats():
        return extension, True
    return _format_name(call["format"]) or extension, False


@functools.cache
def _writable_formats():
    """What the fallback writers handle; fixed for the process, and about 1 ms to ask codecs."""
    from .. import codecs

    return frozenset(codecs.available_formats()["write"])


def _torchcodec_subtype(call, fmt):
    """torchaudio >= 2.9 writes float WAV as 16-bit and FLAC as 24-bit; explicit arguments win here."""
    if call["encoding"] is not None or call["bits_per_sample"] is not None:
        return call["encoding"], call["bits_per_sample"]
    return {"wav": ("PCM_S", 16), "flac": ("PCM_S", 24)}.get(fmt, (None, None))


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


def _info_fallback(operation, call, reason):
    from .. import codecs

    try:
        found = codecs.read_info(call["uri"], format=call["format"])
    except (codecs.DecodeError, codecs.UnsupportedFormat, OSError) as error:
        raise _both_failed(operation, call, reason, error) from error
    return _as_torchaudio_metadata(found)


def _as_torchaudio_metadata(found):
    """torchaudio's own ``AudioMetaData`` where this torchaudio still has one, else ``codecs.AudioInfo``."""
    try:
        from torchaudio._backend.common import AudioMetaData
    except ImportError:
        return found
    return AudioMetaData(found.sample_rate, found.num_frames, found.num_channels,
                         found.bits_per_sample, found.encoding)


def create_info():
    """``torchaudio.info`` for torchaudio >= 2.9, which removed it: the fallback readers' metadata."""
    from .. import codecs

    def info(uri, format=None, buffer_size=4096, backend=None):
        """Metadata of an audio file (sample_rate, num_frames, num_channels, bits_per_sample, encoding).

        Restored by acestep_winpatch: torchaudio 2.9 removed ``info``. Read by soundfile,
        librosa or PyAV; ``buffer_size`` and ``backend`` are accepted and ignored.
        """
        path = _missing_path(uri)
        if path is not None:
            raise AudioFileNotFoundError(2, "No such file or directory", path)
        try:
            return codecs.read_info(uri, format=format)
        except OSError as error:  # a directory, no permission: the RuntimeError torchaudio raised
            raise AudioBackendError(f"torchaudio.info could not read {_where(uri)!r}: {error}") from error

    info.__module__ = "torchaudio"
    return info


def _torchcodec_always():
    return True


def _torchcodec_in_this_era():
    return not _dispatch_era()


OPERATIONS = {
    operation.name: operation
    for operation in (
        Operation("audio.load", "load", _load_call, _load_fallback, _torchcodec_in_this_era),
        Operation("audio.load_with_torchcodec", "load", _load_call, _load_fallback, _torchcodec_always),
        Operation("audio.save", "save", _save_call, _save_fallback, _torchcodec_in_this_era),
        Operation("audio.save_with_torchcodec", "save", _save_call, _save_fallback, _torchcodec_always),
        Operation("audio.info", "read the metadata of", _info_call, _info_fallback, _torchcodec_in_this_era),
    )
}


def _wrapper(name):
    def wrapper(wrapped, instance, args, kwargs):
        return native_first(name, wrapped, args, kwargs)

    wrapper.__name__ = f"winpatch_{name.replace('.', '_')}"
    return wrapper


PATCHES = [
    Patch("audio.load", "torchaudio", "load", _wrapper("audio.load")),
    Patch("audio.save", "torchaudio", "save", _wrapper("audio.save")),
    Patch("audio.load_with_torchcodec", "torchaudio", "load_with_torchcodec", _wrapper("audio.load_with_torchcodec")),
    Patch("audio.save_with_torchcodec", "torchaudio", "save_with_torchcodec", _wrapper("audio.save_with_torchcodec")),
    Patch("audio.info", "torchaudio", "info", _wrapper("audio.info"), create=create_info),
]
