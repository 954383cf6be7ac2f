"""Explicit device helpers, for code that prefers calling them by name.

They work whether or not the patches are applied: each one calls the native torch function
it guards (the first original the registry saw, or the current attribute when nothing was
patched). Imported lazily by ``acestep_winpatch.__getattr__``, so importing torch here is fine.
"""

import platform

import torch

from . import registry
from .patches import compile as compile_policy
from .patches import cuda as cuda_policy


def safe_torch_compile(model=None, **options):
    """``torch.compile`` whose result falls back to eager on a compiler failure (every call form)."""
    native = _native("compile.torch_compile", torch, "compile")
    args = () if model is None else (model,)
    return compile_policy.compile_with_fallback(native, None, args, options)


def safe_cuda_empty_cache():
    """``torch.cuda.empty_cache()`` where CUDA works; the MPS/XPU equivalent or nothing elsewhere."""
    return cuda_policy.CUDA.run("empty_cache", _native("cuda.empty_cache", torch.cuda, "empty_cache"), (), {})


def safe_cuda_synchronize(device=None):
    """``torch.cuda.synchronize(device)`` where CUDA works; the MPS/XPU equivalent or nothing elsewhere."""
    return cuda_policy.CUDA.run("synchronize", _native("cuda.synchronize", torch.cuda, "synchronize"), (device,), {})


def get_optimal_device():
    """The best device here: cuda, then mps, then xpu, then cpu. A probe that raises counts as no."""
    if cuda_policy.cuda_usable():
        return torch.device("cuda")
    for candidate in ("mps", "xpu"):
        if cuda_policy.device_available(candidate):
            return torch.device(candidate)
    return torch.device("cpu")


def get_optimal_dtype(device=None):
    """The fastest dtype that keeps ACE-Step's quality on ``device`` (default: the optimal device).

    bf16 only where the hardware has it: CUDA compute capability 8.0 or higher (Ampere and
    later), MPS on macOS 14 or later, XPU where torch says so; fp16 on other GPUs. CPU stays
    fp32: without AVX512-BF16/AMX, bf16 matmuls are slower than fp32 there and lose precision.
    """
    device = torch.device(device) if device is not None else get_optimal_device()
    if device.type == "cuda":
        return torch.bfloat16 if _probe(lambda: torch.cuda.get_device_capability(device)[0] >= 8) else torch.float16
    if device.type == "mps":
        return torch.bfloat16 if _macos_major() >= 14 else torch.float16
    if device.type == "xpu":
        return torch.bfloat16 if _probe(lambda: torch.xpu.is_bf16_supported()) else torch.float16
    return torch.float32


def setup_torch_backends():
    """Where CUDA works: cudnn autotuning and TF32 for CUDA matmuls and convolutions.

    Returns what it set. Chosen so that neither this call nor torch's later reads of the flags
    warn or fail on torch 2.8 to 2.13 (checked with warnings as errors):

    * matmul: ``torch.backends.cuda.matmul.allow_tf32 = True``. Setting only the 2.9+
      ``matmul.fp32_precision`` makes every later read of ``allow_tf32`` (inductor's autotuner
      reads it) raise "mix of the legacy and new APIs" on 2.9.1 to 2.13, and
      ``set_float32_matmul_precision`` warns on 2.9.0 and also switches CPU (oneDNN) matmuls.
    * convolutions: ``cudnn.conv.fp32_precision = "tf32"`` where it exists (2.9+, where setting
      ``cudnn.allow_tf32`` warns on 2.9.0), ``cudnn.allow_tf32 = True`` before.

    Without CUDA nothing is changed.
    """
    return _tune_cuda_backends() if cuda_policy.cuda_usable() else {}


def _tune_cuda_backends():
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    applied = {"torch.backends.cudnn.benchmark": True, "torch.backends.cuda.matmul.allow_tf32": True}
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        conv.fp32_precision = "tf32"
        applied["torch.backends.cudnn.conv.fp32_precision"] = "tf32"
    else:
        torch.backends.cudnn.allow_tf32 = True
        applied["torch.backends.cudnn.allow_tf32"] = True
    return applied


def _native(patch_name, owner, attribute):
    original = registry.original(patch_name)
    return getattr(owner, attribute) if original is registry.MISSING else original


def _probe(check):
    try:
        return bool(check())
    except Exception:
        return False


def _macos_major():
    version = platform.mac_ver()[0]
    try:
        return int(version.split(".")[0]) if version else 0
    except ValueError:
        return 0
