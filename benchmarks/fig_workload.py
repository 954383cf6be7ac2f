"""Figure 8: a training set loaded in a loop, files per second, the fallback against native torchaudio.

300 files of 10 s (wav, flac and mp3 in turn; mono and stereo; 44.1 and 48 kHz), the way a
LoRA trainer's data loader reads them: one ``torchaudio.load`` per file. At 10 s a file, the
cost of every call around the decoding shows: the plugin's policy (its wrapper, the
remembered verdict, the missing-path check) and the choice of decoder, against torchcodec's
own set-up of an FFmpeg decoder per file.

Three readers, each in fresh processes that load every file once untimed, then time whole
passes over the set; readers take turns over two rounds of processes:

* the plugin: ``torchaudio.load`` in the broken environment, where it must fall back;
* native: ``torchaudio.load`` in the working environment with the plugin switched off;
* the codecs alone: ``acestep_winpatch.codecs.decode`` in the broken environment, the same
  decoding without the patch around it; the difference to the plugin is the policy's cost per call.
"""

import time

import probe
import report

FIGURE = "8"
CONTENDERS = (  # name, reader, environment, plugin switched on
    ("plugin", "torchaudio", "broken", True),
    ("native", "torchaudio", "working", False),
    ("codecs", "codecs", "broken", True),
)


def measure(environments, material, tables):
    environments.require("broken")
    files = material["dataset"]
    rounds, passes = 2, environments.repeats(3)
    samples, problems, details = {}, {}, {}
    for _ in range(rounds):
        for name, reader, environment, plugin_on in CONTENDERS:
            if name in problems:
                continue
            extra = {} if plugin_on else {"ACESTEP_WINPATCH": "0"}
            try:
                if environment == "working":
                    environments.require("working")
                result = environments.run("fig_workload.py", {"mode": reader, "files": files, "passes": passes},
                                          environment, **extra)
            except Exception as error:
                problems[name] = str(error)
                continue
            samples.setdefault(name, []).extend(result["seconds"])
            details[name] = result
    what = f"training set: {len(files)} files of 10 s loaded in a loop"
    target = "fallback >= native files/s"
    missing = [name for name in ("plugin", "native") if name not in samples]
    if missing:
        reason = "; ".join(f"{name}: {problems.get(name, 'no result')}" for name in missing)
        return [report.unavailable(FIGURE, what, target, reason)]
    rate = {name: len(files) / probe.median(values) for name, values in samples.items()}
    per_call = {name: probe.median(values) / len(files) * 1e3 for name, values in samples.items()}
    policy = (f"; the codecs alone {rate['codecs']:.0f} files/s, so the policy layer costs "
              f"{(per_call['plugin'] - per_call['codecs']) * 1e3:+.0f} us per call" if "codecs" in rate else "")
    note = (f"median of {rounds * passes} passes in {rounds} processes per reader, readers taking turns; "
            f"per file: plugin {per_call['plugin']:.2f} ms, native {per_call['native']:.2f} ms{policy}; "
            f"mix: {details['plugin']['mix']}; plugin fallbacks: {details['plugin'].get('fallbacks') or 'none'}")
    tables.append({
        "title": f"Figure 8: {len(files)} files of 10 s loaded in a loop",
        "header": ["reader", "files/s", "ms per file"],
        "rows": [[name, f"{rate[name]:.0f}", f"{per_call[name]:.2f}"] for name in rate],
    })
    return [report.throughput(FIGURE, what, rate["plugin"], rate["native"], "files/s", "native", target, 1.0,
                              note=note, data={"files_per_second": rate, "ms_per_file": per_call})]


def child(arguments):
    import acestep_winpatch  # noqa: F401  (applies unless ACESTEP_WINPATCH=0)
    import torch  # noqa: F401
    import torchaudio

    if arguments["mode"] == "codecs":
        from acestep_winpatch import codecs

        def load(path):
            return codecs.decode(path)
    else:
        load = torchaudio.load
    files = arguments["files"]
    mix = {}
    for path in files:
        waveform, rate = load(path)
        key = f"{path.rsplit('.', 1)[1]} {rate // 1000}k {waveform.shape[0]}ch"
        mix[key] = mix.get(key, 0) + 1
    seconds = []
    for _ in range(arguments["passes"]):
        start = time.perf_counter()
        for path in files:
            load(path)
        seconds.append(time.perf_counter() - start)
    mix_text = ", ".join(f"{count} {key}" for key, count in sorted(mix.items()))
    probe.emit({"seconds": seconds, "mix": mix_text, "fallbacks": probe.fallbacks()})


if __name__ == "__main__":
    child(probe.arguments())
