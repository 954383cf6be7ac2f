"""``torch.compile`` that answers with eager instead of crashing (policy: when to give up compiling).

``torch.compile(m)`` returns at once; the compiler only runs at the first call, and where there
is no C++ compiler (no MSVC ``cl``) or no Triton that call raises ``InductorError``. A try/except
around ``torch.compile`` therefore catches nothing. The proxy returns the real compiled object,
its backend shielded and its calls guarded (``compile_guard``); this module decides, for each
guarded object:

* before its first call, whether the attempt is doomed (preflight: no C++ compiler for CPU
  inputs, no Triton for GPU inputs, or the same lack already seen in this process);
* after a failure, whether it was the compiler's (answer eagerly) or the user's (propagate);
* what answers instead: eager, or the backend named by ``ACESTEP_WINPATCH_COMPILE``.

Nothing here imports torch at module level: the package must import without it.
"""

import os
import sys

from .. import config, events, forksafe, log
from ..registry import Patch

#: What this process has learnt is missing ("cxx", "triton") -> why; later compiles skip it.
_missing = {}
_missing_lock = forksafe.Lock()

_GPU_DEVICES = ("cuda", "xpu")

# torch._inductor.exc / torch._dynamo.exc class names that mean "the compiler failed",
# never "the user's computation failed". Looked up by name so older torch releases that
# lack some of them still work. BackendCompilerFailed covers InductorError (its subclass),
# which wraps inductor's own bugs such as 2.11's ``KeyError: 'buf1'`` on nano-vllm's Sampler.
_COMPILER_FAILURES = (
    ("torch._dynamo.exc", "BackendCompilerFailed"),
    ("torch._dynamo.exc", "InternalTorchDynamoError"),
    ("torch._dynamo.exc", "Unsupported"),
    ("torch._inductor.exc", "InvalidCxxCompiler"),
    ("torch._inductor.exc", "CppCompileError"),
    ("torch._inductor.exc", "CppWrapperCodegenError"),
    ("torch._inductor.exc", "TritonMissing"),
    ("torch._inductor.exc", "GPUTooOldForTriton"),
    ("torch._inductor.exc", "LoweringException"),
    ("torch._inductor.exc", "MissingOperatorWithoutDecomp"),
    ("torch._inductor.exc", "SubgraphLoweringException"),
)
# Subclasses of the above that report the user's own misuse of torch.compile: they propagate.
_USER_MISTAKES = (("torch._dynamo.exc", "UserError"),)
# Raised inside a backend to steer dynamo (restart the analysis, skip the frame), not failures.
_DYNAMO_CONTROL_FLOW = (("torch._dynamo.exc", "RestartAnalysis"), ("torch._dynamo.exc", "SkipFrame"))
# cpp_builder.check_msvc_cl_language_id: inductor refuses an MSVC without its English language pack.
_MSVC_NOT_ENGLISH = "Torch.compile() is only support MSVC with English language pack"


def compile_with_fallback(wrapped, instance, args, kwargs):
    """The ``torch.compile`` proxy: every call form, the real compiled object, guarded calls."""
    options = dict(kwargs)
    model = args[0] if args else options.pop("model", None)
    if model is None:
        native_decorator = wrapped(*args, **kwargs)  # lets torch validate the options first

        def decorate(target=None):
            if target is None:
                return native_decorator(target)
            return compile_with_fallback(wrapped, instance, (target,), options)

        return decorate
    if len(args) > 1:
        return wrapped(*args, **kwargs)  # torch.compile takes one positional argument: its own TypeError
    return _compile_guarded(wrapped, model, options)


def _compile_guarded(real_compile, model, options, settings=None):
    """``real_compile(model, **options)``, its backend shielded where possible and its calls guarded."""
    from .. import compile_guard

    policy = CompilePolicy(real_compile, options, settings)
    shielded = compile_guard.compile_shielded(real_compile, model, options, policy)
    compiled, shield = shielded or (real_compile(model, **options), None)
    if compiled is model or options.get("disable"):
        return compiled  # inside torch.export, or compilation switched off: nothing to guard
    if isinstance(compiled, compile_guard.OptimizedModule):
        return compile_guard.guard_module(compiled, policy, shield)
    return compile_guard.guard_function(compiled, model, policy, shield)


