"""The ``.pth`` activation route: one line in site-packages that Python runs at every start.

Unlike sitecustomize (only one can exist), any number of ``.pth`` files coexist, and they
reach spawned worker processes too. The line checks the master switch before importing
anything, and swallows every error: a broken install must not break Python.
"""

import os
import sysconfig

FILE_NAME = "acestep_winpatch.pth"

LINE = (
    "import os; exec(\"try:\\n import acestep_winpatch.bootstrap as b\\n b.activate('pth')\\n"
    "except Exception:\\n pass\") "
    "if os.environ.get('ACESTEP_WINPATCH', '1').strip().lower() not in ('0', 'false', 'no', 'off') else None\n"
)


def default_folder():
    return sysconfig.get_paths()["purelib"]


def install(folder=None):
    """Write the ``.pth`` file (atomically) and return its path."""
    path = os.path.join(folder or default_folder(), FILE_NAME)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(LINE)
    os.replace(temporary, path)
    return path


def uninstall(folder=None):
    """Remove the ``.pth`` file; return its path, or None if there was none."""
    path = os.path.join(folder or default_folder(), FILE_NAME)
    try:
        os.remove(path)
    except FileNotFoundError:
        return None
    return path
