"""The mechanism behind the device patches: ``torch.<device>`` calls that never raise where that device cannot work.

Where the device is usable a call passes straight through, its arguments and native errors
included. Elsewhere it does the same call of another device that is really there (an Apple or
Intel GPU for ``torch.cuda``; CUDA or XPU for ``torch.mps``), or nothing, and says so once per
function. Usability is probed once, at the first call, and never initialises the device.
"""

from .. import events


class DeviceCalls:
    """The patched calls of one ``torch.<device>`` module.

    ``probe()`` says whether the device works; ``why_unusable(torch)`` says why not, for the
    notice; ``alternatives`` are ``(device, is_usable)`` pairs, tried in order for the same call.
    ``usable`` is None until the first call decides: tests on a machine without the device set it
    to True to stand in for one.
    """

    def __init__(self, device, probe, why_unusable, alternatives=()):
        self.device = device
        self.usable = None
        self._probe = probe
        self._why_unusable = why_unusable
        self._alternatives = alternatives
        self._instead = {}  # call name -> what runs in its place (None: nothing)

    def is_usable(self):
        if self.usable is None:
            self.usable = self._probe()
        return self.usable

    def wrapper(self, name, mirrored=True):
        """The wrapt wrapper for ``torch.<device>.<name>``; ``mirrored=False``: nothing runs in its place."""
        calls = self

        def wrapper(wrapped, instance, args, kwargs):
            if calls.usable or (calls.usable is None and calls.is_usable()):
                return wrapped(*args, **kwargs)
            return calls.instead(name, mirrored)

        wrapper.__name__ = f"_{self.device}_{name}"
        return wrapper

    def run(self, name, native, args, kwargs):
        """Call ``native`` where the device is usable, else what stands in for ``name`` (the explicit helpers)."""
        if self.is_usable():
            return native(*args, **kwargs)
        return self.instead(name)

    def instead(self, name, mirrored=True):
        """Run what stands in for ``name`` where the device is unusable: another device's call, or nothing."""
        if name not in self._instead:
            self._instead[name] = self._stand_in(name, self._alternatives if mirrored else ())
        stand_in = self._instead[name]
        if stand_in is not None:
            stand_in()
        return None

    def _stand_in(self, name, alternatives):
        import torch

        device, function = None, None
        for candidate, is_usable in alternatives:
            if is_usable():
                device, function = candidate, getattr(getattr(torch, candidate), name, None)
                break
        why = self._why_unusable(torch)
        does = f"torch.{device}.{name}()" if function is not None else "nothing"
        events.note(f"{self.device}.{name}", f"torch.{self.device}.{name}() does {does}: {why}")
        events.fallback(self.device, f"{why}; torch.{self.device}.{name}() does {does}")
        return function


def is_built(torch, backend):
    """Whether this torch was built with ``torch.backends.<backend>``; a probe that raises counts as no."""
    try:
        return bool(getattr(torch.backends, backend).is_built())
    except Exception:
        return False