class CompilePolicy:
    """The decisions for one compiled object (``compile_guard.Policy``); the guard asks, this answers."""

    def __init__(self, real_compile, options, settings=None):
        self.real_compile = real_compile
        self.options = options
        self.backend = options.get("backend", "inductor")
        self.setting = _known_setting((settings or config.current()).compile_policy)

    def why_never(self):
        if self.setting == "eager":
            return f"compile policy is eager ({config.COMPILE}=eager or apply(compile='eager'))"
        return None

    def why_doomed(self, args, kwargs, owner=None):
        """Preflight, once, at the first call: ``owner`` is the module whose weights the code reads."""
        if self.backend != "inductor":
            return None
        devices = _devices(args, kwargs, owner)
        for need in _needs(devices):
            reason = _missing.get(need) or _probe(need, devices)
            if reason:
                events.note("compile.preflight", reason)
                return reason
        return None

    def why_graph_doomed(self, example_inputs):
        """Only what this process has already learnt (no probe): asked before every graph."""
        if self.backend != "inductor" or not _missing:
            return None
        for need in _needs(_devices(example_inputs, {}, None)):
            if need in _missing:
                return _missing[need]
        return None

    def why_compile_failed(self, error):
        """Anything the backend raises is the compiler's, but dynamo's control flow and the user's
        misuse of torch.compile. An out-of-memory error here is autotuning's: that object gives up
        compiling, with the error in the reason; the same error from the eager code propagates."""
        if isinstance(error, _classes(_DYNAMO_CONTROL_FLOW) + _fake_tensor_limits()) or _is_user_mistake(error):
            return None
        return _failure(error)

    def why_call_failed(self, error):
        if not any(_is_compiler_failure(link) for link in _causes(error)):
            return None
        return _failure(error)

    def rerun_repeats_nothing(self, hooked):
        """With ``fullgraph=True`` dynamo traces the whole call, and fails, before any of it runs;
        only the forward pre-hooks of a compiled module have run by then. Without it, dynamo runs
        each graph as soon as it is compiled, so a failure may come after code that has run."""
        if not self.options.get("fullgraph"):
            return False
        return hooked is None or not _has_forward_pre_hooks(hooked)

    def switched(self, reason, predicted):
        """A fallback: one warning per process, counted in ``status()``. The eager setting is the
        user's own choice, not a fallback: ``status()`` notes it, and nothing is shown."""
        if self.setting == "eager":
            events.note("compile", reason)
            return
        events.fallback("compile", ("predicted, no attempt made: " if predicted else "") + reason)

    def eager(self, original):
        alternative = self.setting
        if alternative in config.COMPILE_POLICIES or alternative == self.backend or self.backend != "inductor":
            return original
        options = {key: value for key, value in self.options.items() if key in ("fullgraph", "dynamic")}
        options["backend"] = alternative
        try:
            return _compile_guarded(self.real_compile, original, options, _EagerOnly)
        except Exception as error:  # an entry-point backend that cannot load, say: eager answers
            log.warn_once(("compile", "alternative", alternative), "%s=%s could not be used (%s); answering eagerly",
                          config.COMPILE, alternative, _describe(error))
            return original


class _EagerOnly:
    """Settings stand-in for the alternative backend's own guard: past it, only eager is left."""

    compile_policy = "attempt"


def _known_setting(setting):
    """``setting``, or the default (``attempt``) where it names a backend torch.compile does not know."""
    if setting in config.COMPILE_POLICIES:
        return setting
    import torch._dynamo

    known = torch._dynamo.list_backends(exclude_tags=())  # every name torch.compile(backend=...) accepts
    if setting in known:
        return setting
    _report_unknown_backend(setting, known)
    return "attempt"


def _report_unknown_backend(name, known):
    """Say once that the compile setting names no backend (a ``ConfigWarning``); the only place that reports it."""
    config.report_problem(config.COMPILE, name, f"attempt, eager, or a torch.compile backend: {', '.join(known)}",
                          "using the default, attempt")


def _devices(args, kwargs, owner):
    """Device types of the call's tensors (one level into lists, tuples, dicts) and ``owner``'s weights."""
    import torch

    found = set()
    values = list(args) + list(kwargs.values())
    for value in list(values):
        if isinstance(value, (list, tuple)):
            values.extend(value)
        elif isinstance(value, dict):
            values.extend(value.values())
    for value in values:
        if isinstance(value, torch.Tensor):
            found.add(value.device.type)
    if isinstance(owner, torch.nn.Module):
        for tensor in owner.parameters():
            found.add(tensor.device.type)
            break
        for tensor in owner.buffers():
            found.add(tensor.device.type)
            break
    return found


