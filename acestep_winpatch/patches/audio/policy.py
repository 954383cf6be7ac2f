"""When to leave torchaudio: native first, the era's fallback contract only where its backend is unavailable.

Each patched call is bound with the signature of the function it wraps (``binding``), attempted
natively from the caller's position (``attribution``), and judged by ``classify``; what this
process has learnt is kept by ``verdicts``; ``contracts`` serves what native cannot.
"""

import functools
import inspect
import os
import sys
import threading
import types

from ... import events, registry
from . import classify
from .attribution import CallSite
from .binding import DOCUMENTED, explicit_binder
from .contracts import DISPATCH, TORCHCODEC, Request, missing_path
from .verdicts import Verdict, Verdicts

# What status() records as the decoder when torchaudio itself served a load or info.
NATIVE_DECODER = "torchaudio"


class Operation:
    """One patched torchaudio function: its name, verb, era and (on 2.9+) the function it delegates to."""

    def __init__(self, name, verb, follows_era, delegate=None):
        self.name = name
        self.verb = verb
        self.follows_era = follows_era
        self.delegate = delegate

    @property
    def target(self):
        return "torchaudio." + self.name.split(".", 1)[1]

    def contract(self):
        """``load``/``save``/``info`` follow the installed era; the ``*_with_torchcodec`` functions always TorchCodec's."""
        return DISPATCH if self.follows_era and dispatch_era() else TORCHCODEC


OPERATIONS = {
    operation.name: operation
    for operation in (
        Operation("audio.load", "load", follows_era=True, delegate="load_with_torchcodec"),
        Operation("audio.load_with_torchcodec", "load", follows_era=False),
        Operation("audio.save", "save", follows_era=True, delegate="save_with_torchcodec"),
        Operation("audio.save_with_torchcodec", "save", follows_era=False),
        Operation("audio.info", "info", follows_era=True),
    )
}


def _announce(operation, key, reason):
    where = operation.target if isinstance(key, str) else f"{operation.target}(backend={key[1]!r})"
    events.note(operation.name, f"{where}: native unavailable ({reason}); using the fallback for this process")


VERDICTS = Verdicts(_announce)
# Set while a patched call is being decided in this thread: torchaudio 2.9+'s ``load`` calling
# the patched ``load_with_torchcodec`` then passes straight through, so only the outermost decides.
_deciding = threading.local()


def native_first(name, native, args, kwargs):
    """Call ``native`` (what our proxy wraps) and fall back only if its backend is unavailable."""
    caller = CallSite.of_caller()
    if getattr(_deciding, "active", False):
        return caller.call(native, args, kwargs)
    handled_by_caller = sys.exc_info()[1]
    _deciding.active = True
    try:
        return _decide(OPERATIONS[name], native, args, kwargs, caller, handled_by_caller)
    finally:
        _deciding.active = False


def _decide(operation, native, args, kwargs, caller, handled_by_caller):
    contract = operation.contract()
    call = bind(operation, native, args, kwargs)
    if call is None:  # a call torchaudio rejects (its own TypeError), or a signature we cannot read
        return caller.call(native, args, kwargs)
    may_skip = contract.skips_known_unavailable and _is_torchaudios_own(native)
    if may_skip and VERDICTS.verdict(operation.name) is Verdict.UNAVAILABLE:
        return _fall_back(operation, contract, call, VERDICTS.reason(operation.name), native, caller)
    requested = call.get("backend")
    if requested is not None and VERDICTS.verdict((operation.name, requested)) is Verdict.UNAVAILABLE:
        call["backend"] = None
        args, kwargs = (), call

    def reason_unavailable(error):
        return classify.unavailable_reason(error, handled_by_caller)

    while True:
        try:
            attempt = VERDICTS.attempt(operation, lambda: caller.call(native, args, kwargs),
                                       reason_unavailable, may_skip)
        except Exception as error:
            rescue = contract.rescue(operation, call, error)
            if rescue is None:
                _raise_if_missing_input(operation, contract, call, error)
                raise
        else:
            if attempt.reason is not None:
                return _fall_back(operation, contract, call, attempt.reason, native, caller)
            if operation.verb != "save" and _ends_in_torchaudio(native):
                events.decoded(operation.name, NATIVE_DECODER)
            return attempt.value
        if not rescue.retry:
            return _fall_back(operation, contract, call, rescue.reason, native, caller)
        VERDICTS.learn_unavailable(operation, (operation.name, call["backend"]), rescue.reason)
        events.fallback(operation.name, rescue.reason)
        call["backend"] = None
        args, kwargs = (), call


