"""The proxies the registry installs.

Most patches get a ``WinpatchProxy``, a ``wrapt.FunctionWrapper``: it passes attribute access,
signatures and descriptor binding through to the original. Functions called on every step
(``torch.cuda.empty_cache``/``synchronize``, called by ACE-Step's offloader after every
module call) get a plain closure instead: a bare ``wrapt.FunctionWrapper`` call costs about
0.5 us here, a closure about 0.09 us.

A proxy acts only while its record is active and it is the record's current proxy: one that
a foreign wrapper keeps alive after ``unapply()`` passes calls straight through, even after a
later ``apply()`` has put a new proxy on top of that wrapper. The registry recognises its own
proxies by identity (each record keeps every proxy it made), never by a flag set on someone
else's object.
"""

import functools

import wrapt


class WinpatchProxy(wrapt.FunctionWrapper):
    """A ``wrapt.FunctionWrapper`` owned by one registry record."""

    def __init__(self, wrapped, wrapper, record):
        def is_current():
            return record.active and record.proxy is self

        super().__init__(wrapped, wrapper, enabled=is_current)


def hot_path_proxy(wrapped, wrapper, record):
    """A closure with wrapt's calling convention, for functions where every 0.1 us counts."""

    @functools.wraps(wrapped)
    def proxy(*args, **kwargs):
        if record.active and record.proxy is proxy:
            return wrapper(wrapped, None, args, kwargs)
        return wrapped(*args, **kwargs)

    return proxy


def make_proxy(wrapped, wrapper, record, hot_path=False):
    proxy = (hot_path_proxy if hot_path else WinpatchProxy)(wrapped, wrapper, record)
    record.proxies.append(proxy)
    return proxy


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
