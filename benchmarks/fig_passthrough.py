"""Figure 2: what a patched call costs where the native path works (the working environment).

Each child toggles the plugin with ``acestep_winpatch.apply()`` / ``unapply()`` and samples
the patched and the original call in turn, in the same process.

* ``torch.cuda.empty_cache()`` against the original (a silent no-op without a GPU);
  ``torch.cuda.synchronize()`` against the original behind the guard a user would write,
  ``if torch.cuda.is_available()``, because the unguarded original raises here. Both proxies
  are wrapt ``FunctionWrapper``s like every other patch (wrapt's C extension, which the note
  confirms). The note also gives wrapt's floor, timed in turn with them: a ``FunctionWrapper``
  on the same original whose wrapper returns at once, what any wrapt proxy costs.
* ``torch.cuda.empty_cache()`` where CUDA is usable, the path a GPU machine takes on every
  call: a machine with a GPU cannot exist here, so the stand-in forces the plugin's cached
  probe to "usable" (as ``tests/test_cuda.py`` does); the original is then called through the
  proxy, and it is torch's own no-op before CUDA is initialised.
* ``torchaudio.load`` of a 10 s wav (native decoding through TorchCodec both times).
* A small module compiled by ``torch.compile`` with and without the plugin (gcc works here),
  timed after compilation succeeded.
"""

import probe
import report

FIGURE = "2"


def measure(environments, material, tables):
    environments.require("working")
    rows = []
    cuda = environments.run("fig_passthrough.py", {"mode": "cuda", "repeats": environments.repeats(15)}, "working")
    for name, guard in (("empty_cache", ""), ("synchronize", "`if is_available()` + ")):
        rows.append(per_call_row(cuda, name, f"`torch.cuda.{name}()` per call", f"{guard}original",
                                 unit="us", scale=1e6, target="<= +0.5 us", max_added=0.5))
    rows.append(per_call_row(cuda, "empty_cache_usable", "`torch.cuda.empty_cache()` per call, CUDA usable (stand-in)",
                             "original", unit="us", scale=1e6, target="<= +0.5 us", max_added=0.5))
    load = environments.run("fig_passthrough.py", {"mode": "load", "path": material["short"]["wav"],
                                                   "repeats": environments.repeats(21)}, "working")
    rows.append(per_call_row(load, "load", "`torchaudio.load` 10 s wav, native works", "original",
                             unit="ms", scale=1e3, target="<= +2%", max_relative=0.02))
    compiled = environments.run("fig_passthrough.py", {"mode": "compiled", "repeats": environments.repeats(15)},
                                "working")
    rows.append(per_call_row(compiled, "compiled", "compiled module call, compile succeeded", "unpatched compile",
                             unit="us", scale=1e6, target="<= +2% or +1 us", max_added=1.0, max_relative=0.02))
    return rows


def per_call_row(result, name, what, baseline_label, unit, scale, target, max_added=None, max_relative=None):
    entry = result[name]
    state = entry["patch"]
    if entry.get("error"):
        return report.unavailable(FIGURE, what, target, entry["error"], data=entry)
    plugin = probe.median(entry["patched"]) * scale
    baseline = probe.median(entry["original"]) * scale
    note = f"median of {len(entry['patched'])} interleaved samples; patch {state['name']}: {state['state']}"
    if entry.get("remark"):
        note += f"; {entry['remark']}"
    if entry.get("wrapt floor"):
        floor = probe.median(entry["wrapt floor"]) * scale - baseline
        note += f"; wrapt's floor (a FunctionWrapper whose wrapper returns at once): {floor:+.2f} {unit}"
    row = report.overhead(FIGURE, what, plugin, baseline, unit, baseline_label, target, max_added, max_relative,
                          note=note, data=entry)
    if state["state"] != "attached":
        row.status, row.met = "n/a", None
        row.note = f"not measured: the patch is not attached ({state['state']} {state['detail']}); {note}"
    return row


