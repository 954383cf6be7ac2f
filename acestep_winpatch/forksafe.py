"""Locks and state that a forked child gets back fresh.

``os.fork`` copies a lock in whatever state it was: a lock another thread held at that moment
stays held in the child, where that thread does not exist, and the child's first ``with lock:``
hangs for ever. Fork-based DataLoader workers and ``torch.multiprocessing`` fork while other
threads may be inside a patched call. Every lock in this package is made here, and the child
gets each one back unlocked (as ddtrace's ``internal/forksafe`` does).
"""

import os
import threading
import weakref

_locks = weakref.WeakSet()
_resets = []


class _ForkSafeLock:
    """A ``threading.Lock``/``RLock`` stand-in that is replaced by a new one in a forked child."""

    __slots__ = ("_factory", "_lock", "__weakref__")

    def __init__(self, factory):
        self._factory = factory
        self._lock = factory()
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
        self._lock = self._factory()


def Lock():  # noqa: N802 - named like the threading factory it stands for
    return _ForkSafeLock(threading.Lock)


def RLock():  # noqa: N802
    return _ForkSafeLock(threading.RLock)


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
