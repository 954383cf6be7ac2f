"""The child side of every measurement: its arguments, its timers, and the line that carries the result back.

Imports only the standard library, so a child pays for nothing it does not measure.
"""

import json
import statistics
import sys
import time
import timeit

RESULT_MARKER = "BENCHMARK-RESULT "


def arguments():
    """The JSON object the parent passed as the first command-line argument."""
    return json.loads(sys.argv[1])


def emit(payload):
    """Hand ``payload`` back to the parent (the last marked stdout line wins)."""
    print(RESULT_MARKER + json.dumps(payload), flush=True)


def median(values):
    return statistics.median(values)


def seconds_per_run(function, repeats, warmup=1):
    """Wall seconds of each of ``repeats`` calls of ``function`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def interleaved(timers, repeats, loops, prepare=None):
    """Seconds per call of each timer, sampled in turn so drift hits every variant alike.

    ``timers`` maps a variant's name to a ``timeit.Timer``; ``prepare`` optionally maps it to
    a function run untimed before each of its samples (for example ``acestep_winpatch.apply``).
    Returns ``{name: [seconds per call, one per repeat]}``.
    """
    prepare = prepare or {}
    samples = {name: [] for name in timers}
    for _ in range(repeats + 1):
        for name, timer in timers.items():
            prepare.get(name, _nothing)()
            seconds = timer.timeit(loops) / loops
            if _ >= 1:  # the first round warms every variant up
                samples[name].append(seconds)
    return samples


def _nothing():
    pass


def statement_timer(statement, namespace):
    """A ``timeit.Timer`` for source ``statement`` evaluated in ``namespace`` (no wrapper call added)."""
    return timeit.Timer(statement, globals=namespace)


def patch_state(target):
    """The registry's state for the patch of ``target`` (``torch.cuda.empty_cache``), or why none."""
    import acestep_winpatch

    for name, record in acestep_winpatch.status()["patches"].items():
        if record["target"] == target:
            return {"name": name, "state": record["state"], "detail": record["detail"]}
    return {"name": None, "state": "absent", "detail": f"no patch declared for {target}"}


def fallbacks():
    """``{kind: count}`` of the plugin's fallbacks so far in this process."""
    import acestep_winpatch

    return {kind: entry["count"] for kind, entry in acestep_winpatch.status()["fallbacks"].items()}
