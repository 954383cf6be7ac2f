"""The audio the load, save and memory figures use: written once with soundfile, then reused.

180 s of stereo 44.1 kHz in wav, flac, mp3 and ogg (the material of issue 6), a 10 s wav for
the pass-through figure, 1 s files that warm each decoder up before a measured load, and a
training set (issue 15): 300 files of 10 s, wav/flac/mp3 in turn, mono and stereo, 44.1 and
48 kHz. The signal is a slow chord progression with a little noise, so the lossless and lossy
codecs work about as hard as on music (pure sines would flatter FLAC).
"""

import os
from pathlib import Path

import numpy as np
import soundfile

SAMPLE_RATE = 44100
CHANNELS = 2
LONG_SECONDS = 180
VERSION = "v1"
DATASET_FILES = 300
DATASET_SECONDS = 10
DATASET_FORMATS = ("wav", "flac", "mp3")
DATASET_LAYOUTS = ((44100, 2), (48000, 2), (44100, 1), (48000, 1))
LAYOUTS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
}


def default_folder():
    cache = os.environ.get("WINPATCH_DEV_CACHE") or Path.home() / ".cache" / "acestep_winpatch_dev"
    return Path(cache) / f"benchmark-material-{VERSION}"


def signal(seconds, sample_rate=SAMPLE_RATE, channels=CHANNELS):
    """Float32 ``[channels, frames]`` in [-0.8, 0.8]: chords changing every 2 s, plus noise at -40 dB."""
    frames = int(seconds * sample_rate)
    t = np.arange(frames) / sample_rate
    roots = 110.0 * 2 ** (np.array([0, 5, 7, 3]) / 12)
    root = roots[(t // 2).astype(int) % len(roots)]
    rng = np.random.default_rng(6)
    out = np.empty((channels, frames), dtype=np.float32)
    for channel in range(channels):
        voice = sum(np.sin(2 * np.pi * root * ratio * (1 + 0.002 * channel) * t) / (k + 1)
                    for k, ratio in enumerate((1.0, 1.25, 1.5, 2.0, 3.0)))
        envelope = 0.6 + 0.4 * np.cos(np.pi * (t % 2))
        mixed = 0.35 * voice * envelope + 0.01 * rng.standard_normal(frames)
        out[channel] = np.clip(mixed, -0.8, 0.8)
    return out


def ensure(folder=None):
    """Write whatever is missing; return ``{"long": {fmt: path}, "short": {...}, "tiny": {...}}`` and
    ``"dataset"``: the training set's paths."""
    folder = Path(folder or default_folder())
    folder.mkdir(parents=True, exist_ok=True)
    sets = {
        "long": (LONG_SECONDS, tuple(LAYOUTS)),
        "short": (10, ("wav",)),
        "tiny": (1, tuple(LAYOUTS)),
    }
    written = {}
    for kind, (seconds, formats) in sets.items():
        written[kind] = {}
        cached = None
        for extension in formats:
            path = folder / f"{seconds} s stereo 44k.{extension}"
            if not path.exists():
                cached = signal(seconds) if cached is None else cached
                _write(path, cached, *LAYOUTS[extension])
            written[kind][extension] = str(path)
    written["dataset"] = ensure_dataset(folder / f"dataset-{DATASET_FILES}x{DATASET_SECONDS}s")
    return written


def ensure_dataset(folder):
    """The training set: file ``i`` is format ``i % 3`` and layout ``(i // 3) % 4``, its signal shifted by
    ``i`` samples so no two files are alike. Returns the paths in loading order."""
    folder.mkdir(parents=True, exist_ok=True)
    signals, paths = {}, []
    for index in range(DATASET_FILES):
        extension = DATASET_FORMATS[index % len(DATASET_FORMATS)]
        rate, channels = DATASET_LAYOUTS[(index // len(DATASET_FORMATS)) % len(DATASET_LAYOUTS)]
        path = folder / f"{index:03d} {rate // 1000} kHz {channels} ch.{extension}"
        if not path.exists():
            if (rate, channels) not in signals:
                signals[rate, channels] = signal(DATASET_SECONDS, rate, channels)
            _write(path, np.roll(signals[rate, channels], index, axis=1), *LAYOUTS[extension], sample_rate=rate)
        paths.append(str(path))
    return paths


def _write(path, data, format, subtype, block=65536, sample_rate=SAMPLE_RATE):
    """Write in blocks: libsndfile's Vorbis encoder crashes the process on one 180 s write."""
    partial = path.with_name(path.name + ".part")
    frames = np.ascontiguousarray(data.T)
    with soundfile.SoundFile(str(partial), "w", sample_rate, data.shape[0], subtype, format=format) as sink:
        for start in range(0, len(frames), block):
            sink.write(frames[start:start + block])
    partial.replace(path)
