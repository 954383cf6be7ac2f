"""Figure 5: how much memory one load of the 180 s file takes at its peak, against the tensor it returns.

One fresh process per reader and format (memory freed by an earlier load could stay resident
in the allocator and hide the next load's growth). It first loads a 1 s file of the same
format (library set-up and first-use allocations are not the load's cost), then reads its
resident set size, resets the kernel's peak counter (``/proc/self/clear_refs`` = 5), loads
the 180 s file and reads the new peak (``VmHWM``). Growth = peak - resident before; it is
reported relative to the returned tensor's ``nbytes`` (1.0 would be the tensor alone).
"""

import gc

import probe
import report

FIGURE = "5"
FORMATS = ("wav", "flac", "mp3", "ogg")
LIMIT = 1.2
CONTENDERS = (  # name, reader, environment, plugin switched on
    ("plugin", "torchaudio", "broken", True),
    ("native", "torchaudio", "working", False),
    ("soundfile", "soundfile", "broken", False),
)


def measure(environments, material, tables):
    environments.require("broken")
    ratios, problems, results = {}, {}, {}
    for name, reader, environment, plugin_on in CONTENDERS:
        extra = {} if plugin_on else {"ACESTEP_WINPATCH": "0"}
        for fmt in FORMATS:
            arguments = {"mode": reader, "path": material["long"][fmt], "warmup": material["tiny"][fmt]}
            try:
                if environment == "working":
                    environments.require("working")
                results[(name, fmt)] = environments.run("fig_memory.py", arguments, environment, **extra)
            except Exception as error:
                problems[(name, fmt)] = str(error)
                continue
            ratios[(name, fmt)] = results[(name, fmt)]["ratio"]
    names = [name for name, *_ in CONTENDERS if any((name, fmt) in ratios for fmt in FORMATS)]
    tables.append({
        "title": "Figure 5: peak memory growth of one load of 180 s, relative to the returned tensor",
        "header": ["reader"] + list(FORMATS),
        "rows": [[name] + [f"{ratios[(name, fmt)]:.2f}x" if (name, fmt) in ratios else "-" for fmt in FORMATS]
                 for name in names],
    })
    rows = []
    for fmt in FORMATS:
        what = f"peak RSS growth, fallback load of 180 s {fmt}"
        target = f"<= {LIMIT}x tensor"
        if ("plugin", fmt) not in ratios:
            rows.append(report.unavailable(FIGURE, what, target, problems.get(("plugin", fmt), "no result")))
            continue
        plugin = results[("plugin", fmt)]
        native = ratios.get(("native", fmt))
        note = (f"tensor {plugin['nbytes'] / 2**20:.1f} MiB; {plugin['method']}; "
                + (f"soundfile.read + [C, T] copy {ratios[('soundfile', fmt)]:.2f}x" if ('soundfile', fmt) in ratios
                   else ""))
        rows.append(report.at_most(FIGURE, what, plugin["ratio"], "x", LIMIT, target, baseline=native,
                                   baseline_label="native" if native else "",
                                   comparison=f"{native / plugin['ratio']:.2f}x less" if native else "",
                                   note=note, data={"growth_bytes": plugin["growth"], "nbytes": plugin["nbytes"]}))
    return rows


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak():
    """Reset the kernel's peak-RSS counter; False where this kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def child(arguments):
    import acestep_winpatch  # noqa: F401  (applies unless ACESTEP_WINPATCH=0)
    import torch

    from fig_load import readers

    load = readers()[arguments["mode"]]
    load(arguments["warmup"])
    gc.collect()
    before = _status_kib("VmRSS")
    method = "VmHWM after clear_refs" if _reset_peak() else "VmHWM, peak not resettable: an upper bound"
    waveform = load(arguments["path"])
    growth = _status_kib("VmHWM") - before
    if not isinstance(waveform, torch.Tensor):
        waveform = torch.from_numpy(waveform)
    nbytes = waveform.element_size() * waveform.nelement()
    probe.emit({"ratio": growth / nbytes, "growth": growth, "nbytes": nbytes, "method": method})


if __name__ == "__main__":
    child(probe.arguments())
