"""Figure 7: ``torch.compile`` where compilation fails (``CXX=/nonexistent/cl``: no C++ compiler).

Time to the first result, in fresh processes, from ``torch.compile(model)`` to the first
output (model built, torch imported before the clock starts; ``torch.compile`` itself imports
``torch._dynamo``, which every compiling caller pays):

* plugin with preflight (the default): the doomed attempt is predicted and skipped;
* plugin where preflight cannot predict the failure: ``CXX=/bin/false``, a compiler that exists
  but fails, so the attempt runs and the guard falls back after it;
* plain eager: ``model(x)``, no compile;
* without the plugin, for scale: ``torch.compile`` then the first call, which raises
  ``InductorError`` (the time an attempt costs before failing).

Then, in the preflight processes, the cost per call of the fallen-back compiled module
against the eager module, sampled in turn. The module is small: Linear(64, 64), ReLU,
Linear(64, 64) on a [16, 64] input, in inference mode, one torch thread.
"""


import probe
import report

FIGURE = "7"
BROKEN_COMPILER = {"CXX": "/nonexistent/cl"}
MAX_RELATIVE = 0.05


def measure(environments, material, tables):
    repeats = environments.repeats(3)
    modes = {"preflight": {}, "no preflight": {"CXX": "/bin/false"}, "eager": {},
             "unpatched": {"ACESTEP_WINPATCH": "0"}}
    runs, problems = {}, {}
    for mode, extra in modes.items():
        try:
            runs[mode] = [environments.run("fig_compile.py", {"mode": mode, "repeats": environments.repeats(15)},
                                           "broken", **{**BROKEN_COMPILER, **extra}) for _ in range(repeats)]
        except Exception as error:
            problems[mode] = str(error)
    first = {mode: probe.median([run["first_result_s"] for run in values]) for mode, values in runs.items()}
    rows = []
    eager = first.get("eager")
    labels = (("preflight", "time to first result, compile fails, preflight on"),
              ("no preflight", "time to first result, compile fails unpredictably (CXX=/bin/false)"),
              ("unpatched", "time to InductorError without the plugin"))
    for mode, what in labels:
        if mode not in first:
            rows.append(report.unavailable(FIGURE, what, "-", problems.get(mode, "not measured")))
            continue
        returned = probe.median([run["compile_returned_s"] for run in runs[mode]])
        note = (f"median of {len(runs[mode])} fresh processes; torch.compile() itself returned after {returned:.2f} s "
                f"(importing torch._dynamo), the rest is the first call; {runs[mode][0]['outcome']}")
        if mode != "unpatched" and "unpatched" in first:
            note += f"; {first['unpatched'] - first[mode]:.2f} s sooner than the attempt fails without the plugin"
        rows.append(report.info(FIGURE, what, first[mode], "s", baseline=eager, baseline_label="eager",
                                comparison=f"{first[mode] - eager:+.3g} s" if eager is not None else "",
                                note=note, data={"samples_s": [run["first_result_s"] for run in runs[mode]]}))
    what = "call after falling back, small module"
    target = f"<= +{MAX_RELATIVE:.0%} over eager"
    if "preflight" not in runs:
        rows.append(report.unavailable(FIGURE, what, target, problems.get("preflight", "no result")))
        return rows
    fallen = probe.median([probe.median(run["per_call"]["compiled"]) for run in runs["preflight"]]) * 1e6
    plain = probe.median([probe.median(run["per_call"]["eager"]) for run in runs["preflight"]]) * 1e6
    rows.append(report.overhead(FIGURE, what, fallen, plain, "us", "eager", target, max_relative=MAX_RELATIVE,
                                note=f"median over {len(runs['preflight'])} processes of interleaved medians; "
                                     f"{runs['preflight'][0].get('outcome', '')}"))
    return rows


def small_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64)).eval()


def child(arguments):
    import time

    import acestep_winpatch
    import torch

    torch.set_num_threads(1)
    mode = arguments["mode"]
    model, x = small_model(), torch.randn(16, 64)
    outcome = ""
    with torch.inference_mode():
        start = time.perf_counter()
        if mode == "eager":
            y = model(x)
            returned = start
        else:
            compiled = torch.compile(model)
            returned = time.perf_counter()
            try:
                y = compiled(x)
                outcome = "compiled: the compiler was not broken" if mode == "unpatched" else ""
            except Exception as error:
                if mode != "unpatched":
                    raise
                outcome = f"raised {type(error).__name__}"
        elapsed = time.perf_counter() - start
        result = {"first_result_s": elapsed, "compile_returned_s": returned - start, "outcome": outcome}
        if mode not in ("eager", "unpatched"):
            torch.testing.assert_close(y, model(x))
            result["outcome"] = f"fallbacks: {probe.fallbacks() or 'none'}"
            namespace = {"compiled": compiled, "model": model, "x": x}
            timers = {"compiled": probe.statement_timer("compiled(x)", namespace),
                      "eager": probe.statement_timer("model(x)", namespace)}
            result["per_call"] = probe.interleaved(timers, arguments["repeats"], loops=2000)
            result["applied"] = acestep_winpatch.is_applied()
    probe.emit(result)


if __name__ == "__main__":
    child(probe.arguments())
