"""torch.cuda.ipc_collect / reset_peak_memory_stats / reset_max_memory_allocated where CUDA cannot work.

"No driver" is real here (a CUDA build, no GPU); the CPU-only build is real in venv-cpu. The
memory queries are left alone because they already answer 0 natively: a test holds torch to it.
"""

import json
import os
import subprocess
import textwrap

from conftest import run_python, venv_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUSEKEEPING = ("ipc_collect", "reset_peak_memory_stats", "reset_max_memory_allocated")
QUERIES = ("memory_allocated", "max_memory_allocated", "memory_reserved")

CALLS = f"""
    import json, warnings, torch
    warnings.simplefilter("ignore", FutureWarning)  # reset_max_memory_allocated's deprecation notice
    outcomes = {{}}
    for name in {HOUSEKEEPING + QUERIES!r}:
        try:
            outcomes[name] = ["returned", repr(getattr(torch.cuda, name)())]
        except BaseException as error:
            outcomes[name] = [type(error).__name__, str(error).splitlines()[0]]
    outcomes["initialized"] = torch.cuda.is_initialized()
    print(json.dumps(outcomes))
"""
STATUS = "\nprint(json.dumps(__import__('acestep_winpatch').status()))\n"
NO_DRIVER = "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx"


def last_json(result, back=1):
    return json.loads(result.stdout.strip().splitlines()[-back])


def run_in(python, code, **env):
    full = {**os.environ, "PYTHONPATH": REPO, **env}
    result = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_gpu_less_cuda_build_without_the_plugin_raises_and_queries_answer_zero():
    outcomes = last_json(run_python(CALLS, env={"ACESTEP_WINPATCH": "0"}))
    assert outcomes["ipc_collect"] == ["RuntimeError", NO_DRIVER]
    assert outcomes["reset_peak_memory_stats"] == ["RuntimeError", "invalid argument to reset_peak_memory_stats"]
    assert outcomes["reset_max_memory_allocated"] == ["RuntimeError", "invalid argument to reset_peak_memory_stats"]
    assert all(outcomes[name] == ["returned", "0"] for name in QUERIES), outcomes


def test_gpu_less_cuda_build_with_the_plugin_does_nothing_and_never_initialises_cuda():
    result = run_python("import acestep_winpatch\n" + textwrap.dedent(CALLS) + STATUS)
    outcomes, status = last_json(result, 2), last_json(result)
    assert all(outcomes[name] == ["returned", "None"] for name in HOUSEKEEPING), outcomes
    assert all(outcomes[name] == ["returned", "0"] for name in QUERIES), outcomes
    assert outcomes["initialized"] is False
    assert status["notes"]["cuda.ipc_collect"] == "torch.cuda.ipc_collect() does nothing: no usable CUDA device or driver"
    assert status["fallbacks"]["cuda"]["count"] == 3
    assert not any(name.startswith(("cuda.memory", "cuda.max_memory")) for name in status["patches"])


def test_each_call_has_its_own_switch():
    outcomes = last_json(run_python("import acestep_winpatch\n" + textwrap.dedent(CALLS),
                                    env={"ACESTEP_WINPATCH_DISABLE": "cuda.ipc_collect"}))
    assert outcomes["ipc_collect"] == ["RuntimeError", NO_DRIVER]
    assert outcomes["reset_peak_memory_stats"] == ["returned", "None"]


def test_where_cuda_is_usable_calls_pass_straight_through():
    """Stand-in for a working CUDA machine, which cannot exist here: the cached probe result is
    forced to "usable". The native functions then really run, and their own errors surface."""
    outcomes = last_json(run_python(
        "import acestep_winpatch\nfrom acestep_winpatch.patches import cuda\ncuda.CUDA.usable = True\n"
        + textwrap.dedent(CALLS)))
    assert outcomes["ipc_collect"] == ["RuntimeError", NO_DRIVER]
    assert outcomes["reset_max_memory_allocated"] == ["RuntimeError", "invalid argument to reset_peak_memory_stats"]


def test_cpu_only_build_native_raises_and_patched_does_not():
    cpu_python = venv_python("cpu")
    outcomes = last_json(run_in(cpu_python, CALLS, ACESTEP_WINPATCH="0"))
    assert outcomes["ipc_collect"] == ["AssertionError", "Torch not compiled with CUDA enabled"]
    assert outcomes["reset_peak_memory_stats"] == \
        ["AttributeError", "module 'torch._C' has no attribute '_cuda_resetPeakMemoryStats'"]
    assert all(outcomes[name] == ["returned", "0"] for name in QUERIES), outcomes
    patched = run_in(cpu_python, "import acestep_winpatch\n" + textwrap.dedent(CALLS) + STATUS, ACESTEP_WINPATCH="1")
    outcomes, status = last_json(patched, 2), last_json(patched)
    assert all(outcomes[name] == ["returned", "None"] for name in HOUSEKEEPING), outcomes
    assert status["notes"]["cuda.reset_peak_memory_stats"] == \
        "torch.cuda.reset_peak_memory_stats() does nothing: CPU-only torch build"


def test_torch_28_memory_queries_answer_zero_natively():
    """Why the queries are not patched: torch returns 0 before CUDA is initialised, on 2.8 too."""
    outcomes = last_json(run_in(venv_python("era28"), CALLS, ACESTEP_WINPATCH="0"))
    assert all(outcomes[name] == ["returned", "0"] for name in QUERIES), outcomes
    assert outcomes["ipc_collect"][0] == "RuntimeError"
