"""``python -m acestep_winpatch run script.py args`` / ``run -m module args``.

Applies before the user's code runs (ACE-Step 1.5's nano-vllm applies ``@torch.compile``
when its modules are imported, so patching later misses them), and puts a sitecustomize
shim on ``PYTHONPATH`` so spawned workers activate as well.
"""

import builtins
import importlib.machinery
import io
import os
import runpy
import sys
import types

SHIM_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_site")


def run(argv):
    """Run ``argv`` (``["script.py", ...]`` or ``["-m", "module", ...]``) as ``__main__``."""
    import acestep_winpatch

    if not argv or (argv[0] == "-m" and len(argv) < 2):
        raise SystemExit("usage: python -m acestep_winpatch run (script.py | -m module) [args ...]")
    _reach_child_processes()
    acestep_winpatch.activate("launcher")
    if argv[0] == "-m":
        sys.argv = [argv[1]] + argv[2:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        _run_script(argv[0])


def _run_script(script):
    """Run a script file as ``python script.py`` would.

    ``runpy.run_path`` sets ``__package__`` to ``""`` where Python sets None, which breaks the
    ``if __package__ is None:`` idiom; folders and zip files still go through it.
    """
    if os.path.isdir(script) or not os.path.isfile(script) or _is_zip(script):
        runpy.run_path(script, run_name="__main__")
        return
    with io.open_code(script) as handle:
        code = compile(handle.read(), script, "exec")
    main = types.ModuleType("__main__")
    loader = importlib.machinery.SourceFileLoader("__main__", script)
    main.__dict__.update(__file__=script, __builtins__=builtins, __spec__=None, __package__=None,
                         __loader__=loader, __cached__=None)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _is_zip(path):
    import zipfile

    return zipfile.is_zipfile(path)


def _reach_child_processes():
    current = os.environ.get("PYTHONPATH", "")
    if SHIM_FOLDER not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join([SHIM_FOLDER] + ([current] if current else []))
