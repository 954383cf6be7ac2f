"""The explicit device helpers, each in a fresh interpreter (they probe and cache per process)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import run_python, venv_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_device_and_dtype_on_this_gpu_less_machine():
    report = last_json(run_python(
        """
        import json, torch, acestep_winpatch as w
        print(json.dumps({"device": str(w.get_optimal_device()), "default": str(w.get_optimal_dtype()),
                          "cpu": str(w.get_optimal_dtype("cpu")), "cuda": str(w.get_optimal_dtype("cuda")),
                          "mps": str(w.get_optimal_dtype(torch.device("mps"))),
                          "backends": w.setup_torch_backends(), "benchmark": torch.backends.cudnn.benchmark,
                          "initialized": torch.cuda.is_initialized()}))
        """
    ))
    assert report["device"] == "cpu" and report["default"] == "torch.float32" and report["cpu"] == "torch.float32"
    assert report["cuda"] == "torch.float16"  # the capability probe fails without a driver: no bf16 claimed
    assert report["mps"] == "torch.float16"  # not macOS 14+
    assert report["backends"] == {} and report["benchmark"] is False  # nothing changed without CUDA
    assert report["initialized"] is False


def test_a_raising_probe_counts_as_no_device():
    """Stand-in for a broken MPS runtime, which cannot exist here: its probe raises."""
    report = last_json(run_python(
        """
        import json, torch, acestep_winpatch as w
        def broken():
            raise RuntimeError("MPS backend failed to initialise")
        torch.backends.mps.is_available = broken
        print(json.dumps(str(w.get_optimal_device())))
        """
    ))
    assert report == "cpu"


def test_helpers_work_with_the_patches_switched_off():
    report = last_json(run_python(
        """
        import json, torch, acestep_winpatch as w
        w.safe_cuda_empty_cache(); w.safe_cuda_synchronize(); w.safe_cuda_synchronize(0)
        compiled = w.safe_torch_compile(torch.nn.Linear(4, 2))
        x = torch.randn(3, 4)
        print(json.dumps({"same": torch.allclose(compiled(x), compiled._orig_mod(x)), "applied": w.is_applied(),
                          "native_is_native": not hasattr(torch.cuda.synchronize, "__wrapped__")}))
        """,
        env={"ACESTEP_WINPATCH": "0", "CXX": "/nonexistent/cl"},
    ))
    assert report == {"same": True, "applied": False, "native_is_native": True}


def test_safe_torch_compile_decorator_form():
    report = last_json(run_python(
        """
        import json, torch, acestep_winpatch as w
        @w.safe_torch_compile(dynamic=False)
        def triple(a):
            return a * 3
        x = torch.arange(3.0)
        print(json.dumps(torch.equal(triple(x), x * 3)))
        """,
        env={"ACESTEP_WINPATCH": "0", "CXX": "/nonexistent/cl"},
    ))
    assert report is True


TF32 = """
    import json, warnings
    warnings.filterwarnings("ignore", message=".*NumPy.*")
    import torch
    warnings.simplefilter("error")
    from acestep_winpatch import device
    applied = device._tune_cuda_backends()
    # what torch and libraries read afterwards (inductor's autotuner reads matmul.allow_tf32)
    read = [torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()]
    print(json.dumps({"applied": applied, "read": read, "benchmark": torch.backends.cudnn.benchmark}))
"""


@pytest.mark.parametrize("venv", ["main", "era28", "cpu"])
def test_tf32_settings_raise_no_warning_now_or_when_read_later(venv):
    """The settings themselves need no GPU; warnings are errors. Runs in each torch venv present."""
    python = sys.executable if venv == "main" else venv_python(venv)
    import textwrap

    env = {**os.environ, "PYTHONPATH": REPO, "ACESTEP_WINPATCH": "0"}
    result = subprocess.run([python, "-c", textwrap.dedent(TF32)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    report = last_json(result)
    assert report["read"][:2] == [True, True] and report["benchmark"] is True
    assert report["applied"]["torch.backends.cuda.matmul.allow_tf32"] is True