def _needs(devices):
    """What inductor needs for code on ``devices``: "cxx" for CPU (C++ backend), "triton" for GPUs."""
    needs = []
    if "cpu" in devices and _cpu_backend() == "cpp":
        needs.append("cxx")
    if devices.intersection(_GPU_DEVICES):
        needs.append("triton")
    return needs


def _cpu_backend():
    inductor_config = sys.modules.get("torch._inductor.config")
    return getattr(inductor_config, "cpu_backend", "cpp")


def _probe(need, devices):
    return _missing_cxx() if need == "cxx" else _missing_triton(devices)


def _missing_cxx():
    """Why inductor will find no C++ compiler, or None; resolves it as inductor's cpp_builder does.

    Only looks the names up on PATH: running the compiler is inductor's job, and a broken one
    still fails the attempt, which the shield answers.
    """
    if sys.platform == "win32":
        candidates = (os.environ.get("CXX", "cl"),)
        where = "CXX (default cl, MSVC)"
    else:
        cxx = getattr(sys.modules.get("torch._inductor.config"), "cpp", None)
        configured = getattr(cxx, "cxx", (None, os.environ.get("CXX", "g++")))
        candidates = tuple(configured) if isinstance(configured, (list, tuple)) else (configured,)
        where = "CXX / torch._inductor.config.cpp.cxx"
        if None in candidates and os.environ.get("TORCH_INDUCTOR_INSTALL_GXX"):
            return None  # inductor may install g++ itself
    import shutil

    names = [name for name in candidates if name]
    if any(shutil.which(name) for name in names):
        return None
    return f"no C++ compiler for inductor on CPU: {', '.join(names) or 'none configured'} not found ({where})"


def _missing_triton(devices):
    try:
        from torch.utils._triton import has_triton, has_triton_package
    except ImportError:
        return None
    if not has_triton_package():
        return "no triton installed: inductor cannot compile for " + "/".join(sorted(devices & set(_GPU_DEVICES)))
    try:
        if not has_triton():
            return "triton cannot drive this GPU (too old, or device detection switched off)"
    except Exception:
        return None  # let the attempt decide
    return None


def _failure(error):
    """The reason for a compiler failure; a lack of this machine it shows is remembered."""
    reason = _describe(error)
    for link in _causes(error):
        need = _lack_shown_by(link)
        if need:
            with _missing_lock:
                _missing.setdefault(need, f"{reason} (remembered: later compiles skip this attempt)")
    return reason


def _causes(error, depth=8):
    """``error``, then what caused it: ``__cause__`` and torch's ``inner_exception``."""
    seen = set()
    while error is not None and id(error) not in seen and len(seen) < depth:
        seen.add(id(error))
        yield error
        error = getattr(error, "inner_exception", None) or error.__cause__


def _classes(names):
    found = []
    for module_name, class_name in names:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _fake_tensor_limits():
    """What dynamo turns into a graph break when a backend raises it (``exceptions_allowed_to_be_fallback``)."""
    limits = getattr(sys.modules.get("torch._dynamo.exc"), "exceptions_allowed_to_be_fallback", ())
    return tuple(cls for cls in limits if isinstance(cls, type))


def _is_user_mistake(error):
    return isinstance(error, _classes(_USER_MISTAKES))


def _is_compiler_failure(error):
    return isinstance(error, _classes(_COMPILER_FAILURES)) and not _is_user_mistake(error)


def _has_forward_pre_hooks(module):
    import torch

    return bool(getattr(module, "_forward_pre_hooks", None) or torch.nn.modules.module._global_forward_pre_hooks)


def _lack_shown_by(error):
    """"cxx" or "triton" when ``error`` shows that piece is missing from this machine."""
    name = type(error).__name__
    if name == "InvalidCxxCompiler":
        return "cxx"
    if name == "TritonMissing":
        return "triton"
    text = str(error)
    if name == "RuntimeError" and text.startswith("Compiler: ") and text.rstrip(".").endswith("is not found"):
        return "cxx"  # cpp_builder.check_compiler_exist_windows: MSVC cl not on PATH
    if name == "RuntimeError" and text.startswith(_MSVC_NOT_ENGLISH):
        return "cxx"  # an MSVC inductor will not use on this machine
    return None


def _describe(error):
    """``Type: first line``, and the innermost cause where the first line does not already say it."""
    text = _first_line(error)
    root = list(_causes(error))[-1]
    if root is not error and _first_line(root) not in text:
        text += f" (caused by {_first_line(root)})"
    return text


def _first_line(error):
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".strip()


PATCHES = [Patch("compile.torch_compile", "torch", "compile", compile_with_fallback)]
