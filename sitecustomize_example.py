"""Copy this file to ``site-packages/sitecustomize.py`` (or any folder on PYTHONPATH) to apply
acestep_winpatch in every Python process of the environment. Its own part never raises, it chains a
sitecustomize that was already on the path, and ``ACESTEP_WINPATCH=0`` switches it off.

Left behind after ``pip uninstall acestep_winpatch``, it only runs the sitecustomize it would
otherwise hide (with the standard library alone); an error in that one Python reports as its own."""

try:
    from acestep_winpatch import bootstrap
except Exception:
    bootstrap = None
if bootstrap is not None:
    bootstrap.activate("sitecustomize")
    bootstrap.chain_sitecustomize(__file__)
else:
    try:
        import importlib.machinery
        import importlib.util
        import os
        import sys

        _here = os.path.dirname(os.path.abspath(__file__))
        _next = importlib.machinery.PathFinder.find_spec(
            "sitecustomize", [path for path in sys.path if os.path.abspath(path or os.curdir) != _here])
    except Exception:
        _next = None
    if _next is not None and _next.loader is not None:
        _next.loader.exec_module(importlib.util.module_from_spec(_next))
