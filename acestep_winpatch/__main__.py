"""The command line: ``run``, ``doctor``, ``status``, ``install-pth``, ``uninstall-pth``."""

import sys

USAGE = """usage: python -m acestep_winpatch COMMAND

commands:
  run script.py [args]    run a script with the plugin applied (also: run -m module [args])
  doctor [--json]         diagnose this environment and check every patched path live
  status                  print what each patch is doing, as JSON
  install-pth [DIR]       activate in every Python start of this environment (site-packages .pth)
  uninstall-pth [DIR]     remove that .pth file
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "run":
        from .launcher import run

        return run(rest)
    if command == "doctor":
        from .doctor import main as doctor

        return doctor(rest)
    if command == "status":
        import json

        import acestep_winpatch

        print(json.dumps(acestep_winpatch.status(), indent=2))
        return 0
    if command in ("install-pth", "uninstall-pth"):
        from . import pth

        folder = rest[0] if rest else None
        if command == "install-pth":
            print(f"installed {pth.install(folder)}")
        else:
            path = pth.uninstall(folder)
            print(f"removed {path}" if path else "no acestep_winpatch.pth was installed")
        return 0
    print(USAGE, file=sys.stderr)
    return 0 if command in ("-h", "--help", "help") else 2


if __name__ == "__main__":
    sys.exit(main())
