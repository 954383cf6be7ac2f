"""What happened at run time: how often each kind of fallback fired, which decoder served
each audio read, and notes for ``status()``.

The first fallback of each kind in a process is said twice over: one
:class:`~acestep_winpatch.FallbackWarning` on stderr for the user (see :mod:`.notices`), and one
warning record on the ``acestep_winpatch`` logger; every later one is a debug record only.
"""

from . import forksafe, notices
from .log import get_logger, warn_once

_lock = forksafe.Lock()
_counts = {}
_reasons = {}
_notes = {}
_decoders = {}


def fallback(kind, reason):
    """Count one fallback of ``kind``; the first in this process is shown. Under an ``error``
    warnings filter the notice raises, after the count, at every fallback."""
    with _lock:
        count = _counts[kind] = _counts.get(kind, 0) + 1
        _reasons.setdefault(kind, reason)
    if count == 1:
        warn_once(("fallback", kind), "%s fell back: %s", kind, reason)
    else:
        get_logger().debug("%s fell back again (%d in this process): %s", kind, count, reason)
    notices.fallback(kind, reason)


def decoded(kind, decoder):
    """Count one read of ``kind`` (``audio.load``) served by ``decoder`` (``torchaudio``, ``wav``, ``soundfile``, ...)."""
    with _lock:
        served = _decoders.setdefault(kind, {})
        served[decoder] = served.get(decoder, 0) + 1


def note(key, text):
    """Record a fact worth showing in ``status()`` (for example why compile went eager)."""
    with _lock:
        _notes[key] = text


def snapshot():
    with _lock:
        return {
            "fallbacks": {kind: {"count": n, "first_reason": _reasons[kind]} for kind, n in _counts.items()},
            "notes": dict(_notes),
            "decoders": {kind: dict(served) for kind, served in _decoders.items()},
        }
