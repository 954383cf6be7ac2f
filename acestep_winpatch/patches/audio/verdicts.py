"""What this process has learnt about each native torchaudio operation, and the lock it learns under.

Until native has answered once, attempts take turns: the first ones import torchcodec, and
threads importing it at once get Python's ``_DeadlockError: deadlock detected by
_ModuleLock('torchcodec.decoders')`` instead of its real answer; threads that waited then find
the verdict and never pay for a failing attempt. Once native has succeeded, it is trusted for
the rest of the process: a later failure is about that file and propagates, whatever it says.

A forked child gets the lock back unlocked (``forksafe``) and keeps the verdicts: they describe
libraries already loaded, or not loadable, in the parent's memory, which the child shares.
Nothing else is held between calls: a first attempt in flight in another thread at the moment
of the fork leaves no trace in the child, which simply learns again if it must.
"""

import enum
from typing import Any, NamedTuple, Optional

from ... import forksafe


class Verdict(enum.Enum):
    UNKNOWN = "unknown"
    NATIVE_WORKS = "native works"
    UNAVAILABLE = "unavailable"


class Attempt(NamedTuple):
    """The result of native (``reason`` is ``None``) or why native cannot serve this call."""

    value: Any = None
    reason: Optional[str] = None


class Verdicts:
    """The verdict per key (an operation's name, or ``(name, backend)``) and its first reason."""

    def __init__(self, on_learnt_unavailable):
        self._on_learnt_unavailable = on_learnt_unavailable
        self._lock = forksafe.Lock()
        self._verdicts = {}
        self._reasons = {}

    def verdict(self, key):
        return self._verdicts.get(key, Verdict.UNKNOWN)

    def reason(self, key):
        return self._reasons.get(key)

    def learn_unavailable(self, operation, key, reason):
        """Remember that native cannot serve ``key`` (never once native has worked for it)."""
        with self._lock:
            self._record_unavailable(operation, key, reason)

    def attempt(self, operation, run, reason_unavailable, may_skip):
        """``run()`` native for ``operation``; an ``Attempt``, or native's genuine error raised.

        ``reason_unavailable(error)`` classifies a failure; ``may_skip`` says whether a verdict of
        "unavailable" learnt while waiting may answer without running native at all.
        """
        key = operation.name
        verdict = self.verdict(key)
        if verdict is Verdict.NATIVE_WORKS:
            return Attempt(run())
        if verdict is Verdict.UNAVAILABLE:
            return self._run_and_judge(operation, run, reason_unavailable)
        with self._lock:
            verdict = self.verdict(key)
            if verdict is Verdict.UNKNOWN:
                return self._run_and_judge(operation, run, reason_unavailable)
        if verdict is Verdict.UNAVAILABLE and may_skip:
            return Attempt(reason=self.reason(key))
        return self.attempt(operation, run, reason_unavailable, may_skip)

    def _run_and_judge(self, operation, run, reason_unavailable):
        try:
            value = run()
        except Exception as error:
            reason = reason_unavailable(error)
            if reason is None:
                raise
            self._record_unavailable(operation, operation.name, reason)
            return Attempt(reason=reason)
        self._verdicts[operation.name] = Verdict.NATIVE_WORKS
        return Attempt(value)

    def _record_unavailable(self, operation, key, reason):
        """With the lock held, or for a key whose verdict is already known (then a no-op)."""
        if self._verdicts.get(key) is not None:
            return
        self._verdicts[key], self._reasons[key] = Verdict.UNAVAILABLE, reason
        self._on_learnt_unavailable(operation, key, reason)
