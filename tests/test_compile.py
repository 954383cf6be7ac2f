"""torch.compile with a guard: real compiler failures, real successes, every call form.

Every test runs in its own interpreter: dynamo and inductor keep process-wide state, and the
plugin remembers a missing compiler for the rest of the process. "No compiler" is real:
``CXX=/nonexistent/cl`` makes torch 2.11's inductor raise ``InvalidCxxCompiler`` (checked
below without the plugin, so the fallback tests cannot pass against a working compiler).
"""

import functools
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
        states = [guard_of(obj).state.value for obj in guarded]
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


def side_effects(*arguments, env):
    """The side-effects probe (``compile_scripts/side_effects.py``) in a fresh interpreter."""
    script = os.path.join(SCRIPTS, "side_effects.py")
    result = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=300)
    assert result.returncode == 0, result.stderr
    return last_json(result)


@pytest.fixture
def fresh_inductor_cache(tmp_path):
    """A new FX-graph cache folder: a cached kernel would let inductor succeed without a compiler."""
    return {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}


@functools.cache
def eager_side_effects(*flags):
    """The reference: every probe as plain eager code, without the plugin."""
    return side_effects("eager", "eager", *flags, env=PLUGIN_OFF)


def assert_like_eager(patched, flags):
    guards = patched.pop("guards")
    eager = eager_side_effects(*flags)
    assert patched == {probe: eager[probe] for probe in patched}
    assert all(guard.startswith("<CallGuard fallen back") for guard in guards), guards


@pytest.mark.parametrize("flags", [[], ["break"]], ids=["one graph", "graph break"])
def test_a_backend_that_raises_leaves_one_calls_side_effects_as_eager(flags):
    """Counter, in-place division of the caller's logits, RNG draws: after one call, as plain eager."""
    assert_like_eager(side_effects("compiled", "raising", *flags, env={}), flags)


@pytest.mark.parametrize("probe", ["counter", "sampler", "rng"])
@pytest.mark.parametrize("flags", [[], ["break"]], ids=["one graph", "graph break"])
def test_a_failing_cxx_leaves_one_calls_side_effects_as_eager(probe, flags, fresh_inductor_cache):
    """``CXX=/bin/false``: nothing predicts the failure, inductor really runs it inside the call.

    One probe per process: after the first failure the lack is remembered, and later objects
    are not attempted at all.
    """
    patched = side_effects("compiled", "inductor", probe, *flags, env={**BROKEN_COMPILER, **fresh_inductor_cache})
    assert_like_eager(patched, flags)


def test_a_graph_break_under_fullgraph_answers_once():
    """``fullgraph=True`` makes dynamo refuse the graph break before any of the call has run."""
    patched = side_effects("compiled", "inductor", "break", "fullgraph", env={})
    assert all(guard.startswith("<CallGuard fallen back: Unsupported") for guard in patched["guards"]), patched
    assert_like_eager(patched, ["break"])


STRICT_AFTER_A_BREAK = """
    import json, sys, torch
    plugin = "acestep_winpatch" in sys.modules
    seen = []

    @torch._dynamo.error_on_graph_break(True)
    def strict(y):
        torch._dynamo.graph_break()
        return y

    @torch.compile(backend="eager")
    def step(x):
        seen.append("before")
        y = x * 2
        torch._dynamo.graph_break()  # the first graph and the append run here
        seen.append("after")
        return strict(y) + 1

    outcome = []
    for _ in range(2):
        try:
            outcome.append(step(torch.ones(2)).tolist())
        except Exception as error:
            outcome.append(type(error).__name__)
    state = None
    if plugin:
        from acestep_winpatch.compile_guard import guard_of
        state = str(guard_of(step))
    print(json.dumps({"outcome": outcome, "seen": seen, "state": state}))
"""


def test_a_tracing_failure_after_part_of_the_call_ran_is_torchs_own_error_and_repeats_nothing():
    """Dynamo fails tracing the second part of the call after the first part ran: nothing can
    answer that call without running its first part again, so torch's error propagates, as
    without the plugin; later calls run eagerly."""
    native = last_json(run_python(STRICT_AFTER_A_BREAK, env=PLUGIN_OFF))
    patched = last_json(run_python("import acestep_winpatch\n" + textwrap.dedent(STRICT_AFTER_A_BREAK)))
    assert native["outcome"] == ["Unsupported", "Unsupported"]
    assert native["seen"] == ["before", "before"]
    assert patched["outcome"] == ["Unsupported", [3.0, 3.0]]
    assert patched["seen"] == ["before", "before", "after"]
    assert patched["state"].startswith("<CallGuard fallen back: Unsupported")


