"""``torch.cuda.empty_cache`` and ``torch.cuda.synchronize`` that never raise where CUDA cannot work.

ACE-Step's CpuOffloader calls both after every offloaded module call. A CPU-only torch (the
default pip wheel on Windows) raises ``AssertionError: Torch not compiled with CUDA enabled``
from ``synchronize()``; a CUDA build without a driver raises ``RuntimeError: Found no NVIDIA
driver``. Where CUDA is usable both pass straight through, explicit device arguments and their
native errors included. Elsewhere they do the MPS or XPU equivalent, or nothing
(``device_calls`` is the mechanism).

Usability is decided once, at the first call, with ``torch.cuda.is_available()``, which asks
the driver for a device count without initialising CUDA. Nothing here imports torch at module
level: the package must import without it.
"""

from ..registry import Patch
from .device_calls import DeviceCalls, is_built


def device_available(device):
    """Whether the ``"mps"`` or ``"xpu"`` device is usable here; a probe that raises counts as no."""
    import torch

    try:
        if device == "mps":
            return bool(torch.backends.mps.is_available())
        return bool(hasattr(torch, "xpu") and torch.xpu.is_available())
    except Exception:
        return False


def _probe_cuda():
    import torch

    try:
        return bool(torch.backends.cuda.is_built() and torch.cuda.is_available())
    except Exception:
        return False


def _why_unusable(torch):
    return "no usable CUDA device or driver" if is_built(torch, "cuda") else "CPU-only torch build"


CUDA = DeviceCalls("cuda", _probe_cuda, _why_unusable,
                   alternatives=[(device, lambda device=device: device_available(device)) for device in ("mps", "xpu")])
cuda_usable = CUDA.is_usable

PATCHES = [Patch(f"cuda.{name}", "torch.cuda", name, CUDA.wrapper(name)) for name in ("empty_cache", "synchronize")]
