"""What ComfyUI imports from ``custom_nodes/<this folder>``: the "ACE-Step WinPatch status" node.

It runs the prestartup script's start-up again (idempotent), for ComfyUI versions and
launchers that skip prestartup scripts, and reports missing dependencies once. It never raises
into ComfyUI: on any problem it says so and exports no node.

Cloned as ``custom_nodes/acestep_winpatch``, this file is itself importable as
``acestep_winpatch``: older ComfyUI registers each node pack under its folder's name, and any
``import acestep_winpatch`` run from ``custom_nodes/`` finds this folder first. There it first
puts the real package (``acestep_winpatch/`` beside this file, or the copy already running)
back where Python looks it up, so that the import gets the real package.
"""

import importlib.util
import os
import sys

_FOLDER = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = "acestep_winpatch"

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}


def _load(name, path, search=None):
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=search)
    module = importlib.util.module_from_spec(spec)
    return spec, module


def _step_aside():
    """Under the package's own name, hand that name back to the real package."""
    nodes = sys.modules.get(f"{_PACKAGE}.comfy_nodes")
    if nodes is not None:  # the prestartup script imported it before ComfyUI renamed this module
        sys.modules[_PACKAGE] = nodes.acestep_winpatch
        return
    if any(name.startswith(f"{_PACKAGE}.") for name in sys.modules):
        raise RuntimeError(f"this folder is named {_PACKAGE}, like the acestep_winpatch already running "
                           f"({sys.modules[f'{_PACKAGE}.config'].__file__}); rename the folder, "
                           f"for example to acestep-winpatch")
    inner = os.path.join(_FOLDER, _PACKAGE)
    spec, package = _load(_PACKAGE, os.path.join(inner, "__init__.py"), [inner])
    sys.modules[_PACKAGE] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules[_PACKAGE]
        raise


def _start():
    if __name__ == _PACKAGE:
        _step_aside()
    spec, startup = _load(f"{__name__}.prestartup_script", os.path.join(_FOLDER, "prestartup_script.py"))
    spec.loader.exec_module(startup)  # runs its start-up once more: a no-op where it already ran
    if not startup.switched_on():
        return
    missing = startup.missing_requirements()
    if missing:
        startup.report(f"not activated: missing {', '.join(missing)}; install them with "
                       f"{os.path.basename(sys.executable)} -m pip install -r {os.path.join(_FOLDER, 'requirements.txt')}")
        return
    nodes = startup.NODES
    if nodes is None:  # its problem is already reported
        return
    NODE_CLASS_MAPPINGS.update(nodes.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(nodes.NODE_DISPLAY_NAME_MAPPINGS)


try:
    _start()
except Exception as error:
    try:
        sys.stderr.write(f"[acestep_winpatch] ComfyUI node not loaded: {type(error).__name__}: {error}\n")
    except Exception:
        pass
