"""torch.mps.empty_cache / synchronize on builds and machines without a usable MPS device.

Every torch build here lacks the MPS backend, so ``RuntimeError: Cannot execute emptyCache()
without MPS backend.`` is real (the error ACE-Step 1.5 users on Windows report), on the CUDA
build and on the CPU-only build alike. Each test runs in a fresh interpreter.
"""

import json
import os
import subprocess
import textwrap

from conftest import run_python, venv_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CALLS = """
    import json, torch
    outcomes = {}
    for name in ("empty_cache", "synchronize"):
        try:
            outcomes[name] = ["returned", repr(getattr(torch.mps, name)())]
        except BaseException as error:
            outcomes[name] = [type(error).__name__, str(error)]
    outcomes["cuda initialized"] = torch.cuda.is_initialized()
    print(json.dumps(outcomes))
"""
STATUS = "\nprint(json.dumps(__import__('acestep_winpatch').status()))\n"
NATIVE_ERRORS = {
    "empty_cache": ["RuntimeError", "Cannot execute emptyCache() without MPS backend."],
    "synchronize": ["RuntimeError", "Cannot execute deviceSynchronize() without MPS backend."],
}


def last_json(result, back=1):
    return json.loads(result.stdout.strip().splitlines()[-back])


def test_without_the_plugin_both_calls_raise_as_users_report():
    outcomes = last_json(run_python(CALLS, env={"ACESTEP_WINPATCH": "0"}))
    assert {name: outcomes[name] for name in NATIVE_ERRORS} == NATIVE_ERRORS


def test_with_the_plugin_both_calls_do_nothing_with_one_notice():
    result = run_python("import acestep_winpatch\n" + textwrap.dedent(CALLS) + STATUS,
                        env={"ACESTEP_WINPATCH_LOG_LEVEL": "WARNING"})
    outcomes, status = last_json(result, 2), last_json(result)
    assert outcomes == {"empty_cache": ["returned", "None"], "synchronize": ["returned", "None"],
                        "cuda initialized": False}
    assert status["patches"]["mps.empty_cache"]["state"] == "attached"
    assert status["notes"]["mps.synchronize"] == "torch.mps.synchronize() does nothing: torch built without MPS"
    assert status["fallbacks"]["mps"]["count"] == 2
    assert result.stderr.count("mps fell back") == 1, result.stderr


def test_disabling_one_call_leaves_it_native():
    outcomes = last_json(run_python("import acestep_winpatch\n" + textwrap.dedent(CALLS),
                                    env={"ACESTEP_WINPATCH_DISABLE": "mps.synchronize"}))
    assert outcomes["empty_cache"] == ["returned", "None"]
    assert outcomes["synchronize"] == NATIVE_ERRORS["synchronize"]


def test_where_mps_is_usable_calls_pass_straight_through():
    """Stand-in for a Mac, which cannot exist here: ``torch.backends.mps.is_available`` answers
    True. The native functions then really run, and their own errors surface unchanged."""
    outcomes = last_json(run_python(
        "import acestep_winpatch, torch\ntorch.backends.mps.is_available = lambda: True\n" + textwrap.dedent(CALLS)))
    assert {name: outcomes[name] for name in NATIVE_ERRORS} == NATIVE_ERRORS


def test_on_a_cuda_machine_the_cuda_equivalent_runs():
    """Stand-in for a working CUDA machine, which cannot exist here: the CUDA probe's cached
    answer is forced to "usable" and ``torch.cuda.empty_cache``/``synchronize`` record their calls."""
    report = last_json(run_python(
        """
        import json, torch, acestep_winpatch
        from acestep_winpatch.patches import cuda
        cuda.CUDA.usable = True
        calls = []
        torch.cuda.empty_cache = lambda: calls.append("cuda.empty_cache")
        torch.cuda.synchronize = lambda: calls.append("cuda.synchronize")
        torch.mps.empty_cache(); torch.mps.synchronize(); torch.mps.synchronize()
        print(json.dumps({"calls": calls, "notes": acestep_winpatch.status()["notes"]}))
        """))
    assert report["calls"] == ["cuda.empty_cache", "cuda.synchronize", "cuda.synchronize"]
    assert report["notes"]["mps.empty_cache"] == \
        "torch.mps.empty_cache() does torch.cuda.empty_cache(): torch built without MPS"


def test_cpu_only_build_native_raises_and_patched_does_not():
    cpu_python = venv_python("cpu")
    env = {**os.environ, "PYTHONPATH": REPO}
    env.pop("ACESTEP_WINPATCH", None)
    native = subprocess.run([cpu_python, "-c", textwrap.dedent(CALLS)], capture_output=True, text=True,
                            env={**env, "ACESTEP_WINPATCH": "0"}, timeout=300)
    outcomes = last_json(native)
    assert {name: outcomes[name] for name in NATIVE_ERRORS} == NATIVE_ERRORS
    patched = subprocess.run([cpu_python, "-c", "import acestep_winpatch\n" + textwrap.dedent(CALLS) + STATUS],
                             capture_output=True, text=True, env=env, timeout=300)
    assert patched.returncode == 0, patched.stderr
    outcomes, status = last_json(patched, 2), last_json(patched)
    assert outcomes["empty_cache"] == outcomes["synchronize"] == ["returned", "None"]
    assert status["notes"]["mps.empty_cache"] == "torch.mps.empty_cache() does nothing: torch built without MPS"
