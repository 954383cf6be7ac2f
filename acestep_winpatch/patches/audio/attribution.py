"""Where torchaudio's warnings point: at the same file, line and module as without the plugin.

``warnings.warn(text, stacklevel=2)`` inside torchaudio names the frame that called it. Through
our proxy that frame would be ours, and ``warnings.filterwarnings(..., module=...)`` written for
the unpatched call would stop matching. So native is called from a one-line trampoline whose
code carries the caller's file name and line and runs in the caller's globals: the frame
``warnings`` inspects is, for all it can tell, the caller's own (same file, line, module and
``__warningregistry__``). Where the fallback emits torchaudio's warnings itself, it passes
the same attribution to ``warnings.warn_explicit``. Neither touches process-global warning
state, so both are as thread-safe as ``warnings.warn`` (Python 3.11 has no
``skip_file_prefixes``; ``catch_warnings`` and re-issuing would not be thread-safe).

A traceback through a native call shows the trampoline as one extra line at the caller's
position, named ``<native torchaudio call>``.
"""

import dis
import functools
import os
import sys
import types
import warnings

TRAMPOLINE_NAME = "<native torchaudio call>"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_TEMPLATE = compile("lambda function, args, kwargs: function(*args, **kwargs)", TRAMPOLINE_NAME, "eval").co_consts[0]


class CallSite:
    """A position in someone's code: what a warning raised with ``stacklevel=2`` by the function
    called from there reports (file, line, module, registry)."""

    __slots__ = ("filename", "lineno", "globals")

    def __init__(self, filename, lineno, module_globals):
        self.filename = filename
        self.lineno = lineno
        self.globals = module_globals

    @classmethod
    def of_caller(cls):
        """The first frame above this call that is neither this package's nor wrapt's."""
        frame = sys._getframe(1)
        while frame is not None and _is_ours(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is None:
            return cls("sys", 1, sys.__dict__)
        return cls(frame.f_code.co_filename, frame.f_lineno or 1, frame.f_globals)

    @classmethod
    def delegation_in(cls, function, delegate_name):
        """Where ``function`` (torchaudio's own, unwrapped) calls the global ``delegate_name``, or ``None``.

        torchaudio >= 2.9's ``load``/``save`` hand every call to ``load_with_torchcodec``/
        ``save_with_torchcodec``, whose warnings therefore name that line of torchaudio.
        """
        code = getattr(function, "__code__", None)
        found = code and _call_line(code, delegate_name)
        return cls(code.co_filename, found, function.__globals__) if found else None

    def call(self, function, args, kwargs):
        """``function(*args, **kwargs)``, called from this position."""
        return types.FunctionType(_trampoline(self.filename, self.lineno), self.globals)(function, args, kwargs)

    def warn(self, text, category=UserWarning):
        """What ``warnings.warn(text, category, stacklevel=2)`` in a function called from here does."""
        name = self.globals.get("__name__")
        registry = self.globals.setdefault("__warningregistry__", {})
        warnings.warn_explicit(text, category, self.filename, self.lineno,
                               module=name if isinstance(name, str) else "<string>", registry=registry)


@functools.lru_cache(maxsize=1024)
def _is_ours(filename):
    """This package's frames, and wrapt's where its pure-Python wrappers run (no C extension);
    cached per file, as every patched call asks it of each frame above it."""
    wrapt = sys.modules.get("wrapt")
    wrapt_folder = os.path.dirname(getattr(wrapt, "__file__", None) or "") if wrapt else ""
    return filename.startswith(_PACKAGE) or bool(wrapt_folder) and filename.startswith(wrapt_folder)


@functools.lru_cache(maxsize=256)
def _call_line(code, name):
    loaded = False
    for instruction in dis.get_instructions(code):
        if instruction.opname == "LOAD_GLOBAL" and instruction.argval == name:
            loaded = True
        elif loaded and instruction.opname in ("CALL", "CALL_FUNCTION", "CALL_FUNCTION_KW", "CALL_KW"):
            positions = getattr(instruction, "positions", None)
            return (positions.lineno if positions else None) or instruction.starts_line
    return None


@functools.lru_cache(maxsize=512)
def _trampoline(filename, lineno):
    names = {"co_name": TRAMPOLINE_NAME}
    if sys.version_info >= (3, 11):
        names["co_qualname"] = TRAMPOLINE_NAME
    return _TEMPLATE.replace(co_filename=filename, co_firstlineno=lineno, **names)


def _without_columns(code):
    """``code`` with line numbers but no column ranges (3.11+ location table): a traceback then
    shows the caller's line without carets under parts of it that are not this call."""
    units, table = len(code.co_code) // 2, bytearray()
    while units:
        step = min(units, 8)
        table += bytes([0x80 | (13 << 3) | (step - 1), 0])  # "no columns", line delta 0
        units -= step
    return code.replace(co_linetable=bytes(table))


if sys.version_info >= (3, 11):
    _TEMPLATE = _without_columns(_TEMPLATE)
