"""``python -m acestep_winpatch run script.py args`` / ``run -m module args``.

Applies before the user's code runs (ACE-Step 1.5's nano-vllm applies ``@torch.compile``
when its modules are imported, so patching later misses them), and makes child processes
activate as well (``_reach_child_processes``).
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
        sys.path[:] = sys_path_for_script(argv[0], sys.path, _safe_path())
        _run_script(argv[0])


def sys_path_for_script(script, launcher_path, safe_path):
    """The ``sys.path`` that ``python script`` starts with, from the one ``python -m acestep_winpatch`` got.

    ``python -m`` put the working directory first, and ``python script.py`` puts the script's
    folder first (symlinks resolved on POSIX, not on Windows, as CPython does) - unless ``safe_path``: ``-P``,
    ``PYTHONSAFEPATH``, ``-I``, or a ``._pth`` file beside the interpreter (the Windows embeddable
    Python that ComfyUI portable ships, whose ``sys.path[0]`` is then the stdlib zip), where
    neither puts anything there. A folder or zip file is put first whatever ``safe_path`` says;
    ``runpy.run_path`` does that for it.
    """
    rest = list(launcher_path if safe_path else launcher_path[1:])
    if safe_path or _runs_through_runpy(script):
        return rest
    full_path = os.path.abspath(script) if os.name == "nt" else os.path.realpath(script)
    return [os.path.dirname(full_path)] + rest


def _safe_path():
    """Whether this interpreter leaves the script's folder off ``sys.path`` (3.10 has only ``-I``)."""
    return bool(getattr(sys.flags, "safe_path", False) or sys.flags.isolated)


def _run_script(script):
    """Run a script file as ``python script.py`` would.

    ``runpy.run_path`` sets ``__package__`` to ``""`` where Python sets None, which breaks the
    ``if __package__ is None:`` idiom; folders and zip files still go through it.
    """
    if _runs_through_runpy(script):
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


def _runs_through_runpy(script):
    """A folder, a zip file, or a path that is neither (runpy gives Python's own error for it)."""
    import zipfile

    return os.path.isdir(script) or not os.path.isfile(script) or zipfile.is_zipfile(script)


def _reach_child_processes():
    """Activate in child processes too: the sitecustomize shim on ``PYTHONPATH``, and where this
    interpreter ignores ``PYTHON*`` variables (``-E``/``-I``, or a ``._pth`` file: the Windows
    embeddable Python of ComfyUI portable), multiprocessing's spawn workers activate first thing."""
    current = os.environ.get("PYTHONPATH", "")
    if SHIM_FOLDER not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join([SHIM_FOLDER] + ([current] if current else []))
    if sys.flags.ignore_environment:
        _activate_spawned_workers()


def _activate_spawned_workers():
    """Start the ``-c`` program of every multiprocessing spawn child (DataLoader workers) of this
    process by activating the plugin, before the child unpickles anything of the user's."""
    import multiprocessing.spawn

    native = multiprocessing.spawn.get_command_line
    folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    activate = (f"import sys; sys.path.insert(0, {folder!r}); "
                "from acestep_winpatch import bootstrap; bootstrap.activate('launcher'); ")

    def get_command_line(**kwds):
        command = native(**kwds)
        if "-c" in command:  # a frozen executable gets no program to extend
            program = command.index("-c") + 1
            command[program] = activate + command[program]
        return command

    multiprocessing.spawn.get_command_line = get_command_line
