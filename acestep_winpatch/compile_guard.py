"""The guarded compiled objects (mechanism; ``patches/compile.py`` holds the policy).

``torch.compile`` keeps its own result: an ``OptimizedModule`` for a module (so ``_orig_mod.``
state-dict keys, ``load_state_dict(..., assign=True)``, ``.to()``, attribute access and methods
such as ``encode``/``decode`` behave as without the plugin), a function for a function. Two
pieces make a compiler failure cost nothing but time, and never run the user's code twice:

* :class:`ShieldedBackend` is the backend ``torch.compile`` is given: torch's own backend
  object, built from the same ``backend``/``mode``/``options`` as ``torch.compile`` builds it,
  answering a graph that it fails to compile with the graph's own eager code (``gm.forward``,
  what torch's ``eager`` backend returns). Dynamo runs that graph in the same call, so one call
  runs the user's code once, after a graph break too, and draws random numbers as eager does.
* :class:`CallGuard` routes each call by its :class:`State`: preflight before the first
  attempt, plain eager for later calls once the shield has seen a failure, and the rare
  failure of dynamo's own tracing, which escapes the call.

Only the compiled call itself is routed through the guard:

* for a module, the guard replaces the instance attribute ``forward`` that
  ``OptimizedModule._initialize`` sets to the dynamo-wrapped ``_orig_mod.__call__``; the type
  stays exactly ``OptimizedModule``, which dynamo checks (``istype``) to inline nested ones;
* for a function, a plain function wrapping the compiled one (``functools.wraps``), so it binds
  exactly as torch's own result does (decorated methods in a class body, as in nano-vllm),
  pickles by reference, and carries dynamo's ``_torchdynamo_inline``: a guarded function
  called inside another compiled region is inlined, as without the plugin.

A plain function rather than a ``wrapt`` proxy: the guard sits on every call of a compiled
object, and a wrapt wrapper costs about 1.2 us per call against about 0.1 us for a closure.

Imported only from the ``torch.compile`` proxy and ``device.py``, when torch is already loaded.
"""

import copy
import enum
import functools
import operator
import typing
import weakref

import torch
from torch._dynamo.eval_frame import OptimizedModule

from . import forksafe

__all__ = ["CallGuard", "OptimizedModule", "Policy", "ShieldedBackend", "State", "compile_shielded",
           "guard_function", "guard_module", "guard_of"]

# Keys of torch.compile's ``options`` that torch.compile takes for itself before building the backend.
_COMPILE_LEVEL_OPTIONS = ("guard_filter_fn", "use_aoti")


class State(enum.Enum):
    PENDING = "pending"  # no call has decided yet
    COMPILED = "compiled"
    EAGER = "fallen back"


class Policy(typing.Protocol):
    """What the guard and the shield ask ``patches.compile.CompilePolicy``.

    Each ``why_*`` answers a reason (text), or None.
    """

    def why_never(self) -> typing.Optional[str]:
        """Why this object must never compile (the eager setting)."""

    def why_doomed(self, args, kwargs, owner) -> typing.Optional[str]:
        """Why the first attempt cannot succeed (preflight); ``owner`` holds the weights it reads."""

    def why_graph_doomed(self, example_inputs) -> typing.Optional[str]:
        """Why compiling this graph cannot succeed: a lack this process has already seen."""

    def why_compile_failed(self, error) -> typing.Optional[str]:
        """Why ``error``, raised while the backend compiled a graph, is the compiler's; None lets it through."""

    def why_call_failed(self, error) -> typing.Optional[str]:
        """Why ``error``, escaping a compiled call, is the compiler's; None when it is the user's."""

    def rerun_repeats_nothing(self, hooked) -> bool:
        """Whether a compiler failure that escaped a call can have run none of it.

        ``hooked`` is the module whose forward pre-hooks run inside the compiled call, or None.
        """

    def switched(self, reason, predicted) -> None:
        """Record that an object now answers eagerly."""

    def eager(self, original):
        """What answers once compiling is given up: ``original``, or it compiled by another backend."""


