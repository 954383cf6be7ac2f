"""What the plugin tells the user through :mod:`warnings`: a configuration value to fix, and a
fallback that served a call. Each is said once per subject and process.

They are ``UserWarning`` subclasses, so Python shows them by default and the usual filters
silence them. Every message starts with ``acestep_winpatch configuration:`` or
``acestep_winpatch fallback:``, because CPython reads ``-W`` and ``PYTHONWARNINGS`` before
site-packages is on ``sys.path``: there a category of ours cannot be imported ("Invalid -W
option ignored"), but a message prefix always matches (``-W "ignore:acestep_winpatch fallback"``).

A notice points at the user's line that led to it: the ``import``/``apply()`` that read the
configuration, the call that fell back. Frames of this package, of the libraries it patches
and of Python's import and start-up machinery are passed over. The start-up paths (``.pth``,
sitecustomize, the launcher before the script runs) have no such line; there the notice is
attributed to ``acestep_winpatch:0``, as CPython attributes a warning with no Python frame to
``sys:1``.
"""

import os
import sys

from . import forksafe

CONFIG_PREFIX = "acestep_winpatch configuration: "
FALLBACK_PREFIX = "acestep_winpatch fallback: "
NO_USER_LINE = ("acestep_winpatch", 0)

_PACKAGE_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Frames between the user's line and ours: our wrappers sit inside torch's module calls, under
# runpy (the launcher), site (the .pth line) and the import system (``import acestep_winpatch``).
_PASSED_OVER = frozenset({"acestep_winpatch", "torch", "torchaudio", "torchcodec", "wrapt", "importlib",
                          "runpy", "site", "sitecustomize", "usercustomize"})

_lock = forksafe.Lock()
_said = set()
_registry = {}  # the warnings registry of the NO_USER_LINE location


class ConfigWarning(UserWarning):
    """A configuration value (environment variable or ``apply()`` argument) the plugin cannot use."""

    __module__ = "acestep_winpatch"  # its public name, in tracebacks and filters


class FallbackWarning(UserWarning):
    """A patched call was served by the plugin's fallback instead of the native path."""

    __module__ = "acestep_winpatch"


def config_problem(variable, message):
    """Say ``message`` about ``variable`` as a :class:`ConfigWarning`, once per variable."""
    _say_once(("config", variable), ConfigWarning, CONFIG_PREFIX + message)


def fallback(kind, reason):
    """Say that a fallback of ``kind`` served a call, as a :class:`FallbackWarning`, once per kind."""
    key = ("fallback", kind)
    if key in _said:  # every fallback call comes here: the common case costs one set lookup
        return
    _say_once(key, FallbackWarning, f"{FALLBACK_PREFIX}{kind} used the fallback ({reason}); shown once per process")


def _say_once(key, category, message):
    with _lock:
        if key in _said:
            return
        _said.add(key)
    try:
        _warn(category, message)
    except BaseException:  # an ``error`` filter: not said, so the next occurrence raises too
        with _lock:
            _said.discard(key)
        raise


def _warn(category, message):
    """``warnings.warn`` attributed to the user's line (see the module docstring).

    Under an ``error`` filter this raises, as any warning would, at every occurrence; the
    start-up paths, which never raise into the user's program, catch it.
    """
    import warnings

    frame = _user_frame()
    if frame is None:
        filename, lineno = NO_USER_LINE
        warnings.warn_explicit(message, category, filename, lineno, module=filename, registry=_registry)
        return
    module_globals = frame.f_globals
    module = module_globals.get("__name__")
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=module if isinstance(module, str) else None,
                           registry=module_globals.setdefault("__warningregistry__", {}))


def _user_frame():
    frame = sys._getframe(1)
    while frame is not None:
        if not _passed_over(frame):
            return frame
        frame = frame.f_back
    return None


def _passed_over(frame):
    filename = frame.f_code.co_filename
    if filename.startswith(_PACKAGE_FOLDER) or filename.startswith("<frozen "):
        return True
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and name.partition(".")[0] in _PASSED_OVER