def child_cuda(arguments):
    import acestep_winpatch
    import torch
    from acestep_winpatch.patches import cuda

    namespace = {"torch": torch}
    results = {}
    remark = proxy_remark(torch.cuda.empty_cache)
    for name, original in (("empty_cache", "torch.cuda.empty_cache()"),
                           ("synchronize", "if torch.cuda.is_available(): torch.cuda.synchronize()"),
                           ("empty_cache_usable", "torch.cuda.empty_cache()")):
        acestep_winpatch.apply()
        usable = name.endswith("_usable")
        if usable:
            cuda.CUDA.usable = True  # the stand-in for a GPU machine (see the module docstring)
        call = name.removesuffix("_usable")
        entry = {"patch": probe.patch_state(f"torch.cuda.{call}"), "remark": remark}
        timers = {"patched": probe.statement_timer(f"torch.cuda.{call}()", namespace),
                  "original": probe.statement_timer(original, namespace)}
        if call == "empty_cache":
            timers["wrapt floor"] = probe.statement_timer("floor()", {"floor": wrapt_floor(torch.cuda.empty_cache)})
        try:
            entry.update(probe.interleaved(timers, arguments["repeats"], loops=200_000, prepare=toggles()))
        except Exception as error:
            entry["error"] = f"patched torch.cuda.{call}() raised {type(error).__name__}: {error}"[:300]
        results[name] = entry
        if usable:
            cuda.CUDA.usable = None
    acestep_winpatch.apply()
    probe.emit(results)


def wrapt_floor(proxy):
    """A wrapt ``FunctionWrapper`` on the same original whose wrapper does nothing."""
    import wrapt

    return wrapt.FunctionWrapper(proxy.__wrapped__, lambda wrapped, instance, args, kwargs: None)


def proxy_remark(proxy):
    """What the measured proxy is, and whether wrapt's C extension runs it (its Python fallback is slower)."""
    import wrapt

    extension = "C extension" if "_wrappers" in wrapt.FunctionWrapper.__module__ else "pure Python (no C extension)"
    return f"{type(proxy).__name__}, a wrapt {wrapt.__version__} FunctionWrapper ({extension})"


def child_load(arguments):
    import acestep_winpatch
    import torchaudio

    path = arguments["path"]
    entry = {"patch": probe.patch_state("torchaudio.load")}
    timer = probe.statement_timer("torchaudio.load(path)", {"torchaudio": torchaudio, "path": path})
    entry.update(probe.interleaved({"patched": timer, "original": timer}, arguments["repeats"], loops=5,
                                   prepare=toggles()))
    acestep_winpatch.apply()
    entry["remark"] = f"fallbacks: {probe.fallbacks() or 'none'}"
    probe.emit({"load": entry})


def child_compiled(arguments):
    import acestep_winpatch
    import torch

    torch.set_num_threads(1)
    patched_model, plain_model, x = pointwise_module(), pointwise_module(), torch.randn(16, 64)
    entry = {"patch": probe.patch_state("torch.compile")}
    with torch.inference_mode():
        patched = torch.compile(patched_model)
        expected = patched(x)
        acestep_winpatch.unapply()
        plain = torch.compile(plain_model)
        torch.testing.assert_close(plain(x), expected)
        acestep_winpatch.apply()
        namespace = {"patched": patched, "plain": plain, "x": x}
        timers = {"patched": probe.statement_timer("patched(x)", namespace),
                  "original": probe.statement_timer("plain(x)", namespace)}
        entry.update(probe.interleaved(timers, arguments["repeats"], loops=2000))
    entry["remark"] = f"one torch thread; fallbacks: {probe.fallbacks() or 'none'}"
    probe.emit({"compiled": entry})


def toggles():
    """Before each sample: the plugin applied for the patched variant, removed for the original."""
    import acestep_winpatch

    return {"patched": acestep_winpatch.apply, "original": acestep_winpatch.unapply}


def pointwise_module():
    """A module whose compiled form is one fused C++ kernel: cheap calls expose any wrapper cost."""
    import torch

    class Pointwise(torch.nn.Module):
        def forward(self, x):
            return torch.tanh(x * 1.5 + 0.25).relu()

    return Pointwise().eval()


if __name__ == "__main__":
    arguments = probe.arguments()
    {"cuda": child_cuda, "load": child_load, "compiled": child_compiled}[arguments["mode"]](arguments)
