"""Figure 3: how fast the fallback decodes, against native torchaudio and the usual alternatives.

Four fresh processes read the 180 s material (wav, flac, mp3, ogg):

* the plugin: ``torchaudio.load`` in the broken environment, where it must fall back;
* native: ``torchaudio.load`` in the working environment with the plugin switched off;
* ``soundfile.read`` to a contiguous ``[C, T]`` float32 tensor, and
  ``librosa.load(sr=None, mono=False)``, both with the plugin switched off.

Each process decodes every format once untimed, then times it ``repeats`` times. The readers
take turns over two rounds of processes, so a change in the machine's load hits all of them;
the median of all timed loads is reported.
"""

import probe
import report

FIGURE = "3"
FORMATS = ("wav", "flac", "mp3", "ogg")
TARGETS = {"wav": 2.0, "flac": 1.2, "mp3": 1.2, "ogg": 1.0}
ISSUE_REFERENCE_MS = {  # measured by the issue's author on the same kind of material
    "native": {"wav": 107, "flac": 190, "mp3": 191, "ogg": 155},
    "soundfile": {"wav": 55, "flac": 167, "mp3": 151, "ogg": 259},
    "librosa": {"wav": 42, "flac": 154, "mp3": 139, "ogg": 243},
}
CONTENDERS = (  # name, reader, environment, plugin switched on
    ("plugin", "torchaudio", "broken", True),
    ("native", "torchaudio", "working", False),
    ("soundfile", "soundfile", "broken", False),
    ("librosa", "librosa", "broken", False),
)


def measure(environments, material, tables):
    environments.require("broken")
    files = material["long"]
    rounds, repeats = 2, environments.repeats(4)
    samples, problems, details = {}, {}, {}
    for _ in range(rounds):
        for name, reader, environment, plugin_on in CONTENDERS:
            if name in problems:
                continue
            extra = {} if plugin_on else {"ACESTEP_WINPATCH": "0"}
            try:
                if environment == "working":
                    environments.require("working")
                result = environments.run("fig_load.py", {"mode": reader, "files": files, "repeats": repeats},
                                          environment, **extra)
            except Exception as error:
                problems[name] = str(error)
                continue
            for fmt, seconds in result["seconds"].items():
                samples.setdefault(name, {}).setdefault(fmt, []).extend(seconds)
            details[name] = result
    medians = {name: {fmt: probe.median(values) * 1e3 for fmt, values in by_format.items()}
               for name, by_format in samples.items()}
    count = rounds * repeats
    tables.append(speed_table(medians, count))
    rows = []
    for fmt in FORMATS:
        what = f"`torchaudio.load` 180 s {fmt}, broken env"
        factor = TARGETS[fmt]
        target = f">= {factor:g}x faster than native" if factor > 1 else "no slower than native"
        missing = [name for name in ("plugin", "native") if fmt not in medians.get(name, {})]
        if missing:
            reason = "; ".join(f"{name}: {problems.get(name, 'no result for ' + fmt)}" for name in missing)
            rows.append(report.unavailable(FIGURE, what, target, reason))
            continue
        context = ", ".join(f"{name} {medians[name][fmt]:.0f} ms" for name in ("soundfile", "librosa")
                            if fmt in medians.get(name, {}))
        note = (f"median of {count} loads in {rounds} processes per reader, readers taking turns; native = "
                f"torchaudio/TorchCodec in the working env; {context}; "
                f"plugin fallbacks: {details['plugin'].get('fallbacks') or 'none'}")
        rows.append(report.speedup(FIGURE, what, medians["plugin"][fmt], medians["native"][fmt], "ms", "native",
                                   target, factor, note=note,
                                   data={"shapes": {name: details[name]["shapes"].get(fmt) for name in details}}))
    return rows


def speed_table(medians, repeats):
    header = [f"ms, median of {repeats}"] + list(FORMATS)
    body = [[name] + [f"{medians[name][fmt]:.0f}" if fmt in medians[name] else "-" for fmt in FORMATS]
            for name in medians]
    body += [[f"{name} (issue's reference)"] + [str(values[fmt]) for fmt in FORMATS]
             for name, values in ISSUE_REFERENCE_MS.items()]
    return {"title": "Figure 3: decoding 180 s of stereo 44.1 kHz, in ms", "header": header, "rows": body}


def readers():
    """``{name: load(path)}`` for each reader a child may be asked to time."""

    def torchaudio_load(path):
        import torchaudio

        return torchaudio.load(path)[0]

    def soundfile_load(path):
        import numpy
        import soundfile
        import torch

        data, _ = soundfile.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(numpy.ascontiguousarray(data.T))

    def librosa_load(path):
        import librosa

        return librosa.load(path, sr=None, mono=False)[0]

    return {"torchaudio": torchaudio_load, "soundfile": soundfile_load, "librosa": librosa_load}


def child(arguments):
    import acestep_winpatch  # noqa: F401  (applies unless ACESTEP_WINPATCH=0)
    import torch  # noqa: F401
    import torchaudio  # noqa: F401

    load = readers()[arguments["mode"]]
    seconds, shapes = {}, {}
    for fmt, path in arguments["files"].items():
        shapes[fmt] = list(load(path).shape)
        seconds[fmt] = probe.seconds_per_run(lambda: load(path), arguments["repeats"], warmup=0)
    probe.emit({"seconds": seconds, "shapes": shapes, "fallbacks": probe.fallbacks()})


if __name__ == "__main__":
    child(probe.arguments())
