"""``torch.compile`` that answers with eager instead of crashing (policy: when to fall back).

``torch.compile(m)`` returns at once; the compiler only runs at the first call, and where there
is no C++ compiler (no MSVC ``cl``) or no Triton that call raises ``InductorError``. A try/except
around ``torch.compile`` therefore catches nothing. The proxy returns the real compiled object
with its calls guarded (``compile_guard``); this module decides, for each guarded object:

* before its first call, whether the attempt is doomed (preflight: no C++ compiler for CPU
  inputs, no Triton for GPU inputs, or the same lack already seen in this process);
* after a failure, whether it was the compiler's (fall back) or the user's (propagate);
* what to fall back to: eager, or the backend named by ``ACESTEP_WINPATCH_COMPILE``.

Nothing here imports torch at module level: the package must import without it.
"""

import os
import sys
from .. import config, events, forksafe
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
    compiled = wrapped(model, *args[1:], **options)
    if compiled is model or options.get("disable"):
        return compiled  # inside torch.export, or compilation switched off: nothing to guard
    from .. import compile_guard

    policy = CompilePolicy(wrapped, options)
    if isinstance(compiled, compile_guard.OptimizedModule):
        return compile_guard.guard_module(compiled, policy)
    return compile_guard.guard_function(compiled, model, policy)


class CompilePolicy:
    """The decisions for one compiled object; ``compile_guard`` asks, this answers."""

    def __init__(self, real_compile, options, settings=None):
        self.real_compile = real_compile
        self.options = options
        self.backend = options.get("backend", "inductor")
        self.setting = (settings or config.current()).compile_policy

    def initial_reason(self):
        """Why this object must never compile at all, or None."""
        if self.setting == "eager":
            return f"compile policy is eager ({config.COMPILE}=eager or apply(compile='eager'))"
        return None

    def preflight(self, args, kwargs, owner=None):
        """Why the first compile attempt is doomed, or None. Runs once, at the first call.

        ``owner`` is the module whose parameters the compiled code reads, if any.
        """
        if self.backend != "inductor":
            return None
        devices = _devices(args, kwargs, owner)
        needs = set()
        if "cpu" in devices and _cpu_backend() == "cpp":
            needs.add("cxx")
        if devices.intersection(_GPU_DEVICES):
            needs.add("triton")
        for need in sorted(needs):
            reason = _missing.get(need) or _probe(need, devices)
            if reason:
                events.note("compile.preflight", reason)
                return reason
        return None

    def failure_reason(self, error):
        """Why ``error`` is the compiler's failure (fall back), or None (the user's: propagate)."""
        chain = list(_causes(error))
        if not any(_is_compiler_failure(link) for link in chain):
            return None
        for link in chain:
            need = _lack_shown_by(link)
            if need:
                _remember(need, f"{_describe(error)} (remembered: later compiles skip this attempt)")
        return _describe(error)

    def fell_back(self, reason, predicted):
        """Record a switch to the fallback; one warning per process, counted in ``status()``."""
        events.fallback("compile", ("predicted, no attempt made: " if predicted else "") + reason)

    def fallback(self, original):
        """What answers instead of the failed compilation: ``original``, or the named backend."""
        alternative = self.setting
        if alternative in config.COMPILE_POLICIES or alternative == self.backend or self.backend != "inductor":
            return original
        from .. import compile_guard

        options = {key: value for key, value in self.options.items() if key in ("fullgraph", "dynamic")}
        options["backend"] = alternative
        compiled = self.real_compile(original, **options)
        return compile_guard.guard_function(compiled, original, CompilePolicy(self.real_compile, options, _EagerOnly))


class _EagerOnly:
    """Settings stand-in for the backend fallback's own guard: past it, only eager is left."""

    compile_policy = "attempt"


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


def _cpu_backend():
    inductor_config = sys.modules.get("torch._inductor.config")
    return getattr(inductor_config, "cpu_backend", "cpp")


def _probe(need, devices):
    return _missing_cxx() if need == "cxx" else _missing_triton(devices)


def _missing_cxx():
    """Why inductor will find no C++ compiler, or None; resolves it as inductor's cpp_builder does.

    Only looks the names up on PATH: running the compiler is inductor's job, and a broken one
    still fails the attempt and is caught by the guard.
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


def _remember(need, reason):
    with _missing_lock:
        _missing.setdefault(need, reason)


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


def _is_compiler_failure(error):
    return isinstance(error, _classes(_COMPILER_FAILURES)) and not isinstance(error, _classes(_USER_MISTAKES))


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
    return None


def _describe(error):
    line = str(error).strip().splitlines()
    return f"{type(error).__name__}: {line[0] if line else ''}".strip()


PATCHES = [Patch("compile.torch_compile", "torch", "compile", compile_with_fallback)]