@pytest.mark.parametrize("how", ["environment", "apply"])
def test_an_unknown_backend_name_is_reported_once_and_the_model_answers_eagerly(how):
    """``inductr`` names no backend: where inductor cannot run, eager answers, never ``InvalidBackend``."""
    result = run_python(
        f"""
        import json, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        {"acestep_winpatch.apply(compile='inductr')" if how == "apply" else ""}
        x = tiny_models.sample_input()
        model = tiny_models.AutoEncoder()
        compiled = [torch.compile(model), torch.compile(lambda a: a * 2)]
        answers = [torch.allclose(compiled[0](x), model(x)), torch.allclose(compiled[0](x), model(x)),
                   torch.equal(compiled[1](x), x * 2)]
        guard = guard_of(compiled[0])
        print(json.dumps({{"answers": answers, "plain_eager": guard.eager == model.__call__, "state": guard.state.value}}))
        """,
        env={**NO_COMPILER, **({"ACESTEP_WINPATCH_COMPILE": "inductr"} if how == "environment" else {})},
    )
    report = last_json(result)
    assert report == {"answers": [True, True, True], "plain_eager": True, "state": "fallen back"}
    reports = [line for line in result.stderr.splitlines() if "ACESTEP_WINPATCH_COMPILE='inductr'" in line]
    assert len(reports) == 1, result.stderr
    assert "attempt, eager" in reports[0] and "aot_eager" in reports[0] and "inductor" in reports[0]
    assert "ConfigWarning: acestep_winpatch configuration:" in reports[0], reports[0]


OOM = "CUDA out of memory. Tried to allocate 20.00 GiB"


def test_an_out_of_memory_error_while_compiling_gives_up_compiling_and_one_in_eager_code_propagates():
    """The backend raises ``torch.OutOfMemoryError`` while it compiles: it stands for inductor's
    autotuning running out of GPU memory (no GPU here). That object answers eagerly, once, with
    the error in its reason, and nothing is remembered for other objects. The same error raised
    by the user's own code, run eagerly, propagates unchanged."""
    result = run_python(
        f"""
        import json, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        from acestep_winpatch.patches import compile as policy

        def autotuning_out_of_memory(gm, example_inputs):
            raise torch.OutOfMemoryError({OOM!r})

        calls = []

        def step(a):
            calls.append(1)
            return a * 2

        compiled = torch.compile(step, backend=autotuning_out_of_memory)
        x = tiny_models.sample_input()
        same = torch.equal(compiled(x), x * 2)

        def hungry(a):
            raise torch.OutOfMemoryError({OOM!r})

        eager_error = None
        try:
            torch.compile(hungry)(x)  # no C++ compiler: predicted, so this runs eagerly
        except Exception as error:
            eager_error = type(error).__module__ + "." + type(error).__name__
        print(json.dumps({{"same": same, "calls": len(calls), "reason": guard_of(compiled).reason,
                          "remembered": sorted(policy._missing), "eager_error": eager_error}}))
        """,
        env=NO_COMPILER,
    )
    report = last_json(result)
    assert report["same"] and report["calls"] == 1
    assert report["reason"] == f"OutOfMemoryError: {OOM}"
    assert report["remembered"] == []
    assert report["eager_error"] == "torch.OutOfMemoryError"


MSVC_NOT_ENGLISH = ("Torch.compile() is only support MSVC with English language pack,"
                    "Please reinstall its language pack to English.")


def test_an_msvc_without_the_english_language_pack_is_remembered_like_a_missing_compiler(fresh_inductor_cache):
    """A backend raising torch's own text (``cpp_builder.check_msvc_cl_language_id``) stands in
    for MSVC without its English language pack (no MSVC here): a lack of this machine, so a later
    inductor object with CPU inputs is not attempted, although gcc would compile it here."""
    result = run_python(
        f"""
        import json, torch, acestep_winpatch, tiny_models
        from torch._dynamo.utils import counters
        from acestep_winpatch.compile_guard import guard_of

        def windows_msvc_in_german(gm, example_inputs):
            raise RuntimeError({MSVC_NOT_ENGLISH!r})

        x = tiny_models.sample_input()
        first = torch.compile(lambda a: a + 1, backend=windows_msvc_in_german)
        first(x)
        later = torch.compile(tiny_models.AutoEncoder())
        later(x)
        print(json.dumps({{"first": guard_of(first).reason, "later": guard_of(later).reason,
                          "frames": counters["frames"]["total"]}}))
        """,
        env={**WORKING_COMPILER, **fresh_inductor_cache},
        timeout=600,
    )
    report = last_json(result)
    assert report["first"] == f"RuntimeError: {MSVC_NOT_ENGLISH}"
    assert report["later"] == f"RuntimeError: {MSVC_NOT_ENGLISH} (remembered: later compiles skip this attempt)"
    assert report["frames"] == 1  # only the first object was traced


def test_the_reason_keeps_the_root_cause_of_a_compiler_failure():
    result = run_python(
        """
        import json, torch, acestep_winpatch
        from acestep_winpatch.compile_guard import guard_of

        def buggy(gm, example_inputs):
            try:
                {}["buf1"]
            except KeyError as error:
                raise RuntimeError("lowering failed") from error

        compiled = torch.compile(lambda a: a + 1, backend=buggy)
        compiled(torch.ones(2))
        print(json.dumps({"reason": guard_of(compiled).reason,
                          "status": acestep_winpatch.status()["fallbacks"]["compile"]["first_reason"]}))
        """,
        env={"ACESTEP_WINPATCH_LOG_LEVEL": "ERROR"},
    )
    report = last_json(result)
    assert report["reason"] == "RuntimeError: lowering failed (caused by KeyError: 'buf1')"
    assert report["status"] == report["reason"]