def bind(operation, native, args, kwargs):
    """The call's arguments by name, defaults included, as ``native``'s signature binds them.

    A wrapper beneath ours that hides the signature (``*args, **kwargs`` without
    ``functools.wraps``) is read with the signature of the first original the registry saw,
    torchaudio's own. ``None`` for a call the signature rejects (native then raises its own
    TypeError). Where neither says more than ``*args, **kwargs`` (that wrapper was there before the
    plugin), torchaudio's documented parameters, the same in every era from 2.5 to 2.11, bind it.
    """
    binder = explicit_binder(native)
    if binder is None:
        original = registry.original(operation.name)
        binder = explicit_binder(original) if original is not registry.MISSING else None
    if binder is None:  # installed before us, the wrapper is the first original too
        binder = DOCUMENTED[operation.verb]
    return binder.bind(args, kwargs)


def _fall_back(operation, contract, call, reason, native, caller):
    events.fallback(operation.name, reason)
    site = contract.warning_site(operation, native, caller)
    request = Request(operation, call, reason, site, lambda decoder: events.decoded(operation.name, decoder))
    return getattr(contract, operation.verb)(request)


def _raise_if_missing_input(operation, contract, call, error):
    """A genuine native error about an input that does not exist: ``AudioFileNotFoundError``, native's words."""
    if operation.verb == "save":
        return
    path = missing_path(call["uri"])
    if path is not None:
        raise contract.missing_input(call["uri"], path, native_error=error) from error


def _is_torchaudios_own(function):
    """Whether ``function`` is torchaudio's own code, which a remembered verdict may skip.

    Another library's wrapper beneath ours (wrapt or ``functools.wraps``) is never skipped:
    it runs on every call, and the fallback follows when the native call beneath it fails.
    """
    code = getattr(function, "__code__", None)
    return type(function) is types.FunctionType and code.co_filename.startswith(_torchaudio_folder())


def _ends_in_torchaudio(function):
    """Whether ``function`` ends in torchaudio's code (not the ``info`` restored here)."""
    code = getattr(inspect.unwrap(function), "__code__", None)
    return code is not None and code.co_filename.startswith(_torchaudio_folder())


@functools.cache
def _torchaudio_folder():
    import torchaudio

    return os.path.dirname(torchaudio.__file__)


@functools.cache
def dispatch_era():
    """True on torchaudio 2.5-2.8, whose load/save dispatch to ffmpeg/sox/soundfile backends."""
    import torchaudio

    major, minor = (int(part) for part in torchaudio.__version__.split("+")[0].split(".")[:2])
    return (major, minor) < (2, 9)


def create_info():
    """``torchaudio.info`` for torchaudio >= 2.9, which removed it: the fallback readers' metadata."""
    operation = OPERATIONS["audio.info"]

    def info(uri, format=None, buffer_size=4096, backend=None):
        """Metadata of an audio file (sample_rate, num_frames, num_channels, bits_per_sample, encoding).

        Restored by acestep_winpatch: torchaudio 2.9 removed ``info``. Read by soundfile,
        librosa or PyAV; ``buffer_size`` and ``backend`` are accepted and ignored.
        """
        arguments = {"uri": uri, "format": format, "buffer_size": buffer_size, "backend": backend}
        request = Request(operation, arguments, None, None, lambda decoder: events.decoded(operation.name, decoder))
        return TORCHCODEC.info(request)

    info.__module__ = "torchaudio"
    return info
