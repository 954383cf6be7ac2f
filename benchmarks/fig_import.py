"""Figure 1: what ``import acestep_winpatch`` costs a process, and which heavy modules it drags in.

Wall time of ``python -c "import acestep_winpatch"`` minus that of ``python -c pass``, each
the median of many fresh interpreters run in turn. Both run in a bare venv made for the
purpose (same interpreter, empty site-packages) with the package on ``PYTHONPATH``: a plain
install layout. The dev venv's editable-install finder is left out on purpose: it runs at
every start-up and imports re, pathlib and urllib, which would hide what the package's own
imports cost in a real install.

The heavy-module check runs in the dev venv, where torch and the rest are importable, so an
accidental import would show.
"""

import json
import subprocess
import sys
import tempfile

import probe
import report

FIGURE = "1"
HEAVY = ("torch", "torchaudio", "numpy", "librosa", "soundfile", "wrapt")
LIST_HEAVY = (
    "import sys, json, acestep_winpatch; "
    f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], "
    "'file': acestep_winpatch.__file__, 'applied': acestep_winpatch.is_applied()}))"
)

LIST_MODULES = "import sys; print(' '.join(sys.modules))"


def measure(environments, material, tables):
    rows = []
    imported = json.loads(environments.output(["-c", LIST_HEAVY], "broken"))
    rows.append(import_time(environments))
    heavy = imported["heavy"]
    rows.append(report.Row(FIGURE, "heavy modules imported", ", ".join(heavy) or "none",
                           target="none", met=not heavy,
                           note=(f"checked in the dev venv: {', '.join(HEAVY)}; package found at {imported['file']}; "
                                 f"applied on import: {imported['applied']}"),
                           data={"heavy": heavy, "checked": list(HEAVY)}))
    return rows


def import_time(environments):
    with tempfile.TemporaryDirectory(prefix="winpatch-plain-venv-") as folder:
        subprocess.run([environments.python, "-m", "venv", "--without-pip", folder], check=True,
                       capture_output=True, timeout=120)
        python = f"{folder}/bin/python"
        bare, plugin = [python, "-c", "pass"], [python, "-c", "import acestep_winpatch"]
        for _ in range(3):
            environments.wall_time(bare, "broken")
            environments.wall_time(plugin, "broken")
        samples = {"bare": [], "plugin": []}
        for _ in range(environments.repeats(60)):
            samples["bare"].append(environments.wall_time(bare, "broken"))
            samples["plugin"].append(environments.wall_time(plugin, "broken"))
        bare_modules = environments.output([python, "-c", LIST_MODULES], "broken").split()
        plugin_modules = environments.output([python, "-c", "import acestep_winpatch; " + LIST_MODULES],
                                             "broken").split()
        added = sorted({name.split(".")[0] for name in set(plugin_modules) - set(bare_modules)} - {"acestep_winpatch"})
    bare_ms = probe.median(samples["bare"]) * 1e3
    plugin_ms = probe.median(samples["plugin"]) * 1e3
    return report.overhead(
        FIGURE, "`import acestep_winpatch` (fresh process)", plugin_ms, bare_ms, "ms", "`python -c pass`",
        "<= +15 ms", max_added=15.0,
        note=(f"median of {len(samples['bare'])} interpreters each, in turn; plain install layout: a bare venv "
              f"(Python {sys.version.split()[0]}, empty site-packages), package on PYTHONPATH, no editable finder; "
              f"the import adds {len(added)} top-level modules: {', '.join(added)}"),
        data={"samples_ms": {k: [round(v * 1e3, 3) for v in vs] for k, vs in samples.items()},
              "modules_added": added},
    )
