"""One registry of every patch: where it lives, its wrapper, its state, and the original it replaced.

``apply()`` and ``unapply()`` walk it; both are idempotent and hold one lock. Patches attach
through post-import hooks the moment their package finishes importing (or at once if it
already has), and again after every later import of it: ``importlib.reload`` and a purge
from ``sys.modules`` followed by a new import (hot-reload tools) replace the patched functions.
``status()`` checks that each attribute really still leads to our proxy before it says so.
Nothing here imports anything under the lock: an import under our lock could deadlock against
a thread that is importing torch and waiting for the same lock in its hook.
"""

import sys
from . import config, forksafe, importhook
from .log import get_logger, warn_once

MISSING = object()


class State:
    """Where one patch stands; ``status()`` shows ``value``. Each state is one instance, below.

    Not an ``enum.Enum``: importing ``enum`` costs about 1.6 ms in every process the ``.pth``
    line reaches, and these states need nothing but identity and a name.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"State({self.value!r})"


State.NOT_APPLIED = State("not applied")
State.PENDING = State("pending")  # applied; waiting for the package's import to finish
State.ATTACHED = State("attached")  # the attribute leads to our proxy (itself, or through __wrapped__)
State.REPLACED = State("replaced")  # applied, but the attribute no longer leads to our proxy
State.DISABLED = State("disabled")
State.NOT_APPLICABLE = State("not applicable")
State.FAILED = State("failed")
State.LEFT_IN_PLACE = State("left in place")  # unapplied beneath a wrapper we cannot take out

# The states in which our proxies act. PENDING is one: after a purge from sys.modules, proxies
# on the old module still serve code that kept a reference to them until the new import ends.
ACTIVE = frozenset((State.PENDING, State.ATTACHED, State.REPLACED))

BENEATH_A_WRAPPER = "beneath a wrapper added by other code"
RESTORED = "restored: missing in this version"


class Patch:
    """A declaration: replace ``module.attribute`` with a proxy calling ``wrapper``.

    ``wrapper`` has wrapt's signature ``(wrapped, instance, args, kwargs)``. ``name`` is
    ``group.item`` (``audio.load``); ``ACESTEP_WINPATCH_DISABLE`` accepts either part. Where the
    attribute does not exist, ``create()`` supplies a stand-in (``torchaudio.info`` on 2.9+);
    without ``create`` the patch simply does not apply to that version.
    """

    __slots__ = ("name", "module", "attribute", "wrapper", "create")

    def __init__(self, name, module, attribute, wrapper, create=None):
        self.name = name
        self.module = module
        self.attribute = attribute
        self.wrapper = wrapper
        self.create = create

    @property
    def package(self):
        return self.module.split(".", 1)[0]

    @property
    def target(self):
        return f"{self.module}.{self.attribute}"


class Record:
    """The registry's state for one patch.

    ``proxies`` holds every proxy made for the patch (how the registry knows its own);
    ``serving`` those that act while the state is active: the one on the module now, and those
    a re-import left behind for code that kept a reference to them; ``proxy`` the one installed.
    """

    __slots__ = ("patch", "state", "detail", "original", "proxy", "serving", "proxies", "created")

    def __init__(self, patch):
        self.patch = patch
        self.state = State.NOT_APPLIED
        self.detail = ""
        self.original = MISSING
        self.proxy = None
        self.serving = []
        self.proxies = []
        self.created = False

    def enter(self, state, detail=""):
        """The one transition: set the state and turn the serving proxies on or off to match."""
        self.state, self.detail = state, detail
        if self.serving:
            from .proxies import turn

            for proxy in self.serving:
                turn(proxy, state in ACTIVE)

    def as_dict(self):
        with _lock:
            _verify(self)
            return {"target": self.patch.target, "state": self.state.value, "detail": self.detail}


_lock = forksafe.RLock()
_records = {}
_applied = False
_watched = set()


def register(patches):
    """Add patch declarations (done once, by the package's ``__init__``)."""
    with _lock:
        for patch in patches:
            _records.setdefault(patch.name, Record(patch))


def apply(settings):
    """Attach every enabled patch whose package is loaded; watch the packages for (re)imports. Idempotent."""
    global _applied
    with _lock:
        _applied = True
        for record in _records.values():
            package = record.patch.package
            if settings.is_disabled(record.patch.name):
                _detach(record)
                record.enter(State.DISABLED, f"by {settings.sources.get(config.DISABLE, '')}")
            elif importhook.is_loaded(package):
                _attach(record, reimported=False)
                _watched.add(package)
            else:
                record.enter(State.PENDING, f"waiting for `import {package}`")
                _watched.add(package)
        for package in _watched:
            importhook.watch(package, _on_import)


def unapply():
    """Restore every original that still sits under our own proxy. Idempotent."""
    global _applied
    with _lock:
        _applied = False
        for package in _watched:
            importhook.unwatch(package, _on_import)
        _watched.clear()
        for record in _records.values():
            _detach(record)


def is_applied():
    return _applied


def records():
    with _lock:
        return list(_records.values())


def original(name):
    """The original patch ``name`` replaced (``MISSING`` if none was seen yet).

    The first one seen, except that a new import of the package (a reload, or a purge and
    import) brings its own: the function that import defined.
    """
    return _records[name].original


def _on_import(module):
    """Post-import hook, after every import of a watched package; ``_attach`` catches per patch."""
    with _lock:
        if not _applied:
            return
        for record in _records.values():
            if record.patch.package == module.__name__ and record.state is not State.DISABLED:
                _attach(record, reimported=True)


def _current_value(record):
    module = sys.modules.get(record.patch.module)
    return MISSING if module is None else getattr(module, record.patch.attribute, MISSING)


def _attach(record, reimported):
    """Make the attribute lead to our proxy. ``reimported``: the package has just been (re)imported,
    so what the attribute holds now is that import's own function."""
    patch = record.patch
    try:
        from .proxies import find_own_proxy, make_proxy, turn

        module = sys.modules.get(patch.module)
        if module is None:
            raise LookupError(f"{patch.module} is not loaded although {patch.package} is")
        current = getattr(module, patch.attribute, MISSING)
        ours = find_own_proxy(current, record) if current is not MISSING else None
        if ours is not None:
            record.proxy = ours
            if not any(proxy is ours for proxy in record.serving):
                record.serving.append(ours)
            record.enter(State.ATTACHED, _attached_detail(record, ours, current))
            return
        if current is MISSING and patch.create is None:
            record.enter(State.NOT_APPLICABLE, f"{patch.target} does not exist in this version")
            return
        if reimported or record.original is MISSING:
            record.original = current
        record.created = current is MISSING
        proxy = make_proxy(patch.create() if record.created else current, patch.wrapper, record)
        setattr(module, patch.attribute, proxy)
        if not reimported:
            # Other code replaced our proxy at run time: an older one may lie beneath that
            # code's wrapper, under the new one, where it must not run the wrapper again.
            for older in record.serving:
                turn(older, False)
            record.serving.clear()
        record.serving.append(proxy)
        record.proxy = proxy
        record.enter(State.ATTACHED, RESTORED if record.created else "")
        get_logger().debug("patched %s", patch.target)
    except Exception as error:
        record.proxy = None
        record.enter(State.FAILED, f"{type(error).__name__}: {error}")
        warn_once(("attach", patch.name), "could not patch %s, the original is left untouched: %r", patch.target, error)


def _detach(record):
    proxy = record.proxy
    if proxy is None:
        record.enter(State.NOT_APPLIED)
        return
    from .proxies import find_own_proxy

    module = sys.modules.get(record.patch.module)
    current = _current_value(record)
    if current is proxy and module is not None:
        if record.created:
            delattr(module, record.patch.attribute)
        else:
            setattr(module, record.patch.attribute, proxy.__wrapped__)
        record.proxy = None
        record.enter(State.NOT_APPLIED)
    elif find_own_proxy(current, record) is None and _nothing_of_ours(record, current):
        record.proxy = None
        record.enter(State.NOT_APPLIED)
    else:
        record.enter(State.LEFT_IN_PLACE,
                     "other code wrapped or replaced it after us; our proxy now passes calls straight through")
        warn_once(("foreign", record.patch.name), "%s: %s", record.patch.target, record.detail)


def _verify(record):
    """Make an active state say what the module really holds now."""
    if record.state not in (State.ATTACHED, State.REPLACED):
        return
    from .proxies import find_own_proxy

    package = record.patch.package
    if not importhook.is_loaded(package):
        record.enter(State.PENDING, f"waiting for `import {package}`: it was removed from sys.modules")
        return
    current = _current_value(record)
    ours = find_own_proxy(current, record) if current is not MISSING else None
    if ours is not None:
        record.enter(State.ATTACHED, _attached_detail(record, ours, current))
    else:
        record.enter(State.REPLACED, _replacement(record, current))


def _attached_detail(record, ours, current):
    if ours is not current:
        return BENEATH_A_WRAPPER
    return RESTORED if record.created else ""


def _replacement(record, current):
    target = record.patch.target
    if current is MISSING:
        return f"{target} no longer exists: other code or a reload removed it"
    if _redefined(record, current):
        return (f"replaced by a reload of {record.patch.module} that our import hook did not see "
                "(another import hook served it); apply() patches it again")
    return f"replaced by other code: {target} is now {current!r}; our proxy runs only where that calls it"


def _nothing_of_ours(record, current):
    """Whether ``current`` certainly does not hide our proxy: gone, or a reload's new function."""
    return current is MISSING or _redefined(record, current)


def _redefined(record, current):
    """Whether ``current`` is the function we wrap, defined anew by running its module again."""
    wrapped = getattr(record.proxy, "__wrapped__", None)
    ours, theirs = getattr(wrapped, "__code__", None), getattr(current, "__code__", None)
    return (ours is not None and theirs is not None and current is not wrapped
            and (ours.co_filename, ours.co_name, ours.co_firstlineno)
            == (theirs.co_filename, theirs.co_name, theirs.co_firstlineno))
