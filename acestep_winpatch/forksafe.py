"""Locks and state that a forked child gets back fresh.

``os.fork`` copies a lock in whatever state it was: a lock another thread held at that moment
stays held in the child, where that thread does not exist, and the child's first ``with lock:``
hangs for ever. Fork-based DataLoader workers and ``torch.multiprocessing`` fork while other
threads may be inside a patched call. Every lock in this package is made here, and the child
gets each one back unlocked (as ddtrace's ``internal/forksafe`` does) - except a lock that the
forking thread itself holds: that thread goes on in the child (a compiler backend or a wrapper
beneath ours that forks), and releases the lock on its way out, so the lock stays as it is.

The registry of locks is a ``WeakSet`` (one lock per compiled object must not outlive it). It
is safe without a lock of its own: ``add`` is one set insertion under the GIL, and the set is
only iterated in the child, where one thread runs.
"""

import os
import threading
import weakref

_locks = weakref.WeakSet()
_resets = []


class _ForkSafeLock:
    """A ``threading.Lock`` stand-in; a forked child gets a new one unless its own thread holds it.

    A plain lock does not know its owner, so this one remembers which thread acquired it.
    """

    __slots__ = ("_lock", "_owner", "__weakref__")

    def __init__(self):
        self._lock = threading.Lock()
        self._owner = None
        _locks.add(self)

    def acquire(self, blocking=True, timeout=-1):
        if self._lock.acquire(blocking, timeout):
            self._owner = threading.get_ident()
            return True
        return False

    def release(self):
        self._owner = None
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc_info):
        self.release()

    def _renew(self):
        if self._owner != threading.get_ident():  # the forking thread's ident carries over to the child
            self._lock, self._owner = threading.Lock(), None


class _ForkSafeRLock:
    """A ``threading.RLock`` stand-in; a forked child gets a new one unless its own thread holds it."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self):
        self._lock = threading.RLock()
        _locks.add(self)

    def acquire(self, blocking=True, timeout=-1):
        return self._lock.acquire(blocking, timeout)

    def release(self):
        self._lock.release()

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *exc_info):
        return self._lock.__exit__(*exc_info)

    def _renew(self):
        if not self._lock._is_owned():
            self._lock = threading.RLock()


def Lock():  # noqa: N802 - named like the threading factory it stands for
    return _ForkSafeLock()


def RLock():  # noqa: N802
    return _ForkSafeRLock()


def after_fork_in_child(callback):
    """Run ``callback()`` in a forked child, after its locks are renewed (state only one thread owned)."""
    _resets.append(callback)
    return callback


def _renew_in_child():
    for lock in list(_locks):
        lock._renew()
    for callback in _resets:
        try:
            callback()
        except Exception:  # a child must never die in a fork hook of ours
            pass


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_renew_in_child)
