"""Post-import hooks: run callbacks each time a watched module finishes importing.

wrapt has the same mechanism (``wrapt.register_post_import_hook``), but ``import wrapt``
2.x costs about 55 ms (it pulls in asyncio and importlib.metadata), and this module runs
in every interpreter that the ``.pth`` or sitecustomize activation reaches. This finder
costs nothing until a watched module is imported; wrapt itself is imported only then,
when torch's own import dwarfs it.

A watch lasts until it is cancelled: the callbacks run after the first import, and again
after every ``importlib.reload`` and every new import after a purge from ``sys.modules``,
since each of those runs the module's code again. An import that another thread (or this
one, further up the stack) has already started when ``watch`` is called never reaches the
finder: for it, the callbacks run the moment that import ends (see ``_fire_when_initialized``).
"""

import sys
import threading

from . import forksafe

_lock = forksafe.RLock()
_watchers = {}  # module name -> [callback]
_fired = {}  # module name -> the module object its callbacks last ran for
_announcing = {}  # spec class -> its subclass that reports the end of an import
_base_of = {}  # that subclass -> the spec class


def is_loaded(name):
    """True once `name` has finished importing (not while its import is still running)."""
    module = sys.modules.get(name)
    if module is None:
        return False
    if _fired.get(name) is module:
        return True
    spec = getattr(module, "__spec__", None)
    return not getattr(spec, "_initializing", False)


def watch(name, callback):
    """Call ``callback(module)`` each time ``name`` finishes importing, from the import now
    running (if any) on. A module already imported is not called back: check ``is_loaded``."""
    with _lock:
        callbacks = _watchers.setdefault(name, [])
        if callback not in callbacks:
            callbacks.append(callback)
        if not any(isinstance(finder, _HookFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _HookFinder())
        module = sys.modules.get(name)
        if module is not None and not is_loaded(name):
            _fire_when_initialized(module)


def unwatch(name, callback):
    """Stop calling ``callback`` for ``name``; unknown callbacks are ignored."""
    with _lock:
        callbacks = _watchers.get(name, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            _watchers.pop(name, None)


def pending():
    """Watched module names that are not imported yet (for status and tests)."""
    with _lock:
        return sorted(name for name in _watchers if not is_loaded(name))


def _fire(name):
    with _lock:
        module = sys.modules.get(name)
        _fired[name] = module
        callbacks = list(_watchers.get(name, ()))
    for callback in callbacks:
        try:
            callback(module)
        except Exception as error:  # a hook must never break the user's import
            from .log import warn_once

            warn_once(("hook", name, callback), "post-import hook for %s failed: %r", name, error)


def _fire_when_initialized(module):
    """Fire ``module``'s watchers when its running import ends, in the thread running it.

    importlib marks a module being imported with ``spec._initializing = True`` and clears it in
    a ``finally`` once the import has succeeded or failed (``_bootstrap._load_unlocked``). The
    spec's class is swapped for a subclass that notices the clearing, then swapped back: the
    callbacks run right as the import ends, before the importing code can call anything of the
    module, and after a failed import nothing runs (the finder sees the next attempt).
    Called under ``_lock``.
    """
    spec = getattr(module, "__spec__", None)
    if type(spec) in _base_of:
        return  # already waiting for this import
    try:
        spec.__class__ = _announcing_class(type(spec))
    except Exception:  # a spec of a layout that refuses it: the next import is still seen
        return
    if not spec.__dict__.get("_initializing", False):  # the import ended meanwhile
        _initialized(spec)


def _announcing_class(base):
    cls = _announcing.get(base)
    if cls is None:
        def get(spec):
            return spec.__dict__.get("_initializing", False)

        def set_(spec, value):
            spec.__dict__["_initializing"] = value
            if not value:
                _initialized(spec)

        namespace = {"_initializing": property(get, set_), "__module__": base.__module__,
                     "__qualname__": base.__qualname__}
        cls = _announcing[base] = type(base.__name__, (base,), namespace)
        _base_of[cls] = base
    return cls


def _initialized(spec):
    """The import of ``spec`` ended: restore its class, and fire its watchers if it succeeded.

    Whichever thread gets here first does it (the importing one, or ``watch`` seeing the end
    of the import as it arms). Never raises: it runs inside importlib's own bookkeeping.
    """
    try:
        with _lock:
            base = _base_of.get(type(spec))
            if base is None:
                return
            spec.__class__ = base
        if sys.modules.get(spec.name) is not None:
            _fire(spec.name)
    except Exception:
        pass


class _HookFinder:
    """A meta-path finder that only intercepts watched names, and defers to the rest."""

    def __init__(self):
        self._resolving = threading.local()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _watchers:
            return None
        resolving = self._resolving.__dict__.setdefault("names", set())
        if fullname in resolving:
            return None
        resolving.add(fullname)
        try:
            spec = _find_with_others(self, fullname, path, target)
        finally:
            resolving.discard(fullname)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _NotifyingLoader(spec.loader)
        return spec


def _find_with_others(ours, fullname, path, target):
    for finder in list(sys.meta_path):
        find_spec = getattr(finder, "find_spec", None)
        if finder is ours or find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _NotifyingLoader:
    """Wraps the real loader; the module itself only ever sees the real one."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self.loader
        module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _fire(module.__spec__.name)
