"""One registry of every patch: where it lives, its wrapper, its toggle, and the first original seen.

``apply()`` and ``unapply()`` walk it; both are idempotent and hold one lock. Patches attach
through post-import hooks the moment their package is imported (or at once if it already is),
and never import anything themselves: an import under our lock could deadlock against a
thread that is importing torch and waiting for the same lock in its hook.
"""

import sys
from . import config, forksafe, importhook
from .log import get_logger, warn_once

MISSING = object()


class Patch:
    """A declaration: replace ``module.attribute`` with a proxy calling ``wrapper``.

    ``wrapper`` has wrapt's signature ``(wrapped, instance, args, kwargs)``. ``name`` is
    ``group.item`` (``audio.load``); ``ACESTEP_WINPATCH_DISABLE`` accepts either part. Where the
    attribute does not exist, ``create()`` supplies a stand-in (``torchaudio.info`` on 2.9+);
    without ``create`` the patch simply does not apply to that version. ``hot_path`` asks for
    the lean closure proxy (see ``proxies``) for functions called on every step.
    """

    __slots__ = ("name", "module", "attribute", "wrapper", "create", "hot_path")

    def __init__(self, name, module, attribute, wrapper, create=None, hot_path=False):
        self.name = name
        self.module = module
        self.attribute = attribute
        self.wrapper = wrapper
        self.create = create
        self.hot_path = hot_path

    @property
    def package(self):
        return self.module.split(".", 1)[0]

    @property
    def target(self):
        return f"{self.module}.{self.attribute}"


class Record:
    """The registry's state for one patch."""

    __slots__ = ("patch", "state", "detail", "original", "proxy", "proxies", "created", "active")

    def __init__(self, patch):
        self.patch = patch
        self.state = "not applied"
        self.detail = ""
        self.original = MISSING
        self.proxy = None
        self.proxies = []  # every proxy made for this patch: how the registry knows its own
        self.created = False
        self.active = False

    def as_dict(self):
        return {"target": self.patch.target, "state": self.state, "detail": self.detail}


_lock = forksafe.RLock()
_records = {}
_applied = False
_hooked = set()


def register(patches):
    """Add patch declarations (done once, by the package's ``__init__``)."""
    with _lock:
        for patch in patches:
            _records.setdefault(patch.name, Record(patch))


def apply(settings):
    """Attach every enabled patch whose package is loaded; hook the rest. Idempotent."""
    global _applied
    with _lock:
        _applied = True
        for record in _records.values():
            if settings.is_disabled(record.patch.name):
                _detach(record)
                source = settings.sources.get(config.DISABLE, "")
                record.state, record.detail = "disabled", f"by {source}"
                continue
            if importhook.is_loaded(record.patch.package):
                _attach(record)
            else:
                record.state, record.detail = "pending", f"waiting for `import {record.patch.package}`"
                _hook(record.patch.package)


def unapply():
    """Restore every original that still sits under our own proxy. Idempotent."""
    global _applied
    with _lock:
        _applied = False
        for package in list(_hooked):
            importhook.cancel(package, _on_import)
        _hooked.clear()
        for record in _records.values():
            _detach(record)


def is_applied():
    return _applied


def records():
    with _lock:
        return list(_records.values())


def original(name):
    """The first original seen for patch ``name`` (``MISSING`` if none was seen yet)."""
    return _records[name].original


def _hook(package):
    if package not in _hooked:
        _hooked.add(package)
        importhook.when_imported(package, _on_import)


def _on_import(module):
    """Post-import hook; ``_attach`` catches per patch, and importhook guards the rest."""
    with _lock:
        _hooked.discard(module.__name__)
        if not _applied:
            return
        for record in _records.values():
            if record.state == "pending" and importhook.is_loaded(record.patch.package):
                _attach(record)


def _current_value(record):
    module = sys.modules.get(record.patch.module)
    return MISSING if module is None else getattr(module, record.patch.attribute, MISSING)


def _attach(record):
    patch = record.patch
    try:
        from .proxies import find_own_proxy, make_proxy

        module = sys.modules.get(patch.module)
        if module is None:
            raise LookupError(f"{patch.module} is not loaded although {patch.package} is")
        current = getattr(module, patch.attribute, MISSING)
        ours = find_own_proxy(current, record) if current is not MISSING else None
        if ours is not None:
            record.proxy, record.active = ours, True
            record.state = "attached"
            record.detail = "" if ours is current else "beneath a wrapper added by other code"
            return
        if current is MISSING and patch.create is None:
            record.state, record.detail = "not applicable", f"{patch.target} does not exist in this version"
            return
        if record.original is MISSING:
            record.original = current
        record.created = current is MISSING
        target = patch.create() if record.created else current
        proxy = make_proxy(target, patch.wrapper, record, patch.hot_path)
        record.proxy, record.active = proxy, True
        setattr(module, patch.attribute, proxy)
        record.state, record.detail = "attached", ("restored: missing in this version" if record.created else "")
        get_logger().debug("patched %s", patch.target)
    except Exception as error:
        record.active, record.proxy = False, None
        record.state, record.detail = "failed", f"{type(error).__name__}: {error}"
        warn_once(("attach", patch.name), "could not patch %s, the original is left untouched: %r", patch.target, error)


def _detach(record):
    record.active = False
    if record.proxy is None:
        record.state, record.detail = "not applied", ""
        return
    module = sys.modules.get(record.patch.module)
    current = _current_value(record)
    if current is record.proxy and module is not None:
        if record.created:
            delattr(module, record.patch.attribute)
        else:
            setattr(module, record.patch.attribute, record.proxy.__wrapped__)
        record.proxy = None
        record.state, record.detail = "not applied", ""
    else:
        record.state = "left in place"
        record.detail = "other code wrapped it after us; our proxy now passes calls straight through"
        warn_once(("foreign", record.patch.name), "%s: %s", record.patch.target, record.detail)