class ShieldedBackend:
    """The backend ``torch.compile`` is given: torch's own, each graph it fails on answered eagerly.

    ``failure`` keeps the first failure; from then on every graph of this object is answered by
    its eager code without another attempt, and the guard switches later calls to eager.
    It pickles as torch's own backend, so saved modules never depend on the plugin.
    """

    def __init__(self, real, policy):
        self.real = real
        self.policy = policy
        self.failure = None
        self.compiler_name = self.__name__ = getattr(real, "compiler_name", type(real).__name__)

    def __call__(self, gm, example_inputs, **_):
        reason = self.failure or self.policy.why_graph_doomed(example_inputs)
        if reason is None:
            try:
                return self.real(gm, example_inputs)
            except Exception as error:
                reason = self.policy.why_compile_failed(error)
                if reason is None:
                    raise
        if self.failure is None:
            self.failure = reason
        return gm.forward

    def reset(self):
        """``torch._dynamo.reset()`` resets every backend it has seen: pass it on to torch's."""
        reset = getattr(self.real, "reset", None)
        if reset is not None:
            reset()

    def __deepcopy__(self, memo):
        return ShieldedBackend(copy.deepcopy(self.real, memo), self.policy)

    def __reduce__(self):
        return operator.getitem, ((self.real,), 0)  # unpickles as torch's own backend object


def compile_shielded(real_compile, model, options, policy):
    """``real_compile(model, **options)`` given a :class:`ShieldedBackend`: ``(compiled, shield)``.

    None where it cannot be: switched off (``disable``), AOTInductor (``use_aoti``), or any
    error, which the plain call then raises as torch's own (an unknown mode, both ``mode`` and
    ``options``) or does not raise (a torch whose compile takes other arguments).
    """
    inductor_options = options.get("options")
    if options.get("disable") or (isinstance(inductor_options, dict) and inductor_options.get("use_aoti")):
        return None
    try:
        shield = ShieldedBackend(_torch_backend(options), policy)
        compiled = real_compile(model, **_given(options, shield))
    except Exception:
        return None
    return compiled, shield


def _torch_backend(options):
    """The backend object ``torch.compile(**options)`` builds (torch/__init__.py, ``compile``)."""
    backend = options.get("backend", "inductor")
    mode = options.get("mode")
    inductor_options = options.get("options")
    if mode is not None and inductor_options is not None:
        raise ValueError("mode and options together: torch.compile itself refuses them")
    if mode is None and inductor_options is None:
        mode = "default"
    if isinstance(inductor_options, dict):
        inductor_options = {key: value for key, value in inductor_options.items() if key not in _COMPILE_LEVEL_OPTIONS}
    dynamic = options.get("dynamic")
    if backend == "inductor":
        named = {"name": options["name"]} if "name" in options else {}  # torch 2.13's compile(name=...)
        return torch._TorchCompileInductorWrapper(mode, inductor_options, dynamic, **named)
    return torch._TorchCompileWrapper(backend, mode, inductor_options, dynamic)


def _given(options, shield):
    """``options`` with the shield as backend; ``mode`` and inductor's options already live in it."""
    given = {key: value for key, value in options.items() if key not in ("backend", "mode", "options")}
    inductor_options = options.get("options")
    if isinstance(inductor_options, dict):
        own = {key: value for key, value in inductor_options.items() if key in _COMPILE_LEVEL_OPTIONS}
        if own:
            given["options"] = own
    given["backend"] = shield
    return given


class CallGuard:
    """Compiled until the compiler fails, then eager for good; user errors pass through.

    The guarded function made by :func:`_guarded` sends each call by state: compiled calls to
    :meth:`attempt`, first calls to :meth:`first_call` (serialised: concurrent first callers
    compile, or give up, once), later calls straight to :attr:`eager`.
    """

    __slots__ = ("state", "reason", "policy", "original", "owner", "hooked", "shield", "eager", "_lock")

    def __init__(self, policy, original, owner=None, hooked=None, shield=None, reason=None):
        self.policy = policy
        self.original = original
        self.owner = owner
        self.hooked = hooked
        self.shield = shield
        self.state = State.PENDING
        self.reason = None
        self.eager = None
        self._lock = forksafe.RLock()
        reason = reason or policy.why_never()
        if reason:
            self.switch_to_eager(reason, predicted=True)

    def __repr__(self):
        return f"<CallGuard {self.state.value}{': ' + self.reason if self.reason else ''}>"

    def first_call(self, compiled, args, kwargs):
        """Answer a first call (serialised), or any call that finds the state already decided."""
        if self.state is State.PENDING:
            with self._lock:
                if self.state is State.PENDING:
                    owner = self.owner
                    if owner is None and args and isinstance(args[0], torch.nn.Module):
                        owner = args[0]  # a decorated method: args[0] is self
                    reason = self.policy.why_doomed(args, kwargs, owner)
                    if reason is None:
                        result = self.attempt(compiled, args, kwargs)
                        if self.state is State.PENDING:
                            self.state = State.COMPILED
                        return result
                    self.switch_to_eager(reason, predicted=True)
        if self.state is State.COMPILED:
            return self.attempt(compiled, args, kwargs)
        return self.eager(*args, **kwargs)

    def attempt(self, compiled, args, kwargs):
        """One compiled call, which runs the user's code once whatever fails.

        The shield answers a graph its backend cannot compile inside the call; later calls then
        go to eager. A compiler failure that escapes the call (dynamo's own tracing) is answered
        by eager only where none of the call can have run; elsewhere torch's error propagates,
        as it would without the plugin, and later calls go to eager.
        """
        try:
            result = compiled(*args, **kwargs)
        except Exception as error:
            self._follow_shield()
            reason = self.policy.why_call_failed(error)
            if reason is None:
                raise
            self.switch_to_eager(reason, predicted=False)
            if not self.policy.rerun_repeats_nothing(self.hooked):
                raise
            return self.eager(*args, **kwargs)
        self._follow_shield()
        return result

    def _follow_shield(self):
        shield = self.shield
        if shield is not None and shield.failure is not None and self.state is not State.EAGER:
            self.switch_to_eager(shield.failure, predicted=False)

    def switch_to_eager(self, reason, predicted):
        """From now on ``eager`` answers every call; ``predicted``: no attempt was made."""
        with self._lock:
            if self.state is State.EAGER:
                return
            self.eager = self.policy.eager(self.original)
            self.reason = reason
            self.state = State.EAGER
        self.policy.switched(reason, predicted)


