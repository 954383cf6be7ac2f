"""The classifier as a pure function: which native errors mean "the backend cannot be loaded".

Every case is a real exception object built the way the failing code builds it (``raise ...
from ...`` inside ``except``), carrying messages recorded from real failures
(``audio_error_texts``). No torch, no torchaudio: the classifier must decide on the exception alone.
"""

import sys

import pytest

import audio_error_texts as texts
from acestep_winpatch.patches.audio import classify


def raised(error, cause=None, context=None, suppress=False):
    """``error`` as Python leaves it after ``raise error from cause`` (or an implicit context)."""
    error.__cause__ = cause
    error.__context__ = context if context is not None else cause
    error.__suppress_context__ = suppress or cause is not None
    return error


def windows_error(winerror, text):
    """An ``OSError`` as CPython builds it from a Windows error code (``PyErr_SetFromWindowsErr``):
    on Windows with the constructor, elsewhere with the same attribute set on a real OSError."""
    if sys.platform == "win32":
        return OSError(None, text, None, winerror)
    error = OSError(22, text)
    error.winerror = winerror
    return error


def torchcodec_failure(message):
    """torchcodec's RuntimeError, which quotes its loader tracebacks in the message (no cause)."""
    return RuntimeError(message)


def torch_load_library_failure(loader_error, path="/venv/lib/libtorchcodec_core8.so"):
    """torch.ops.load_library: ``raise OSError(f"Could not load this library: {path}") from e``."""
    return raised(OSError(f"Could not load this library: {path}"), cause=loader_error)


def torchaudio_wrapping(uri, inner):
    """torchaudio 2.11's ``raise RuntimeError(f"Failed to create AudioDecoder for {uri}: {e}") from e``."""
    return raised(RuntimeError(f"Failed to create AudioDecoder for {uri}: {inner}"), cause=inner)


CANNOT_LOAD = {
    "linux torchcodec": lambda: torchcodec_failure(texts.LINUX_TORCHCODEC),
    "linux dlopen through torch": lambda: torch_load_library_failure(OSError(texts.LINUX_DLOPEN)),
    "linux bare dlopen": lambda: OSError(texts.LINUX_DLOPEN),
    "linux mismatched torchcodec": lambda: OSError(texts.LINUX_UNDEFINED_SYMBOL),
    "torchaudio wrapping a lazy torchcodec failure": lambda: torchaudio_wrapping(
        "/music/song.wav", torchcodec_failure(texts.LINUX_TORCHCODEC)),
    "torchaudio 2.8 without torchcodec": lambda: raised(
        ImportError(texts.TORCHAUDIO_NEEDS_TORCHCODEC), cause=ModuleNotFoundError(
            "No module named 'torchcodec'", name="torchcodec")),
    "torchcodec module missing": lambda: ModuleNotFoundError("No module named 'torchcodec'", name="torchcodec"),
    "torchaudio 2.8 no backend": lambda: RuntimeError(texts.TORCHAUDIO_28_NO_BACKEND),
    "windows torchcodec": lambda: torchcodec_failure(texts.WINDOWS_TORCHCODEC),
    "windows torchcodec 0.9": lambda: torchcodec_failure(texts.WINDOWS_TORCHCODEC_09),
    "windows ctypes 126 (CPython's English text)": lambda: FileNotFoundError(texts.WINDOWS_CTYPES_126),
    "windows extension import, english": lambda: ImportError(texts.WINDOWS_DLL_LOAD_ENGLISH),
    "windows extension import, german": lambda: ImportError(texts.WINDOWS_DLL_LOAD_GERMAN),
    "windows german 126": lambda: windows_error(126, texts.WINDOWS_GERMAN[126]),
    "windows german 127": lambda: windows_error(127, texts.WINDOWS_GERMAN[127]),
    "windows german 193": lambda: windows_error(193, texts.WINDOWS_GERMAN[193]),
    "windows german 193 through torch": lambda: torch_load_library_failure(
        windows_error(193, texts.WINDOWS_GERMAN[193]), path=r"C:\py\torchcodec\libtorchcodec_core8.dll"),
    "macos library not loaded": lambda: OSError(texts.MACOS_LIBRARY_NOT_LOADED),
    "macos image not found": lambda: OSError(texts.MACOS_IMAGE_NOT_FOUND),
    "macos through torch": lambda: torch_load_library_failure(OSError(texts.MACOS_LIBRARY_NOT_LOADED)),
}

