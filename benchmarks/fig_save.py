"""Figure 6: how fast the fallback writes a song, against calling soundfile directly.

In the broken environment, one process writes the same 180 s stereo float32 ``[C, T]``
tensor with the patched ``torchaudio.save`` and with ``soundfile.write(path, tensor.numpy().T,
rate, subtype=...)``, in turn, for wav and flac. soundfile is given the subtype the patched
save wrote (torchaudio writes float input as PCM_16 in wav, PCM_24 in flac), so both encode
the same thing. Native ``torchaudio.save`` in the working environment is shown for scale.
"""

import tempfile

import probe
import report

FIGURE = "6"
FORMATS = ("wav", "flac")
MIN_RATIO = {"wav": 0.9, "flac": 1.0}  # issue 15: FLAC at least as fast as soundfile.write


def measure(environments, material, tables):
    environments.require("broken")
    repeats = environments.repeats(7)
    plugin = environments.run("fig_save.py", {"mode": "plugin", "repeats": repeats}, "broken")
    try:
        environments.require("working")
        native = environments.run("fig_save.py", {"mode": "native", "repeats": repeats}, "working",
                                  ACESTEP_WINPATCH="0")
    except Exception as error:
        native = {"error": str(error)}
    rows = []
    for fmt in FORMATS:
        what = f"`torchaudio.save` 180 s {fmt}, broken env"
        entry = plugin[fmt]
        if entry.get("error"):
            rows.append(report.unavailable(FIGURE, what, f">= {MIN_RATIO[fmt]}x soundfile's speed", entry["error"]))
            continue
        patched = probe.median(entry["patched"]) * 1e3
        direct = probe.median(entry["soundfile"]) * 1e3
        scale = (f"native torchaudio.save (working env) {probe.median(native[fmt]['native']) * 1e3:.0f} ms"
                 if fmt in native else f"native not measured: {native.get('error')}")
        note = (f"median of {repeats} interleaved; subtype {entry['subtype']}; {scale}; "
                f"fallbacks: {plugin.get('fallbacks') or 'none'}")
        rows.append(report.speedup(FIGURE, what, patched, direct, "ms", "soundfile.write",
                                   f">= {MIN_RATIO[fmt]}x soundfile's speed", MIN_RATIO[fmt], note=note))
    return rows


def child(arguments):
    import acestep_winpatch
    import soundfile
    import torch
    import torchaudio

    import material

    waveform = torch.from_numpy(material.signal(material.LONG_SECONDS))
    rate = material.SAMPLE_RATE
    results = {}
    with tempfile.TemporaryDirectory(prefix="winpatch-save-") as folder:
        for fmt in FORMATS:
            ours, theirs = f"{folder}/torchaudio.{fmt}", f"{folder}/soundfile.{fmt}"

            def save_with_torchaudio():
                torchaudio.save(ours, waveform, rate)

            if arguments["mode"] == "native":
                results[fmt] = {"native": probe.seconds_per_run(save_with_torchaudio, arguments["repeats"])}
                continue
            try:
                save_with_torchaudio()
            except Exception as error:
                results[fmt] = {"error": f"patched torchaudio.save raised {type(error).__name__}: {error}"[:300]}
                continue
            subtype = soundfile.info(ours).subtype

            def save_with_soundfile():
                soundfile.write(theirs, waveform.numpy().T, rate, subtype=subtype)

            samples = {"patched": [], "soundfile": []}
            for _ in range(arguments["repeats"]):
                samples["patched"] += probe.seconds_per_run(save_with_torchaudio, 1, warmup=0)
                samples["soundfile"] += probe.seconds_per_run(save_with_soundfile, 1, warmup=0)
            results[fmt] = dict(samples, subtype=subtype)
    results["fallbacks"] = probe.fallbacks() if acestep_winpatch.is_applied() else {}
    probe.emit(results)


if __name__ == "__main__":
    child(probe.arguments())
