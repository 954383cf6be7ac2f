"""torch.compile with a guard: real compiler failures, real successes, every call form.

Every test runs in its own interpreter: dynamo and inductor keep process-wide state, and the
plugin remembers a missing compiler for the rest of the process. "No compiler" is real:
``CXX=/nonexistent/cl`` makes torch 2.11's inductor raise ``InvalidCxxCompiler`` (checked
below without the plugin, so the fallback tests cannot pass against a working compiler).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import run_python

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compile_scripts")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_COMPILER = {"CXX": "/nonexistent/cl", "PYTHONPATH": SCRIPTS, "ACESTEP_WINPATCH_LOG_LEVEL": "WARNING"}
BROKEN_COMPILER = {"CXX": "/bin/false", "PYTHONPATH": SCRIPTS, "ACESTEP_WINPATCH_LOG_LEVEL": "WARNING"}
WORKING_COMPILER = {"CXX": None, "PYTHONPATH": SCRIPTS, "TORCHINDUCTOR_COMPILE_THREADS": "1"}
PLUGIN_OFF = {"ACESTEP_WINPATCH": "0"}


def last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def fallback_warnings(result):
    return [line for line in result.stderr.splitlines() if "compile fell back" in line]


def test_without_the_plugin_a_missing_compiler_really_fails_at_the_first_call():
    result = run_python(
        """
        import json, torch, tiny_models
        compiled = torch.compile(tiny_models.AutoEncoder())
        try:
            compiled(tiny_models.sample_input())
        except Exception as error:
            print(json.dumps([type(error).__module__, type(error).__name__, str(error)]))
        """,
        env={**NO_COMPILER, **PLUGIN_OFF},
    )
    module, name, text = last_json(result)
    assert (module, name) == ("torch._inductor.exc", "InductorError")
    assert text.startswith("InvalidCxxCompiler")


def test_every_call_form_answers_like_eager_without_a_compiler():
    result = run_python(
        """
        import json, pickle, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        from torch._dynamo.eval_frame import OptimizedModule
        x = tiny_models.sample_input()
        model = tiny_models.AutoEncoder()
        expected = model(x)

        compiled_module = torch.compile(model)
        function = torch.compile(lambda a: torch.sin(a) + 1)

        @torch.compile
        def bare(a):
            return a.cos()

        @torch.compile(mode="reduce-overhead", fullgraph=True, backend="inductor", dynamic=False)
        def configured(a):
            return a * 3

        norm = tiny_models.RMSNorm()
        self_compiled = tiny_models.AutoEncoder()
        self_compiled.load_state_dict(model.state_dict())
        self_compiled.compile()
        helper = acestep_winpatch.safe_torch_compile(model)
        checks = {
            "module_type": type(compiled_module) is OptimizedModule,
            "module": torch.allclose(compiled_module(x), expected),
            "function": torch.allclose(function(x), torch.sin(x) + 1),
            "bare_decorator": torch.allclose(bare(x), x.cos()),
            "configured_decorator": torch.allclose(configured(x), x * 3),
            "method_in_class_body": torch.allclose(norm(x), x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight),
            "module_dot_compile": torch.allclose(self_compiled(x), expected),
            "safe_torch_compile": torch.allclose(helper(x), expected),
            "encode_decode": torch.allclose(compiled_module.decode(compiled_module.encode(x)), expected),
            "pickled_by_reference": pickle.loads(pickle.dumps(tiny_models.silu_and_mul)) is tiny_models.silu_and_mul,
            "called_through_the_class": torch.allclose(tiny_models.RMSNorm.forward(norm, x), norm(x)),
        }
        guarded = [compiled_module, function, bare, configured, tiny_models.RMSNorm.__dict__["forward"],
                   self_compiled._compiled_call_impl, helper]
        states = [guard_of(obj).state for obj in guarded]
        status = acestep_winpatch.status()
        print(json.dumps({"checks": checks, "states": states, "fallbacks": status["fallbacks"], "notes": status["notes"]}))
        """,
        env=NO_COMPILER,
    )
    report = last_json(result)
    assert all(report["checks"].values()), report["checks"]
    assert set(report["states"]) == {"fallen back"}
    assert report["fallbacks"]["compile"]["count"] == 7
    assert "/nonexistent/cl not found" in report["notes"]["compile.preflight"]
    assert len(fallback_warnings(result)) == 1, result.stderr


def test_a_failed_attempt_is_answered_by_eager_and_remembered():
    """``CXX=/bin/false`` exists, so nothing predicts the failure: inductor really runs and fails."""
    result = run_python(
        """
        import json, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        x = tiny_models.sample_input()
        model = tiny_models.AutoEncoder()
        first = torch.compile(model)
        answer = first(x)
        second = torch.compile(lambda a: a * 2)
        second(x)
        print(json.dumps({"same": torch.allclose(answer, model(x)), "first": guard_of(first).reason,
                          "second": guard_of(second).reason, "again": torch.allclose(first(x), model(x))}))
        """,
        env=BROKEN_COMPILER,
    )
    report = last_json(result)
    assert report["same"] and report["again"]
    assert report["first"].startswith("InductorError: InvalidCxxCompiler")
    assert report["second"].startswith("InductorError: InvalidCxxCompiler") and "remembered" in report["second"]
    assert len(fallback_warnings(result)) == 1, result.stderr


@pytest.mark.slow
def test_with_gcc_the_compiled_path_is_used_and_a_failing_recompile_falls_back():
    result = run_python(
        """
        import json, torch, acestep_winpatch
        from torch._dynamo.utils import counters
        from acestep_winpatch.compile_guard import guard_of

        @torch.compile(dynamic=False)
        def double(a):
            return a * 2

        x = torch.arange(4.0)
        first = torch.equal(double(x), x * 2)
        compiled_state, graphs = guard_of(double).state, counters["stats"]["unique_graphs"]
        torch._inductor.config.cpp.cxx = ("/nonexistent/cl",)  # the next shape needs a new kernel
        y = torch.arange(6.0)
        second = torch.equal(double(y), y * 2)
        print(json.dumps({"first": first, "second": second, "compiled_state": compiled_state, "graphs": graphs,
                          "after": guard_of(double).state, "reason": guard_of(double).reason}))
        """,
        env=WORKING_COMPILER,
        timeout=600,
    )
    report = last_json(result)
    assert report["first"] and report["second"]
    assert report["compiled_state"] == "compiled" and report["graphs"] >= 1
    assert report["after"] == "fallen back" and "InvalidCxxCompiler" in report["reason"]


@pytest.mark.slow
def test_an_inductor_bug_falls_back_like_a_missing_compiler():
    """torch 2.11's CPU inductor fails on nano-vllm's Sampler (``KeyError: 'buf1'``) with gcc present."""
    result = run_python(
        """
        import json, torch, acestep_winpatch
        from acestep_winpatch.compile_guard import guard_of

        class Sampler(torch.nn.Module):
            @torch.compile
            def forward(self, logits, temperatures):
                logits = logits.float().div_(temperatures.unsqueeze(dim=1))
                probs = torch.softmax(logits, dim=-1)
                return probs.div_(torch.empty_like(probs).exponential_(1).clamp_min_(1e-10)).argmax(dim=-1)

        tokens = Sampler()(torch.randn(4, 32), torch.full((4,), 0.7))
        print(json.dumps({"shape": list(tokens.shape), "reason": guard_of(Sampler.__dict__["forward"]).reason}))
        """,
        env=WORKING_COMPILER,
        timeout=600,
    )
    report = last_json(result)
    assert report["shape"] == [4]
    if report["reason"] is None:
        pytest.skip(f"this torch ({sys.version_info[:2]}) compiles the Sampler: the inductor bug is fixed")
    assert report["reason"].startswith("InductorError")


def test_quantized_checkpoint_pattern_and_module_behaviour():
    """ACE-Step v1: compile, then load with assign=True a state dict saved from a compiled module."""
    result = run_python(
        """
        import copy, io, json, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        x = tiny_models.sample_input()
        saved = torch.compile(tiny_models.AutoEncoder())
        buffer = io.BytesIO()
        torch.save(saved.state_dict(), buffer)
        buffer.seek(0)
        state = torch.load(buffer)
        fresh = torch.compile(tiny_models.AutoEncoder())
        outcome = fresh.load_state_dict(state, assign=True)
        fresh = fresh.to(torch.float32).eval()
        twin = copy.deepcopy(fresh)
        expected = saved._orig_mod(x)
        print(json.dumps({
            "keys": sorted(state),
            "missing": list(outcome.missing_keys), "unexpected": list(outcome.unexpected_keys),
            "assigned": fresh._orig_mod.enc.weight.data_ptr() == state["_orig_mod.enc.weight"].data_ptr(),
            "same": torch.allclose(fresh(x), expected),
            "training": fresh.training, "attribute": fresh.enc.out_features,
            "encode": torch.allclose(fresh.encode(x), saved._orig_mod.encode(x)),
            "twin": torch.allclose(twin(x), expected), "twin_guard": guard_of(twin).state,
        }))
        """,
        env=NO_COMPILER,
    )
    report = last_json(result)
    assert report["keys"] == ["_orig_mod.dec.bias", "_orig_mod.dec.weight", "_orig_mod.enc.bias",
                              "_orig_mod.enc.weight", "_orig_mod.scale"]
    assert report["missing"] == [] and report["unexpected"] == []
    assert report["assigned"] and report["same"] and report["encode"] and report["twin"]
    assert report["training"] is False and report["attribute"] == 4
    assert report["twin_guard"] == "fallen back"


USER_ERRORS = """
    import json, sys, torch, tiny_models
    plugin = "acestep_winpatch" in sys.modules
    model = torch.compile(tiny_models.AutoEncoder())

    @torch.compile
    def checked(a):
        if a.shape[0] > 3:
            raise ValueError("too many rows")
        return a + 1

    seen = []
    for call in (lambda: model(torch.randn(3, 5)), lambda: checked(torch.randn(5, 2))):
        try:
            call()
            seen.append(None)
        except Exception as error:
            seen.append([type(error).__module__ + "." + type(error).__name__, str(error).splitlines()[0]])
    states = []
    if plugin:
        from acestep_winpatch.compile_guard import guard_of
        states = [guard_of(model).state, guard_of(checked).state]
    print(json.dumps({"errors": seen, "states": states}))
