"""Does an error raised by a native torchaudio call say that its backend cannot be loaded?

Pure functions of the exception (no torch, no torchaudio, no state), table-tested on messages
recorded on Linux, Windows and macOS (``tests/test_audio_classify.py``).

What counts
    Only what the native call itself raised: the error, its ``__cause__`` chain, and a
    ``__context__`` that Python would print (not suppressed by ``raise ... from None``) and
    that is not the exception the caller was handling when it called torchaudio. Code that
    loads a song inside ``except OSError:`` of an unrelated failed ``dlopen`` (an optional
    GPU extension probe) must not make a working FFmpeg look missing.

How a message is read
    By the text that says "cannot load", where that text stands: at the start of the message,
    or right after the library's name in a loader message (``<library>: cannot open shared
    object file``, ``dlopen(<library>, 6): Library not loaded``). A message that merely
    contains such words (in a file path, say) does not count. Windows' own texts are
    localised (``FormatMessage``), so there ``OSError.winerror`` decides; the English texts
    matched below are all written by Python, torch, torchcodec or torchaudio themselves.
"""

import re

# LoadLibrary's error codes for a DLL that cannot be loaded (winerror.h).
WINDOWS_LOAD_ERRORS = {
    126: "ERROR_MOD_NOT_FOUND",
    127: "ERROR_PROC_NOT_FOUND",
    193: "ERROR_BAD_EXE_FORMAT",
}
# Messages that begin by saying a library or backend cannot be loaded, by their authors.
CANNOT_LOAD = (
    "Could not load libtorchcodec",  # torchcodec, after trying each FFmpeg version
    "Could not load this library",  # torch.ops.load_library
    "TorchCodec is required for",  # torchaudio's *_with_torchcodec without torchcodec
    "DLL load failed",  # CPython importing an extension module on Windows
    "Could not find module",  # CPython's ctypes for LoadLibrary error 126
    "Couldn't find appropriate backend",  # torchaudio 2.5-2.8 with no backend at all
)
# glibc's dlerror(): "<library>: <reason>".
LINUX_LOADER = re.compile(
    r"^.+?: (?:cannot open shared object file|undefined symbol|wrong ELF class|invalid ELF header|file too short)"
)
# macOS dyld: "dlopen(<library>, <mode>): <reason>".
MACOS_LOADER = re.compile(
    r"^dlopen\(.+?, (?:0x)?[0-9A-Fa-f]+\): "
    r"(?:Library not loaded|image not found|no suitable image found|symbol not found|tried: )"
)
# An exception line of a traceback that a message quotes (torchcodec embeds one per FFmpeg
# version it tried): unindented "Name: text", never a source line such as "    raise OSError(...)".
QUOTED_ERROR = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception)): (.+)$")
# Parts of a first line that name the file of the first call: a remembered reason is reused for later calls.
FILE_SPECIFIC = (" Likely causes", " to handle uri ")
MAX_REASON = 300


def native_chain(error, handled_by_caller=None):
    """The exceptions the native call raised: ``error``, then each ``__cause__``, or the
    ``__context__`` Python would print, up to what the caller was already handling."""
    outside = {id(link) for link in _everything_linked(handled_by_caller)}
    seen = set()
    while error is not None and id(error) not in seen and id(error) not in outside:
        seen.add(id(error))
        yield error
        if error.__cause__ is not None:
            error = error.__cause__
        elif not error.__suppress_context__:
            error = error.__context__
        else:
            error = None


def _everything_linked(error):
    pending, seen = [error], set()
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        pending += [link.__cause__, link.__context__]


def says_cannot_load(error):
    """Whether this one exception (not its chain) says a library or backend cannot be loaded."""
    if isinstance(error, OSError) and getattr(error, "winerror", None) in WINDOWS_LOAD_ERRORS:
        return True
    if isinstance(error, ImportError) and (error.name or "").split(".")[0] == "torchcodec":
        return True
    text = first_line(str(error))
    if text.startswith(CANNOT_LOAD):
        return True
    # ctypes raises the loader's message as a bare OSError (no errno): an OSError about a file is not one.
    loader_message = isinstance(error, OSError) and error.errno is None
    return loader_message and bool(LINUX_LOADER.match(text) or MACOS_LOADER.match(text))


def unavailable_reason(error, handled_by_caller=None):
    """``None``, or the reason (the error's own text) why the native backend cannot run."""
    for link in native_chain(error, handled_by_caller):
        if says_cannot_load(link):
            return reason_text(link, handled_by_caller)
    return None


def reason_text(error, handled_by_caller=None):
    """``Type: first line`` of ``error`` in its own words, without the file of this call, plus
    the first loader error its message quotes or, failing that, its cause's first line.

    torchcodec formats each failed attempt with ``traceback.format_exc()``, which also prints
    whatever the caller was handling: those quoted lines are not the loader's and are skipped.
    """
    head = first_line(str(error))
    for marker in FILE_SPECIFIC:
        head = head.split(marker)[0]
    text = f"{type(error).__name__}: {head}" if head else type(error).__name__
    callers = {f"{type(link).__name__}: {first_line(str(link))}" for link in _everything_linked(handled_by_caller)}
    detail = quoted_loader_error(str(error), skip=callers)
    if detail is None and error.__cause__ is not None:
        detail = f"{type(error.__cause__).__name__}: {first_line(str(error.__cause__))}"
    if detail is not None:
        text += f" ({detail})"
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 3] + "..."


def quoted_loader_error(message, skip=()):
    """The first error line of a traceback quoted inside ``message`` that is the loader's own
    (``OSError: libavutil.so.60: cannot open shared object file``), not torch's rewrapping
    of it (``OSError: Could not load this library: ...``) nor one of ``skip``."""
    for line in message.splitlines()[1:]:
        match = QUOTED_ERROR.match(line)
        if match and not match.group(2).startswith("Could not load this library"):
            quoted = f"{match.group(1)}: {match.group(2).strip()}"
            if quoted not in skip:
                return quoted
    return None


def first_line(text):
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


# torchaudio 2.5-2.8 (``_backend/utils.py`` get_backend) for a ``backend=`` it does not have.
BACKEND_MISSING = "Unsupported backend '"
BACKEND_NAMES = ("ffmpeg", "sox", "soundfile")
# torchaudio 2.5-2.8's soundfile backend for what only the FFmpeg backend handles: libsndfile
# reading a container it does not know, and ``_get_subtype`` for a format it cannot write.
SOUNDFILE_CANNOT_READ = ": Format not recognised."
SOUNDFILE_CANNOT_WRITE = "Unsupported format: "


def backend_missing(error, requested):
    """Whether ``error`` is torchaudio 2.5-2.8 refusing a ``backend=`` it lacks (a name it
    knows; an unknown name stays the caller's mistake)."""
    return requested in BACKEND_NAMES and isinstance(error, ValueError) and BACKEND_MISSING in str(error)


def soundfile_cannot_handle(error, verb):
    """Whether ``error`` is torchaudio 2.5-2.8's soundfile backend saying the format is beyond it."""
    if verb == "save":
        return isinstance(error, ValueError) and str(error).startswith(SOUNDFILE_CANNOT_WRITE)
    return first_line(str(error)).endswith(SOUNDFILE_CANNOT_READ)
