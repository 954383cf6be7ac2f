"""acestep_winpatch: unmodified ACE-Step code on Windows, CPU-only and Mac machines.

Importing the package applies the patches (unless ``ACESTEP_WINPATCH=0``). It imports none
of torch, torchaudio, numpy, librosa or soundfile: each patch attaches the moment its
package is imported, or at once if it already is.

The explicit helpers (``load_audio_safe``, ``safe_torch_compile``, ``get_optimal_device``, ...)
are importable from here and load their dependencies only when first used.
"""

from . import config, events, importhook, registry
from . import log
from .log import warn_once
from .notices import ConfigWarning, FallbackWarning
from .patches import PATCHES

__version__ = "0.1.0"

__all__ = [
    "apply", "unapply", "is_applied", "status", "ConfigWarning", "FallbackWarning",
    "load_audio_safe", "load_audio_safe_stereo", "load_audio_safe_mono", "get_audio_info",
    "safe_torch_compile", "safe_cuda_empty_cache", "safe_cuda_synchronize",
    "get_optimal_device", "get_optimal_dtype", "setup_torch_backends",
]

_HELPERS = {
    "load_audio_safe": "audio",
    "load_audio_safe_stereo": "audio",
    "load_audio_safe_mono": "audio",
    "get_audio_info": "audio",
    "safe_torch_compile": "device",
    "safe_cuda_empty_cache": "device",
    "safe_cuda_synchronize": "device",
    "get_optimal_device": "device",
    "get_optimal_dtype": "device",
    "setup_torch_backends": "device",
}

_activated_by = []

registry.register(PATCHES)


def apply(**overrides):
    """Apply every enabled patch. Idempotent and thread-safe.

    Keyword arguments override the environment: ``disable`` (names or groups, or ``"*"``),
    ``compile`` (``"attempt"``, ``"eager"`` or a backend name) and ``log_level``.
    """
    settings = config.reload().override(**overrides)
    config.use(settings)
    log.configure(settings.log_level)
    registry.apply(settings)
    # Said after the patches are in place: under an ``error`` warnings filter this raises.
    settings.report_problems()
    _report_unknown_names(settings.disabled)


def _report_unknown_names(disabled):
    names = {record.patch.name for record in registry.records()}
    known = names | {name.split(".", 1)[0] for name in names}
    unknown = sorted(disabled - known - {"*"})
    if unknown:
        config.report_problem(config.DISABLE, ",".join(unknown),
                              f"names of patches or groups ({', '.join(sorted(known))}) or *",
                              "these name nothing; the others still apply")


def unapply():
    """Restore the originals wherever our proxy is still the attribute's value."""
    registry.unapply()


def is_applied():
    return registry.is_applied()


def status():
    """What each patch is doing now, how often each fallback fired, and why."""
    return {
        "applied": registry.is_applied(),
        "activated_by": list(_activated_by),
        "config": config.current().as_dict(),
        "patches": {record.patch.name: record.as_dict() for record in registry.records()},
        "waiting_for_imports": importhook.pending(),
        **events.snapshot(),
    }


def activate(source):
    """Apply on behalf of an activation path (import, sitecustomize, pth, launcher), if switched on.

    The start-up paths run before any user code, so an ``"import"`` already recorded then
    was their own import of this package: the path takes its place.
    """
    if source != "import" and _activated_by == ["import"]:
        _activated_by.clear()
    if source not in _activated_by:
        _activated_by.append(source)
    if config.current().enabled:
        apply()


def __getattr__(name):
    module = _HELPERS.get(name)
    if module is None:
        raise AttributeError(f"module 'acestep_winpatch' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def _activate_on_import():
    try:
        if config.current().enabled:
            activate("import")
    except Exception as error:  # never break the user's import
        warn_once("import", "acestep_winpatch could not activate on import: %r", error)


_activate_on_import()