"""


def test_user_errors_propagate_unchanged_and_switch_nothing():
    native = last_json(run_python(USER_ERRORS, env={**PLUGIN_OFF, "PYTHONPATH": SCRIPTS}))
    patched = last_json(run_python("import acestep_winpatch\n" + textwrap.dedent(USER_ERRORS), env={"PYTHONPATH": SCRIPTS}))
    shape_error, value_error = native["errors"]
    assert shape_error[0] == "torch._dynamo.exc.TorchRuntimeError"
    assert value_error == ["builtins.ValueError", "too many rows"]
    assert patched["errors"] == native["errors"]
    assert patched["states"] == ["pending", "pending"]


@pytest.mark.parametrize("backend, state, fallbacks", [("inductor", "fallen back", 1), ("aot_eager", "compiled", 0)])
def test_concurrent_first_calls_compile_once_or_fall_back_once(backend, state, fallbacks):
    """Six threads make the first call of one compiled module at once.

    With ``CXX=/bin/false`` inductor really attempts and fails; aot_eager needs no C++ compiler.
    (Concurrent first calls of *different* compiled objects are torch's business, not ours.)
    """
    result = run_python(
        f"""
        import json, threading, torch, acestep_winpatch, tiny_models
        from torch._dynamo.utils import counters
        from acestep_winpatch.compile_guard import guard_of
        x = tiny_models.sample_input()
        eager = tiny_models.AutoEncoder()
        compiled = torch.compile(eager, backend="{backend}")
        answers, barrier = [], threading.Barrier(6)

        def call():
            barrier.wait()
            answers.append(torch.allclose(compiled(x), eager(x)))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fallbacks = acestep_winpatch.status()["fallbacks"].get("compile", {{}}).get("count", 0)
        print(json.dumps({{"answers": answers, "fallbacks": fallbacks, "state": guard_of(compiled).state,
                          "attempts": counters["frames"]["total"]}}))
        """,
        env=BROKEN_COMPILER,
    )
    report = last_json(result)
    assert report["answers"] == [True] * 6
    assert report["state"] == state
    assert report["fallbacks"] == fallbacks
    assert report["attempts"] == 1  # one dynamo compile: the first caller's; the others waited for its outcome


@pytest.mark.parametrize("policy, expected", [("eager", "fallen back"), ("aot_eager", "compiled")])
def test_policy_eager_or_a_named_backend(policy, expected):
    result = run_python(
        """
        import json, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        from torch._dynamo.eval_frame import OptimizedModule
        x = tiny_models.sample_input()
        model = tiny_models.AutoEncoder()
        compiled = torch.compile(model)
        same = torch.allclose(compiled(x), model(x))
        guard = guard_of(compiled)
        fallback = getattr(guard.fallback, "_winpatch_guard", None)
        print(json.dumps({"same": same, "type": type(compiled) is OptimizedModule, "prefix": next(iter(compiled.state_dict())),
                          "reason": guard.reason, "fallback": fallback.state if fallback else "plain eager"}))
        """,
        env={**NO_COMPILER, "ACESTEP_WINPATCH_COMPILE": policy},
    )
    report = last_json(result)
    assert report["same"] and report["type"] and report["prefix"].startswith("_orig_mod.")
    if policy == "eager":
        assert report["reason"].startswith("compile policy is eager") and report["fallback"] == "plain eager"
    else:
        assert "/nonexistent/cl" in report["reason"] and report["fallback"] == expected


def test_decorators_applied_at_import_under_the_launcher():
    script = os.path.join(SCRIPTS, "decorated_script.py")
    env = {**os.environ, **NO_COMPILER}
    plain = subprocess.run([sys.executable, script], capture_output=True, text=True,
                           env={**env, **PLUGIN_OFF}, timeout=300)
    assert plain.returncode != 0 and "InvalidCxxCompiler" in plain.stderr
    result = subprocess.run([sys.executable, "-m", "acestep_winpatch", "run", script], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    report = last_json(result)
    assert report["rmsnorm"] and report["silu_and_mul"] and report["rotary"]
    assert all(guard.startswith("<CallGuard fallen back") for guard in report["guards"])
    assert report["activated_by"] == ["launcher"]


def test_decorators_applied_at_import_under_sitecustomize(tmp_path):
    shutil.copy(os.path.join(REPO, "sitecustomize_example.py"), tmp_path / "sitecustomize.py")
    env = {**os.environ, **NO_COMPILER, "PYTHONPATH": os.pathsep.join([str(tmp_path), SCRIPTS])}
    result = subprocess.run([sys.executable, os.path.join(SCRIPTS, "decorated_script.py")], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    report = last_json(result)
    assert report["rmsnorm"] and report["silu_and_mul"] and report["rotary"]
    assert all(guard.startswith("<CallGuard fallen back") for guard in report["guards"])
    assert report["activated_by"] == ["sitecustomize"]


def test_the_policy_module_imports_without_torch_and_the_guard_only_with_it():
    result = run_python(
        """
        import sys, acestep_winpatch.patches.compile, acestep_winpatch.patches.cuda
        assert "torch" not in sys.modules and "acestep_winpatch.compile_guard" not in sys.modules
        import torch
        assert "acestep_winpatch.compile_guard" not in sys.modules  # only the first torch.compile loads it
        torch.compile(lambda a: a)
        assert "acestep_winpatch.compile_guard" in sys.modules
        """
    )
    assert result.returncode == 0
