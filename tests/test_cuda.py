"""torch.cuda.empty_cache / synchronize on builds and machines where CUDA cannot work.

These machines have a CUDA build of torch and no GPU, so "no driver" is real here; the CPU-only
build is real in its own venv (``scripts/setup_env.sh cpu``). Every test runs in a fresh
interpreter so that nothing initialises CUDA or patches torch in the test process.
"""

import json
import os


from conftest import run_python, venv_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CALLS = """
    import json, torch
    outcomes = {}
    for name, call in [("empty_cache", lambda: torch.cuda.empty_cache()),
                       ("synchronize", lambda: torch.cuda.synchronize()),
                       ("synchronize(0)", lambda: torch.cuda.synchronize(0)),
                       ("synchronize('cuda:1')", lambda: torch.cuda.synchronize("cuda:1"))]:
        try:
            outcomes[name] = ["returned", repr(call())]
        except BaseException as error:
            outcomes[name] = [type(error).__name__, str(error).splitlines()[0]]
    outcomes["initialized"] = torch.cuda.is_initialized()
    print(json.dumps(outcomes))
"""


def last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_gpu_less_cuda_build_without_the_plugin_really_raises():
    outcomes = last_json(run_python(CALLS, env={"ACESTEP_WINPATCH": "0"}))
    assert outcomes["synchronize"][0] == "RuntimeError"
    assert outcomes["synchronize"][1].startswith("Found no NVIDIA driver")
    assert outcomes["empty_cache"] == ["returned", "None"]  # native no-op: CUDA never initialised


def test_gpu_less_cuda_build_with_the_plugin_does_nothing_and_never_initialises_cuda():
    result = run_python("import acestep_winpatch\n" + _dedent(CALLS) + _STATUS)
    lines = result.stdout.strip().splitlines()
    outcomes, status = json.loads(lines[-2]), json.loads(lines[-1])
    assert all(outcomes[name] == ["returned", "None"] for name in outcomes if name != "initialized")
    assert outcomes["initialized"] is False
    assert status["notes"]["cuda.synchronize"] == "torch.cuda.synchronize() does nothing: no usable CUDA device or driver"
    assert status["fallbacks"]["cuda"]["count"] == 2


def test_disabling_the_group_restores_the_native_behaviour():
    outcomes = last_json(run_python("import acestep_winpatch\n" + _dedent(CALLS), env={"ACESTEP_WINPATCH_DISABLE": "cuda"}))
    assert outcomes["synchronize"][0] == "RuntimeError"


def test_where_cuda_is_usable_calls_pass_straight_through():
    """Stand-in for a working CUDA machine, which cannot exist here: the cached probe result is
    forced to "usable". The native function then really runs, and its own error surfaces."""
    result = run_python(
        "import acestep_winpatch, torch\n"
        "from acestep_winpatch.patches import cuda\n"
        "cuda.CUDA.usable = True\n" + _dedent(CALLS)
    )
    outcomes = last_json(result)
    assert outcomes["synchronize"][1].startswith("Found no NVIDIA driver")


def test_mps_and_xpu_machines_get_the_equivalent_call():
    """Stand-in for a Mac, which cannot exist here: ``torch.backends.mps.is_available`` answers
    True and ``torch.mps.empty_cache``/``synchronize`` record their calls instead of touching Metal."""
    result = run_python(
        """
        import json, torch, acestep_winpatch
        calls = []
        torch.backends.mps.is_available = lambda: True
        torch.mps.empty_cache = lambda: calls.append("mps.empty_cache")
        torch.mps.synchronize = lambda: calls.append("mps.synchronize")
        torch.cuda.empty_cache(); torch.cuda.synchronize(); torch.cuda.synchronize()
        print(json.dumps({"calls": calls, "notes": acestep_winpatch.status()["notes"],
                          "device": str(acestep_winpatch.get_optimal_device())}))
        """
    )
    report = last_json(result)
    assert report["calls"] == ["mps.empty_cache", "mps.synchronize", "mps.synchronize"]
    assert report["notes"]["cuda.synchronize"] == "torch.cuda.synchronize() does torch.mps.synchronize(): no usable CUDA device or driver"
    assert report["device"] == "mps"


