"""The live checks that run in doctor's own process: audio round trips and the CUDA and MPS calls.

They go through the public, patched API (``torchaudio.save/info/load``,
``torch.cuda.empty_cache/synchronize``) exactly as ACE-Step calls it; what the plugin
recorded meanwhile decides between native and fell back (see :mod:`.outcome`).
"""

import math
import os
import tempfile
import warnings

from .outcome import CheckFailed, observe

AUDIO_FORMATS = ("wav", "flac", "mp3", "ogg")
SAMPLE_RATE = 44100
SECONDS = 0.5
CHANNELS = 2
LOSSLESS = ("wav", "flac")
# wav and flac come back as 16/24-bit PCM; lossy codecs only keep the tone's level.
LOSSLESS_TOLERANCE = 1e-3
LOSSY_LEVEL_RATIO = (0.5, 2.0)
# Lossy codecs do not keep the frame count: FFmpeg itself reads this half-second Vorbis
# file back 128 frames short, and MP3 adds priming. Lossless ones must keep it exactly.
LOSSY_LENGTH_SLACK_SECONDS = 0.1
# The device housekeeping ACE-Step calls between steps: check name, device, function.
DEVICE_CALLS = (("cuda empty_cache", "cuda", "empty_cache"), ("cuda synchronize", "cuda", "synchronize"),
                ("cuda ipc_collect", "cuda", "ipc_collect"), ("cuda reset_peak", "cuda", "reset_peak_memory_stats"),
                ("mps empty_cache", "mps", "empty_cache"), ("mps synchronize", "mps", "synchronize"))


def run(status):
    """Every in-process check, by name."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="acestep_winpatch_doctor_") as folder:
        for extension in AUDIO_FORMATS:
            path = os.path.join(folder, f"tone.{extension}")
            results[f"audio {extension}"] = observe(lambda: audio_round_trip(path, extension), status)
    for check, device, name in DEVICE_CALLS:
        results[check] = observe(lambda: _device_call(device, name), status)
    return results


def tone():
    """Half a second of a stereo 440 Hz / 660 Hz tone at half scale, ``[C, T]`` float32."""
    import torch

    time = torch.arange(int(SAMPLE_RATE * SECONDS), dtype=torch.float32) / SAMPLE_RATE
    return torch.stack([0.5 * torch.sin(2 * math.pi * f * time) for f in (440.0, 660.0)])


def audio_round_trip(path, extension):
    """Save the tone with ``torchaudio.save``, then read it back with ``info`` and ``load``."""
    import torchaudio

    wave = tone()
    with warnings.catch_warnings():  # torchaudio 2.8 announces its 2.9 changes on every call
        warnings.simplefilter("ignore")
        torchaudio.save(path, wave, SAMPLE_RATE)
        meta = torchaudio.info(path)
        loaded, rate = torchaudio.load(path)
    frames = wave.shape[1]
    problems = []
    if rate != SAMPLE_RATE or meta.sample_rate != SAMPLE_RATE:
        problems.append(f"sample rate load={rate} info={meta.sample_rate}, wrote {SAMPLE_RATE}")
    if loaded.shape[0] != CHANNELS or meta.num_channels != CHANNELS:
        problems.append(f"channels load={loaded.shape[0]} info={meta.num_channels}, wrote {CHANNELS}")
    slack = 0 if extension in LOSSLESS else int(LOSSY_LENGTH_SLACK_SECONDS * SAMPLE_RATE)
    if abs(loaded.shape[1] - frames) > slack:
        problems.append(f"load returned {loaded.shape[1]} frames, wrote {frames}")
    if problems:
        raise CheckFailed("; ".join(problems))
    if extension in LOSSLESS:
        error = (loaded - wave).abs().max().item()
        if error > LOSSLESS_TOLERANCE:
            raise CheckFailed(f"read back differs from what was written by up to {error:.4f}")
    else:
        ratio = loaded.pow(2).mean().sqrt().item() / wave.pow(2).mean().sqrt().item()
        low, high = LOSSY_LEVEL_RATIO
        if not low <= ratio <= high:
            raise CheckFailed(f"read back at {ratio:.2f} times the level written")
    return f"save, info and load agree ({rate} Hz, {loaded.shape[0]} ch, {loaded.shape[1]} frames)"


def _device_call(device, name):
    import torch

    module = getattr(torch, device)
    getattr(module, name)()
    where = f"{device.upper()} available" if module.is_available() else f"no usable {device.upper()} here"
    return f"torch.{device}.{name}() returned ({where})"
