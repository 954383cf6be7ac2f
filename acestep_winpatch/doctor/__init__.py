"""``python -m acestep_winpatch doctor [--json]``: a diagnosis a user can paste into a bug report.

It reports the environment (:mod:`.environment`), then runs live checks: audio round trips
and the CUDA calls in this process (:mod:`.checks`), ``torch.compile`` in a child process
started first so that it runs alongside (:mod:`.compile_probe`). Each check is native,
fell back or failed (:mod:`.outcome`). The exit status is 0 when no check failed.
"""

import sys

from .outcome import FAILED, FELL_BACK

USAGE = "usage: python -m acestep_winpatch doctor [--json]"


def diagnose():
    """The whole diagnosis as one JSON-ready dict: environment, checks, verdict."""
    import acestep_winpatch

    from . import checks, compile_probe, environment

    probe = compile_probe.Probe()
    report = environment.report(acestep_winpatch.status)
    in_process = checks.run(acestep_winpatch.status)
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
    return {"ok": not failed, "failed": failed, "fell_back": fell_back, "summary": summary}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE)
        return 0
    if any(arg != "--json" for arg in argv):
        print(USAGE, file=sys.stderr)
        return 2
    from . import render

    diagnosis = diagnose()
    _write(render.as_json(diagnosis) if "--json" in argv else render.as_table(diagnosis))
    return 0 if diagnosis["verdict"]["ok"] else 1


def _write(text):
    """Print the report whatever stdout can encode: redirected to a file or a pipe on Windows,
    stdout uses the ANSI code page (cp1252, ...), which lacks characters a path may hold."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    print(text)
