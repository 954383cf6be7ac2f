"""The CUDA housekeeping calls beside ``empty_cache``: no-ops where CUDA cannot work.

ACE-Step's nano-vllm and trainers call ``torch.cuda.ipc_collect()``,
``reset_peak_memory_stats()`` and ``reset_max_memory_allocated()`` between steps. On a CUDA
build without a driver they raise (``Found no NVIDIA driver``, ``invalid argument to
reset_peak_memory_stats``), on a CPU-only build too (``Torch not compiled with CUDA enabled``,
``module 'torch._C' has no attribute '_cuda_resetPeakMemoryStats'``). Where CUDA is usable they
pass straight through; elsewhere there is nothing to collect or reset, so they do nothing.

Left alone on purpose: the memory queries (``memory_allocated``, ``max_memory_allocated``,
``memory_reserved``) already answer 0 natively where CUDA is not initialised, and calls whose
answer would be a lie (``current_device``, ``get_device_properties``, ``set_device``).
"""

from .. import events
from ..registry import Patch
from .cuda import cuda_usable

_reported = set()


def _no_op_where_unusable(name):
    def wrapper(wrapped, instance, args, kwargs):
        if cuda_usable():
            return wrapped(*args, **kwargs)
        why = _why_unusable()
        if name not in _reported:
            _reported.add(name)
            events.note(f"cuda.{name}", f"torch.cuda.{name}() does nothing: {why}")
        events.fallback("cuda", f"{why}; torch.cuda.{name}() does nothing")
        return None

    wrapper.__name__ = f"_{name}"
    return wrapper


def _why_unusable():
    import torch

    try:
        built = bool(torch.backends.cuda.is_built())
    except Exception:
        built = False
    return "no usable CUDA device or driver" if built else "CPU-only torch build"


HOUSEKEEPING = ("ipc_collect", "reset_peak_memory_stats", "reset_max_memory_allocated")

PATCHES = [Patch(f"cuda.{name}", "torch.cuda", name, _no_op_where_unusable(name)) for name in HOUSEKEEPING]