def test_a_copy_made_before_the_first_call_has_its_own_shield_and_guard():
    """``copy.deepcopy`` of a compiled module that has not run yet: each copy compiles, or gives up, on its own."""
    result = run_python(
        """
        import copy, json, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of

        def raising(gm, example_inputs):
            raise RuntimeError("this backend always fails")

        x = tiny_models.sample_input()
        original = torch.compile(tiny_models.AutoEncoder(), backend=raising)
        twin = copy.deepcopy(original)
        same = torch.allclose(twin(x), original._orig_mod(x))
        print(json.dumps({"same": same, "twin": str(guard_of(twin)), "original": str(guard_of(original))}))
        """,
        env={"PYTHONPATH": SCRIPTS, "ACESTEP_WINPATCH_LOG_LEVEL": "ERROR"},
    )
    report = last_json(result)
    assert report["same"]
    assert report["twin"] == "<CallGuard fallen back: RuntimeError: this backend always fails>"
    assert report["original"] == "<CallGuard pending>"


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
        compiled_state, graphs = guard_of(double).state.value, counters["stats"]["unique_graphs"]
        torch._inductor.config.cpp.cxx = ("/nonexistent/cl",)  # the next shape needs a new kernel
        y = torch.arange(6.0)
        second = torch.equal(double(y), y * 2)
        print(json.dumps({"first": first, "second": second, "compiled_state": compiled_state, "graphs": graphs,
                          "after": guard_of(double).state.value, "reason": guard_of(double).reason}))
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
    """torch 2.11's CPU inductor fails on nano-vllm's Sampler (``KeyError: 'buf1'``) with gcc present.

    The Sampler divides the caller's logits in place and draws random numbers: after one call
    both are as the same code run eagerly leaves them.
    """
    result = run_python(
        """
        import json, torch, acestep_winpatch
        from acestep_winpatch.compile_guard import guard_of

        def forward(self, logits, temperatures):
            logits = logits.float().div_(temperatures.unsqueeze(dim=1))
            probs = torch.softmax(logits, dim=-1)
            return probs.div_(torch.empty_like(probs).exponential_(1).clamp_min_(1e-10)).argmax(dim=-1)

        class Sampler(torch.nn.Module):
            forward = torch.compile(forward)

        def one_call(run):
            torch.manual_seed(0)
            logits = torch.linspace(-2, 2, 128).reshape(4, 32)
            tokens = run(logits, torch.full((4,), 0.5))
            return {"tokens": tokens.tolist(), "logits": logits.tolist(), "after": torch.rand(2).tolist()}

        eager = one_call(lambda *a: forward(None, *a))
        compiled = one_call(Sampler())
        print(json.dumps({"same": compiled == eager, "reason": guard_of(Sampler.__dict__["forward"]).reason}))
        """,
        env=WORKING_COMPILER,
        timeout=600,
    )
    report = last_json(result)
    if report["reason"] is None:
        pytest.skip(f"this torch ({sys.version_info[:2]}) compiles the Sampler: the inductor bug is fixed")
    assert report["reason"] == "InductorError: KeyError: 'buf1'"
    assert report["same"]


def test_quantized_checkpoint_pattern_and_module_behaviour():
    """ACE-Step v1: compile, then load with assign=True a state dict saved from a compiled module."""
    result = run_python(
        """
        import copy, io, json, pickle, torch, acestep_winpatch, tiny_models
        from acestep_winpatch.compile_guard import guard_of
        from torch._dynamo.eval_frame import OptimizedModule
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
        pickled = pickle.dumps(fresh)
        unpickled = pickle.loads(pickled)
        print(json.dumps({
            "keys": sorted(state),
            "missing": list(outcome.missing_keys), "unexpected": list(outcome.unexpected_keys),
            "assigned": fresh._orig_mod.enc.weight.data_ptr() == state["_orig_mod.enc.weight"].data_ptr(),
            "same": torch.allclose(fresh(x), expected),
            "training": fresh.training, "attribute": fresh.enc.out_features,
            "encode": torch.allclose(fresh.encode(x), saved._orig_mod.encode(x)),
            "twin": torch.allclose(twin(x), expected), "twin_guard": guard_of(twin).state.value,
            "pickle_is_plain": b"acestep_winpatch" not in pickled and type(unpickled) is OptimizedModule
                               and guard_of(unpickled) is None,
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
    assert report["pickle_is_plain"]


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
        states = [guard_of(model).state.value, guard_of(checked).state.value]
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
        print(json.dumps({{"answers": answers, "fallbacks": fallbacks, "state": guard_of(compiled).state.value,
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
        fallback = getattr(guard.eager, "_winpatch_guard", None)
        print(json.dumps({"same": same, "type": type(compiled) is OptimizedModule, "prefix": next(iter(compiled.state_dict())),
                          "reason": guard.reason, "fallback": fallback.state.value if fallback else "plain eager"}))
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
