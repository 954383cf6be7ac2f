"""Figure 8: a training set loaded in a loop, files per second, the fallback against native torchaudio.

300 files of 10 s (wav, flac and mp3 in turn; mono and stereo; 44.1 and 48 kHz), the way a
LoRA trainer's data loader reads them: one ``torchaudio.load`` per file. At 10 s a file, the
cost of every call around the decoding shows: the plugin's policy (its wrapper, the
remembered verdict, the missing-path check) and the choice of decoder, against torchcodec's
own set-up of an FFmpeg decoder per file.

Two readers, each in fresh processes that load every file once untimed, then time whole
passes over the set; readers take turns over two rounds of processes:

* the plugin: ``torchaudio.load`` in the broken environment, where it must fall back. Its
  processes also time passes of ``acestep_winpatch.codecs.decode`` in turn with those: the
  same decoding without the patch around it, so the difference is the policy's cost per call;
* native: ``torchaudio.load`` in the working environment with the plugin switched off.
"""

import time

import probe
import report

FIGURE = "8"
LABELS = {"codecs": "codecs alone (in the plugin's processes)"}
CONTENDERS = (  # name, environment, plugin switched on
    ("plugin", "broken", True),
    ("native", "working", False),
)


def measure(environments, material, tables):
    environments.require("broken")
    files = material["dataset"]
    rounds, passes = 2, environments.repeats(3)
    contenders = [(name, environment, plugin_on, {"files": files, "passes": passes, "codecs": plugin_on})
                  for name, environment, plugin_on in CONTENDERS]
    results, problems = environments.take_turns("fig_workload.py", contenders, rounds)
    samples, details = {}, {}
    for name, result in results:
        for reader, seconds in result["seconds"].items():
            samples.setdefault(name if reader == "torchaudio" else reader, []).extend(seconds)
        details[name] = result
    what = f"training set: {len(files)} files of 10 s loaded in a loop"
    target = "fallback >= native files/s"
    missing = [name for name in ("plugin", "native") if name not in samples]
    if missing:
        reason = "; ".join(f"{name}: {problems.get(name, 'no result')}" for name in missing)
        return [report.unavailable(FIGURE, what, target, reason)]
    rate = {name: len(files) / probe.median(values) for name, values in samples.items()}
    per_call = {name: probe.median(values) / len(files) * 1e3 for name, values in samples.items()}
    policy = ""
    if "codecs" in rate:
        added = per_call["plugin"] - per_call["codecs"]
        resolved = "" if abs(added) > 0.02 * per_call["codecs"] else ", within what this figure resolves"
        policy = (f"; in the same processes the codecs alone took {per_call['codecs']:.2f} ms, so the policy layer "
                  f"adds {added * 1e3:+.0f} us per call{resolved}")
    note = (f"median of {rounds * passes} passes in {rounds} processes per reader, readers taking turns; "
            f"per file: plugin {per_call['plugin']:.2f} ms, native {per_call['native']:.2f} ms{policy}; "
            f"mix: {details['plugin']['mix']}; plugin fallbacks: {details['plugin'].get('fallbacks') or 'none'}")
    tables.append({
        "title": f"Figure 8: {len(files)} files of 10 s loaded in a loop",
        "header": ["reader", "files/s", "ms per file"],
        "rows": [[LABELS.get(name, name), f"{rate[name]:.0f}", f"{per_call[name]:.2f}"] for name in rate],
    })
    return [report.throughput(FIGURE, what, rate["plugin"], rate["native"], "files/s", "native", target, 1.0,
                              note=note, data={"files_per_second": rate, "ms_per_file": per_call})]


def child(arguments):
    import acestep_winpatch  # noqa: F401  (applies unless ACESTEP_WINPATCH=0)
    import torch  # noqa: F401
    import torchaudio

    loaders = {"torchaudio": torchaudio.load}
    if arguments["codecs"]:
        from acestep_winpatch import codecs

        loaders["codecs"] = codecs.decode
    files = arguments["files"]
    mix = {}
    for path in files:
        waveform, rate = torchaudio.load(path)
        key = f"{path.rsplit('.', 1)[1]} {rate // 1000}k {waveform.shape[0]}ch"
        mix[key] = mix.get(key, 0) + 1
    seconds = {name: [] for name in loaders}
    for _ in range(arguments["passes"]):  # the loaders take turns
        for name, load in loaders.items():
            start = time.perf_counter()
            for path in files:
                load(path)
            seconds[name].append(time.perf_counter() - start)
    mix_text = ", ".join(f"{count} {key}" for key, count in sorted(mix.items()))
    probe.emit({"seconds": seconds, "mix": mix_text, "fallbacks": probe.fallbacks()})


if __name__ == "__main__":
    child(probe.arguments())