def _guarded(compiled, guard):
    """A function standing in for ``compiled``, routing each call by ``guard``'s state."""

    @functools.wraps(compiled)
    def guarded(*args, **kwargs):
        state = guard.state
        if state is State.COMPILED:
            return guard.attempt(compiled, args, kwargs)
        if state is State.PENDING:
            return guard.first_call(compiled, args, kwargs)
        return guard.eager(*args, **kwargs)

    guarded._winpatch_guard = guard
    return guarded


def guard_function(compiled, original, policy, shield=None):
    """Wrap a compiled function so that its calls go through a new guard.

    ``nn.Module.compile()`` compiles the bound ``_call_impl``, and the alternative backend the
    bound ``__call__``: both run the module's hooks.
    """
    owner = getattr(original, "__self__", None)
    owner = owner if isinstance(owner, torch.nn.Module) else None
    runs_hooks = getattr(original, "__func__", None) in (torch.nn.Module._call_impl, torch.nn.Module.__call__)
    hooked = owner if runs_hooks else None
    return _guarded(compiled, CallGuard(policy, original, owner, hooked, shield))


def guard_module(optimized, policy, shield=None, reason=None):
    """Guard the compiled ``forward`` of an ``OptimizedModule`` in place; return the module.

    ``OptimizedModule._initialize`` stores the dynamo-wrapped ``_orig_mod.__call__`` as the
    instance attribute ``forward`` (``_forward`` for lazy modules, behind a check). Eager is
    ``_orig_mod.__call__`` itself: the original module with its hooks, without dynamo.
    """
    name = "_forward" if "_forward" in optimized.__dict__ else "forward"
    original = optimized._orig_mod
    guard = CallGuard(policy, original.__call__, original, original, shield, reason)
    optimized.__dict__[name] = _guarded(optimized.__dict__[name], guard)
    # copy.deepcopy looks __deepcopy__ up on the instance; OptimizedModule.__reduce__ would
    # otherwise rebuild an unguarded module. Pickling keeps that plain, portable form.
    optimized.__dict__["__deepcopy__"] = _GuardedDeepcopy(optimized, policy)
    return optimized


class _GuardedDeepcopy:
    """``copy.deepcopy`` of a guarded ``OptimizedModule``: an equally guarded copy.

    The copy's dynamo context holds a copy of the shield (found in ``memo``); a copy of one
    that has fallen back starts fallen back, for the same reason.
    """

    __slots__ = ("module", "policy")

    def __init__(self, module, policy):
        self.module = weakref.ref(module)  # no reference cycle: dropping the model frees it at once
        self.policy = policy

    def __call__(self, memo):
        module = self.module()
        rebuild, arguments = module.__reduce__()  # what copy.deepcopy does without the plugin
        twin = rebuild(*copy.deepcopy(arguments, memo))
        guard = guard_of(module)
        shield = memo.get(id(guard.shield)) if guard.shield is not None else None
        return guard_module(twin, self.policy, shield, guard.reason)


def guard_of(compiled):
    """The :class:`CallGuard` of a guarded module or function, or None (tests, status, doctor)."""
    if isinstance(compiled, OptimizedModule):
        compiled = compiled.__dict__.get("_forward", compiled.__dict__.get("forward"))
    return getattr(compiled, "_winpatch_guard", None) if callable(compiled) else None
