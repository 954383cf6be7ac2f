"""``torch.mps.empty_cache`` and ``torch.mps.synchronize`` that never raise where MPS cannot work.

ACE-Step 1.5 frees and synchronises the Apple GPU with them. Every torch build without the MPS
backend (Windows, Linux) and every Mac without a usable one raises
``RuntimeError: Cannot execute emptyCache() without MPS backend.`` (``deviceSynchronize()`` for
``synchronize``). Where MPS is usable both pass straight through; elsewhere they do the CUDA or
XPU equivalent, on the device that is really there, or nothing: the mirror image of the CUDA
patch. Usability is decided once, at the first call, with ``torch.backends.mps.is_available()``.
"""

from .. import events
from ..registry import Patch
from .cuda import cuda_usable, device_available

_mps_usable = None  # None until the first call decides
_equivalents = {}  # "empty_cache" / "synchronize" -> what runs instead (None: nothing)


def mps_usable():
    """Whether the MPS device works in this process; probed once."""
    global _mps_usable
    if _mps_usable is None:
        _mps_usable = device_available("mps")
    return _mps_usable


def run(name, native, args, kwargs):
    """Call ``native`` where MPS is usable, else the CUDA/XPU ``name`` or nothing."""
    if _mps_usable or (_mps_usable is None and mps_usable()):
        return native(*args, **kwargs)
    if name not in _equivalents:
        _equivalents[name] = _equivalent(name)
    equivalent = _equivalents[name]
    if equivalent is not None:
        equivalent()
    return None


def _empty_cache(wrapped, instance, args, kwargs):
    return run("empty_cache", wrapped, args, kwargs)


def _synchronize(wrapped, instance, args, kwargs):
    return run("synchronize", wrapped, args, kwargs)


def _equivalent(name):
    """The CUDA or XPU function doing what ``torch.mps.<name>`` would, or None; reported once."""
    import torch

    device = "cuda" if cuda_usable() else "xpu" if device_available("xpu") else None
    function = getattr(getattr(torch, device), name, None) if device else None
    why = "torch built without MPS" if not _mps_built(torch) else "no usable MPS device"
    does = f"torch.{device}.{name}()" if function is not None else "nothing"
    events.note(f"mps.{name}", f"torch.mps.{name}() does {does}: {why}")
    events.fallback("mps", f"{why}; torch.mps.{name}() does {does}")
    return function


def _mps_built(torch):
    try:
        return bool(torch.backends.mps.is_built())
    except Exception:
        return False


PATCHES = [
    Patch("mps.empty_cache", "torch.mps", "empty_cache", _empty_cache),
    Patch("mps.synchronize", "torch.mps", "synchronize", _synchronize),
]
