"""``python -m acestep_winpatch run script.py args`` / ``run -m module args``.

Applies before the user's code runs (ACE-Step 1.5's nano-vllm applies ``@torch.compile``
when its modules are imported, so patching later misses them), and puts a sitecustomize
shim on ``PYTHONPATH`` so spawned workers activate as well.
"""

import os
import runpy
import sys

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
        script = argv[0]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")


def _reach_child_processes():
    current = os.environ.get("PYTHONPATH", "")
    if SHIM_FOLDER not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join([SHIM_FOLDER] + ([current] if current else []))
