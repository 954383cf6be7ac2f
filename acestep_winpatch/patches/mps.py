"""``torch.mps.empty_cache`` and ``torch.mps.synchronize`` that never raise where MPS cannot work.

ACE-Step 1.5 frees and synchronises the Apple GPU with them. Every torch build without the MPS
backend (Windows, Linux) and every Mac without a usable one raises
``RuntimeError: Cannot execute emptyCache() without MPS backend.`` (``deviceSynchronize()`` for
``synchronize``). Where MPS is usable both pass straight through; elsewhere they do the CUDA or
XPU equivalent, on the device that is really there, or nothing: the mirror image of the CUDA
patch, through the same ``device_calls`` mechanism. Usability is decided once, at the first
call, with ``torch.backends.mps.is_available()``.
"""

from ..registry import Patch
from .cuda import cuda_usable, device_available
from .device_calls import DeviceCalls, is_built


def _why_unusable(torch):
    return "no usable MPS device" if is_built(torch, "mps") else "torch built without MPS"


MPS = DeviceCalls("mps", lambda: device_available("mps"), _why_unusable,
                  alternatives=[("cuda", cuda_usable), ("xpu", lambda: device_available("xpu"))])

PATCHES = [Patch(f"mps.{name}", "torch.mps", name, MPS.wrapper(name)) for name in ("empty_cache", "synchronize")]
