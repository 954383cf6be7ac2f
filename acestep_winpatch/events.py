"""What happened at run time: how often each kind of fallback fired, which decoder served
each audio read, and notes for ``status()``.

Each kind of fallback logs one short warning per process, never one per call.
"""

from . import forksafe
from .log import warn_once

_lock = forksafe.Lock()
_counts = {}
_reasons = {}
_notes = {}
_decoders = {}


def fallback(kind, reason):
    """Count one fallback of ``kind`` and warn the first time it happens in this process."""
    with _lock:
        _counts[kind] = _counts.get(kind, 0) + 1
        _reasons.setdefault(kind, reason)
    warn_once(("fallback", kind), "%s fell back: %s", kind, reason)


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
