"""``torch.cuda.empty_cache`` and ``torch.cuda.synchronize`` that never raise where CUDA cannot work.

ACE-Step's CpuOffloader calls both after every offloaded module call. A CPU-only torch (the
default pip wheel on Windows) raises ``AssertionError: Torch not compiled with CUDA enabled``
from ``synchronize()``; a CUDA build without a driver raises ``RuntimeError: Found no NVIDIA
driver``. Where CUDA is usable both pass straight through, explicit device arguments and their
native errors included. Elsewhere they do the MPS or XPU equivalent, or nothing.

Usability is decided once, at the first call, with ``torch.cuda.is_available()``, which asks
the driver for a device count without initialising CUDA. Nothing here imports torch at module
level: the package must import without it.
"""

from .. import events
from ..registry import Patch

_cuda_usable = None  # None until the first call decides
_equivalents = {}  # "empty_cache" / "synchronize" -> what runs instead (None: nothing)


def cuda_usable():
    """Whether CUDA works in this process; probed once, never initialising CUDA."""
    global _cuda_usable
    if _cuda_usable is None:
        _cuda_usable = _probe_cuda()
    return _cuda_usable


def run(name, native, args, kwargs):
    """Call ``native`` where CUDA is usable, else the other device's ``name`` or nothing."""
    if _cuda_usable or (_cuda_usable is None and cuda_usable()):
        return native(*args, **kwargs)
    if name not in _equivalents:
        _equivalents[name] = _equivalent(name)
    equivalent = _equivalents[name]
    if equivalent is not None:
        equivalent()
    return None


def _empty_cache(wrapped, instance, args, kwargs):
    if _cuda_usable:
        return wrapped(*args, **kwargs)
    return run("empty_cache", wrapped, args, kwargs)


def _synchronize(wrapped, instance, args, kwargs):
    if _cuda_usable:
        return wrapped(*args, **kwargs)
    return run("synchronize", wrapped, args, kwargs)


def _probe_cuda():
    import torch

    try:
        return bool(torch.backends.cuda.is_built() and torch.cuda.is_available())
    except Exception:
        return False


def _equivalent(name):
    """The MPS or XPU function doing what ``torch.cuda.<name>`` would, or None; reported once."""
    import torch

    device, function = None, None
    for candidate in ("mps", "xpu"):
        if device_available(candidate):
            device, function = candidate, getattr(getattr(torch, candidate), name, None)
            break
    why = "CPU-only torch build" if not _cuda_built(torch) else "no usable CUDA device or driver"
    does = f"torch.{device}.{name}()" if function is not None else "nothing"
    events.note(f"cuda.{name}", f"torch.cuda.{name}() does {does}: {why}")
    events.fallback("cuda", f"{why}; torch.cuda.{name}() does {does}")
    return function


def _cuda_built(torch):
    try:
        return bool(torch.backends.cuda.is_built())
    except Exception:
        return False


def device_available(device):
    """Whether the ``"mps"`` or ``"xpu"`` device is usable here; a probe that raises counts as no."""
    import torch

    try:
        if device == "mps":
            return bool(torch.backends.mps.is_available())
        return bool(hasattr(torch, "xpu") and torch.xpu.is_available())
    except Exception:
        return False


PATCHES = [
    Patch("cuda.empty_cache", "torch.cuda", "empty_cache", _empty_cache),
    Patch("cuda.synchronize", "torch.cuda", "synchronize", _synchronize),
]
