"""ComfyUI runs this before it imports torch: make acestep_winpatch importable from this folder, and activate it.

ComfyUI's ``main.py`` executes every ``custom_nodes/*/prestartup_script.py`` (in ``os.listdir``
order) before it imports torch or any node pack, so the plugin's post-import hooks are waiting
when the first pack imports torch or torchaudio. Nothing here imports torch or the plugin's
dependencies. The root ``__init__.py`` runs the same start-up again, for ComfyUI versions and
launchers that skip prestartup scripts, and is the one that reports missing dependencies.
This never raises into ComfyUI.
"""

import importlib
import importlib.util
import os
import sys

FOLDER = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "acestep_winpatch"
SWITCHED_OFF = ("0", "false", "no", "off")  # as the .pth line reads ACESTEP_WINPATCH


def switched_on():
    return os.environ.get("ACESTEP_WINPATCH", "1").strip().lower() not in SWITCHED_OFF


def missing_requirements():
    """The names in requirements.txt that cannot be imported here (found, not imported)."""
    with open(os.path.join(FOLDER, "requirements.txt"), encoding="utf-8") as handle:
        names = [_requirement_name(line) for line in handle]
    return [name for name in names if name and importlib.util.find_spec(name) is None]


def _requirement_name(line):
    text = line.split("#", 1)[0].strip()
    for stop in "<>=!~[; ":
        text = text.split(stop, 1)[0]
    return text.lower().replace("-", "_")


def start():
    """Activate the plugin for ComfyUI and return its node module, or None where it must not run.

    A copy already imported (a pip-installed plugin activated by its ``.pth`` line) is the one
    used: it is activated once, never twice. Otherwise this folder's copy comes first.
    """
    if not switched_on() or missing_requirements():
        return None
    if PACKAGE not in sys.modules and FOLDER not in sys.path:
        sys.path.insert(0, FOLDER)
    nodes = importlib.import_module(f"{PACKAGE}.comfy_nodes")
    nodes.acestep_winpatch.activate("comfyui")
    return nodes


def report(problem):
    try:  # sys.stderr is None under pythonw.exe
        sys.stderr.write(f"[acestep_winpatch] {problem}\n")
    except Exception:
        pass


def start_and_report():
    """``start()``, with any error written once to stderr instead of raised: (nodes, problem)."""
    try:
        return start(), None
    except Exception as error:
        problem = f"not activated: {type(error).__name__}: {error}"
        report(problem)
        return None, problem


NODES, PROBLEM = start_and_report()
