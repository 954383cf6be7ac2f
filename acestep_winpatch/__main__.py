"""The command line: ``run``, ``doctor``, ``status``, ``install-pth``, ``uninstall-pth``.

Usage errors exit with status 2 and say so on stderr; help goes to stdout. Our own commands
write UTF-8, whatever the console's encoding: a report must not fail on the path it prints
(a cp1252 console redirected to a file, and a user folder named in Chinese).
"""

import argparse
import os
import sys

PROGRAM = "python -m acestep_winpatch"
RUN_USAGE = f"usage: {PROGRAM} run (script.py | -m module) [args ...]"
USAGE = f"""usage: {PROGRAM} COMMAND [ARGS]

commands:
  run script.py [args]    run a script with the plugin applied (also: run -m module [args])
  doctor [--json]         diagnose this environment and check every patched path live
  status [--json]         what the plugin does in a fresh interpreter of this environment
  install-pth [DIR]       activate in every Python start of this environment (site-packages .pth)
  uninstall-pth [DIR]     remove that .pth file
  --version               the plugin's version and the folder it was imported from

{PROGRAM} COMMAND --help describes one command.
"""
STATUS_HEADER = ("What acestep_winpatch does in a fresh interpreter of this environment ({python}): this "
                 "command's own process, where torch and torchaudio are not imported, so their patches "
                 "wait for them. Inside your program, acestep_winpatch.status() tells what happened there.")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    if command == "run":
        return _run(rest)
    if command in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    _write_utf8()
    if command == "--version":
        from .doctor.environment import plugin_summary

        print(plugin_summary())
        return 0
    handler = COMMANDS.get(command)
    if handler is None:
        if command is not None:
            print(f"unknown command {command!r}", file=sys.stderr)
        print(USAGE, end="", file=sys.stderr)
        return 2
    return handler(rest)


def _run(argv):
    """``run``: the launcher, after the checks ``python script.py`` itself would make."""
    if argv and argv[0] in ("-h", "--help"):
        print(RUN_USAGE)
        return 0
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        print(RUN_USAGE, file=sys.stderr)
        return 2
    if argv[0] != "-m" and not os.path.exists(argv[0]):
        path = os.path.abspath(argv[0])
        print(f"{sys.executable}: can't open file {path!r}: [Errno 2] No such file or directory", file=sys.stderr)
        return 2
    from .launcher import run

    return run(argv)


def _doctor(argv):
    from .doctor import main as doctor

    code = doctor(argv)
    # Unloading torch, torchaudio and torchcodec takes about half a second, and nothing is left to
    # clean up: the checks' folders are gone. A usage error (SystemExit) still leaves normally.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _status(argv):
    parser = _parser("status", "What each patch is doing in a fresh interpreter of this environment.")
    parser.add_argument("--json", action="store_true", help="print acestep_winpatch.status() as one JSON object")
    options = parser.parse_args(argv)
    import json

    import acestep_winpatch
    from .doctor.environment import plugin_problem

    problem = plugin_problem(acestep_winpatch)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    status = acestep_winpatch.status()
    if options.json:
        print(json.dumps({"describes": "a fresh interpreter: this command's own process", **status}, indent=2))
        return 0
    import textwrap

    print(textwrap.fill(STATUS_HEADER.format(python=sys.executable), 100, break_on_hyphens=False), end="\n\n")
    rows = {"applied": f"{'yes' if status['applied'] else 'no'} (activated by {', '.join(status['activated_by']) or 'nothing'})"}
    rows.update((name, f"{entry['state']}" + (f": {entry['detail']}" if entry.get("detail") else ""))
                for name, entry in status["patches"].items())
    rows.update((f"problem {number}", text) for number, text in enumerate(status["config"]["problems"], 1))
    width = max(map(len, rows)) + 2
    for name, text in rows.items():
        print(textwrap.fill(text, 100, initial_indent=f"  {name.ljust(width)}", subsequent_indent=" " * (width + 2),
                            break_on_hyphens=False))
    return 0


def _install_pth(argv):
    parser = _parser("install-pth", "Activate the plugin in every Python start of this environment.")
    parser.add_argument("folder", nargs="?", help="where to write acestep_winpatch.pth (default: site-packages)")
    from . import pth

    print(f"installed {pth.install(parser.parse_args(argv).folder)}")
    return 0


def _uninstall_pth(argv):
    parser = _parser("uninstall-pth", "Remove the .pth file install-pth wrote.")
    parser.add_argument("folder", nargs="?", help="where acestep_winpatch.pth is (default: site-packages)")
    from . import pth

    path = pth.uninstall(parser.parse_args(argv).folder)
    print(f"removed {path}" if path else "no acestep_winpatch.pth was installed")
    return 0


def _parser(command, description):
    return argparse.ArgumentParser(prog=f"{PROGRAM} {command}", description=description)


def _write_utf8():
    """UTF-8 on stdout whatever the console (``errors="backslashreplace"`` for undecodable
    file names); only for our own commands: under ``run`` stdout is the user's program's."""
    stream = sys.stdout
    if stream is not None and hasattr(stream, "reconfigure"):
        stream.reconfigure(encoding="utf-8", errors="backslashreplace")


COMMANDS = {"doctor": _doctor, "status": _status, "install-pth": _install_pth, "uninstall-pth": _uninstall_pth}


if __name__ == "__main__":
    sys.exit(main())
