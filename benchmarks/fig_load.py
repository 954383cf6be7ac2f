"""Figure 3: how fast the fallback decodes, against native torchaudio and the usual alternatives.

Four fresh processes read the 180 s material (wav, flac, mp3, ogg):

* the plugin: ``torchaudio.load`` in the broken environment, where it must fall back;
* native: ``torchaudio.load`` in the working environment with the plugin switched off;
* ``soundfile.read`` to a contiguous ``[C, T]`` float32 tensor, and
  ``librosa.load(sr=None, mono=False)``, both with the plugin switched off;
* the floor for wav (issue 15): the file's PCM bytes read from the page cache into a
  preallocated buffer and converted with numpy into a preallocated ``[C, T]`` float32 tensor
  (both written once before timing), the faster of two plain recipes (one casting multiply;
  a cast, then an in-place scale). No loader can do less: it must read the bytes and write
  the floats. Unlike the floor, a loader also allocates its result and faults its pages in.

Each process decodes every format once untimed, then times it ``repeats`` times. The readers
take turns over two rounds of processes, so a change in the machine's load hits all of them;
the median of all timed loads is reported.
"""

import struct

import probe
import report

FIGURE = "3"
FORMATS = ("wav", "flac", "mp3", "ogg")
TARGETS = {"wav": 2.0, "flac": 1.2, "mp3": 1.2, "ogg": 1.2}
FLOOR_LIMIT = 2.0  # the wav load within this many times the floor
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
    ("floor", "floor", "broken", False),
)
FLOOR_RECIPES = ("floor: casting multiply", "floor: cast, then scale")


def measure(environments, material, tables):
    environments.require("broken")
    files = material["long"]
    rounds, repeats = 2, environments.repeats(4)
    contenders = [(name, environment, plugin_on, {"mode": reader, "files": files, "repeats": repeats})
                  for name, reader, environment, plugin_on in CONTENDERS]
    results, problems = environments.take_turns("fig_load.py", contenders, rounds)
    samples, details = {}, {}
    for name, result in results:
        if name == "floor":  # one wav figure per recipe
            for recipe, seconds in result["seconds"].items():
                samples.setdefault(recipe, {}).setdefault("wav", []).extend(seconds)
        else:
            for fmt, seconds in result["seconds"].items():
                samples.setdefault(name, {}).setdefault(fmt, []).extend(seconds)
        details[name] = result
    medians = {name: {fmt: probe.median(values) * 1e3 for fmt, values in by_format.items()}
               for name, by_format in samples.items()}
    recipes = {recipe: medians.pop(recipe)["wav"] for recipe in FLOOR_RECIPES if recipe in medians}
    if recipes:
        medians["floor"] = {"wav": min(recipes.values())}
    count = rounds * repeats
    tables.append(speed_table(medians, count))
    rows = [floor_row(medians, recipes, problems, count)]
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


def floor_row(medians, recipes, problems, count):
    what = "`torchaudio.load` 180 s wav against the floor"
    target = f"within {FLOOR_LIMIT:g}x the floor"
    if "wav" not in medians.get("plugin", {}) or "floor" not in medians:
        reason = problems.get("floor") or problems.get("plugin") or "no result"
        return report.unavailable(FIGURE, what, target, reason)
    note = (f"median of {count} each; floor = the faster of "
            + ", ".join(f"{recipe.split(': ')[1]} {ms:.1f} ms" for recipe, ms in recipes.items())
            + "; page cache warm, buffer and tensor preallocated and written once before timing")
    return report.speedup(FIGURE, what, medians["plugin"]["wav"], medians["floor"]["wav"], "ms", "floor", target,
                          1 / FLOOR_LIMIT, note=note)


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


def pcm_layout(path):
    """``(data offset, data bytes, channels, bits)`` of a PCM RIFF/WAVE file, from its chunks."""
    with open(path, "rb") as stream:
        header = stream.read(12)
        assert header[:4] == b"RIFF" and header[8:] == b"WAVE", "not a RIFF/WAVE file"
        position, channels, bits = 12, None, None
        while True:
            chunk, size = struct.unpack("<4sI", stream.read(8))
            position += 8
            if chunk == b"fmt ":
                _, channels, _, _, _, bits = struct.unpack("<HHIIHH", stream.read(16))
            elif chunk == b"data":
                return position, size, channels, bits
            position += size + (size & 1)
            stream.seek(position)


def floor_loaders(path):
    """``{recipe: load()}``: the wav floor's two recipes over one preallocated buffer and tensor."""
    import numpy
    import torch

    offset, size, channels, bits = pcm_layout(path)
    assert bits == 16, "the floor is written for the 16-bit material"
    frames = size // (2 * channels)
    buffer = bytearray(frames * 2 * channels)
    tensor = torch.zeros(channels, frames)
    samples = numpy.frombuffer(buffer, "<i2").reshape(frames, channels).T
    output, scale = tensor.numpy(), numpy.float32(2.0 ** -15)

    def read():
        with open(path, "rb", buffering=0) as stream:
            stream.seek(offset)
            stream.readinto(buffer)

    def casting_multiply():
        read()
        numpy.multiply(samples, scale, out=output, dtype=numpy.float32, casting="unsafe")
        return tensor

    def cast_then_scale():
        read()
        output[...] = samples
        numpy.multiply(output, scale, out=output)
        return tensor

    return dict(zip(FLOOR_RECIPES, (casting_multiply, cast_then_scale)))


def child(arguments):
    import acestep_winpatch  # noqa: F401  (applies unless ACESTEP_WINPATCH=0)
    import torch  # noqa: F401
    import torchaudio  # noqa: F401

    seconds, shapes = {}, {}
    if arguments["mode"] == "floor":
        path = arguments["files"]["wav"]
        loaders = floor_loaders(path)
        for recipe, load in loaders.items():
            shapes[recipe] = list(load().shape)
        for _ in range(arguments["repeats"]):  # the recipes take turns
            for recipe, load in loaders.items():
                seconds.setdefault(recipe, []).extend(probe.seconds_per_run(load, 1, warmup=0))
        probe.emit({"seconds": seconds, "shapes": shapes, "fallbacks": {}})
        return
    load = readers()[arguments["mode"]]
    for fmt, path in arguments["files"].items():
        shapes[fmt] = list(load(path).shape)
        seconds[fmt] = probe.seconds_per_run(lambda: load(path), arguments["repeats"], warmup=0)
    probe.emit({"seconds": seconds, "shapes": shapes, "fallbacks": probe.fallbacks()})


if __name__ == "__main__":
    child(probe.arguments())
