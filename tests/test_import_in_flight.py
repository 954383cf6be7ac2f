"""``apply()`` while a target package is still being imported: the patch attaches when that import ends.

A module being imported sits in ``sys.modules`` half-initialised until its code has run; the
import hook only sees imports that start later. Each scenario holds an import open at a known
point with a gate (an event the test releases), applies, then lets the import finish: a real
module file in another thread, a module that applies during its own import (as a torch plugin
entry point imported inside ``import torch`` would), an import that fails and is retried, and
real torchaudio, held just before it defines ``load``.
"""

import json
import textwrap

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from conftest import run_python
from startup_sandbox import clean_environment, describe


# A gate in builtins (modules under test reach it without importing anything), a counting
# pass-through wrapper, and a report line.
PRELUDE = """
import builtins, json, sys, threading
builtins.GATE = GATE = type("Gate", (), {"importing": threading.Event(), "released": threading.Event()})
sys.path.insert(0, sys.argv[1])
import acestep_winpatch
from acestep_winpatch import registry
runs = [0]

def counting(wrapped, instance, args, kwargs):
    runs[0] += 1
    return wrapped(*args, **kwargs)

def state(name):
    return acestep_winpatch.status()["patches"][name]["state"]

def report(**entries):
    print("RESULT " + json.dumps(entries), flush=True)
"""

LIBRARY_HELD_AT_IMPORT = """
import builtins
builtins.GATE.importing.set()
builtins.GATE.released.wait()

def load(path):
    return "loaded " + path
"""


def result_of(completed):
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert completed.returncode == 0 and len(lines) == 1, describe(completed)
    return json.loads(lines[0][len("RESULT "):])


def scenario(tmp_path, files, code):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return result_of(run_python(PRELUDE + textwrap.dedent(code), str(tmp_path), env=clean_environment()))


def test_a_module_imported_by_another_thread_during_apply_is_patched_when_its_import_ends(tmp_path):
    result = scenario(tmp_path, {"held_library.py": LIBRARY_HELD_AT_IMPORT}, """
        registry.register([registry.Patch("test.held", "held_library", "load", counting)])
        importer = threading.Thread(target=__import__, args=("held_library",))
        importer.start()
        assert GATE.importing.wait(60)
        acestep_winpatch.apply()
        during = state("test.held")
        GATE.released.set()
        importer.join()
        import held_library
        report(during=during, after=state("test.held"), call=held_library.load("x"), runs=runs[0],
               waiting="held_library" in acestep_winpatch.status()["waiting_for_imports"])
    """)
    assert result == {"during": "pending", "after": "attached", "call": "loaded x", "runs": 1, "waiting": False}


def test_a_module_that_applies_during_its_own_import_is_patched_when_its_import_ends(tmp_path):
    result = scenario(tmp_path, {"self_applying_library.py": """
        def load(path):
            return "loaded " + path

        import acestep_winpatch
        acestep_winpatch.apply()
    """}, """
        registry.register([registry.Patch("test.self_applying", "self_applying_library", "load", counting)])
        import self_applying_library
        report(after=state("test.self_applying"), call=self_applying_library.load("x"), runs=runs[0])
    """)
    assert result == {"after": "attached", "call": "loaded x", "runs": 1}


def test_a_failed_import_in_flight_leaves_the_patch_waiting_for_the_next_import(tmp_path):
    result = scenario(tmp_path, {"flaky_library.py": """
        import builtins
        builtins.GATE.importing.set()
        builtins.GATE.released.wait()
        if not getattr(builtins, "FLAKY_FAILED_ONCE", False):
            builtins.FLAKY_FAILED_ONCE = True
            raise OSError("the network share went away")

        def load(path):
            return "loaded " + path
    """}, """
        registry.register([registry.Patch("test.flaky", "flaky_library", "load", counting)])
        failures = []

        def import_it():
            try:
                __import__("flaky_library")
            except OSError as error:
                failures.append(str(error))

        importer = threading.Thread(target=import_it)
        importer.start()
        assert GATE.importing.wait(60)
        acestep_winpatch.apply()
        GATE.released.set()
        importer.join()
        after_failure = state("test.flaky")
        import flaky_library
        report(failures=failures, after_failure=after_failure, after_retry=state("test.flaky"),
               call=flaky_library.load("x"), runs=runs[0])
    """)
    assert result == {"failures": ["the network share went away"], "after_failure": "pending",
                      "after_retry": "attached", "call": "loaded x", "runs": 1}


def test_torchaudio_imported_by_another_thread_during_apply_is_patched_when_its_import_ends(wav):
    """Held at ``torchaudio.version``, imported just before torchaudio defines ``load``: at
    ``apply()`` the attribute does not exist yet. Without FFmpeg the load works only through
    our patch."""
    code = f"""
import importlib.machinery, json, sys, threading
importing, released = threading.Event(), threading.Event()

# Runs torchaudio.version only once released. The wait is in the loader: finders run under
# Python's global import lock, a module's code only under its own module lock.
class HoldsTorchaudioOpen:
    def find_spec(self, name, path=None, target=None):
        if name != "torchaudio.version" or released.is_set():
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        spec.loader = HeldLoader(spec.loader)
        return spec

class HeldLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        importing.set()
        released.wait()
        self.loader.exec_module(module)

sys.meta_path.insert(0, HoldsTorchaudioOpen())
importer = threading.Thread(target=__import__, args=("torchaudio",))
importer.start()
assert importing.wait(240)
half_done = not hasattr(sys.modules["torchaudio"], "load")
import acestep_winpatch
during = acestep_winpatch.status()["patches"]["audio.load"]["state"]
released.set()
importer.join()
import torchaudio
waveform, rate = torchaudio.load({str(wav)!r})
print("RESULT " + json.dumps({{
    "half_done": half_done, "during": during,
    "after": acestep_winpatch.status()["patches"]["audio.load"]["state"],
    "proxy": type(torchaudio.load).__name__, "loaded": [list(waveform.shape), rate],
}}))
"""
    result = result_of(run_python(code, env=clean_environment()))
    assert result == {"half_done": True, "during": "pending", "after": "attached", "proxy": "WinpatchProxy",
                      "loaded": [[CHANNELS, int(RATE * SECONDS)], RATE]}, result


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_the_module_spec_is_left_as_python_made_it(tmp_path, fails):
    """While waiting, the hook changes the class of the in-flight module's spec; afterwards the
    spec is a plain ``ModuleSpec`` again, whether the import succeeded or failed."""
    body = "raise OSError('broken')\n" if fails else "def load(path):\n    return path\n"
    result = scenario(tmp_path, {"spec_library.py": LIBRARY_HELD_AT_IMPORT.split("def load")[0] + body}, """
        import importlib.machinery
        registry.register([registry.Patch("test.spec", "spec_library", "load", counting)])
        seen = {}

        def import_it():
            try:
                module = __import__("spec_library")
                seen["spec"] = type(module.__spec__).__qualname__
            except OSError:
                seen["spec"] = "import failed"

        importer = threading.Thread(target=import_it)
        importer.start()
        assert GATE.importing.wait(60)
        spec = sys.modules["spec_library"].__spec__
        acestep_winpatch.apply()
        GATE.released.set()
        importer.join()
        report(seen=seen["spec"], after=type(spec) is importlib.machinery.ModuleSpec,
               initializing=spec._initializing)
    """)
    assert result == {"seen": "import failed" if fails else "ModuleSpec", "after": True, "initializing": False}
