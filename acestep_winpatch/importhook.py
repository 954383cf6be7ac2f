"""Post-import hooks: run a callback the moment a module has finished importing.

wrapt has the same mechanism (``wrapt.register_post_import_hook``), but ``import wrapt``
2.x costs about 55 ms (it pulls in asyncio and importlib.metadata), and this module runs
in every interpreter that the ``.pth`` or sitecustomize activation reaches. This finder
costs nothing until a watched module is imported; wrapt itself is imported only then,
when torch's own import dwarfs it.
"""

import sys
import threading

from . import forksafe

_lock = forksafe.RLock()
_hooks = {}  # module name -> [callback]
_fired = {}  # module name -> the module object its hooks last ran for


def is_loaded(name):
    """True once `name` has finished importing (not while its import is still running)."""
    module = sys.modules.get(name)
    if module is None:
        return False
    if _fired.get(name) is module:
        return True
    spec = getattr(module, "__spec__", None)
    return not getattr(spec, "_initializing", False)


def when_imported(name, callback):
    """Call ``callback(module)`` once ``name`` is imported: now if it already is."""
    with _lock:
        if not is_loaded(name):
            _hooks.setdefault(name, []).append(callback)
            if not any(isinstance(finder, _HookFinder) for finder in sys.meta_path):
                sys.meta_path.insert(0, _HookFinder())
            return
    callback(sys.modules[name])


def cancel(name, callback):
    """Forget a callback that has not fired yet; unknown callbacks are ignored."""
    with _lock:
        callbacks = _hooks.get(name, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            _hooks.pop(name, None)


def pending():
    """Module names that still have callbacks waiting (for status and tests)."""
    with _lock:
        return sorted(_hooks)


def _fire(name):
    with _lock:
        _fired[name] = sys.modules.get(name)
        callbacks = _hooks.pop(name, [])
    for callback in callbacks:
        try:
            callback(sys.modules[name])
        except Exception as error:  # a hook must never break the user's import
            from .log import warn_once

            warn_once(("hook", name, callback), "post-import hook for %s failed: %r", name, error)


class _HookFinder:
    """A meta-path finder that only intercepts watched names, and defers to the rest."""

    def __init__(self):
        self._resolving = threading.local()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _hooks:
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
