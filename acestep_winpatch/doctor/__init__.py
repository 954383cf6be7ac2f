"""``python -m acestep_winpatch doctor [--json]``: a diagnosis a user can paste into a bug report.

It reports the environment (:mod:`.environment`), then runs live checks: audio round trips
and the CUDA calls in this process (:mod:`.checks`), ``torch.compile`` in a child process
(:mod:`.compile_probe`). The child is the longest part (a fresh interpreter importing torch,
dynamo and inductor, then a real compile), so it starts before anything else and everything
else runs alongside it. Each check is native, fell back or failed (:mod:`.outcome`). The
exit status is 0 when no check failed; nothing can be checked, and the status is 1, where
torch is not installed for this interpreter or ``acestep_winpatch`` is not the plugin.
"""

import argparse
import warnings

from .outcome import FAILED, FELL_BACK


def diagnose():
    """The whole diagnosis as one JSON-ready dict: environment, checks, verdict."""
    import acestep_winpatch

    from . import checks, compile_probe, environment

    problem, no_torch = environment.plugin_problem(acestep_winpatch), environment.torch_missing()
    skipped = problem or no_torch
    probe = None if skipped else compile_probe.Probe()
    status = None if problem else acestep_winpatch.status
    report = environment.report(status, torch_importable=no_torch is None)
    if skipped:
        return {"environment": report, "checks": {},
                "verdict": {"ok": False, "failed": [], "fell_back": 0, "skipped": skipped, "summary": skipped}}
    with warnings.catch_warnings():  # each check reports its fallback itself
        warnings.simplefilter("ignore", acestep_winpatch.FallbackWarning)
        in_process = checks.run(status)
    compiled = probe.results()
    report[environment.COMPILER] = environment.entry(*compiled["compiler"])
    ordered = {name: result for name, result in in_process.items() if name.startswith("audio")}
    ordered["torch.compile"] = compiled["check"]
    ordered.update((name, result) for name, result in in_process.items() if not name.startswith("audio"))
    return {"environment": report, "checks": ordered, "verdict": verdict(ordered)}


def verdict(checks):
    outcomes = [result["outcome"] for result in checks.values()]
    failed = [name for name, result in checks.items() if result["outcome"] == FAILED]
    fell_back = outcomes.count(FELL_BACK)
    if failed:
        summary = f"{len(failed)} of {len(outcomes)} checks FAILED: {', '.join(failed)}"
    else:
        summary = f"every check passes ({len(outcomes) - fell_back} native, {fell_back} through a fallback)"
    return {"ok": not failed, "failed": failed, "fell_back": fell_back, "skipped": None, "summary": summary}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m acestep_winpatch doctor",
        description="Diagnose this environment and run every patched path live (in a temporary folder).")
    parser.add_argument("--json", action="store_true", help="the same report as one JSON object")
    options = parser.parse_args(argv)
    from . import render

    diagnosis = diagnose()
    print(render.as_json(diagnosis) if options.json else render.as_table(diagnosis))
    return 0 if diagnosis["verdict"]["ok"] else 1

