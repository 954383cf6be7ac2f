"""torchaudio's load, save and info: native first, the fallback codecs only when the backend is unavailable.

This is policy: it decides *when* to leave torchaudio. ``acestep_winpatch.codecs`` knows *how*
to read and write without it, and knows nothing about patching. The package, one job a module:

``classify``     pure: does an error raised by native say its backend cannot be loaded?
``verdicts``     what the process has learnt per operation, and the lock first attempts take turns on
``contracts``    what a fallback call promises, one object per torchaudio era
``attribution``  native's warnings point where they would without the plugin
``binding``      a call's arguments by name, as the wrapped function's signature binds them
``policy``       the decision for one call, tying the others together
``errors``       the exceptions raised here, each also the type torchaudio raises

When the fallback is taken
    Only when the native call itself says its backend cannot run (``classify``): torchcodec
    missing, or its FFmpeg libraries, a DLL or a shared object that will not load (torchaudio
    >= 2.9), or torchaudio 2.5-2.8 finding no backend at all. On 2.9+ that verdict is learnt
    once per function and later calls go straight to the fallback (a failing native attempt
    costs about 3 ms), except through another library's wrapper beneath ours, which still runs
    on every call. Once native has succeeded in this process it is trusted: a later failure is
    about that file and propagates. On 2.5-2.8 a ``backend=`` this installation lacks is
    retried once through torchaudio's own dispatch (remembered per backend), and a call that
    ends in the soundfile backend only because the FFmpeg backend is missing, for a format
    libsndfile's torchaudio backend refuses (reading m4a, writing opus), is served by the fallback.

Genuine errors
    Where native works, its results, warnings and errors are its own: a file a working FFmpeg
    rejects is not re-read by another decoder. A missing input path raises
    ``AudioFileNotFoundError`` (``FileNotFoundError`` and ``RuntimeError``, with native's
    message). When native was unavailable and the fallback fails too, one ``AudioBackendError``
    (``AudioFormatError``, also a ``ValueError``, for a format no writer handles) starts with
    native's own words for the failure and names both attempts.
"""

from ...registry import Patch
from .errors import AudioBackendError, AudioFileNotFoundError, AudioFormatError

__all__ = ["PATCHES", "AudioBackendError", "AudioFileNotFoundError", "AudioFormatError", "create_info"]


def _wrapper(name):
    def wrapper(wrapped, instance, args, kwargs):
        from .policy import native_first

        return native_first(name, wrapped, args, kwargs)

    wrapper.__name__ = f"winpatch_{name.replace('.', '_')}"
    return wrapper


def create_info():
    """``torchaudio.info`` for torchaudio >= 2.9, which removed it (see ``policy.create_info``)."""
    from .policy import create_info as restored

    return restored()


PATCHES = [
    Patch("audio.load", "torchaudio", "load", _wrapper("audio.load")),
    Patch("audio.save", "torchaudio", "save", _wrapper("audio.save")),
    Patch("audio.load_with_torchcodec", "torchaudio", "load_with_torchcodec", _wrapper("audio.load_with_torchcodec")),
    Patch("audio.save_with_torchcodec", "torchaudio", "save_with_torchcodec", _wrapper("audio.save_with_torchcodec")),
    Patch("audio.info", "torchaudio", "info", _wrapper("audio.info"), create=create_info),
]
