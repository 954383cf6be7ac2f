"""The one proxy type this package installs, built on wrapt.

``unapply()`` recognises its own proxies by this type, never by a flag set on someone
else's object. A proxy acts only while its record is active and it is the record's current
proxy: one that a foreign wrapper keeps alive after ``unapply()`` passes calls straight
through, even after a later ``apply()`` has put a new proxy on top of that wrapper.
"""

import wrapt


class WinpatchProxy(wrapt.FunctionWrapper):
    """A ``wrapt.FunctionWrapper`` owned by one registry record."""

    def __init__(self, wrapped, wrapper, record):
        def is_current():
            return record.active and record.proxy is self

        super().__init__(wrapped, wrapper, enabled=is_current)
        self._self_record = record


def find_own_proxy(obj, record, depth=32):
    """Our proxy for ``record`` if it is ``obj`` or lies in its ``__wrapped__`` chain."""
    for _ in range(depth):
        if isinstance(obj, WinpatchProxy) and obj._self_record is record:
            return obj
        try:
            obj = obj.__wrapped__
        except Exception:
            return None
    return None