GENUINE = {
    "corrupt file": lambda: RuntimeError(texts.CORRUPT_FILE),
    "a path that contains loader words": lambda: torchaudio_wrapping(
        "/music/Could not load this library/DLL load failed.wav",
        RuntimeError("Could not open input file: /music/Could not load this library/DLL load failed.wav "
                     "Invalid data found when processing input")),
    "an OSError about a file named like a loader error": lambda: FileNotFoundError(
        2, "No such file or directory", "/songs/libavutil.so.60: cannot open shared object file.wav"),
    "libsndfile naming a file like the 2.8 message": lambda: RuntimeError(
        "Error opening \"/x/Couldn't find appropriate backend.wav\": System error."),
    "a dlopen text in the middle of a message": lambda: RuntimeError(
        f"Failed to decode audio samples: {texts.LINUX_DLOPEN}"),
    "windows german access denied": lambda: windows_error(5, texts.WINDOWS_GERMAN[5]),
    "windows localised text without winerror": lambda: OSError(texts.WINDOWS_GERMAN[126]),
    "an ImportError of another package": lambda: ModuleNotFoundError("No module named 'librosa'", name="librosa"),
    "cannot-load context suppressed by 'from None'": lambda: raised(
        RuntimeError(texts.CORRUPT_FILE), context=OSError(texts.LINUX_DLOPEN), suppress=True),
}


@pytest.mark.parametrize("case", sorted(CANNOT_LOAD))
def test_cannot_load(case):
    assert classify.unavailable_reason(CANNOT_LOAD[case]()) is not None


@pytest.mark.parametrize("case", sorted(GENUINE))
def test_genuine(case):
    assert classify.unavailable_reason(GENUINE[case]()) is None


def corrupt_file_read_while_caller_handles_a_failed_probe():
    """The caller's ``except OSError:`` around an unrelated failed dlopen, then a corrupt file:
    what torchaudio 2.11 raises, built as it is raised (its implicit context is the probe's error)."""
    try:
        raise OSError("libcudnn_ext.so.9: cannot open shared object file: No such file or directory")
    except OSError as probe:
        try:
            try:
                raise RuntimeError(texts.CORRUPT_FILE.split(": ", 1)[1])  # torchcodec's error
            except RuntimeError as decoder_error:
                raise RuntimeError(texts.CORRUPT_FILE) from decoder_error
        except RuntimeError as error:
            return error, probe


def test_what_the_caller_was_handling_never_counts():
    error, probe = corrupt_file_read_while_caller_handles_a_failed_probe()
    assert error.__cause__.__context__ is probe  # Python chained the probe's error in
    assert list(classify.native_chain(error, probe)) == [error, error.__cause__]
    assert classify.unavailable_reason(error, handled_by_caller=probe) is None


def test_a_context_set_inside_the_native_call_counts():
    """torchaudio 2.8's ``except ImportError: raise ImportError(...)`` without ``from``: the
    context was set inside the native call, and is followed."""
    try:
        try:
            raise ModuleNotFoundError("No module named 'torchcodec'", name="torchcodec")
        except ImportError:
            raise RuntimeError("TorchCodec could not be set up")  # noqa: B904 - an implicit context on purpose
    except RuntimeError as error:
        assert classify.unavailable_reason(error).startswith("ModuleNotFoundError")


@pytest.mark.parametrize("message, loader_line", [
    (texts.LINUX_TORCHCODEC, "OSError: libavutil.so.60: cannot open shared object file: No such file or directory"),
    (texts.WINDOWS_TORCHCODEC, "FileNotFoundError: " + texts.WINDOWS_TORCHCODEC.split("FileNotFoundError: ")[1]
     .splitlines()[0]),
])
def test_reason_is_the_errors_own_text_never_a_traceback_source_line(message, loader_line):
    """Issue 12: on Windows the reason quoted ``raise OSError(f"Could not load this library: {path}") from e``."""
    reason = classify.unavailable_reason(torchcodec_failure(message))
    assert reason == f"RuntimeError: Could not load libtorchcodec. ({loader_line})"
    assert "raise " not in reason and "{path}" not in reason


def test_reason_names_no_file_of_the_first_call():
    reason = classify.unavailable_reason(RuntimeError(texts.TORCHAUDIO_28_NO_BACKEND))
    assert reason == "RuntimeError: Couldn't find appropriate backend"


def test_reason_of_a_rewrapped_loader_error_keeps_the_root_cause():
    loader_error = windows_error(193, texts.WINDOWS_GERMAN[193])
    reason = classify.unavailable_reason(torch_load_library_failure(loader_error))
    assert reason.startswith("OSError: Could not load this library: ")
    assert reason.endswith(f"(OSError: {loader_error})") and texts.WINDOWS_GERMAN[193] in reason


@pytest.mark.parametrize("error, requested, missing", [
    (ValueError("Unsupported backend 'sox' specified; ", "please select one of ['soundfile'] instead."), "sox", True),
    (ValueError("Unsupported backend 'bogus' specified; ", "please select one of ['soundfile'] instead."), "bogus",
     False),
    (RuntimeError("Unsupported backend 'sox' specified; "), "sox", False),
])
def test_backend_missing(error, requested, missing):
    assert classify.backend_missing(error, requested) is missing


@pytest.mark.parametrize("error, verb, beyond", [
    (RuntimeError("Error opening '/x/song.m4a': Format not recognised."), "load", True),
    (RuntimeError("Error opening '/x/Format not recognised.wav': System error."), "load", False),
    (ValueError("Unsupported format: opus"), "save", True),
    (ValueError("wav does not support PCM_16."), "save", False),
])
def test_soundfile_backend_cannot_handle(error, verb, beyond):
    assert classify.soundfile_cannot_handle(error, verb) is beyond
