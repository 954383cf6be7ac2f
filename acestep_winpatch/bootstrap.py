"""What the start-up paths call: the ``.pth`` line, sitecustomize and the launcher's workers.

Everything here catches everything: a start-up hook that raises would break every Python
program in the environment.
"""

import os
import sys


def activate(source):
    """Activate for ``source``; never raises."""
    try:
        import acestep_winpatch

        acestep_winpatch.activate(source)
    except Exception as error:
        _report(source, error)


def chain_sitecustomize(this_file):
    """Run the next ``sitecustomize`` on ``sys.path`` after the folder holding ``this_file``.

    Python imports only the first sitecustomize it finds, so ours would hide the one that was
    there before; this runs that one too. Never raises.
    """
    try:
        import importlib.machinery
        import importlib.util

        here = os.path.dirname(os.path.abspath(this_file))
        paths = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", paths)
        if spec is None or spec.origin is None or os.path.abspath(spec.origin) == os.path.abspath(this_file):
            return
        module = importlib.util.module_from_spec(spec)
    except Exception as error:
        _report("chained sitecustomize", error)
        return
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's own sitecustomize: report it as Python itself would
        try:  # sys.stderr is None under pythonw.exe
            sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                             f"{type(error).__name__}: {error}\n")
        except Exception:
            pass


def _report(source, error):
    try:
        from .log import warn_once

        warn_once(("bootstrap", source), "activation through %s failed: %r", source, error)
    except Exception:
        pass
