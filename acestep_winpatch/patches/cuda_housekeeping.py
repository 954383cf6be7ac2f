"""The CUDA housekeeping calls beside ``empty_cache``: no-ops where CUDA cannot work.

ACE-Step's nano-vllm and trainers call ``torch.cuda.ipc_collect()``,
``reset_peak_memory_stats()`` and ``reset_max_memory_allocated()`` between steps. On a CUDA
build without a driver they raise (``Found no NVIDIA driver``, ``invalid argument to
reset_peak_memory_stats``), on a CPU-only build too (``Torch not compiled with CUDA enabled``,
``module 'torch._C' has no attribute '_cuda_resetPeakMemoryStats'``). Where CUDA is usable they
pass straight through; elsewhere there is nothing to collect or reset, so they do nothing
(``device_calls`` is the mechanism; another device's statistics are not CUDA's to reset).

Left alone on purpose: the memory queries (``memory_allocated``, ``max_memory_allocated``,
``memory_reserved``) already answer 0 natively where CUDA is not initialised, and calls whose
answer would be a lie (``current_device``, ``get_device_properties``, ``set_device``).
"""

from ..registry import Patch
from .cuda import CUDA

HOUSEKEEPING = ("ipc_collect", "reset_peak_memory_stats", "reset_max_memory_allocated")

PATCHES = [Patch(f"cuda.{name}", "torch.cuda", name, CUDA.wrapper(name, mirrored=False)) for name in HOUSEKEEPING]
