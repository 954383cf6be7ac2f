"""The one kind of proxy the registry installs on every target: ``WinpatchProxy``.

A ``wrapt.FunctionWrapper``: it passes attribute access, signatures and descriptor binding
through to the original. It copies as itself, as a function does, and pickles by reference to
the attribute it sits on (``torch.cuda.empty_cache``): unpickling gives what that attribute holds
in the process that unpickles, our proxy where the plugin is applied and torch's own function
elsewhere. A bare wrapt proxy refuses both, and a spawned worker receiving a dataset that keeps
``torchaudio.load`` would fail to start.

Whether a proxy acts is a switch that the registry turns: off, it passes calls straight to the
original. It is wrapt's ``enabled`` argument, given as a list (on while non-empty) rather than
a callable: wrapt tests a non-callable ``enabled`` for truth in C, where a callable costs one
Python call on every call (about 0.1 us here). The registry turns a proxy off after
``unapply()``, and for good once a newer proxy of the same patch may sit on top of it (beneath
another library's wrapper), so that no call ever runs our wrapper twice. It recognises its own
proxies by identity (each record keeps every proxy it made), never by a flag set on someone
else's object.
"""

import importlib

import wrapt


class WinpatchProxy(wrapt.FunctionWrapper):
    """A ``wrapt.FunctionWrapper`` on ``module.attribute`` whose wrapper runs only while its switch is on."""

    def __init__(self, wrapped, wrapper, module, attribute):
        switch = []
        super().__init__(wrapped, wrapper, enabled=switch)
        self._self_switch = switch
        self._self_home = (module, attribute)

    def __reduce_ex__(self, protocol):
        module, attribute = self._self_home
        return getattr, (_ModuleByName(module), attribute)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class _ModuleByName:
    """Pickles as ``importlib.import_module(name)``; the pickle holds no class of ours."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return importlib.import_module, (self.name,)


def make_proxy(wrapped, wrapper, record):
    """A new proxy (switched off) for ``record``'s target, owned by ``record``."""
    proxy = WinpatchProxy(wrapped, wrapper, record.patch.module, record.patch.attribute)
    record.proxies.append(proxy)
    return proxy


def turn(proxy, on):
    proxy._self_switch[:] = (True,) if on else ()


def find_own_proxy(obj, record, depth=32):
    """Our proxy for ``record`` if it is ``obj`` or lies in its ``__wrapped__`` chain."""
    for _ in range(depth):
        if any(obj is proxy for proxy in record.proxies):
            return obj
        try:
            obj = obj.__wrapped__
        except Exception:
            return None
    return None