# What torch.cuda.empty_cache/synchronize are once patched: our one kind of wrapt proxy around
# torch's own function, passing everything but the call through, and gone again after unapply().
PROXY_KIND = """
    import copy, inspect, json, pickle, types, torch, wrapt, acestep_winpatch
    from acestep_winpatch import registry
    from acestep_winpatch.proxies import WinpatchProxy
    report = {}
    for name in ("empty_cache", "synchronize"):
        proxy, original = getattr(torch.cuda, name), registry.original("cuda." + name)
        report[name] = {
            "ours": type(proxy) is WinpatchProxy and isinstance(proxy, wrapt.FunctionWrapper),
            "wraps_torchs_function": type(original) is types.FunctionType and proxy.__wrapped__ is original,
            "looks_like_it": [proxy.__name__, proxy.__module__ == original.__module__,
                              proxy.__doc__ == original.__doc__, inspect.signature(proxy) == inspect.signature(original)],
            "pickles_and_copies_as_itself": [pickle.loads(pickle.dumps(proxy)) is proxy,
                                             copy.copy(proxy) is proxy, copy.deepcopy(proxy) is proxy],
            "returns": repr(proxy()),
        }
    acestep_winpatch.unapply()
    report["restored"] = [getattr(torch.cuda, name) is registry.original("cuda." + name)
                          for name in ("empty_cache", "synchronize")]
    print(json.dumps(report))
"""


def assert_proxy_kind(report):
    for name in ("empty_cache", "synchronize"):
        assert report[name] == {"ours": True, "wraps_torchs_function": True,
                                "looks_like_it": [name, True, True, True],
                                "pickles_and_copies_as_itself": [True, True, True], "returns": "None"}, report
    assert report["restored"] == [True, True], report


def test_both_calls_are_wrapt_proxies_like_every_other_patch():
    assert_proxy_kind(last_json(run_python(PROXY_KIND)))


def test_cpu_only_build_gets_the_same_proxies():
    import subprocess

    env = {**os.environ, "PYTHONPATH": REPO}
    env.pop("ACESTEP_WINPATCH", None)
    result = subprocess.run([venv_python("cpu"), "-c", _dedent(PROXY_KIND)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert_proxy_kind(last_json(result))


def test_cpu_only_build_native_raises_and_patched_does_not():
    cpu_python = venv_python("cpu")
    import subprocess

    env = {**os.environ, "PYTHONPATH": REPO}
    env.pop("ACESTEP_WINPATCH", None)
    native = subprocess.run([cpu_python, "-c", _dedent(CALLS)], capture_output=True, text=True,
                            env={**env, "ACESTEP_WINPATCH": "0"}, timeout=300)
    outcomes = last_json(native)
    assert outcomes["synchronize"] == ["AssertionError", "Torch not compiled with CUDA enabled"]
    patched = subprocess.run([cpu_python, "-c", "import acestep_winpatch\n" + _dedent(CALLS) + _STATUS],
                             capture_output=True, text=True, env=env, timeout=300)
    assert patched.returncode == 0, patched.stderr
    lines = patched.stdout.strip().splitlines()
    outcomes, status = json.loads(lines[-2]), json.loads(lines[-1])
    assert all(outcomes[name] == ["returned", "None"] for name in outcomes if name != "initialized")
    assert status["notes"]["cuda.synchronize"] == "torch.cuda.synchronize() does nothing: CPU-only torch build"


_STATUS = "\nprint(json.dumps(__import__('acestep_winpatch').status()))\n"


def _dedent(code):
    import textwrap

    return textwrap.dedent(code)
