"""Figure 4: the first load in a fresh process, where the native backend cannot load.

Measured window: from just before the first load call to its result (a ``[C, T]`` float32
tensor), in a fresh interpreter that has already run ``import torch, torchaudio``, which
every approach pays. The window includes every lazy import the first call triggers:

* plugin: ``torchaudio.load(path)`` with the plugin active (imported before torch, as the
  activation paths do); the window holds the failed native attempt, the codec imports and
  the decode;
* librosa approach: ``import librosa`` + ``librosa.load(path, sr=None, mono=False)`` +
  ``torch.from_numpy``;
* soundfile approach: ``import soundfile`` + ``soundfile.read`` + a contiguous ``[C, T]`` tensor;
* native, for scale: ``torchaudio.load`` in the working environment, plugin off.

``import torch, torchaudio`` is timed too: with the plugin, the patches attach during it.
Every approach runs once untimed first (disk cache, numba caches), then in several fresh
processes (the plugin in most); medians are reported.
"""

import time

START = time.perf_counter()

import probe  # noqa: E402
import report  # noqa: E402

FIGURE = "4"
FORMATS = ("wav", "mp3")
LIMIT_S = 0.35
APPROACHES = (  # name, environment, plugin switched on, fresh processes
    ("plugin", "broken", True, 5),
    ("librosa", "broken", False, 3),
    ("soundfile", "broken", False, 3),
    ("native", "working", False, 2),
)


def measure(environments, material, tables):
    environments.require("broken")
    medians, imports, problems = {}, {}, {}
    warmed = set()
    for fmt in FORMATS:
        arguments = {"path": material["long"][fmt]}
        for name, environment, plugin_on, repeats in APPROACHES:
            extra = {} if plugin_on else {"ACESTEP_WINPATCH": "0"}
            arguments["mode"] = name
            try:
                if environment == "working":
                    environments.require("working")
                if name not in warmed:
                    environments.run("fig_cold_start.py", arguments, environment, **extra)
                    warmed.add(name)
                runs = [environments.run("fig_cold_start.py", arguments, environment, **extra)
                        for _ in range(environments.repeats(repeats))]
            except Exception as error:
                problems[(name, fmt)] = str(error)
                continue
            medians[(name, fmt)] = probe.median([run["first_load_s"] for run in runs])
            imports[(name, fmt)] = probe.median([run["import_torch_s"] for run in runs])
    rows = []
    for fmt in FORMATS:
        what = f"first load in a fresh process, 180 s {fmt}"
        target = f"<= {LIMIT_S} s"
        if ("plugin", fmt) not in medians or ("librosa", fmt) not in medians:
            reason = problems.get(("plugin", fmt)) or problems.get(("librosa", fmt)) or "no result"
            rows.append(report.unavailable(FIGURE, what, target, reason))
            continue
        context = [f"{name} {medians[(name, fmt)]:.3f} s" for name in ("soundfile", "native") if (name, fmt) in medians]
        note = (f"window: the first load call with the lazy imports it triggers, after `import torch, torchaudio`; "
                f"median of {environments.repeats(APPROACHES[0][3])} fresh processes; {', '.join(context)}; "
                f"`import torch, torchaudio` (outside the window, patches attaching): "
                f"{imports[('plugin', fmt)]:.2f} s with the plugin, {imports[('librosa', fmt)]:.2f} s without")
        rows.append(report.at_most(FIGURE, what, medians[("plugin", fmt)], "s", LIMIT_S, target,
                                   baseline=medians[("librosa", fmt)], baseline_label="librosa approach",
                                   note=note, data={"first_load_s": per_format(medians, fmt),
                                                    "import_torch_s": per_format(imports, fmt)}))
    return rows


def per_format(values, fmt):
    return {name: value for (name, value_format), value in values.items() if value_format == fmt}


def child(arguments):
    mode, path = arguments["mode"], arguments["path"]
    if mode == "plugin":
        import acestep_winpatch  # noqa: F401  (the activation paths import it before torch)
    before_torch = time.perf_counter()
    import torch
    import torchaudio

    start = time.perf_counter()
    if mode in ("plugin", "native"):
        waveform = torchaudio.load(path)[0]
    elif mode == "librosa":
        import librosa

        waveform = torch.from_numpy(librosa.load(path, sr=None, mono=False)[0])
    else:
        import numpy
        import soundfile

        data, _ = soundfile.read(path, dtype="float32", always_2d=True)
        waveform = torch.from_numpy(numpy.ascontiguousarray(data.T))
    end = time.perf_counter()
    assert waveform.dtype == torch.float32 and waveform.shape[0] == 2, (waveform.dtype, waveform.shape)
    probe.emit({"first_load_s": end - start, "import_torch_s": start - before_torch,
                "since_interpreter_start_s": end - START})


if __name__ == "__main__":
    child(probe.arguments())
